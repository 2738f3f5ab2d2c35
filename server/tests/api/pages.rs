use switchboard::test_support::TestBackend;

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
        "/conversations",
        "/profile",
        "/settings",
        "/settings/members",
    ] {
        let response = anonymous.page(path).await;
        assert_eq!(response.status(), 302, "{path}");
        assert_eq!(response.headers()["location"], "/sign-in", "{path}");
    }
}

#[tokio::test]
async fn each_section_has_a_page() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let owner = owner(&app).await;
    for (path, heading) in [
        ("/onboarding", "<h1>Connect WhatsApp</h1>"),
        ("/conversations", "<h1>Conversations</h1>"),
        ("/profile", "<h1>Profile</h1>"),
        ("/settings", "<h1>Settings</h1>"),
    ] {
        let response = owner.page(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let html = response.text().await.unwrap();
        assert!(html.contains(heading), "{path}: {html}");
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
