//! The engine running as the server runs it: a webhook endpoint in front
//! of the journal, a pipeline worker and the outbox's sender, with the
//! sandbox's callback pointed at the endpoint.
#![allow(dead_code)]

use std::time::Duration;

use axum::{
    body::Bytes,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    routing::post,
    Router,
};
use serde_json::{json, Value};
use switchboard::{
    runtime::{self, Runtime},
    webhook::{signature, Journal},
    Engine,
};
use tokio::{sync::watch, task::JoinHandle};

use super::meta::Env;

/// How long a drain may take before the test fails.
const DRAIN_LIMIT: Duration = Duration::from_secs(20);

pub struct Running {
    stop_http: watch::Sender<bool>,
    http: JoinHandle<()>,
    runtime: Runtime,
}

impl Running {
    pub async fn stop(self) {
        let _ = self.stop_http.send(true);
        let _ = self.http.await;
        self.runtime.stop(Duration::from_secs(10)).await;
    }
}

#[derive(Clone)]
struct Receiver {
    engine: Engine,
    journal: Journal,
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let secrets = &receiver.engine.config.meta.app_secrets;
    let header = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    if signature::verify(secrets, header, &body).is_err() {
        return StatusCode::UNAUTHORIZED;
    }
    match receiver
        .journal
        .append(header.unwrap_or_default().to_string(), body.to_vec())
        .await
    {
        Ok(_) => StatusCode::OK,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

async fn handshake(Query(query): Query<std::collections::HashMap<String, String>>) -> String {
    query.get("hub.challenge").cloned().unwrap_or_default()
}

impl Env {
    /// Starts every worker as the server does (`Runtime::start`), behind a
    /// webhook endpoint the sandbox's callback points at.
    pub async fn run(&self) -> Running {
        let runtime = Runtime::start(&self.engine).await.expect("runtime");
        let app = Router::new()
            .route("/webhook", post(receive).get(handshake))
            .with_state(Receiver {
                engine: self.engine.clone(),
                journal: runtime.journal(),
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhook", listener.local_addr().unwrap());
        let (stop_http, mut stopped) = watch::channel(false);
        let http = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await;
        });
        self.control_call(
            reqwest::Method::PUT,
            "/_sandbox/webhook",
            Some(json!({ "url": url })),
        )
        .await;
        Running {
            stop_http,
            http,
            runtime,
        }
    }

    /// Runs everything due to completion: every webhook the sandbox has to
    /// send has reached us, and every queue has nothing due (a send's
    /// status webhooks come back, so it goes round until both are quiet).
    /// Then a test may check that something did not happen.
    pub async fn drain(&self) {
        // A send's statuses make more webhooks, which make no more sends:
        // a few rounds always settle; more means something keeps going.
        for _ in 0..10 {
            self.settle_webhooks().await;
            runtime::drain(&self.engine, DRAIN_LIMIT)
                .await
                .expect("every queue drains");
            if self.webhooks_in_flight().await == 0 {
                return;
            }
        }
        panic!("work kept arriving: the engine and the sandbox never settled");
    }

    async fn settle_webhooks(&self) {
        let answer = self
            .http
            .post(format!(
                "{}/_sandbox/webhooks/settle",
                self.sandbox.base_url()
            ))
            .json(&json!({ "timeout_ms": DRAIN_LIMIT.as_millis() as u64 }))
            .send()
            .await
            .expect("sandbox answers");
        assert!(
            answer.status().is_success(),
            "the sandbox's webhooks settle"
        );
    }

    async fn webhooks_in_flight(&self) -> u64 {
        let answer = self
            .http
            .post(format!(
                "{}/_sandbox/webhooks/settle",
                self.sandbox.base_url()
            ))
            .json(&json!({ "timeout_ms": 0 }))
            .send()
            .await
            .expect("sandbox answers");
        let body: Value = answer.json().await.expect("JSON");
        body["in_flight"].as_u64().expect("a count")
    }

    /// The customer `wa_id` writes to `phone`.
    pub async fn customer_writes(&self, phone: &str, wa_id: &str, message: Value) -> String {
        let mut body = message;
        body["phone_number_id"] = json!(phone);
        let answer = self
            .control(&format!("/_sandbox/customers/{wa_id}/messages"), body)
            .await;
        answer["wamid"].as_str().unwrap_or_default().to_string()
    }

    /// What the customer's phone shows: every line of the chat.
    pub async fn chat(&self, phone: &str, wa_id: &str) -> Vec<Value> {
        let chat = self
            .control_call(
                reqwest::Method::GET,
                &format!("/_sandbox/chats/{phone}/{wa_id}"),
                None,
            )
            .await;
        chat["messages"].as_array().cloned().unwrap_or_default()
    }

    /// The business's messages the customer received.
    pub async fn received(&self, phone: &str, wa_id: &str) -> Vec<Value> {
        self.chat(phone, wa_id)
            .await
            .into_iter()
            .filter(|line| line["direction"] == "outbound")
            .collect()
    }

    /// Waits (`what` names it if it never comes) for the first message
    /// `wa_id` receives from the number, and returns it.
    pub async fn first_received(&self, what: &str, phone: &str, wa_id: &str) -> Value {
        eventually(what, Duration::from_secs(20), || async {
            !self.received(phone, wa_id).await.is_empty()
        })
        .await;
        self.received(phone, wa_id).await.remove(0)
    }

    pub async fn set_faults(&self, faults: Value) {
        self.control_call(reqwest::Method::PUT, "/_sandbox/faults", Some(faults))
            .await;
    }
}

/// Polls `check` until it holds, for up to `limit`; panics with `what`.
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
