//! The two outsiders' views: a business's program using the REST API of
//! whichever instance answers (retrying under the same `Idempotency-Key`,
//! as the README tells clients to), and the sandbox's control API, which
//! says what Meta and the customers' phones saw.

use std::{
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use serde_json::{json, Value};

/// How long a client keeps retrying one request through kills and restarts.
const GIVE_UP_AFTER: Duration = Duration::from_secs(120);

pub struct Api {
    pub urls: Vec<String>,
    pub key: String,
    pub http: reqwest::Client,
    next: AtomicUsize,
}

impl Api {
    pub fn new(urls: Vec<String>, key: String) -> Self {
        Self {
            urls,
            key,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()
                .expect("client"),
            next: AtomicUsize::new(0),
        }
    }

    fn base(&self) -> &str {
        &self.urls[self.next.fetch_add(1, Ordering::Relaxed) % self.urls.len()]
    }

    /// Queues a text; retries on any instance until one accepts it. Returns
    /// the outbox id, or the refusal that is not worth retrying.
    pub async fn send_text(
        &self,
        phone: &str,
        to: &str,
        body: &str,
        idempotency_key: &str,
    ) -> Result<i64, String> {
        let deadline = tokio::time::Instant::now() + GIVE_UP_AFTER;
        let request = json!({
            "phone_number_id": phone,
            "to": to,
            "message": { "type": "text", "body": body },
        });
        loop {
            let answer = self
                .http
                .post(format!("{}/api/v1/messages", self.base()))
                .bearer_auth(&self.key)
                .header("idempotency-key", idempotency_key)
                .json(&request)
                .send()
                .await;
            match answer {
                Ok(answer) if answer.status().is_success() => {
                    let accepted: Value = answer.json().await.unwrap_or_default();
                    return accepted["id"]
                        .as_i64()
                        .ok_or_else(|| format!("no id in {accepted}"));
                }
                Ok(answer)
                    if answer.status().is_client_error() && answer.status().as_u16() != 429 =>
                {
                    let status = answer.status();
                    return Err(format!(
                        "{status}: {}",
                        answer.text().await.unwrap_or_default()
                    ));
                }
                // 429, 5xx (a database restarting), or no answer at all.
                _ => {}
            }
            if tokio::time::Instant::now() > deadline {
                return Err("no instance accepted it in time".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every message of one conversation, as the API pages through them.
    pub async fn conversation(&self, phone: &str, customer: &str) -> Result<Vec<Value>, String> {
        let mut messages = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![("limit", "100".to_string())];
            if let Some(cursor) = &cursor {
                query.push(("cursor", cursor.clone()));
            }
            let answer = self
                .http
                .get(format!(
                    "{}/api/v1/conversations/{phone}/{customer}/messages",
                    self.base()
                ))
                .bearer_auth(&self.key)
                .query(&query)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if !answer.status().is_success() {
                return Err(format!(
                    "{}: {}",
                    answer.status(),
                    answer.text().await.unwrap_or_default()
                ));
            }
            let page: Value = answer.json().await.map_err(|e| e.to_string())?;
            messages.extend(page["data"].as_array().cloned().unwrap_or_default());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return Ok(messages),
            }
        }
    }
}

pub struct Sandbox {
    pub url: String,
    pub http: reqwest::Client,
}

impl Sandbox {
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request.send().await.expect("the sandbox answers");
        let status = answer.status();
        let body: Value = answer.json().await.unwrap_or_default();
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    /// The customer writes a text to the number; returns its wamid.
    pub async fn customer_writes(&self, phone: &str, customer: &str, text: &str) -> String {
        let answer = self
            .call(
                reqwest::Method::POST,
                &format!("/_sandbox/customers/{customer}/messages"),
                Some(json!({ "phone_number_id": phone, "type": "text", "text": { "body": text } })),
            )
            .await;
        answer["wamid"].as_str().expect("a wamid").to_string()
    }

    /// What the customer's phone shows.
    pub async fn chat(&self, phone: &str, customer: &str) -> Vec<Value> {
        let chat = self
            .call(
                reqwest::Method::GET,
                &format!("/_sandbox/chats/{phone}/{customer}"),
                None,
            )
            .await;
        chat["messages"].as_array().cloned().unwrap_or_default()
    }

    /// Webhooks still to be answered, after waiting up to `wait` for them.
    pub async fn in_flight(&self, wait: Duration) -> u64 {
        let answer = self
            .http
            .post(format!("{}/_sandbox/webhooks/settle", self.url))
            .json(&json!({ "timeout_ms": wait.as_millis() as u64 }))
            .send()
            .await
            .expect("the sandbox answers");
        let body: Value = answer.json().await.unwrap_or_default();
        body["in_flight"].as_u64().unwrap_or(u64::MAX)
    }
}
