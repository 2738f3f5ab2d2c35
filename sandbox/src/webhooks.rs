//! Webhook delivery: Meta's envelope, signed with `X-Hub-Signature-256`
//! over the exact bytes sent, retried with backoff until the callback
//! answers 200, and logged attempt by attempt. Faults (duplicates,
//! reordering, batching) are applied here.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::{mpsc, Notify};

use crate::{
    world::{DeliveryAttempt, Millis, Phone},
    State,
};

/// One change to announce: `field` and `value` for a WABA's entry.
#[derive(Debug, Clone)]
pub struct Change {
    pub waba_id: String,
    pub field: String,
    pub value: Value,
}

impl Change {
    /// A `messages` change for a phone number: Meta's value with
    /// `messaging_product` and `metadata`, plus `fields` (`contacts` and
    /// `messages`, or `statuses`).
    pub fn messages(phone: &Phone, fields: Value) -> Self {
        Self::of_phone(phone, "messages", fields)
    }

    /// A change of `field` about one number, with the same `messaging_product`
    /// and `metadata` as a `messages` change (the coexistence fields
    /// `history`, `smb_app_state_sync` and `smb_message_echoes` are shaped so).
    pub fn of_phone(phone: &Phone, field: &str, fields: Value) -> Self {
        let mut value = json!({
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": phone.display_phone_number,
                "phone_number_id": phone.id,
            },
        });
        if let (Some(value), Value::Object(fields)) = (value.as_object_mut(), fields) {
            value.extend(fields);
        }
        Self {
            waba_id: phone.waba_id.clone(),
            field: field.into(),
            value,
        }
    }
}

pub struct Outbox {
    tx: mpsc::UnboundedSender<Change>,
    pub in_flight: InFlight,
}

impl Outbox {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<Change>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let in_flight = InFlight::default();
        (Self { tx, in_flight }, rx)
    }

    pub fn send(&self, change: Change) {
        self.in_flight.add(1);
        if self.tx.send(change).is_err() {
            self.in_flight.done(1);
        }
    }
}

/// Webhooks still to come: changes queued, deliveries not yet answered 200
/// (or given up), and work that will announce something later (a send's
/// statuses, a template's review), so a test can wait until every webhook
/// has reached the app (a control call; Meta has nothing like it).
#[derive(Debug, Clone, Default)]
pub struct InFlight(Arc<(AtomicUsize, Notify)>);

impl InFlight {
    fn add(&self, n: usize) {
        self.0 .0.fetch_add(n, Ordering::SeqCst);
    }

    fn done(&self, n: usize) {
        if self.0 .0.fetch_sub(n, Ordering::SeqCst) == n {
            self.0 .1.notify_waiters();
        }
    }

    pub fn count(&self) -> usize {
        self.0 .0.load(Ordering::SeqCst)
    }

    /// Counts one unit until the returned guard is dropped.
    pub fn hold(&self) -> Held {
        self.add(1);
        Held(self.clone())
    }

    /// Waits until nothing is in flight.
    pub async fn settled(&self) {
        loop {
            let notified = self.0 .1.notified();
            if self.count() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// Marks one unit finished however its task ends.
pub struct Held(InFlight);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.done(1);
    }
}

/// `sha256=<hex HMAC-SHA256(body, app secret)>`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Meta's envelope for changes of one or more WABAs, grouped per WABA.
/// Entries with an account-level change (any field but `messages`) carry
/// `time`, the Unix second of sending, as Meta's do (reference meta-2026
/// §3); `messages` entries have none.
pub fn envelope(changes: &[Change], now: Millis) -> Value {
    let mut entries: Vec<Value> = Vec::new();
    for change in changes {
        let item = json!({ "field": change.field, "value": change.value });
        let entry = match entries.iter_mut().find(|e| e["id"] == change.waba_id) {
            Some(entry) => entry,
            None => {
                entries.push(json!({ "id": change.waba_id, "changes": [] }));
                entries.last_mut().expect("just pushed")
            }
        };
        if change.field != "messages" {
            entry["time"] = json!(now / 1000);
        }
        entry["changes"].as_array_mut().expect("array").push(item);
    }
    json!({ "object": "whatsapp_business_account", "entry": entries })
}

/// Graph escapes `/` as `\/`; so do we, so that a receiver that hashes
/// re-serialised JSON instead of the raw bytes fails here as it would live.
fn wire_bytes(payload: &Value) -> Vec<u8> {
    serde_json::to_string(payload)
        .expect("JSON values serialise")
        .replace('/', "\\/")
        .into_bytes()
}

/// The GET handshake: the callback must echo `hub.challenge` with a 200.
pub async fn verify_callback(uri: &str, verify_token: &str, challenge: u64) -> Result<(), String> {
    let challenge = (challenge % 9_000_000_000 + 1_000_000_000).to_string();
    let mut url = url::Url::parse(uri).map_err(|e| format!("invalid URL: {e}"))?;
    url.query_pairs_mut()
        .append_pair("hub.mode", "subscribe")
        .append_pair("hub.challenge", &challenge)
        .append_pair("hub.verify_token", verify_token);
    let response = client()
        .get(url)
        .send()
        .await
        .map_err(|e| format!("URL couldn't be validated: {e}"))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if status.as_u16() == 200 && body == challenge {
        Ok(())
    } else {
        Err(format!(
            "URL couldn't be validated. Response does not match challenge, expected value=\"{challenge}\", received=\"{}\"",
            body.chars().take(100).collect::<String>()
        ))
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client")
}

/// The delivery loop: groups what is ready into batches (when batching is
/// on), then hands each batch to its own retrying task.
pub async fn run(state: State, mut queue: mpsc::UnboundedReceiver<Change>) {
    let http = client();
    let mut next_id: u64 = 1;
    while let Some(first) = queue.recv().await {
        let faults = state.faults();
        let mut batch = vec![first];
        if faults.batch_webhooks {
            // Give closely following changes a moment to join the batch.
            tokio::time::sleep(Duration::from_millis(20)).await;
            while let Ok(more) = queue.try_recv() {
                batch.push(more);
            }
        }
        let taken = batch.len();
        // One POST per target URL (WABAs may override the callback).
        let mut by_target: Vec<(Result<String, String>, Vec<Change>)> = Vec::new();
        for change in batch {
            let target = target_for(&state, &change.waba_id);
            match by_target.iter_mut().find(|(t, _)| *t == target) {
                Some((_, group)) => group.push(change),
                None => by_target.push((target, vec![change])),
            }
        }
        for (target, changes) in by_target {
            let copies = if faults.roll_duplicate(&state) { 2 } else { 1 };
            let delay = if faults.roll_reorder(&state) {
                Duration::from_millis(state.rng().u64(50..300))
            } else {
                Duration::ZERO
            };
            for _ in 0..copies {
                let id = next_id;
                next_id += 1;
                let delivering = state.webhooks.in_flight.hold();
                tokio::spawn(deliver(
                    state.clone(),
                    http.clone(),
                    id,
                    target.clone(),
                    envelope(&changes, state.clock.now()),
                    delay,
                    delivering,
                ));
            }
        }
        // Counted again as deliveries above, before these go.
        state.webhooks.in_flight.done(taken);
    }
}

/// Where a WABA's changes go, or why nowhere. Like Meta, nothing reaches
/// the app for a WABA until it calls `POST /{waba-id}/subscribed_apps`.
fn target_for(state: &State, waba_id: &str) -> Result<String, String> {
    let over = {
        let world = state.world();
        match world.wabas.get(waba_id) {
            Some(waba) if waba.subscribed => waba.override_callback.as_ref().map(|o| o.uri.clone()),
            _ => {
                return Err(format!(
                    "the app is not subscribed to WABA {waba_id} (POST /{waba_id}/subscribed_apps)"
                ))
            }
        }
    };
    over.or_else(|| state.config().callback_url.clone())
        .ok_or_else(|| "no callback URL is configured".to_string())
}

async fn deliver(
    state: State,
    http: reqwest::Client,
    id: u64,
    target: Result<String, String>,
    payload: Value,
    delay: Duration,
    _delivering: Held,
) {
    tokio::time::sleep(delay).await;
    let body = wire_bytes(&payload);
    let (secret, schedule) = {
        let config = state.config();
        (config.app_secret.clone(), config.retry_schedule.clone())
    };
    let signature = signature(&secret, &body);
    let url = match target {
        Ok(url) => url,
        Err(reason) => {
            record(&state, id, 1, "", Err(reason), &signature, &body);
            return;
        }
    };
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        let sent = http
            .post(&url)
            .header("content-type", "application/json")
            .header("x-hub-signature-256", &signature)
            .header("user-agent", "facebookexternalua")
            .body(body.clone())
            .send()
            .await;
        let outcome = sent.map(|r| r.status().as_u16()).map_err(|e| e.to_string());
        record(
            &state,
            id,
            attempt,
            &url,
            outcome.clone(),
            &signature,
            &body,
        );
        if outcome == Ok(200) {
            return;
        }
        // Only 200 counts; anything else is retried on the schedule.
        match schedule.get(attempt as usize - 1) {
            Some(wait) => tokio::time::sleep(*wait).await,
            None => {
                tracing::warn!(
                    delivery = id,
                    attempts = attempt,
                    "webhook dropped after the last retry"
                );
                return;
            }
        }
    }
}

/// Logs one attempt: the HTTP status it got, or why it failed.
fn record(
    state: &State,
    delivery_id: u64,
    attempt: u32,
    url: &str,
    outcome: Result<u16, String>,
    signature: &str,
    body: &[u8],
) {
    let (status, error) = match outcome {
        Ok(status) => (Some(status), None),
        Err(error) => (None, Some(error)),
    };
    let at = state.clock.now();
    state.world().deliveries.push(DeliveryAttempt {
        delivery_id,
        attempt,
        url: url.to_string(),
        status,
        error,
        at,
        signature: signature.to_string(),
        body: String::from_utf8_lossy(body).into_owned(),
    });
}
