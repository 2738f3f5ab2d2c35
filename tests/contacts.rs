//! Who a customer is, on both backends: the merge rules of
//! `switchboard::contacts`, each through the pipeline with webhooks shaped
//! as Meta sends them since 2026 (reference meta-2026 §1.4, §1.5).

mod common;

use std::sync::Arc;

use serde_json::{json, Value};
use switchboard::{
    contacts::ContactRow,
    conversations::{self, ConversationSummary},
    pipeline,
    store::{now_millis, NewOutboxRow, Store},
    test_support::{thread_with, workspace_with_number, TestBackend, TestDatabase},
    webhook::Journal,
};
use tokio::sync::Notify;

on_both_backends!(
    a_phone_only_contact_gains_its_bsuid_and_stays_one_conversation,
    two_contacts_proven_one_are_merged_with_their_history,
    a_number_change_moves_the_contact_and_old_ids_still_find_it,
    a_user_id_change_without_a_phone_keeps_one_conversation,
    usernames_and_profile_names_are_never_keys,
    a_status_teaches_a_contact_its_bsuid,
    a_phone_seen_with_another_bsuid_is_another_person,
    the_search_finds_a_conversation_by_any_of_its_ids,
    a_reply_on_its_way_when_its_customer_is_merged_joins_the_merged_thread,
);

const PHONE: &str = "106540352242922";
const WABA: &str = "524126980791429";
const CUSTOMER_PHONE: &str = "16505551234";
const BSUID: &str = "US.13491208655302741918";

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
    let (journal, _writer) =
        Journal::start(store.clone(), Arc::new(Notify::new()), Default::default());
    Setup {
        _db: db,
        store,
        journal,
        workspace,
    }
}

/// A `messages` change as Meta sends it, with these contacts, messages and
/// statuses, delivered and processed.
async fn deliver(s: &Setup, contacts: Value, messages: Vec<Value>, statuses: Vec<Value>) {
    let body = json!({ "object": "whatsapp_business_account", "entry": [{ "id": WABA, "changes": [
        { "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550783881", "phone_number_id": PHONE },
            "contacts": contacts, "messages": messages, "statuses": statuses,
        }}
    ]}]});
    s.journal
        .append("sha256=test".into(), body.to_string().into_bytes())
        .await
        .unwrap();
    while pipeline::process_due(&s.store).await.unwrap().events > 0 {}
}

/// A text from a customer: `from` and `from_user_id` as given (absent when
/// `None`).
fn text(wamid: &str, from: Option<&str>, from_user_id: Option<&str>) -> Value {
    let mut message = json!({ "id": wamid, "timestamp": "1775000000", "type": "text", "text": { "body": wamid } });
    if let Some(from) = from {
        message["from"] = json!(from);
    }
    if let Some(user_id) = from_user_id {
        message["from_user_id"] = json!(user_id);
    }
    message
}

fn contact(
    name: &str,
    wa_id: Option<&str>,
    user_id: Option<&str>,
    username: Option<&str>,
) -> Value {
    let mut contact = json!({ "profile": { "name": name } });
    if let Some(wa_id) = wa_id {
        contact["wa_id"] = json!(wa_id);
    }
    if let Some(user_id) = user_id {
        contact["user_id"] = json!(user_id);
    }
    if let Some(username) = username {
        contact["profile"]["username"] = json!(username);
    }
    contact
}

async fn conversations_of(s: &Setup) -> Vec<ConversationSummary> {
    s.store
        .conversations(&s.workspace, 100, None, None)
        .await
        .unwrap()
}

async fn contact_named(s: &Setup, reference: &str) -> Option<ContactRow> {
    conversations::contact_of(&s.store, &s.workspace, PHONE, reference)
        .await
        .unwrap()
}

async fn a_phone_only_contact_gains_its_bsuid_and_stays_one_conversation(backend: TestBackend) {
    let s = setup(backend).await;
    // Before 2026: the phone only.
    let legacy = contact("Sheena", Some(CUSTOMER_PHONE), None, None);
    deliver(
        &s,
        json!([legacy]),
        vec![text("wamid.1", Some(CUSTOMER_PHONE), None)],
        vec![],
    )
    .await;
    let before = contact_named(&s, CUSTOMER_PHONE).await.expect("a contact");
    assert_eq!(before.bsuid, None);
    // Both ids together: the same person gains the BSUID.
    let both = contact(
        "Sheena",
        Some(CUSTOMER_PHONE),
        Some(BSUID),
        Some("@sheena.n"),
    );
    deliver(
        &s,
        json!([both]),
        vec![text("wamid.2", Some(CUSTOMER_PHONE), Some(BSUID))],
        vec![],
    )
    .await;
    // Then the phone withheld (a username user): still the same contact.
    let withheld = contact("Sheena", None, Some(BSUID), Some("@sheena.n"));
    deliver(
        &s,
        json!([withheld]),
        vec![text("wamid.3", None, Some(BSUID))],
        vec![],
    )
    .await;

    let list = conversations_of(&s).await;
    assert_eq!(list.len(), 1, "one conversation: {list:?}");
    assert_eq!(list[0].messages, 3);
    let after = &list[0].contact;
    assert_eq!(after.id, before.id);
    assert_eq!(after.bsuid.as_deref(), Some(BSUID));
    assert_eq!(
        after.phone.as_deref(),
        Some(CUSTOMER_PHONE),
        "a withheld phone is not forgotten"
    );
    assert_eq!(after.username.as_deref(), Some("@sheena.n"));
    for reference in [CUSTOMER_PHONE, BSUID, after.id.as_str()] {
        assert_eq!(
            thread_with(&s.store, &s.workspace, PHONE, reference)
                .await
                .len(),
            3,
            "{reference} names the conversation"
        );
    }
}

/// Ana first seen apart: by BSUID alone, and by phone alone (an old
/// replay): two contacts.
async fn seen_apart(s: &Setup) {
    deliver(
        s,
        json!([contact("Ana", None, Some(BSUID), None)]),
        vec![text("wamid.b", None, Some(BSUID))],
        vec![],
    )
    .await;
    deliver(
        s,
        json!([contact("Ana", Some(CUSTOMER_PHONE), None, None)]),
        vec![text("wamid.p", Some(CUSTOMER_PHONE), None)],
        vec![],
    )
    .await;
}

/// Then a message carrying both of Ana's ids: one person.
async fn proven_one(s: &Setup) {
    deliver(
        s,
        json!([contact("Ana", Some(CUSTOMER_PHONE), Some(BSUID), None)]),
        vec![text("wamid.both", Some(CUSTOMER_PHONE), Some(BSUID))],
        vec![],
    )
    .await;
}

async fn two_contacts_proven_one_are_merged_with_their_history(backend: TestBackend) {
    let s = setup(backend).await;
    seen_apart(&s).await;
    assert_eq!(conversations_of(&s).await.len(), 2);
    let by_phone = contact_named(&s, CUSTOMER_PHONE).await.unwrap();
    proven_one(&s).await;
    let list = conversations_of(&s).await;
    assert_eq!(list.len(), 1, "merged: {list:?}");
    assert_eq!(list[0].messages, 3, "with every message of both");
    let merged = &list[0].contact;
    assert_eq!(
        (merged.bsuid.as_deref(), merged.phone.as_deref()),
        (Some(BSUID), Some(CUSTOMER_PHONE))
    );
    // The absorbed contact's id still leads to the conversation.
    let followed = contact_named(&s, by_phone.id.as_str()).await.unwrap();
    assert_eq!(followed.id, merged.id);
}

async fn a_number_change_moves_the_contact_and_old_ids_still_find_it(backend: TestBackend) {
    let s = setup(backend).await;
    let (new_phone, new_bsuid) = ("16505559999", "US.555000111");
    deliver(
        &s,
        json!([contact("Kim", Some(CUSTOMER_PHONE), Some(BSUID), None)]),
        vec![text("wamid.before", Some(CUSTOMER_PHONE), Some(BSUID))],
        vec![],
    )
    .await;
    let change = json!({ "from": CUSTOMER_PHONE, "id": "wamid.sys", "timestamp": "1775000100", "type": "system",
        "system": { "type": "user_changed_number", "body": "User A changed from 16505551234 to 16505559999",
                    "wa_id": new_phone, "user_id": new_bsuid, "previous_user_id": BSUID } });
    deliver(&s, json!([]), vec![change.clone()], vec![]).await;
    // Delivered again: no second effect.
    deliver(&s, json!([]), vec![change], vec![]).await;
    // A late status and a duplicate still carry the old ids.
    let late = json!({ "id": "wamid.out", "status": "read", "timestamp": "1775000200", "recipient_id": CUSTOMER_PHONE, "recipient_user_id": BSUID });
    deliver(
        &s,
        json!([contact("Kim", Some(CUSTOMER_PHONE), Some(BSUID), None)]),
        vec![text("wamid.before", Some(CUSTOMER_PHONE), Some(BSUID))],
        vec![late],
    )
    .await;
    deliver(
        &s,
        json!([contact("Kim", Some(new_phone), Some(new_bsuid), None)]),
        vec![text("wamid.after", Some(new_phone), Some(new_bsuid))],
        vec![],
    )
    .await;

    let list = conversations_of(&s).await;
    assert_eq!(list.len(), 1, "one conversation: {list:?}");
    assert_eq!(list[0].messages, 3, "before, the system message, after");
    let moved = &list[0].contact;
    assert_eq!(
        (moved.phone.as_deref(), moved.bsuid.as_deref()),
        (Some(new_phone), Some(new_bsuid))
    );
    for old in [CUSTOMER_PHONE, BSUID] {
        assert_eq!(
            contact_named(&s, old).await.map(|c| c.id),
            Some(moved.id.clone()),
            "{old} is an alias"
        );
    }
}

async fn a_user_id_change_without_a_phone_keeps_one_conversation(backend: TestBackend) {
    let s = setup(backend).await;
    let new_bsuid = "US.777000222";
    deliver(
        &s,
        json!([contact(
            "Lee",
            Some(CUSTOMER_PHONE),
            Some(BSUID),
            Some("@lee")
        )]),
        vec![text("wamid.1", Some(CUSTOMER_PHONE), Some(BSUID))],
        vec![],
    )
    .await;
    let change = json!({ "id": "wamid.sys", "timestamp": "1775000100", "type": "system",
        "system": { "type": "user_changed_user_id", "user_id": new_bsuid, "previous_user_id": BSUID } });
    deliver(&s, json!([]), vec![change], vec![]).await;
    deliver(
        &s,
        json!([contact("Lee", None, Some(new_bsuid), Some("@lee"))]),
        vec![text("wamid.2", None, Some(new_bsuid))],
        vec![],
    )
    .await;
    let list = conversations_of(&s).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].messages, 3);
    let contact = &list[0].contact;
    assert_eq!(contact.bsuid.as_deref(), Some(new_bsuid));
    // The old phone is no longer theirs: replies go by the new BSUID.
    assert_eq!(contact.phone, None);
    assert_eq!(contact.address().unwrap().as_str(), new_bsuid);
}

async fn usernames_and_profile_names_are_never_keys(backend: TestBackend) {
    let s = setup(backend).await;
    for (wamid, bsuid) in [("wamid.a", "US.1001"), ("wamid.b", "US.1002")] {
        deliver(
            &s,
            json!([contact("Sam", None, Some(bsuid), Some("@sam"))]),
            vec![text(wamid, None, Some(bsuid))],
            vec![],
        )
        .await;
    }
    let list = conversations_of(&s).await;
    assert_eq!(list.len(), 2, "same name and username, two people");
    assert!(contact_named(&s, "@sam").await.is_none());
    assert!(contact_named(&s, "Sam").await.is_none());
}

async fn a_status_teaches_a_contact_its_bsuid(backend: TestBackend) {
    let s = setup(backend).await;
    deliver(
        &s,
        json!([contact("Joe", Some(CUSTOMER_PHONE), None, None)]),
        vec![text("wamid.1", Some(CUSTOMER_PHONE), None)],
        vec![],
    )
    .await;
    let delivered = json!({ "id": "wamid.sent", "status": "delivered", "timestamp": "1775000100",
        "recipient_id": CUSTOMER_PHONE, "recipient_user_id": BSUID });
    deliver(
        &s,
        json!([{ "wa_id": CUSTOMER_PHONE, "user_id": BSUID, "profile": { "username": "@joe" } }]),
        vec![],
        vec![delivered],
    )
    .await;
    let joe = contact_named(&s, BSUID)
        .await
        .expect("found by the BSUID the status showed");
    assert_eq!(joe.phone.as_deref(), Some(CUSTOMER_PHONE));
    assert_eq!(joe.username.as_deref(), Some("@joe"));
    // A status for someone never seen makes nobody.
    let stranger = json!({ "id": "wamid.x", "status": "sent", "timestamp": "1775000100", "recipient_user_id": "US.424242" });
    deliver(&s, json!([]), vec![], vec![stranger]).await;
    assert!(contact_named(&s, "US.424242").await.is_none());
    assert_eq!(conversations_of(&s).await.len(), 1);
}

async fn a_phone_seen_with_another_bsuid_is_another_person(backend: TestBackend) {
    let s = setup(backend).await;
    deliver(
        &s,
        json!([contact("Old", Some(CUSTOMER_PHONE), Some(BSUID), None)]),
        vec![text("wamid.1", Some(CUSTOMER_PHONE), Some(BSUID))],
        vec![],
    )
    .await;
    // The number now belongs to someone else (recycled): a new BSUID.
    let other = "US.9990001";
    deliver(
        &s,
        json!([contact("New", Some(CUSTOMER_PHONE), Some(other), None)]),
        vec![text("wamid.2", Some(CUSTOMER_PHONE), Some(other))],
        vec![],
    )
    .await;
    let list = conversations_of(&s).await;
    assert_eq!(list.len(), 2, "no merge: {list:?}");
    let old = contact_named(&s, BSUID).await.unwrap();
    let new = contact_named(&s, other).await.unwrap();
    assert_ne!(old.id, new.id);
    assert_eq!(old.phone, None, "the phone moved to the newer BSUID");
    assert_eq!(new.phone.as_deref(), Some(CUSTOMER_PHONE));
    assert_eq!(contact_named(&s, CUSTOMER_PHONE).await.unwrap().id, new.id);
}

async fn the_search_finds_a_conversation_by_any_of_its_ids(backend: TestBackend) {
    let s = setup(backend).await;
    let omar = "US.8080";
    deliver(
        &s,
        json!([contact("Sheena K", None, Some(BSUID), Some("@sheena.n"))]),
        vec![text("wamid.s", None, Some(BSUID))],
        vec![],
    )
    .await;
    deliver(
        &s,
        json!([contact("Omar", Some(CUSTOMER_PHONE), Some(omar), None)]),
        vec![text("wamid.o", Some(CUSTOMER_PHONE), Some(omar))],
        vec![],
    )
    .await;
    let found = |search: &'static str| {
        let s = &s;
        async move {
            let list = s
                .store
                .conversations(&s.workspace, 100, None, Some(search))
                .await
                .unwrap();
            list.into_iter()
                .map(|c| c.contact.best_name())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        found("SHEENA").await,
        ["Sheena K"],
        "the profile name, any case"
    );
    assert_eq!(found("@shee").await, ["Sheena K"], "the username");
    assert_eq!(found("us.13491208").await, ["Sheena K"], "the BSUID");
    assert_eq!(
        found("+1 (650) 555-1234").await,
        ["Omar"],
        "the phone as people write it"
    );
    assert_eq!(found("5551234").await, ["Omar"], "part of the phone");
    assert!(found("nobody").await.is_empty());
    assert!(found("%").await.is_empty(), "a wildcard is just text");
    assert!(found("k_").await.is_empty(), "so is an underscore");
    assert_eq!(found("  ").await.len(), 2, "blank: everything");
}

/// A reply is claimed for the phone-only contact; before Meta's answer is
/// recorded, a message proves that contact and the BSUID's one person and
/// merges them. The reply is recorded in the merged thread, and no
/// conversation is left for the absorbed contact.
async fn a_reply_on_its_way_when_its_customer_is_merged_joins_the_merged_thread(
    backend: TestBackend,
) {
    let s = setup(backend).await;
    seen_apart(&s).await;
    let by_phone = contact_named(&s, CUSTOMER_PHONE).await.unwrap();
    let now = now_millis();
    let reply = NewOutboxRow {
        workspace_id: s.workspace.clone(),
        phone_number_id: PHONE.into(),
        contact_id: by_phone.id.clone(),
        recipient: CUSTOMER_PHONE.into(),
        kind: "text".into(),
        content: json!({ "type": "text", "body": "On its way" }).to_string(),
        origin: "agent".into(),
        dedupe_key: None,
        context_wamid: None,
    };
    s.store.enqueue_message(&reply, now).await.unwrap();
    let lease = s
        .store
        .take_sender_lease(PHONE, "test", now, now + 60_000)
        .await
        .unwrap()
        .expect("the sender lease");
    let (claimed, _) = s
        .store
        .claim_outbox(PHONE, lease, now, 60_000, 60_000, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].contact_id.as_ref(), Some(&by_phone.id));

    proven_one(&s).await;
    s.store
        .outbox_sent(
            &claimed[0],
            CUSTOMER_PHONE,
            "wamid.reply",
            "On its way",
            now,
        )
        .await
        .unwrap();

    let list = conversations_of(&s).await;
    assert_eq!(list.len(), 1, "one conversation: {list:?}");
    assert_eq!(list[0].messages, 4, "three messages and the reply");
    assert_eq!(list[0].last_summary, "On its way");
    assert_ne!(list[0].contact.id, by_phone.id, "the merged contact's");
}
