//! A contact's data rights on both backends: the export holds everything
//! about one contact and nothing of anyone else; an erasure deletes it all,
//! keeps no personal data in the audit log, and survives the same webhooks
//! arriving again, while the person writing later starts afresh.

mod common;

use std::sync::Arc;

use base64::{engine::general_purpose::STANDARD as BASE64, Engine as _};
use serde_json::{json, Value};
use switchboard::{
    data_rights, pipeline,
    store::{now_millis, Store},
    test_support::{workspace_with_number, TestBackend, TestDatabase},
    webhook::Journal,
    Error,
};
use tokio::sync::Notify;

on_both_backends!(
    an_export_holds_everything_about_one_contact_and_nobody_else,
    an_erased_contact_stays_erased_when_its_webhooks_come_again,
);

const PHONE: &str = "106540352242922";
const WABA: &str = "524126980791429";
const ANA_PHONE: &str = "16505551234";
const ANA_BSUID: &str = "US.13491208655302741918";
const BEN_PHONE: &str = "16505559876";
const PHOTO: &[u8] = b"\xff\xd8\xff not really a jpeg";

struct Setup {
    _db: TestDatabase,
    store: Store,
    journal: Journal,
    workspace: String,
}

async fn setup(backend: TestBackend) -> Setup {
    let db = TestDatabase::create(backend).await;
    let store = db.open_store().await;
    let workspace = workspace_with_number(&store, PHONE, WABA).await;
    store
        .default_bot_to_echo(&workspace, now_millis())
        .await
        .unwrap();
    let (journal, _writer) =
        Journal::start(store.clone(), Arc::new(Notify::new()), Default::default());
    Setup {
        _db: db,
        store,
        journal,
        workspace,
    }
}

/// A `messages` change as Meta sends it, delivered and processed; returns
/// its body (to deliver again, as Meta's retries do).
async fn deliver(s: &Setup, value: Value) -> String {
    let mut value = value;
    value["messaging_product"] = json!("whatsapp");
    value["metadata"] = json!({ "display_phone_number": "15550783881", "phone_number_id": PHONE });
    let body = json!({ "object": "whatsapp_business_account", "entry": [{ "id": WABA, "changes": [
        { "field": "messages", "value": value }
    ]}]})
    .to_string();
    deliver_body(s, &body).await;
    body
}

async fn deliver_body(s: &Setup, body: &str) {
    s.journal
        .append("sha256=test".into(), body.as_bytes().to_vec())
        .await
        .unwrap();
    while pipeline::process_due(&s.store).await.unwrap().events > 0 {}
}

fn ana() -> Value {
    json!({ "profile": { "name": "Ana Example" }, "wa_id": ANA_PHONE, "user_id": ANA_BSUID })
}

/// Ana writes twice (a text, a photo) at `timestamp` (Unix seconds).
async fn ana_writes(s: &Setup, timestamp: i64, suffix: &str) -> String {
    let at = timestamp.to_string();
    deliver(
        s,
        json!({
            "contacts": [ana()],
            "messages": [
                { "id": format!("wamid.ana-text-{suffix}"), "from": ANA_PHONE, "from_user_id": ANA_BSUID,
                  "timestamp": at, "type": "text", "text": { "body": "my address is 1 Main St" } },
                { "id": format!("wamid.ana-photo-{suffix}"), "from": ANA_PHONE, "from_user_id": ANA_BSUID,
                  "timestamp": at, "type": "image", "image": { "id": format!("media-ana-{suffix}"), "mime_type": "image/jpeg" } },
            ],
        }),
    )
    .await
}

async fn ben_writes(s: &Setup) {
    deliver(
        s,
        json!({
            "contacts": [{ "profile": { "name": "Ben" }, "wa_id": BEN_PHONE }],
            "messages": [{ "id": "wamid.ben-1", "from": BEN_PHONE, "timestamp": "1775000100",
                           "type": "text", "text": { "body": "hello" } }],
        }),
    )
    .await;
}

/// A receipt naming Ana for a message we have no record of.
async fn receipt_for_ana(s: &Setup) -> String {
    deliver(
        s,
        json!({ "statuses": [{ "id": "wamid.sent-elsewhere", "status": "delivered", "timestamp": "1775000050",
                               "recipient_id": ANA_PHONE, "recipient_user_id": ANA_BSUID }] }),
    )
    .await
}

/// Stores every pending file with the photo's bytes, as the media worker
/// would after downloading it.
async fn store_files(s: &Setup) {
    for job in s.store.claim_media(now_millis(), 60_000, 10).await.unwrap() {
        s.store
            .media_stored(&job, Some("image/jpeg"), PHOTO, now_millis())
            .await
            .unwrap();
    }
}

async fn contact_id_of(s: &Setup, phone: &str) -> Option<String> {
    switchboard::conversations::contact_of(&s.store, &s.workspace, PHONE, phone)
        .await
        .unwrap()
        .map(|c| c.id.to_string())
}

async fn an_export_holds_everything_about_one_contact_and_nobody_else(backend: TestBackend) {
    let s = setup(backend).await;
    ana_writes(&s, 1_775_000_000, "1").await;
    ben_writes(&s).await;
    store_files(&s).await;
    let ana_id = contact_id_of(&s, ANA_PHONE).await.unwrap();

    let export = data_rights::export(&s.store, &s.workspace, &ana_id)
        .await
        .unwrap();
    assert_eq!(export.contact.id, ana_id);
    assert_eq!(export.contact.phone.as_deref(), Some(ANA_PHONE));
    let ids: Vec<(&str, &str)> = export
        .ids
        .iter()
        .map(|i| (i.kind.as_str(), i.value.as_str()))
        .collect();
    assert!(
        ids.contains(&("phone", ANA_PHONE)) && ids.contains(&("bsuid", ANA_BSUID)),
        "{ids:?}"
    );
    let wamids: Vec<&str> = export.messages.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(wamids, ["wamid.ana-text-1", "wamid.ana-photo-1"]);
    assert_eq!(
        export.messages[0].payload["text"]["body"],
        "my address is 1 Main St"
    );
    // The echo bot's answer to her text.
    assert!(!export.sends.is_empty());
    assert!(export
        .sends
        .iter()
        .all(|send| send.phone_number_id == PHONE));
    assert_eq!(export.files.len(), 1);
    assert_eq!(
        BASE64
            .decode(export.files[0].data_base64.as_ref().unwrap())
            .unwrap(),
        PHOTO
    );
    let text = serde_json::to_string(&export).unwrap();
    assert!(!text.contains(BEN_PHONE) && !text.contains("wamid.ben-1"));

    // Another workspace's caller, or something that is not an id, gets nothing.
    assert!(matches!(
        data_rights::export(&s.store, "another-workspace", &ana_id).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        data_rights::export(&s.store, &s.workspace, "16505551234").await,
        Err(Error::Invalid { .. })
    ));
}

async fn an_erased_contact_stays_erased_when_its_webhooks_come_again(backend: TestBackend) {
    let s = setup(backend).await;
    let first = ana_writes(&s, 1_775_000_000, "1").await;
    let receipt = receipt_for_ana(&s).await;
    ben_writes(&s).await;
    store_files(&s).await;
    let ana_id = contact_id_of(&s, ANA_PHONE).await.unwrap();

    let report = data_rights::erase(
        &s.store,
        &s.workspace,
        &ana_id,
        Some(("admin-id", "admin@example.com")),
        None,
    )
    .await
    .unwrap();
    assert_eq!(report.messages, 2);
    assert_eq!(report.files, 1);
    assert_eq!(report.statuses, 1);
    assert!(report.sends >= 1, "{report:?}");
    assert_eq!(report.webhook_bodies, 2, "{report:?}");
    assert_eq!(contact_id_of(&s, ANA_PHONE).await, None);
    assert!(matches!(
        data_rights::export(&s.store, &s.workspace, &ana_id).await,
        Err(Error::NotFound)
    ));
    // Nothing of hers is left in the journal's processed bodies; Ben's stay.
    assert!(s
        .store
        .processed_webhooks_holding(&[ANA_PHONE.into(), ANA_BSUID.into()], &[PHONE.into()])
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        s.store
            .processed_webhooks_holding(&[BEN_PHONE.into()], &[PHONE.into()])
            .await
            .unwrap()
            .len(),
        1
    );
    let conversations = s
        .store
        .conversations(&s.workspace, 10, None, None)
        .await
        .unwrap();
    assert_eq!(conversations.len(), 1, "Ben's conversation stays");

    // The audit says what went, not whom.
    let entries = s.store.audit_entries(&s.workspace, 50).await.unwrap();
    let erased = entries
        .iter()
        .find(|e| e.action == "contact.erased")
        .expect("audited");
    for personal in [ANA_PHONE, ANA_BSUID, "Ana", ana_id.as_str()] {
        assert!(!erased.detail.contains(personal), "{}", erased.detail);
    }
    assert!(
        erased.detail.contains("\"messages\":2"),
        "{}",
        erased.detail
    );

    // Meta retries the same webhooks: she does not come back.
    deliver_body(&s, &first).await;
    deliver_body(&s, &receipt).await;
    assert_eq!(contact_id_of(&s, ANA_PHONE).await, None);
    assert_eq!(
        s.store
            .conversations(&s.workspace, 10, None, None)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(s
        .store
        .claim_media(now_millis(), 60_000, 10)
        .await
        .unwrap()
        .is_empty());

    // She writes again, later: a new contact, with only the new messages.
    ana_writes(&s, now_millis() / 1000 + 5, "2").await;
    let again = contact_id_of(&s, ANA_PHONE).await.expect("a new contact");
    assert_ne!(again, ana_id);
    let export = data_rights::export(&s.store, &s.workspace, &again)
        .await
        .unwrap();
    let wamids: Vec<&str> = export.messages.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(wamids, ["wamid.ana-text-2", "wamid.ana-photo-2"]);
}
