use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Duration,
};

use axum::{routing::get, Router};
use switchboard::test_support::{TestBackend, TestDatabase};

use crate::helpers::spawn_app_with;

#[tokio::test]
async fn graceful_shutdown_lets_in_flight_requests_finish() {
    let slow = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            "finished"
        }),
    );
    let mut app = spawn_app_with(TestBackend::Sqlite, |app| app.merge(slow)).await;
    let url = format!("{}/slow", app.base);
    let in_flight = tokio::spawn(async move { reqwest::get(url).await?.text().await });
    tokio::time::sleep(Duration::from_millis(100)).await;

    app.begin_shutdown();
    assert_eq!(in_flight.await.unwrap().unwrap(), "finished");
    app.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_stopped_server_refuses_new_connections() {
    let app = spawn_app_with(TestBackend::Sqlite, |app| app).await;
    let base = app.base.clone();
    app.shutdown().await.unwrap();
    assert!(reqwest::get(format!("{base}/healthz")).await.is_err());
}

#[test]
fn a_malformed_variable_stops_start_up_with_one_clear_line() {
    let output = Command::new(env!("CARGO_BIN_EXE_server"))
        .env("DATABASE_URL", "mysql://localhost/switchboard")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");
}

/// Runs the real binary with JSON logs, then stops it with SIGTERM.
#[tokio::test]
async fn the_binary_logs_json_and_stops_cleanly_on_sigterm() {
    let db = TestDatabase::create(TestBackend::Sqlite).await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .env("DATABASE_URL", db.url.as_str())
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("LOG_FORMAT", "json")
        .env("META_APP_SECRET", "should-not-matter-in-demo")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();

    let mut addr = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        let event: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        if event["message"] == "listening" {
            addr = Some(event["addr"].as_str().unwrap().to_string());
            break;
        }
    }
    let addr = addr.expect("the server says where it listens");
    let ready = reqwest::get(format!("http://{addr}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    let request_line = lines
        .by_ref()
        .map(Result::unwrap)
        .find(|l| l.contains("finished processing request"))
        .expect("a request log line");
    let event: serde_json::Value = serde_json::from_str(&request_line).unwrap();
    assert_eq!(
        event["span"]["request_id"].as_str().map(str::len),
        Some(36),
        "{request_line}"
    );

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    assert!(status.success(), "exit: {status:?}");
    assert!(rest.iter().any(|l| l.contains("\"stopped\"")), "{rest:?}");
}

#[tokio::test]
async fn demo_mode_runs_the_sandbox_until_shutdown() {
    let app = spawn_app_with(TestBackend::Sqlite, |app| app).await;
    let sandbox = app.graph_base_url.clone();
    assert!(sandbox.starts_with("http://127.0.0.1:"), "{sandbox}");
    let state: serde_json::Value = reqwest::get(format!("{sandbox}_sandbox/state"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(state["demo"]["waba_id"].is_string(), "{state}");

    let home = app.get("/").await.text().await.unwrap();
    assert!(
        home.contains("/_sandbox/opener"),
        "the banner links the sandbox"
    );

    app.shutdown().await.unwrap();
    assert!(reqwest::get(format!("{sandbox}_sandbox/state"))
        .await
        .is_err());
}

#[tokio::test]
async fn create_admin_makes_the_owner_once() {
    use std::io::Write;
    let db = TestDatabase::create(TestBackend::Sqlite).await;
    let run = |email: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
            .args([
                "create-admin",
                "--email",
                email,
                "--name",
                "Ops",
                "--workspace",
                "Acme",
            ])
            .env("DATABASE_URL", db.url.as_str())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "a long enough password").unwrap();
        child.wait_with_output().unwrap()
    };
    let first = run("ops@example.com");
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let second = run("other@example.com");
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("already has an owner"));

    let store = db.open_store().await;
    let (_, user) = switchboard::accounts::sign_in(
        &store,
        "ops@example.com",
        "a long enough password",
        "127.0.0.1",
    )
    .await
    .unwrap()
    .signed_in()
    .unwrap();
    assert_eq!(user.name, "Ops");
}

#[tokio::test]
async fn demo_mode_uses_a_sandbox_run_on_its_own_when_told_where() {
    let standalone = sandbox::Sandbox::start(
        sandbox::SandboxConfig::default(),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let db = TestDatabase::create(TestBackend::Sqlite).await;
    let url = standalone.base_url();
    let settings = crate::helpers::test_config(&db, &[("META_GRAPH_BASE_URL", url.as_str())]);
    let app = server::Application::build(settings)
        .await
        .expect("app builds");
    let graph = app.engine().config.graph_base_url.to_string();
    assert_eq!(graph.trim_end_matches('/'), url);
    assert_eq!(app.own_sandbox_url(), None, "no sandbox of its own");
    assert_eq!(
        app.engine().config.meta.app_id,
        sandbox::SandboxConfig::default().app_id
    );
    standalone.stop().await;
}
