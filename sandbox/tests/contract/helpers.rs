use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    body::Bytes,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    routing::get,
    Router,
};
use sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};

pub const VERSION: &str = "v25.0";

/// A webhook callback that records what it receives. It answers the GET
/// handshake and, for POSTs, the statuses queued in `answers` (then 200).
#[derive(Clone, Default)]
pub struct Receiver {
    pub posts: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
    pub answers: Arc<Mutex<Vec<u16>>>,
    pub verify_token: Arc<Mutex<String>>,
}

impl Receiver {
    pub async fn start() -> (Self, String) {
        let receiver = Receiver {
            verify_token: Arc::new(Mutex::new("sandbox-verify-token".into())),
            ..Default::default()
        };
        let app = Router::new()
            .route("/hook", get(handshake).post(record))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, url)
    }

    /// The JSON bodies received so far.
    pub fn bodies(&self) -> Vec<Value> {
        self.posts
            .lock()
            .unwrap()
            .iter()
            .map(|(_, body)| serde_json::from_slice(body).expect("webhook bodies are JSON"))
            .collect()
    }

    /// Waits until `count` POSTs arrived (or fails after 5 s).
    pub async fn wait_for(&self, count: usize) -> Vec<Value> {
        for _ in 0..500 {
            if self.posts.lock().unwrap().len() >= count {
                return self.bodies();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("expected {count} webhook POSTs, got {:?}", self.bodies());
    }

    /// Every status item received, in arrival order: (wamid, status).
    pub fn statuses(&self) -> Vec<(String, String, Value)> {
        let mut out = Vec::new();
        for body in self.bodies() {
            for entry in body["entry"].as_array().unwrap() {
                for change in entry["changes"].as_array().unwrap() {
                    for status in change["value"]["statuses"].as_array().into_iter().flatten() {
                        out.push((
                            status["id"].as_str().unwrap().to_string(),
                            status["status"].as_str().unwrap().to_string(),
                            status.clone(),
                        ));
                    }
                }
            }
        }
        out
    }

    /// Every change of `field` received so far, in arrival order, each
    /// with the entry it came in: (entry, value).
    pub fn changes(&self, field: &str) -> Vec<(Value, Value)> {
        let mut out = Vec::new();
        for body in self.bodies() {
            for entry in body["entry"].as_array().unwrap() {
                for change in entry["changes"].as_array().unwrap() {
                    if change["field"] == field {
                        out.push((entry.clone(), change["value"].clone()));
                    }
                }
            }
        }
        out
    }

    /// Waits until `count` changes of `field` arrived (or fails after 5 s).
    pub async fn wait_for_changes(&self, field: &str, count: usize) -> Vec<(Value, Value)> {
        for _ in 0..500 {
            let changes = self.changes(field);
            if changes.len() >= count {
                return changes;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("expected {count} {field} changes, got {:?}", self.bodies());
    }

    pub async fn wait_for_status(&self, wamid: &str, status: &str) -> Value {
        for _ in 0..500 {
            if let Some((_, _, item)) = self
                .statuses()
                .into_iter()
                .find(|(w, s, _)| w == wamid && s == status)
            {
                return item;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no {status} status for {wamid}; got {:?}", self.statuses());
    }
}

async fn handshake(
    State(receiver): State<Receiver>,
    Query(query): Query<Vec<(String, String)>>,
) -> (StatusCode, String) {
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let expected = receiver.verify_token.lock().unwrap().clone();
    if get("hub.mode").as_deref() == Some("subscribe") && get("hub.verify_token") == Some(expected)
    {
        (StatusCode::OK, get("hub.challenge").unwrap_or_default())
    } else {
        (StatusCode::FORBIDDEN, "forbidden".into())
    }
}

async fn record(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    receiver.posts.lock().unwrap().push((headers, body));
    let next = {
        let mut answers = receiver.answers.lock().unwrap();
        if answers.is_empty() {
            200
        } else {
            answers.remove(0)
        }
    };
    StatusCode::from_u16(next).unwrap()
}

pub struct World {
    pub sandbox: Sandbox,
    pub base: String,
    pub http: reqwest::Client,
    pub receiver: Receiver,
    pub token: String,
}

impl World {
    /// A sandbox with the demo business, a callback receiving its
    /// webhooks, and a business token from a fresh code.
    pub async fn start() -> Self {
        Self::start_with(SandboxConfig::default()).await
    }

    pub async fn start_with(config: SandboxConfig) -> Self {
        let sandbox = Sandbox::start(config, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let base = sandbox.base_url();
        let http = reqwest::Client::new();
        let (receiver, url) = Receiver::start().await;
        let mut world = Self {
            sandbox,
            base,
            http,
            receiver,
            token: String::new(),
        };
        let set = world
            .control("PUT", "/_sandbox/webhook", json!({ "url": url }))
            .await;
        assert_eq!(set.0, 200, "{:?}", set.1);
        world.token = world.exchange(&world.code().await).await["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        let waba = world.demo().waba_id.clone();
        let subscribed = world
            .call("POST", &format!("{waba}/subscribed_apps"), None)
            .await;
        assert_eq!(subscribed.0, 200);
        world
    }

    pub fn demo(&self) -> &sandbox::DemoIds {
        self.sandbox.demo().unwrap()
    }

    pub fn graph(&self, path: &str) -> String {
        format!("{}/{VERSION}/{path}", self.base)
    }

    pub async fn control(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let request = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .json(&body);
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Moves the sandbox's clock on, for whatever expires with time.
    pub async fn advance_clock(&self, seconds: u64) {
        self.control(
            "POST",
            "/_sandbox/clock/advance",
            json!({ "seconds": seconds }),
        )
        .await;
    }

    /// Sets the demo number's throughput (messages a second, both ways).
    pub async fn set_throughput(&self, per_second: u32) {
        let phone = &self.demo().phone_number_id;
        let (status, body) = self
            .control(
                "POST",
                &format!("/_sandbox/phones/{phone}"),
                json!({ "throughput": per_second }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }

    /// Revokes the business token, as a business withdrawing access would.
    pub async fn revoke_token(&self) {
        self.control(
            "POST",
            "/_sandbox/tokens/revoke",
            json!({ "token": self.token }),
        )
        .await;
    }

    /// Expires the business token now, or `in_seconds` from now.
    pub async fn expire_token(&self, in_seconds: Option<u64>) {
        let mut body = json!({ "token": self.token });
        if let Some(seconds) = in_seconds {
            body["in_seconds"] = json!(seconds);
        }
        self.control("POST", "/_sandbox/tokens/expire", body).await;
    }

    pub async fn code(&self) -> String {
        let (status, body) = self.control("POST", "/_sandbox/codes", json!({})).await;
        assert_eq!(status, 200);
        body["code"].as_str().unwrap().to_string()
    }

    pub async fn exchange(&self, code: &str) -> Value {
        let response = self
            .http
            .get(self.graph("oauth/access_token"))
            .query(&[
                ("client_id", "1000000000000001"),
                ("client_secret", "sandbox-app-secret"),
                ("code", code),
            ])
            .send()
            .await
            .unwrap();
        response.json().await.unwrap()
    }

    /// A Graph call with the business token: (HTTP status, JSON body).
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method.parse().unwrap(), self.graph(path))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request).await
    }

    /// Sends a message from the demo number: (HTTP status, JSON body).
    pub async fn send(&self, message: Value) -> (u16, Value) {
        let phone = self.demo().phone_number_id.clone();
        self.call("POST", &format!("{phone}/messages"), Some(message))
            .await
    }

    pub async fn send_text(&self, to: &str, text: &str) -> (u16, Value) {
        self.send(json!({ "messaging_product": "whatsapp", "to": to, "type": "text", "text": { "body": text } }))
            .await
    }

    /// The demo customer writes a text (opening the 24-hour window).
    pub async fn customer_writes(&self, text: &str) -> String {
        let wa_id = self.demo().customer_wa_id.clone();
        let (status, body) = self
            .control(
                "POST",
                &format!("/_sandbox/customers/{wa_id}/messages"),
                json!({ "type": "text", "text": { "body": text } }),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["wamid"].as_str().unwrap().to_string()
    }
}

/// Asserts Meta's error envelope: HTTP status, `code` and optional subcode.
/// Sends a request that must get an answer: (HTTP status, JSON body).
pub async fn answer(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

pub fn assert_graph_error(result: &(u16, Value), status: u16, code: i64, subcode: Option<i64>) {
    let (got_status, body) = result;
    assert_eq!(*got_status, status, "{body}");
    let error = &body["error"];
    assert_eq!(error["code"], json!(code), "{body}");
    assert_eq!(error["error_subcode"].as_i64(), subcode, "{body}");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(error["type"].as_str().is_some(), "{body}");
    assert!(error["fbtrace_id"].as_str().is_some(), "{body}");
}
