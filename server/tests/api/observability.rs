use switchboard::test_support::TestBackend;

use crate::helpers::spawn_app;

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
