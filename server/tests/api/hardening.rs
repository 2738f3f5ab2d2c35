//! The server under abuse: every route group answers with the security
//! headers and a request id, `/metrics` can demand a token, an oversized
//! webhook is refused before its body is read, a request that takes too
//! long is cut off, so is a client sending its headers too slowly, and the
//! number of open connections is capped.

use std::time::Duration;

use axum::{routing::get, Router};
use switchboard::test_support::TestBackend;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::helpers::{owner, spawn_app, spawn_app_configured, Visitor, PASSWORD};

#[tokio::test]
async fn every_route_group_carries_security_headers_and_a_request_id() {
    let app = spawn_app(TestBackend::Sqlite).await;
    for path in [
        "/webhook?hub.mode=subscribe",
        "/api/v1/openapi.json",
        "/api/v1/conversations",
        "/media/1/2",
        "/healthz",
        "/sign-in",
    ] {
        let response = app.get(path).await;
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert!(headers.contains_key("content-security-policy"), "{path}");
        assert_eq!(headers["x-request-id"].len(), 36, "{path}");
    }
}

#[tokio::test]
async fn metrics_can_require_a_bearer_token() {
    let app = spawn_app_configured(
        TestBackend::Sqlite,
        &[("METRICS_TOKEN", "scrape-me")],
        |a| a,
    )
    .await;
    assert_eq!(app.get("/metrics").await.status(), 401);
    let wrong = app
        .client
        .get(format!("{}/metrics", app.base))
        .bearer_auth("guess")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let right = app
        .client
        .get(format!("{}/metrics", app.base))
        .bearer_auth("scrape-me")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
    assert!(right.text().await.unwrap().contains("http_requests_total"));
}

/// Sends `head` (and no body) on a fresh connection; returns the status
/// line of what comes back.
async fn raw_status(base: &str, head: &str) -> String {
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0; 1024];
    let read = stream.read(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer[..read])
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_webhook_announcing_an_oversized_body_is_refused_before_it_is_sent() {
    let app = spawn_app(TestBackend::Sqlite).await;
    // The body never follows: the answer can only come from the header.
    let status = raw_status(
        &app.base,
        "POST /webhook HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 50000000\r\n\r\n",
    )
    .await;
    assert!(status.contains("413"), "{status}");
}

#[tokio::test]
async fn a_request_that_takes_too_long_is_cut_off() {
    let app = spawn_app_configured(
        TestBackend::Sqlite,
        &[("REQUEST_TIMEOUT_SECS", "1")],
        |app| {
            app.merge(Router::new().route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    "late"
                }),
            ))
        },
    )
    .await;
    let response = app.get("/slow").await;
    assert_eq!(response.status(), 408);
    assert_eq!(
        app.get("/healthz").await.status(),
        200,
        "the server goes on"
    );
}

#[tokio::test]
async fn open_connections_are_capped_and_a_freed_place_is_used() {
    let app = spawn_app_configured(TestBackend::Sqlite, &[("MAX_CONNECTIONS", "2")], |a| a).await;
    let addr = app.base.trim_start_matches("http://").to_string();
    // Two idle connections take both places...
    let first = TcpStream::connect(&addr).await.unwrap();
    let second = TcpStream::connect(&addr).await.unwrap();
    // ...and a third waits for one (it is answered once a place is free).
    let waiting = tokio::spawn({
        let base = app.base.clone();
        async move {
            raw_status(
                &base,
                "GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
            )
            .await
        }
    });
    drop(first);
    let status = waiting.await.unwrap();
    assert!(status.contains("200"), "{status}");
    drop(second);
}

#[tokio::test]
async fn a_client_trickling_its_headers_is_cut_off() {
    let app = spawn_app_configured(
        TestBackend::Sqlite,
        &[("HEADER_READ_TIMEOUT_SECS", "1")],
        |a| a,
    )
    .await;
    let addr = app.base.trim_start_matches("http://");
    let mut slow = TcpStream::connect(addr).await.unwrap();
    // Half a request head, and then nothing more.
    slow.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    // The server closes the connection (at most a 408 first); the bound
    // only keeps a broken server from hanging the suite.
    tokio::time::timeout(Duration::from_secs(20), slow.read_to_end(&mut answer))
        .await
        .expect("the connection is closed by the server")
        .ok();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    assert!(started.elapsed() >= Duration::from_millis(900));
    // A whole request on a fresh connection is answered as ever.
    let status = raw_status(
        &app.base,
        "GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(status.contains("200"), "{status}");
}

/// A failed sign-in from `client` as a proxy in front would forward it;
/// whether the answer says to wait.
async fn sign_in_waits(app: &crate::helpers::TestApp, client: &str) -> bool {
    let answer = app
        .client
        .post(format!("{}/api/sign_in", app.base))
        .header("origin", &app.base)
        .header("x-forwarded-for", client)
        .form(&[
            ("email", "nobody@example.com"),
            ("password", "wrong password!"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    answer.contains("try again in")
}

#[tokio::test]
async fn sign_in_limits_count_the_client_a_trusted_proxy_names() {
    let app = spawn_app_configured(
        TestBackend::Sqlite,
        &[("TRUSTED_PROXIES", "127.0.0.1")],
        |a| a,
    )
    .await;
    for _ in 0..5 {
        assert!(!sign_in_waits(&app, "203.0.113.7").await);
    }
    assert!(
        sign_in_waits(&app, "203.0.113.7").await,
        "that client is limited"
    );
    assert!(
        !sign_in_waits(&app, "203.0.113.8").await,
        "another client is not"
    );
}

#[tokio::test]
async fn without_a_trusted_proxy_forwarded_for_is_ignored() {
    let app = spawn_app(TestBackend::Sqlite).await;
    for n in 0..5 {
        assert!(!sign_in_waits(&app, &format!("203.0.113.{n}")).await);
    }
    assert!(
        sign_in_waits(&app, "203.0.113.99").await,
        "a made-up header does not buy fresh attempts"
    );
}

#[tokio::test]
async fn an_uploads_text_fields_are_bounded() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let mut owner = crate::helpers::owner(&app).await;
    let long = "x".repeat(100 * 1024);
    let (status, body) = owner
        .call(
            "send_file",
            &[
                ("phone_number_id", "1"),
                ("recipient", "15550001111"),
                ("caption", &long),
            ],
        )
        .await;
    assert!(status >= 400, "{status} {body}");
    assert!(body.contains("too long"), "{body}");
    let many: Vec<(String, String)> = (0..40).map(|n| (format!("f{n}"), "v".into())).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (_, body) = owner.call("send_file", &many).await;
    assert!(body.contains("too many fields"), "{body}");
}

fn totp_now(secret: &str, offset: i64) -> String {
    let secret = switchboard::accounts::totp::TotpSecret::from_base32(secret).unwrap();
    let step = switchboard::store::now_millis() / 1000 / switchboard::accounts::totp::STEP_SECS;
    secret.code_at_step(step + offset)
}

#[tokio::test]
async fn an_owner_acts_only_after_enrolling_when_the_operator_requires_it() {
    let app = spawn_app_configured(
        TestBackend::Sqlite,
        &[("REQUIRE_2FA_FOR_OWNERS", "true")],
        |a| a,
    )
    .await;
    let mut owner = owner(&app).await;
    let (_, welcome) = owner.call("welcome", &[]).await;
    let welcome: serde_json::Value = serde_json::from_str(&welcome).unwrap();
    assert_eq!(welcome["me"]["second_factor_required"], true);
    let (status, body) = owner.call("list_members", &[]).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("two-factor"), "{body}");

    let (status, enrolment) = owner
        .call("begin_two_factor", &[("password", PASSWORD)])
        .await;
    assert_eq!(status, 200, "{enrolment}");
    let enrolment: serde_json::Value = serde_json::from_str(&enrolment).unwrap();
    assert!(enrolment["qr_svg"].as_str().unwrap().starts_with("<?xml"));
    let secret = enrolment["secret"].as_str().unwrap().to_string();
    let (status, codes) = owner
        .call("confirm_two_factor", &[("code", &totp_now(&secret, 0))])
        .await;
    assert_eq!(status, 200, "{codes}");
    assert_eq!(
        serde_json::from_str::<Vec<String>>(&codes).unwrap().len(),
        10
    );
    assert_eq!(owner.call("list_members", &[]).await.0, 200);
    // Required: it cannot be turned off.
    let (status, _) = owner
        .call("disable_two_factor", &[("password", PASSWORD)])
        .await;
    assert_eq!(status, 400);

    // A new sign-in goes through the code, carried by its own cookie.
    let mut again = Visitor::new(&app);
    let (status, step) = again
        .call(
            "sign_in",
            &[("email", "owner@example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!((status, step.as_str()), (200, "\"CodeNeeded\""));
    assert_eq!(again.call("list_members", &[]).await.0, 401);
    let (status, body) = again
        .call("complete_sign_in", &[("code", &totp_now(&secret, 1))])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(again.call("list_members", &[]).await.0, 200);
}
