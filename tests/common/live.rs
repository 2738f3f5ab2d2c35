//! The engine running as the server runs it: a webhook endpoint in front
//! of the journal, a pipeline worker and the outbox's sender, with the
//! sandbox's callback pointed at the endpoint.
#![allow(dead_code)]

use std::{sync::Arc, time::Duration};

use axum::{
    body::Bytes,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    routing::post,
    Router,
};
use serde_json::{json, Value};
use switchboard::{
    outbox, outgoing, pipeline,
    webhook::{signature, Journal},
    Engine,
};
use tokio::{
    sync::{watch, Notify},
    task::JoinHandle,
};

use super::meta::Env;

pub struct Running {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

#[derive(Clone)]
struct Receiver {
    engine: Engine,
    journal: Journal,
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let secrets = &receiver
        .engine
        .config
        .meta
        .as_ref()
        .expect("meta")
        .app_secrets;
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
    /// Starts the workers and points the sandbox's webhooks at them.
    pub async fn run(&self) -> Running {
        let (stop, stopped) = watch::channel(false);
        let journaled = Arc::new(Notify::new());
        let (journal, writer) = Journal::start(self.engine.store.clone(), journaled.clone());
        let pressure = journal.pressure();
        let app = Router::new()
            .route("/webhook", post(receive).get(handshake))
            .with_state(Receiver {
                engine: self.engine.clone(),
                journal,
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhook", listener.local_addr().unwrap());
        let mut server_stop = stopped.clone();
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = server_stop.wait_for(|s| *s).await;
                })
                .await;
        });
        let pipeline = tokio::spawn(pipeline::run(
            self.engine.store.clone(),
            journaled,
            pipeline::Queued::of(&self.engine),
            pressure,
            stopped.clone(),
        ));
        let media = tokio::spawn(switchboard::media::run(
            self.engine.clone(),
            self.engine.media_wake.clone(),
            stopped.clone(),
        ));
        let deliveries = tokio::spawn(outgoing::delivery::run(
            self.engine.clone(),
            self.engine.deliveries_wake.clone(),
            stopped.clone(),
        ));
        let templates = tokio::spawn(switchboard::templates::sync::run(
            self.engine.clone(),
            stopped.clone(),
        ));
        let sender = tokio::spawn(outbox::sender::run(
            self.engine.clone(),
            self.engine.outbox_wake.clone(),
            stopped,
        ));
        self.control_call(
            reqwest::Method::PUT,
            "/_sandbox/webhook",
            Some(json!({ "url": url })),
        )
        .await;
        Running {
            stop,
            tasks: vec![
                server, pipeline, sender, deliveries, media, templates, writer,
            ],
        }
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
