use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, OnceLock,
    },
    time::Duration,
};

use switchboard::test_support::TestBackend;
use tokio::net::TcpStream;

use crate::helpers::{owner, spawn_app, Visitor};

#[tokio::test]
async fn home_page_renders_the_layout_and_the_demo_banner() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    for expected in [
        "href=\"/onboarding\"",
        "href=\"/conversations\"",
        "href=\"/profile\"",
        "href=\"/settings\"",
        "Demo mode",
        "/pkg/switchboard.js",
        "/pkg/switchboard.css",
    ] {
        assert!(html.contains(expected), "{expected} missing from:\n{html}");
    }
}

#[tokio::test]
async fn each_section_asks_anonymous_visitors_to_sign_in() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let anonymous = Visitor::new(&app);
    for path in [
        "/onboarding",
        "/numbers/123/health",
        "/conversations",
        "/profile",
        "/bot",
        "/templates",
        "/settings",
        "/settings/members",
        "/settings/audit",
        "/settings/events",
        "/settings/outgoing-webhooks",
        "/settings/costs",
        "/settings/api-keys",
        "/settings/api",
    ] {
        let response = anonymous.page(path).await;
        assert_eq!(response.status(), 302, "{path}");
        assert_eq!(response.headers()["location"], "/sign-in", "{path}");
    }
}

/// Every section's page is drawn whole by the server, nothing left for
/// the browser to finish. A read the server never resolves (a
/// browser-only resource) once kept a thread's page waiting: the server
/// sent "Loading…", and the page's `Suspense` task outlived its render and
/// panicked.
#[tokio::test]
async fn each_section_has_a_page_rendered_whole_by_the_server() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let owner = owner(&app).await;
    for (path, heading) in [
        ("/onboarding", "<h1>Connect WhatsApp</h1>"),
        ("/conversations", "<h1>Conversations</h1>"),
        (
            "/conversations?number=123456&customer=15550001111",
            "<h1>Conversations</h1>",
        ),
        ("/profile", "<h1>Profile</h1>"),
        ("/settings", "<h1>Settings</h1>"),
        ("/bot", "<h1>"),
        ("/templates", "<h1>Message templates</h1>"),
        ("/settings/members", "<h1>"),
        ("/settings/audit", "<h1>"),
        ("/settings/events", "<h1>Webhook events</h1>"),
        ("/settings/outgoing-webhooks", "<h1>"),
        ("/settings/costs", "<h1>Costs</h1>"),
        ("/settings/api-keys", "<h1>API keys</h1>"),
        ("/settings/api", "<h1>"),
    ] {
        let response = owner.page(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let html = response.text().await.unwrap();
        assert!(html.contains(heading), "{path}: {html}");
        assert!(html.contains("__INCOMPLETE_CHUNKS=[]"), "{path}: {html}");
    }
}

#[tokio::test]
async fn the_first_address_of_outgoing_webhooks_leads_to_the_page() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let owner = owner(&app).await;
    let response = owner.page("/settings/webhooks").await;
    assert_eq!(response.status(), 302);
    assert_eq!(
        response.headers()["location"],
        "/settings/outgoing-webhooks"
    );
    let response = owner.page("/settings/outgoing-webhooks").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("<h1>Outgoing webhooks</h1>"), "{html}");
}

#[tokio::test]
async fn an_unknown_address_is_a_404_page() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let response = app.get("/no/such/page").await;
    assert_eq!(response.status(), 404);
    let html = response.text().await.unwrap();
    assert!(html.contains("Page not found"), "{html}");
}

/// Many redirected and rendered pages in a row must not leak database
/// connections (the pool has eight): the app still answers afterwards.
#[tokio::test]
async fn many_page_loads_do_not_exhaust_the_database_pool() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let anonymous = Visitor::new(&app);
    for _ in 0..30 {
        assert_eq!(anonymous.page("/settings").await.status(), 302);
        assert_eq!(anonymous.page("/").await.status(), 200);
    }
    let owner = owner(&app).await;
    for _ in 0..30 {
        assert_eq!(owner.page("/settings/members").await.status(), 200);
    }
    let ready = tokio::time::timeout(std::time::Duration::from_secs(5), app.get("/readyz")).await;
    assert_eq!(ready.expect("readyz answers").status(), 200);
}

/// A browser that leaves a page while the server still renders it (a click
/// to another page, a closed tab) costs the server nothing but the render:
/// Leptos disposed of the page's state at once, its `Suspense` tasks then
/// read disposed values, and the server panicked (seen once in a full
/// browser run). Hundreds of pages left at every moment of their render;
/// not one panic once every render has ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_left_mid_render_never_panics_the_server() {
    let panics = rendering_panics();
    let before = panics.load(Ordering::SeqCst);
    let app = spawn_app(TestBackend::Sqlite).await;
    let owner = owner(&app).await;
    let cookie = owner.cookie.clone().expect("signed in");
    let address = app.base.trim_start_matches("http://").to_string();
    let pages = [
        "/",
        "/conversations",
        "/onboarding",
        "/settings",
        "/settings/members",
        "/settings/events",
        "/settings/outgoing-webhooks",
        "/settings/costs",
        "/settings/api-keys",
        "/templates",
        "/sign-in",
        "/no-such-page",
    ];
    let leavers = (0..4).map(|leaver| {
        let (address, cookie) = (address.clone(), cookie.clone());
        tokio::spawn(async move {
            for visit in 0..150usize {
                let path = pages[(visit + leaver) % pages.len()];
                let request = format!(
                    "GET {path} HTTP/1.1\r\nHost: {address}\r\nCookie: {cookie}\r\nAccept: text/html\r\n\r\n"
                );
                let stream = TcpStream::connect(&address).await.expect("connects");
                send_all(&stream, request.as_bytes()).await;
                // Gone after 0 to about 6 ms: before, during and after the
                // render of a debug build.
                let stay = Duration::from_micros(((visit * 7919 + leaver * 104_729) % 6_000) as u64);
                tokio::time::sleep(stay).await;
                drop(stream);
            }
        })
    });
    for leaver in leavers.collect::<Vec<_>>() {
        leaver.await.expect("the visits ran");
    }
    // Drain: every response the server began, read out to its end.
    assert!(
        server::renders_to_the_end::drained(Duration::from_secs(30)).await,
        "responses still unfinished after 30 s"
    );
    assert_eq!(
        panics.load(Ordering::SeqCst) - before,
        0,
        "the server panicked while rendering"
    );
    // And it still serves the page whole.
    let response = owner.page("/settings/costs").await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("<h1>Costs</h1>"));
}

/// Writes all of `bytes` (tokio's write helpers are not in this build).
async fn send_all(stream: &TcpStream, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        stream.writable().await.expect("writable");
        match stream.try_write(bytes) {
            Ok(written) => bytes = &bytes[written..],
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(error) => panic!("cannot send the request: {error}"),
        }
    }
}

/// Counts, in this test process, the panics in rendering code (Leptos and
/// the crates under it, and the app's own pages), and leaves every panic's
/// report as it was.
fn rendering_panics() -> Arc<AtomicUsize> {
    static COUNT: OnceLock<Arc<AtomicUsize>> = OnceLock::new();
    COUNT
        .get_or_init(|| {
            let count = Arc::new(AtomicUsize::new(0));
            let counted = count.clone();
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                let file = info.location().map(|at| at.file()).unwrap_or_default();
                if [
                    "reactive_graph",
                    "leptos",
                    "tachys",
                    "server_fn",
                    "hydration_context",
                    "any_spawner",
                    "app/src",
                ]
                .iter()
                .any(|krate| file.contains(krate))
                {
                    counted.fetch_add(1, Ordering::SeqCst);
                }
                previous(info);
            }));
            count
        })
        .clone()
}
