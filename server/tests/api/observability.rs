use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::Duration,
};

use switchboard::test_support::TestBackend;

use crate::helpers::{owner, spawn_app};

#[tokio::test]
async fn healthz_answers_while_the_process_is_up() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn readyz_is_ok_on_sqlite() {
    let app = spawn_app(TestBackend::Sqlite).await;
    assert_eq!(app.get("/readyz").await.status(), 200);
}

#[tokio::test]
async fn readyz_follows_the_postgres_database() {
    let app = spawn_app(TestBackend::Postgres).await;
    assert_eq!(app.get("/readyz").await.status(), 200);

    app.db.drop_now().await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.text().await.unwrap(), "database unavailable");
    // Liveness does not depend on the database.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn metrics_count_requests_by_route_in_prometheus_format() {
    let app = spawn_app(TestBackend::Sqlite).await;
    for _ in 0..3 {
        app.get("/healthz").await;
    }
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let body = response.text().await.unwrap();
    let line = body
        .lines()
        .find(|l| l.starts_with("http_requests_total{") && l.contains("route=\"/healthz\""))
        .unwrap_or_else(|| panic!("no healthz counter in:\n{body}"));
    let count: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    // Other tests in this process may hit /healthz too: at least our three.
    assert!(count >= 3.0, "{line}");
    assert!(
        body.contains("# TYPE http_request_duration_seconds histogram"),
        "{body}"
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let first = app.get("/healthz").await;
    let second = app.get("/healthz").await;
    let id = |r: &reqwest::Response| r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(id(&first).len(), 36);
    assert_ne!(id(&first), id(&second));

    let given = app
        .client
        .get(format!("{}/healthz", app.base))
        .header("x-request-id", "from-the-load-balancer")
        .send()
        .await
        .unwrap();
    assert_eq!(id(&given), "from-the-load-balancer");
}

/// What the process logs, as text.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// Lines that say `what`, and `with`.
    fn count(&self, what: &str, with: &str) -> usize {
        let text = String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned();
        text.lines()
            .filter(|line| line.contains(what) && line.contains(with))
            .count()
    }
}

/// A storage failure in a server function is logged once, in the span of
/// its request, whether the function was called or ran for a page.
#[tokio::test]
async fn a_server_function_s_storage_failure_is_logged_once_with_its_request() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // For the whole process: one for this thread alone missed the request
    // spans while other tests ran beside it. The only test that sets one.
    tracing::subscriber::set_global_default(subscriber).expect("no other test sets one");
    let app = spawn_app(TestBackend::Postgres).await;
    let owner = owner(&app).await;
    app.db.drop_now().await;

    let call = app
        .client
        .post(format!("{}/api/list_members", app.base))
        .header("origin", &app.base)
        .header("cookie", owner.cookie.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(call.status(), 500);
    let page = owner.page("/settings/members").await;
    assert_eq!(page.status(), 500);
    let request_id =
        |r: &reqwest::Response| r.headers()["x-request-id"].to_str().unwrap().to_string();
    let (call_id, page_id) = (request_id(&call), request_id(&page));
    page.text().await.unwrap();

    const FAILURE: &str = "storage error in a server function";
    // The page's line comes when its rendering lets go of the request.
    for _ in 0..50 {
        if logs.count(FAILURE, &page_id) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(logs.count(FAILURE, &call_id), 1);
    assert_eq!(logs.count(FAILURE, &page_id), 1);
}
