//! `/api/v1` over real HTTP: keys and scopes, sending with an
//! Idempotency-Key, reading a message's state, the per-key rate limit,
//! and another workspace's key refused.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use switchboard::{
    accounts::{Caller, Role, Workspace},
    api_keys::{self, READ, SEND},
    store::OutboxState,
    test_support::TestBackend,
};

use crate::{
    helpers::{owner, spawn_app, TestApp},
    webhooks::{post, sign},
};

pub const PHONE: &str = "106540352242922";
pub const WABA: &str = "524126980791429";
pub const CUSTOMER: &str = "16505551234";

pub async fn owner_caller(app: &TestApp) -> Caller {
    let mut visitor = owner(app).await;
    let (_, welcome) = visitor.call("welcome", &[]).await;
    let workspace = serde_json::from_str::<Value>(&welcome).unwrap()["me"]["current"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let member = app
        .engine
        .store
        .members_of(&workspace)
        .await
        .unwrap()
        .remove(0);
    Caller {
        user: member.user,
        workspace: Workspace {
            id: workspace.into(),
            name: "Acme".into(),
        },
        role: Role::Owner,
    }
}

/// The customer writes now, so the 24-hour window is open.
async fn customer_writes(app: &TestApp, workspace: &str) {
    customer_says(app, workspace, CUSTOMER, "wamid.api1").await;
}

/// `customer` writes to `PHONE` now; back once the message is stored.
pub async fn customer_says(app: &TestApp, workspace: &str, customer: &str, wamid: &str) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let body = json!({ "object": "whatsapp_business_account", "entry": [{ "id": WABA, "changes": [{ "field": "messages", "value": {
        "metadata": { "phone_number_id": PHONE },
        "contacts": [{ "profile": { "name": "Sheena" }, "wa_id": customer }],
        "messages": [{ "from": customer, "id": wamid, "timestamp": now.to_string(), "type": "text", "text": { "body": "Hello" } }],
    }}]}]})
    .to_string()
    .into_bytes();
    let signature = sign(&body);
    assert_eq!(post(app, body, Some(signature)).await.status(), 200);
    for _ in 0..200 {
        let thread =
            switchboard::test_support::thread_with(&app.engine.store, workspace, PHONE, customer)
                .await;
        if thread.iter().any(|line| line.wamid == wamid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the inbound message was not stored");
}

/// Posts `body` to `/api/v1/messages` with an optional key and
/// idempotency key: (HTTP status, JSON body).
pub async fn send_message(
    app: &TestApp,
    key: Option<&str>,
    idempotency: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let method = reqwest::Method::POST;
    let (status, body, _) = call(
        app,
        method,
        "/api/v1/messages",
        key,
        idempotency,
        Some(body),
    )
    .await;
    (status, body)
}

/// The API's refusal: its HTTP status and its error code.
pub fn assert_api_error(status: u16, body: &Value, expected: u16, code: &str) {
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (expected, Some(code)),
        "{body}"
    );
}

pub async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    key: Option<&str>,
    idempotency: Option<&str>,
    body: Option<Value>,
) -> (u16, Value, Option<String>) {
    let mut request = app.client.request(method, format!("{}{path}", app.base));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(idempotency) = idempotency {
        request = request.header("idempotency-key", idempotency);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body, retry)
}

fn text(body: &str) -> Value {
    json!({ "phone_number_id": PHONE, "to": CUSTOMER, "message": { "type": "text", "body": body } })
}

#[tokio::test]
async fn the_integration_api_sends_once_per_key_reads_and_limits() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let owner = owner_caller(&app).await;
    app.engine
        .store
        .connect_number(&owner.workspace.id, &PHONE.into(), &WABA.into(), None, 0)
        .await
        .unwrap();
    customer_writes(&app, &owner.workspace.id).await;
    let (_, send_key) = api_keys::create(&app.engine, &owner, "CRM", &[SEND])
        .await
        .unwrap();
    let (_, read_key) = api_keys::create(&app.engine, &owner, "Reports", &[READ])
        .await
        .unwrap();
    let post = reqwest::Method::POST;

    // No key, or a key without the scope.
    let (status, body) = send_message(&app, None, None, text("hi")).await;
    assert_api_error(status, &body, 401, "unauthorized");
    let (status, body) = send_message(&app, Some(&read_key), None, text("hi")).await;
    assert_api_error(status, &body, 403, "insufficient_scope");

    // Sent once, whatever the retries; another body under the key is refused.
    let order_42 = |body| send_message(&app, Some(&send_key), Some("order-42"), text(body));
    let (status, first) = order_42("Your order shipped").await;
    assert_eq!(status, 202, "{first}");
    assert_eq!(first["replayed"], false);
    let (status, again) = order_42("Your order shipped").await;
    assert_eq!(
        (status, &again["id"], &again["replayed"]),
        (202, &first["id"], &json!(true))
    );
    let (status, reused) = order_42("Something else").await;
    assert_api_error(status, &reused, 422, "idempotency_key_reused");
    // One message in the outbox, whatever its state by now.
    let mut queued = 0;
    for state in [OutboxState::Queued, OutboxState::Sent, OutboxState::Failed] {
        queued += app.engine.store.outbox_count(PHONE, state).await.unwrap();
    }
    assert_eq!(queued, 1);

    // Bad input: JSON errors with a stable code.
    let (status, bad) = send_message(&app, Some(&send_key), None, json!({ "to": CUSTOMER })).await;
    assert_api_error(status, &bad, 400, "malformed_json");
    let (status, unknown) = send_message(&app, Some(&send_key), None, json!({ "phone_number_id": "999", "to": CUSTOMER, "message": { "type": "text", "body": "x" } })).await;
    assert_api_error(status, &unknown, 404, "not_found");

    // Reading the message's state.
    let id = first["id"].as_i64().unwrap();
    let read_message = || async {
        let path = format!("/api/v1/messages/{id}");
        call(
            &app,
            reqwest::Method::GET,
            &path,
            Some(&read_key),
            None,
            None,
        )
        .await
    };
    let (status, state, _) = read_message().await;
    assert_eq!(status, 200, "{state}");
    assert_eq!(state["id"], id);
    assert!(["queued", "sent", "failed"].contains(&state["state"].as_str().unwrap()));

    // A revoked key stops at once.
    let keys = api_keys::list(&app.engine, &owner).await.unwrap();
    let reports = keys.iter().find(|k| k.name == "Reports").unwrap();
    api_keys::revoke(&app.engine, &owner, &reports.id)
        .await
        .unwrap();
    let (status, _, _) = read_message().await;
    assert_eq!(status, 401);

    // The per-key budget: a burst is served, then 429 with Retry-After.
    let mut limited = None;
    for _ in 0..40 {
        let (status, _, retry) = call(
            &app,
            post.clone(),
            "/api/v1/messages",
            Some(&send_key),
            None,
            Some(json!({})),
        )
        .await;
        if status == 429 {
            limited = retry;
            break;
        }
        assert_eq!(status, 400, "a malformed request within the budget");
    }
    assert!(
        limited.is_some_and(|r| r.parse::<u64>().unwrap() >= 1),
        "rate limited with Retry-After"
    );
}
