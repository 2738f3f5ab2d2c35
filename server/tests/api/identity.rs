//! `/api/v1` and customers known by BSUID: conversations and messages carry
//! a contact object; `to` and the customer path segment take a phone, a
//! BSUID or a contact id; bad or foreign references are refused and queue
//! nothing.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use switchboard::{
    accounts::Workspace,
    api_keys::{self, READ, SEND},
    store::OutboxState,
    test_support::TestBackend,
};

use crate::{
    helpers::spawn_app,
    integration::{assert_api_error, call, owner_caller, send_message, PHONE, WABA},
    webhooks::{post, sign},
};

const BSUID: &str = "US.13491208655302741918";

/// A username customer writes with their phone withheld: only the BSUID.
fn message_by_bsuid(wamid: &str) -> Vec<u8> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    json!({ "object": "whatsapp_business_account", "entry": [{ "id": WABA, "changes": [{ "field": "messages", "value": {
        "metadata": { "phone_number_id": PHONE },
        "contacts": [{ "profile": { "name": "Sheena", "username": "@sheena.n" }, "user_id": BSUID }],
        "messages": [{ "from_user_id": BSUID, "id": wamid, "timestamp": now.to_string(), "type": "text", "text": { "body": "Hi" } }],
    }}]}]})
    .to_string()
    .into_bytes()
}

async fn queued_count(app: &crate::helpers::TestApp) -> i64 {
    let mut count = 0;
    for state in [OutboxState::Queued, OutboxState::Sent, OutboxState::Failed] {
        count += app.engine.store.outbox_count(PHONE, state).await.unwrap();
    }
    count
}

#[tokio::test]
async fn customers_known_by_bsuid_are_read_and_answered_through_the_api() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let owner = owner_caller(&app).await;
    app.engine
        .store
        .connect_number(&owner.workspace.id, &PHONE.into(), &WABA.into(), None, 0)
        .await
        .unwrap();
    let body = message_by_bsuid("wamid.bsuid1");
    assert_eq!(
        post(&app, body.clone(), Some(sign(&body))).await.status(),
        200
    );
    let (_, key) = api_keys::create(&app.engine, &owner, "CRM", &[SEND, READ])
        .await
        .unwrap();
    let get = |path: String| {
        let (app, key) = (&app, &key);
        async move { call(app, reqwest::Method::GET, &path, Some(key), None, None).await }
    };

    // The conversation carries the contact: BSUID, username, no phone.
    let mut conversations = Value::Null;
    for _ in 0..200 {
        let (status, page, _) = get("/api/v1/conversations".into()).await;
        assert_eq!(status, 200, "{page}");
        if !page["data"].as_array().unwrap().is_empty() {
            conversations = page;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let conversation = &conversations["data"][0];
    let contact = &conversation["contact"];
    assert_eq!(contact["user_id"], BSUID, "{conversation}");
    assert_eq!(contact["phone"], Value::Null);
    assert_eq!(contact["username"], "@sheena.n");
    assert_eq!(contact["name"], "Sheena");
    assert_eq!(conversation["customer"], BSUID, "where replies go");
    let contact_id = contact["id"].as_str().unwrap().to_string();
    assert!(contact_id.starts_with("ct_"));

    // The messages path takes the BSUID or the contact id.
    for customer in [BSUID, contact_id.as_str()] {
        let (status, page, _) =
            get(format!("/api/v1/conversations/{PHONE}/{customer}/messages")).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["data"][0]["id"], "wamid.bsuid1");
        assert_eq!(page["data"][0]["contact"]["id"], contact_id.as_str());
    }

    // `to` as a BSUID or a contact id: queued for the contact, and a retry
    // under its Idempotency-Key is the same request however it names them.
    let text = |to: &str| json!({ "phone_number_id": PHONE, "to": to, "message": { "type": "text", "body": "Hello" } });
    for (idempotency, to) in [("k-bsuid", BSUID), ("k-contact", contact_id.as_str())] {
        let (status, accepted) = send_message(&app, Some(&key), Some(idempotency), text(to)).await;
        assert_eq!(status, 202, "{accepted}");
        let (status, again) = send_message(&app, Some(&key), Some(idempotency), text(to)).await;
        assert_eq!((status, &again["replayed"]), (202, &json!(true)), "{again}");
        let entry = app
            .engine
            .store
            .outbox_entry(&owner.workspace.id, accepted["id"].as_i64().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(entry.contact_id.as_deref(), Some(contact_id.as_str()));
        assert_eq!(entry.recipient, BSUID, "no phone is known: by BSUID");
    }
    assert_eq!(queued_count(&app).await, 2);

    // Neither a phone, a BSUID nor a contact id; or a contact id nobody has.
    for to in [
        "not-a-customer",
        "us.123",
        "US.",
        "+1 650 555",
        "ct_0123456789abcdef0123456789abcdef",
    ] {
        let (status, body) = send_message(&app, Some(&key), None, text(to)).await;
        assert_api_error(status, &body, 422, "invalid_request");
    }
    // Another workspace's contact.
    let elsewhere = Workspace {
        id: "ws-elsewhere".into(),
        name: "Elsewhere".into(),
    };
    app.engine
        .store
        .insert_workspace(&elsewhere, owner.user.id.as_str(), 0)
        .await
        .unwrap();
    let other_number = "999000999";
    app.engine
        .store
        .connect_number(
            &elsewhere.id,
            &other_number.into(),
            &"waba-elsewhere".into(),
            None,
            0,
        )
        .await
        .unwrap();
    let body = String::from_utf8(message_by_bsuid("wamid.elsewhere"))
        .unwrap()
        .replace(PHONE, other_number)
        .into_bytes();
    assert_eq!(
        post(&app, body.clone(), Some(sign(&body))).await.status(),
        200
    );
    let mut foreign = None;
    for _ in 0..200 {
        foreign = switchboard::conversations::contact_of(
            &app.engine.store,
            "ws-elsewhere",
            other_number,
            BSUID,
        )
        .await
        .unwrap();
        if foreign.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let foreign = foreign.expect("the other workspace's contact");
    assert_ne!(foreign.id.as_str(), contact_id);
    let (status, body) = send_message(&app, Some(&key), None, text(foreign.id.as_str())).await;
    assert_api_error(status, &body, 422, "invalid_request");
    let (status, page, _) = get(format!(
        "/api/v1/conversations/{PHONE}/{}/messages",
        foreign.id
    ))
    .await;
    assert_eq!(
        (status, page["data"].as_array().map(Vec::len)),
        (200, Some(0)),
        "{page}"
    );
    assert_eq!(
        queued_count(&app).await,
        2,
        "nothing queued by the refused requests"
    );
}
