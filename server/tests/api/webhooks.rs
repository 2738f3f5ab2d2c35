//! `/webhook` over real HTTP: the handshake, signatures, limits, and events
//! from the sandbox flowing all the way into conversations.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use switchboard::test_support::TestBackend;

use crate::helpers::{spawn_app, TestApp};

/// The demo sandbox's app secret and verify token (the server uses them in
/// demo mode).
const SECRET: &str = "sandbox-app-secret";
const VERIFY_TOKEN: &str = "sandbox-verify-token";

pub(crate) fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

pub(crate) async fn post(
    app: &TestApp,
    body: Vec<u8>,
    signature: Option<String>,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(format!("{}/webhook", app.base))
        .header("content-type", "application/json")
        .body(body);
    if let Some(signature) = signature {
        request = request.header("x-hub-signature-256", signature);
    }
    request.send().await.unwrap()
}

async fn stored(app: &TestApp) -> i64 {
    app.engine.store.webhook_event_count().await.unwrap()
}

#[tokio::test]
async fn the_handshake_echoes_the_challenge_only_for_the_right_token() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let ok = app
        .get(&format!(
            "/webhook?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={VERIFY_TOKEN}"
        ))
        .await;
    assert_eq!(ok.status(), 200);
    assert!(ok.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    for bad in [
        "/webhook?hub.mode=subscribe&hub.challenge=1&hub.verify_token=wrong",
        "/webhook?hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=sandbox-verify-token",
        "/webhook?hub.challenge=1",
    ] {
        assert_eq!(app.get(bad).await.status(), 403, "{bad}");
    }
}

#[tokio::test]
async fn unsigned_or_wrongly_signed_posts_get_401_and_nothing_is_stored() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let body = br#"{"object":"whatsapp_business_account","entry":[]}"#.to_vec();
    assert_eq!(post(&app, body.clone(), None).await.status(), 401);
    assert_eq!(
        post(&app, body.clone(), Some("sha256=00".into()))
            .await
            .status(),
        401
    );
    assert_eq!(
        post(&app, body.clone(), Some("garbage".into()))
            .await
            .status(),
        401
    );
    let mut tampered = body.clone();
    tampered.push(b' ');
    assert_eq!(post(&app, tampered, Some(sign(&body))).await.status(), 401);
    assert_eq!(stored(&app).await, 0);

    let signature = sign(&body);
    let response = post(&app, body, Some(signature)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(stored(&app).await, 1);
}

#[tokio::test]
async fn an_oversized_body_is_refused_with_413() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let body = vec![b' '; 3 * 1024 * 1024 + 1];
    let signature = sign(&body);
    assert_eq!(post(&app, body, Some(signature)).await.status(), 413);
    assert_eq!(stored(&app).await, 0);
}

#[tokio::test]
async fn a_signed_body_that_is_not_json_is_acknowledged_and_rejected() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let body = b"<xml>not json</xml>".to_vec();
    let signature = sign(&body);
    assert_eq!(post(&app, body, Some(signature)).await.status(), 200);
    for _ in 0..100 {
        let rejected = app
            .engine
            .store
            .webhook_events_in(switchboard::store::EventState::Rejected, 10)
            .await
            .unwrap();
        if let Some(event) = rejected.first() {
            assert!(event.last_error.as_deref().unwrap().contains("not JSON"));
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the event was never marked rejected");
}

/// Sends a request to the sandbox and reads its JSON answer.
async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// Connects the sandbox's demo number to a workspace, as onboarding will.
async fn connect_demo_number(app: &TestApp, sandbox: &str) -> (String, Value) {
    let state: Value = reqwest::get(format!("{sandbox}_sandbox/state"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let demo = state["demo"].clone();
    let workspace = switchboard::test_support::workspace_with_number(
        &app.engine.store,
        demo["phone_number_id"].as_str().unwrap(),
        demo["waba_id"].as_str().unwrap(),
    )
    .await;
    (workspace, demo)
}

/// Subscribes the app to the demo WABA through the sandbox's Graph API.
async fn subscribe(client: &reqwest::Client, sandbox: &str, waba: &str) {
    let code = json_of(
        client
            .post(format!("{sandbox}_sandbox/codes"))
            .json(&json!({})),
    )
    .await;
    let token = json_of(
        client
            .get(format!("{sandbox}v25.0/oauth/access_token"))
            .query(&[
                ("client_id", "1000000000000001"),
                ("client_secret", SECRET),
                ("code", code["code"].as_str().unwrap()),
            ]),
    )
    .await;
    let subscribed = client
        .post(format!("{sandbox}v25.0/{waba}/subscribed_apps"))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(subscribed.status(), 200);
}

async fn wait_for_callback(client: &reqwest::Client, sandbox: &str) {
    for _ in 0..100 {
        let state = json_of(client.get(format!("{sandbox}_sandbox/state"))).await;
        if state["callback_url"].is_string() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the server never registered its webhook callback with the sandbox");
}

async fn sandbox_to_conversation(backend: TestBackend) {
    let app = spawn_app(backend).await;
    let sandbox = app.graph_base_url.clone();
    let client = reqwest::Client::new();
    wait_for_callback(&client, &sandbox).await;
    let (workspace, demo) = connect_demo_number(&app, &sandbox).await;
    subscribe(&client, &sandbox, demo["waba_id"].as_str().unwrap()).await;
    // Meta's habits: every message delivered twice, some batched, some late.
    client
        .put(format!("{sandbox}_sandbox/faults"))
        .json(
            &json!({ "duplicate_webhooks": 1.0, "batch_webhooks": true, "reorder_webhooks": 0.5 }),
        )
        .send()
        .await
        .unwrap();
    let customer = demo["customer_wa_id"].as_str().unwrap();
    let kinds = [
        json!({ "type": "text", "text": { "body": "Do you have sourdough?" } }),
        json!({ "type": "image", "image": { "caption": "this one" } }),
        json!({ "type": "location", "location": { "latitude": 1.0, "longitude": 2.0, "name": "Home" } }),
        json!({ "type": "interactive", "interactive": { "type": "button_reply", "button_reply": { "id": "y", "title": "Yes please" } } }),
        json!({ "type": "reaction", "reaction": { "message_id": "wamid.X", "emoji": "👍" } }),
        json!({ "type": "unsupported" }),
    ];
    for kind in &kinds {
        let sent = client
            .post(format!("{sandbox}_sandbox/customers/{customer}/messages"))
            .json(kind)
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), 200);
    }
    let phone = demo["phone_number_id"].as_str().unwrap();
    for _ in 0..250 {
        let thread =
            switchboard::test_support::thread_with(&app.engine.store, &workspace, phone, customer)
                .await;
        if thread.len() == kinds.len()
            && app.engine.store.pending_webhook_events().await.unwrap() == 0
        {
            let summaries: Vec<&str> = thread.iter().map(|l| l.summary.as_str()).collect();
            assert!(
                summaries.contains(&"Do you have sourdough?"),
                "{summaries:?}"
            );
            assert!(summaries.contains(&"[image] this one"), "{summaries:?}");
            assert!(summaries.contains(&"Yes please"), "{summaries:?}");
            // Every delivery the sandbox saw acknowledged was journaled, each
            // POST twice, and nothing in the conversation doubled.
            let log = json_of(client.get(format!("{sandbox}_sandbox/webhooks"))).await;
            let acknowledged = log["attempts"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| a["status"] == 200)
                .count() as i64;
            let journaled = stored(&app).await;
            assert_eq!(journaled, acknowledged);
            assert!(journaled >= 2 && journaled % 2 == 0, "{journaled}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the conversation never held every message once");
}

#[tokio::test]
async fn sandbox_messages_reach_the_conversation_once_on_sqlite() {
    sandbox_to_conversation(TestBackend::Sqlite).await;
}

#[tokio::test]
async fn sandbox_messages_reach_the_conversation_once_on_postgres() {
    sandbox_to_conversation(TestBackend::Postgres).await;
}

/// Two server processes' worth of instances on one Postgres database: they
/// share the journal and never process one event twice.
#[tokio::test]
async fn two_instances_share_the_journal_on_postgres() {
    use switchboard::test_support::TestDatabase;
    let db = TestDatabase::create(TestBackend::Postgres).await;
    let mut instances = Vec::new();
    for _ in 0..2 {
        let app = server::Application::build(crate::helpers::test_config(&db, &[]))
            .await
            .unwrap();
        let base = format!("http://{}", app.local_addr());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        instances.push((base, stop, running));
    }
    let store = db.open_store().await;
    let workspace = switchboard::test_support::workspace_with_number(
        &store,
        "106540352242922",
        "524126980791429",
    )
    .await;

    let client = reqwest::Client::new();
    for i in 0..300 {
        let body = json!({ "object": "whatsapp_business_account", "entry": [{ "id": "524126980791429", "changes": [{ "field": "messages", "value": {
            "metadata": { "phone_number_id": "106540352242922" },
            "messages": [{ "from": "16505551234", "id": format!("wamid.two{i}"), "timestamp": "1700000000", "type": "text", "text": { "body": "x" } }],
        }}]}]})
        .to_string()
        .into_bytes();
        let base = &instances[i % 2].0;
        let response = client
            .post(format!("{base}/webhook"))
            .header("x-hub-signature-256", sign(&body))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    for _ in 0..500 {
        if store.pending_webhook_events().await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        switchboard::test_support::thread_with(
            &store,
            &workspace,
            "106540352242922",
            "16505551234"
        )
        .await
        .len(),
        300
    );
    let switchboard::store::Store::Postgres(pg) = &store else {
        unreachable!()
    };
    let (events, max_attempts): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), MAX(attempts) FROM webhook_events WHERE state = 'done'")
            .fetch_one(pg.pool())
            .await
            .unwrap();
    assert_eq!((events, max_attempts), (300, 1), "every event claimed once");
    for (_, stop, running) in instances {
        let _ = stop.send(());
        running.await.unwrap().unwrap();
    }
}

/// The conversations server functions see what the pipeline stored, and an
/// admin can replay dead letters through them.
#[tokio::test]
async fn conversations_and_dead_letters_through_server_functions() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let mut owner = crate::helpers::owner(&app).await;
    let (_, welcome) = owner.call("welcome", &[]).await;
    let workspace = serde_json::from_str::<Value>(&welcome).unwrap()["me"]["current"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.engine
        .store
        .connect_number(
            &workspace.as_str().into(),
            &"106540352242922".into(),
            &"524126980791429".into(),
            None,
            0,
        )
        .await
        .unwrap();

    let body = json!({ "object": "whatsapp_business_account", "entry": [{ "id": "524126980791429", "changes": [{ "field": "messages", "value": {
        "metadata": { "phone_number_id": "106540352242922" },
        "contacts": [{ "profile": { "name": "Sheena" }, "wa_id": "16505551234" }],
        "messages": [{ "from": "16505551234", "id": "wamid.conv", "timestamp": "1700000000", "type": "text", "text": { "body": "Hello there" } }],
    }}]}]})
    .to_string()
    .into_bytes();
    let signature = sign(&body);
    assert_eq!(post(&app, body, Some(signature)).await.status(), 200);

    let mut listed = Value::Null;
    for _ in 0..100 {
        let (status, list) = owner.call("list_conversations", &[]).await;
        assert_eq!(status, 200);
        listed = serde_json::from_str(&list).unwrap();
        if listed.as_array().is_some_and(|l| !l.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(listed[0]["name"], "Sheena");
    assert_eq!(listed[0]["last_summary"], "Hello there");
    let (_, thread) = owner
        .call(
            "conversation_thread",
            &[
                ("phone_number_id", "106540352242922"),
                ("customer", "16505551234"),
            ],
        )
        .await;
    let thread: Value = serde_json::from_str(&thread).unwrap();
    assert_eq!(thread["lines"][0]["summary"], "Hello there");
    assert_eq!(thread["lines"][0]["inbound"], true);
    assert_eq!(thread["can_reply"], true);
    // The message is from 2023: its 24-hour window closed long ago.
    assert!(thread["window_closes_at"].as_i64().unwrap() < thread["now"].as_i64().unwrap());
    let reply = [
        ("phone_number_id", "106540352242922"),
        ("customer", "16505551234"),
        ("text", "Hi"),
        ("key", "k1"),
    ];
    let (status, refused) = owner.call("send_reply", &reply).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused.contains("template"), "{refused}");
    // Someone in another workspace cannot send from this number.
    let mut stranger =
        crate::helpers::member_elsewhere(&app, &mut owner, "s@example.com", "agent").await;
    assert_eq!(stranger.call("send_reply", &reply).await.0, 404);
    assert_eq!(
        app.engine
            .store
            .outbox_count("106540352242922", switchboard::store::OutboxState::Queued)
            .await
            .unwrap(),
        0
    );

    let (status, attention) = owner.call("webhook_attention", &[]).await;
    assert_eq!(status, 200, "{attention}");
    let (status, replayed) = owner.call("replay_webhooks", &[]).await;
    assert_eq!(
        (status, replayed.as_str()),
        (200, "0"),
        "no dead letters to replay"
    );
    let (_, log) = owner.call("audit_log", &[]).await;
    assert!(log.contains("webhooks.replayed"), "{log}");
}
