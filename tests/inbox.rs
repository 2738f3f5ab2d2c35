//! The inbox on both backends: every conversation's summary (count, last
//! message, unread, reply window) kept by each path that stores, moves or
//! deletes messages, and always equal to what the messages themselves say;
//! marking read; the conversation list paged and searched from the
//! summaries; threads paged backwards from the newest without gaps or
//! repeats.

mod common;

use std::{collections::HashSet, sync::Arc};

use serde_json::{json, Value};
use switchboard::{
    config::DatabaseUrl,
    contacts::ContactRow,
    conversations::{self, ConversationSummary, THREAD_PAGE},
    pipeline,
    store::{ConversationKey, NewOutboxRow, Prunable, Store},
    test_support::{acme_owner, thread_with, TestBackend, TestDatabase},
    webhook::Journal,
};
use tokio::sync::Notify;

on_both_backends!(
    a_customer_message_counts_as_unread_and_opens_the_window,
    a_sent_message_becomes_the_last_without_unread,
    imported_history_is_never_unread_and_never_moves_the_last_message_back,
    an_echo_from_the_app_is_the_last_message_without_unread,
    merged_contacts_fold_their_conversations_into_one,
    an_erased_contact_leaves_the_list_and_others_stay,
    pruning_keeps_every_message_so_the_summaries_stay_exact,
    opening_the_newest_page_marks_read_and_older_pages_do_not,
    the_list_pages_and_searches_from_the_summaries,
    a_thread_pages_backwards_without_gaps_or_repeats,
);

const PHONE: &str = "106540352242922";
const WABA: &str = "524126980791429";
const CUSTOMER_PHONE: &str = "16505551234";
const BSUID: &str = "US.13491208655302741918";
/// 2026-04-01 in Unix seconds.
const T0: i64 = 1_775_000_000;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

struct Setup {
    db: TestDatabase,
    store: Store,
    journal: Journal,
    caller: switchboard::accounts::Caller,
    workspace: String,
}

async fn setup(backend: TestBackend) -> Setup {
    let db = TestDatabase::create(backend).await;
    let store = db.open_store().await;
    let caller = acme_owner(&store).await;
    store
        .connect_number(&caller.workspace.id, &PHONE.into(), &WABA.into(), None, 0)
        .await
        .unwrap();
    let (journal, _writer) =
        Journal::start(store.clone(), Arc::new(Notify::new()), Default::default());
    Setup {
        workspace: caller.workspace.id.to_string(),
        db,
        store,
        journal,
        caller,
    }
}

/// A change of `field` for the number, as Meta sends it, delivered and
/// processed.
async fn deliver_field(s: &Setup, field: &str, mut value: Value) {
    value["messaging_product"] = json!("whatsapp");
    value["metadata"] = json!({ "display_phone_number": "15550783881", "phone_number_id": PHONE });
    let body = json!({ "object": "whatsapp_business_account", "entry": [{ "id": WABA, "changes": [
        { "field": field, "value": value }
    ]}]});
    s.journal
        .append("sha256=test".into(), body.to_string().into_bytes())
        .await
        .unwrap();
    while pipeline::process_due(&s.store).await.unwrap().events > 0 {}
}

/// Customer texts (wamid, body, Unix seconds) from `from` (a phone) or
/// `user_id` (a BSUID), with the contact Meta names.
async fn customer_writes(s: &Setup, contact: Value, texts: &[(&str, &str, i64)]) {
    let messages: Vec<Value> = texts
        .iter()
        .map(|(wamid, body, at)| {
            let mut message = json!({ "id": wamid, "timestamp": at.to_string(), "type": "text", "text": { "body": body } });
            if let Some(phone) = contact["wa_id"].as_str() {
                message["from"] = json!(phone);
            }
            if let Some(user_id) = contact["user_id"].as_str() {
                message["from_user_id"] = json!(user_id);
            }
            message
        })
        .collect();
    deliver_field(
        s,
        "messages",
        json!({ "contacts": [contact], "messages": messages }),
    )
    .await;
}

fn person(name: &str, wa_id: Option<&str>, user_id: Option<&str>) -> Value {
    let mut contact = json!({ "profile": { "name": name } });
    if let Some(wa_id) = wa_id {
        contact["wa_id"] = json!(wa_id);
    }
    if let Some(user_id) = user_id {
        contact["user_id"] = json!(user_id);
    }
    contact
}

fn sheena() -> Value {
    person("Sheena", Some(CUSTOMER_PHONE), None)
}

/// A chunk of the WhatsApp Business app's history with the customer:
/// (wamid, body, Unix seconds, from the customer).
async fn history(s: &Setup, chunk: i64, messages: &[(&str, &str, i64, bool)]) {
    let messages: Vec<Value> = messages
        .iter()
        .map(|(wamid, body, at, inbound)| {
            let mut message = json!({ "id": wamid, "timestamp": at.to_string(), "type": "text",
                "text": { "body": body }, "history_context": { "status": "READ" } });
            if *inbound {
                message["from"] = json!(CUSTOMER_PHONE);
            } else {
                message["from"] = json!("15550783881");
                message["to"] = json!(CUSTOMER_PHONE);
            }
            message
        })
        .collect();
    deliver_field(
        s,
        "history",
        json!({ "history": [{ "metadata": { "phase": 1, "chunk_order": chunk, "progress": 100 },
            "threads": [{ "id": CUSTOMER_PHONE, "messages": messages }] }] }),
    )
    .await;
}

/// The business wrote to the customer from the app.
async fn echo(s: &Setup, wamid: &str, body: &str, at: i64) {
    deliver_field(
        s,
        "smb_message_echoes",
        json!({ "message_echoes": [{ "from": "15550783881", "to": CUSTOMER_PHONE, "id": wamid,
            "timestamp": at.to_string(), "type": "text", "text": { "body": body } }] }),
    )
    .await;
}

/// An agent's text, sent and accepted by Meta as `wamid` at `at` (ms).
async fn agent_sends(s: &Setup, contact: &ContactRow, wamid: &str, body: &str, at: i64) {
    let row = NewOutboxRow {
        workspace_id: s.workspace.clone(),
        phone_number_id: PHONE.into(),
        contact_id: contact.id.clone(),
        recipient: CUSTOMER_PHONE.into(),
        kind: "text".into(),
        content: json!({ "type": "text", "body": body }).to_string(),
        origin: "agent".into(),
        dedupe_key: Some(wamid.into()),
        context_wamid: None,
    };
    s.store.enqueue_message(&row, at).await.unwrap();
    let lease = s
        .store
        .take_sender_lease(PHONE, "test", at, at + 60_000)
        .await
        .unwrap()
        .expect("the sender lease");
    let (claimed, _) = s
        .store
        .claim_outbox(PHONE, lease, at, 60_000, 60_000, 10)
        .await
        .unwrap();
    for row in claimed {
        s.store
            .outbox_sent(&row, CUSTOMER_PHONE, wamid, body, at)
            .await
            .unwrap();
    }
    s.store.release_sender_lease(PHONE, lease).await.unwrap();
}

async fn contact(s: &Setup, customer: &str) -> ContactRow {
    conversations::contact_of(&s.store, &s.workspace, PHONE, customer)
        .await
        .unwrap()
        .expect("a contact")
}

async fn list(s: &Setup) -> Vec<ConversationSummary> {
    s.store
        .conversations(&s.workspace, 100, None, None)
        .await
        .unwrap()
}

/// The one conversation with the customer, as the list shows it.
async fn summary(s: &Setup, customer: &str) -> ConversationSummary {
    let id = contact(s, customer).await.id;
    list(s)
        .await
        .into_iter()
        .find(|c| c.contact.id == id)
        .expect("the conversation is listed")
}

/// What the messages themselves say of each conversation: (number,
/// contact, count, last_at, last summary, last direction, window end).
type Truth = (String, String, i64, i64, String, String, Option<i64>);

async fn truth(s: &Setup) -> Vec<Truth> {
    let sql = "SELECT m.phone_number_id, m.contact_id, COUNT(*), MAX(m.sent_at),
            (SELECT l.summary FROM messages l WHERE l.workspace_id = m.workspace_id
               AND l.phone_number_id = m.phone_number_id AND l.contact_id = m.contact_id
             ORDER BY l.sent_at DESC, l.id DESC LIMIT 1),
            (SELECT l.direction FROM messages l WHERE l.workspace_id = m.workspace_id
               AND l.phone_number_id = m.phone_number_id AND l.contact_id = m.contact_id
             ORDER BY l.sent_at DESC, l.id DESC LIMIT 1),
            MAX(CASE WHEN m.direction = 'inbound' THEN m.sent_at END)
         FROM messages m WHERE m.workspace_id = $1
         GROUP BY m.workspace_id, m.phone_number_id, m.contact_id";
    type Row = (String, String, i64, i64, String, String, Option<i64>);
    let rows: Vec<Row> = match &s.db.url {
        DatabaseUrl::Sqlite(url) => {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            let rows = sqlx::query_as(sql)
                .bind(&s.workspace)
                .fetch_all(&pool)
                .await
                .unwrap();
            pool.close().await;
            rows
        }
        DatabaseUrl::Postgres(url) => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            let rows = sqlx::query_as(sql)
                .bind(&s.workspace)
                .fetch_all(&pool)
                .await
                .unwrap();
            pool.close().await;
            rows
        }
    };
    let mut rows: Vec<Truth> = rows
        .into_iter()
        .map(|(n, c, count, at, text, dir, inbound)| {
            (n, c, count, at, text, dir, inbound.map(|at| at + DAY_MS))
        })
        .collect();
    rows.sort();
    rows
}

/// The summaries agree with the messages, conversation by conversation.
async fn assert_exact(s: &Setup) {
    let mut listed: Vec<Truth> = list(s)
        .await
        .into_iter()
        .map(|c| {
            (
                c.phone_number_id,
                c.contact.id.to_string(),
                c.messages,
                c.last_at,
                c.last_summary,
                c.last_direction,
                c.window_ends_at,
            )
        })
        .collect();
    listed.sort();
    assert_eq!(listed, truth(s).await);
}

async fn a_customer_message_counts_as_unread_and_opens_the_window(backend: TestBackend) {
    let s = setup(backend).await;
    customer_writes(&s, sheena(), &[("wamid.1", "Hello", T0)]).await;
    let first = summary(&s, CUSTOMER_PHONE).await;
    assert_eq!(
        (first.messages, first.unread, first.last_summary.as_str()),
        (1, 1, "Hello")
    );
    assert_eq!(first.last_direction, "inbound");
    assert_eq!(first.last_at, T0 * 1000);
    assert_eq!(first.window_ends_at, Some(T0 * 1000 + DAY_MS));
    // Two more, one of them delivered twice: counted once.
    customer_writes(
        &s,
        sheena(),
        &[
            ("wamid.2", "Are you open?", T0 + 60),
            ("wamid.1", "Hello", T0),
        ],
    )
    .await;
    customer_writes(&s, sheena(), &[("wamid.3", "Today?", T0 + 120)]).await;
    let now = summary(&s, CUSTOMER_PHONE).await;
    assert_eq!((now.messages, now.unread), (3, 3));
    assert_eq!(now.last_summary, "Today?");
    assert_eq!(now.window_ends_at, Some((T0 + 120) * 1000 + DAY_MS));
    assert_exact(&s).await;
}

async fn a_sent_message_becomes_the_last_without_unread(backend: TestBackend) {
    let s = setup(backend).await;
    customer_writes(&s, sheena(), &[("wamid.in", "Hi", T0)]).await;
    let sheena = contact(&s, CUSTOMER_PHONE).await;
    agent_sends(&s, &sheena, "wamid.out", "Hello Sheena", (T0 + 30) * 1000).await;
    let now = summary(&s, CUSTOMER_PHONE).await;
    assert_eq!((now.messages, now.unread), (2, 1), "a reply is not unread");
    assert_eq!(
        (now.last_summary.as_str(), now.last_direction.as_str()),
        ("Hello Sheena", "outbound")
    );
    assert_eq!(now.last_at, (T0 + 30) * 1000);
    assert_eq!(
        now.window_ends_at,
        Some(T0 * 1000 + DAY_MS),
        "only the customer opens the window"
    );
    assert_exact(&s).await;
}

async fn imported_history_is_never_unread_and_never_moves_the_last_message_back(
    backend: TestBackend,
) {
    let s = setup(backend).await;
    customer_writes(&s, sheena(), &[("wamid.now", "Still there?", T0)]).await;
    // Last month's chats arrive afterwards, from both sides.
    history(
        &s,
        1,
        &[
            ("wamid.h1", "Old question", T0 - 30 * 86_400, true),
            ("wamid.h2", "Old answer", T0 - 30 * 86_400 + 60, false),
        ],
    )
    .await;
    let after = summary(&s, CUSTOMER_PHONE).await;
    assert_eq!(after.messages, 3);
    assert_eq!(after.unread, 1, "history is never unread");
    assert_eq!(
        (after.last_summary.as_str(), after.last_at),
        ("Still there?", T0 * 1000),
        "an older message never becomes the last"
    );
    assert_eq!(after.window_ends_at, Some(T0 * 1000 + DAY_MS));
    // A history message newer than anything stored moves the last forward,
    // still without counting as unread.
    history(&s, 2, &[("wamid.h3", "From the app", T0 + 10, true)]).await;
    let newer = summary(&s, CUSTOMER_PHONE).await;
    assert_eq!(
        (newer.messages, newer.unread, newer.last_summary.as_str()),
        (4, 1, "From the app")
    );
    // The same chunk again changes nothing.
    history(&s, 2, &[("wamid.h3", "From the app", T0 + 10, true)]).await;
    assert_eq!(summary(&s, CUSTOMER_PHONE).await, newer);
    assert_exact(&s).await;
}

async fn an_echo_from_the_app_is_the_last_message_without_unread(backend: TestBackend) {
    let s = setup(backend).await;
    customer_writes(&s, sheena(), &[("wamid.in", "Hi", T0)]).await;
    echo(&s, "wamid.echo", "Typed in the app", T0 + 5).await;
    let now = summary(&s, CUSTOMER_PHONE).await;
    assert_eq!((now.messages, now.unread), (2, 1));
    assert_eq!(
        (now.last_summary.as_str(), now.last_direction.as_str()),
        ("Typed in the app", "outbound")
    );
    // An echo delivered twice counts once.
    echo(&s, "wamid.echo", "Typed in the app", T0 + 5).await;
    assert_eq!(summary(&s, CUSTOMER_PHONE).await.messages, 2);
    assert_exact(&s).await;
}

async fn merged_contacts_fold_their_conversations_into_one(backend: TestBackend) {
    let s = setup(backend).await;
    // First seen apart: by BSUID alone, and by phone alone.
    customer_writes(
        &s,
        person("Ana", None, Some(BSUID)),
        &[("wamid.b1", "By BSUID", T0), ("wamid.b2", "Again", T0 + 50)],
    )
    .await;
    customer_writes(
        &s,
        person("Ana", Some(CUSTOMER_PHONE), None),
        &[("wamid.p", "By phone", T0 + 20)],
    )
    .await;
    assert_eq!(list(&s).await.len(), 2);
    // Then a message carrying both, in the same second as the newest:
    // one person, one conversation with everything.
    customer_writes(
        &s,
        person("Ana", Some(CUSTOMER_PHONE), Some(BSUID)),
        &[("wamid.both", "Both ids", T0 + 50)],
    )
    .await;
    let listed = list(&s).await;
    assert_eq!(listed.len(), 1, "merged: {listed:?}");
    let merged = &listed[0];
    assert_eq!((merged.messages, merged.unread), (4, 4));
    assert_eq!(
        merged.last_summary, "Both ids",
        "ties in time go to the later message"
    );
    assert_eq!(merged.window_ends_at, Some((T0 + 50) * 1000 + DAY_MS));
    assert_exact(&s).await;
}

async fn an_erased_contact_leaves_the_list_and_others_stay(backend: TestBackend) {
    let s = setup(backend).await;
    customer_writes(&s, sheena(), &[("wamid.s", "Erase me", T0)]).await;
    customer_writes(
        &s,
        person("Omar", Some("16505550000"), None),
        &[("wamid.o", "Keep me", T0 + 1)],
    )
    .await;
    let sheena = contact(&s, CUSTOMER_PHONE).await;
    let report =
        switchboard::data_rights::erase(&s.store, &s.workspace, sheena.id.as_str(), None, None)
            .await
            .unwrap();
    assert_eq!(report.messages, 1);
    let left = list(&s).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].last_summary, "Keep me");
    assert_exact(&s).await;
    // Their next message (sent after the erasure: one from before would be
    // a replay) starts a new conversation from nothing.
    let later = switchboard::store::now_millis() / 1000 + 5;
    customer_writes(&s, self::sheena(), &[("wamid.s2", "Back", later)]).await;
    let again = summary(&s, CUSTOMER_PHONE).await;
    assert_eq!((again.messages, again.unread), (1, 1));
    assert_exact(&s).await;
}

async fn pruning_keeps_every_message_so_the_summaries_stay_exact(backend: TestBackend) {
    let s = setup(backend).await;
    customer_writes(
        &s,
        sheena(),
        &[
            ("wamid.1", "Old", T0 - 400 * 86_400),
            ("wamid.2", "New", T0),
        ],
    )
    .await;
    let before = summary(&s, CUSTOMER_PHONE).await;
    // Everything prunable, whatever its age.
    for kind in Prunable::ALL {
        s.store.prune(kind, i64::MAX, 1000).await.unwrap();
    }
    assert_eq!(s.store.count_messages(&s.workspace).await.unwrap(), 2);
    assert_eq!(summary(&s, CUSTOMER_PHONE).await, before);
    assert_exact(&s).await;
}

async fn opening_the_newest_page_marks_read_and_older_pages_do_not(backend: TestBackend) {
    let s = setup(backend).await;
    let texts: Vec<(String, String, i64)> = (0..60)
        .map(|i| (format!("wamid.{i}"), format!("line {i}"), T0 + i))
        .collect();
    let texts: Vec<(&str, &str, i64)> = texts
        .iter()
        .map(|(w, b, t)| (w.as_str(), b.as_str(), *t))
        .collect();
    customer_writes(&s, sheena(), &texts).await;
    assert_eq!(summary(&s, CUSTOMER_PHONE).await.unread, 60);
    // An older page first (as a link could): nothing read yet.
    let newest = summary(&s, CUSTOMER_PHONE).await;
    let cursor = format!("{}.{}", newest.last_at - 5_000, i64::MAX / 1000);
    conversations::thread(
        &s.store,
        &s.caller,
        PHONE,
        CUSTOMER_PHONE,
        Some(cursor.as_str()),
    )
    .await
    .unwrap();
    assert_eq!(summary(&s, CUSTOMER_PHONE).await.unread, 60);
    // A look that saw less than the newest message clears nothing.
    let sheena = contact(&s, CUSTOMER_PHONE).await;
    let stale = switchboard::store::MessageKey {
        sent_at: newest.last_at - 1,
        id: i64::MAX,
    };
    assert!(!s
        .store
        .mark_read(&s.workspace, PHONE, &sheena.id, stale)
        .await
        .unwrap());
    assert_eq!(summary(&s, CUSTOMER_PHONE).await.unread, 60);
    // The newest page: read.
    conversations::thread(&s.store, &s.caller, PHONE, CUSTOMER_PHONE, None)
        .await
        .unwrap();
    assert_eq!(summary(&s, CUSTOMER_PHONE).await.unread, 0);
    // A new message is unread again; the integration API's mark clears it.
    customer_writes(&s, self::sheena(), &[("wamid.new", "One more", T0 + 100)]).await;
    assert_eq!(summary(&s, CUSTOMER_PHONE).await.unread, 1);
    conversations::mark_read(&s.store, &s.workspace, PHONE, CUSTOMER_PHONE)
        .await
        .unwrap();
    assert_eq!(summary(&s, CUSTOMER_PHONE).await.unread, 0);
    // Another workspace cannot.
    let refused = conversations::mark_read(&s.store, "elsewhere", PHONE, CUSTOMER_PHONE).await;
    assert!(
        matches!(refused, Err(switchboard::Error::NotFound)),
        "{refused:?}"
    );
}

async fn the_list_pages_and_searches_from_the_summaries(backend: TestBackend) {
    let s = setup(backend).await;
    // Nine customers; three pairs share their last second, so the pages'
    // keyset has ties to break.
    for i in 0..9i64 {
        let phone = format!("1650555100{i}");
        let name = if i == 4 {
            "Zoë Müller".to_string()
        } else {
            format!("Customer {i}")
        };
        let mut who = person(&name, Some(&phone), Some(&format!("US.77{i}")));
        if i == 7 {
            who["profile"]["username"] = json!("@the.seventh");
        }
        customer_writes(
            &s,
            who,
            &[(&format!("wamid.{i}"), &format!("from {i}"), T0 + i / 2)],
        )
        .await;
    }
    let everything = list(&s).await;
    assert_eq!(everything.len(), 9);
    let keys: Vec<(i64, String, String)> = everything
        .iter()
        .map(|c| {
            (
                -c.last_at,
                c.phone_number_id.clone(),
                c.contact.id.to_string(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(
        keys, sorted,
        "the most recent first, ties by number and contact"
    );
    // Pages of two: every conversation once, in the same order.
    let mut paged = Vec::new();
    let mut after: Option<ConversationKey> = None;
    loop {
        let page = s
            .store
            .conversations(&s.workspace, 2, after.as_ref(), None)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(ConversationKey {
            last_at: last.last_at,
            phone_number_id: last.phone_number_id.clone(),
            customer: last.contact.id.to_string(),
        });
        paged.extend(page.into_iter().map(|c| c.contact.id.to_string()));
    }
    let listed: Vec<String> = everything
        .iter()
        .map(|c| c.contact.id.to_string())
        .collect();
    assert_eq!(paged, listed);
    // The API's pages agree.
    let mut api = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = conversations::conversations_page(&s.store, &s.workspace, 4, cursor.as_deref())
            .await
            .unwrap();
        api.extend(page.items.iter().map(|c| c.contact.id.to_string()));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(api, listed);
    // Search: a name in any case, a username, a BSUID, a phone as written.
    let found = |search: &'static str| {
        let s = &s;
        async move {
            s.store
                .conversations(&s.workspace, 100, None, Some(search))
                .await
                .unwrap()
                .into_iter()
                .map(|c| c.contact.best_name())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(found("zoë MÜLLER").await, ["Zoë Müller"]);
    assert_eq!(found("@THE.sev").await, ["Customer 7"]);
    assert_eq!(found("us.773").await, ["Customer 3"]);
    assert_eq!(found("+1 (650) 555-1005").await, ["Customer 5"]);
    assert!(found("nobody").await.is_empty());
    assert_eq!(found("Customer").await.len(), 8);
    // A new profile name is found at once, the old one no more.
    customer_writes(
        &s,
        person("Renamed Person", Some("16505551002"), Some("US.772")),
        &[("wamid.renamed", "new name", T0 + 1)],
    )
    .await;
    assert_eq!(found("renamed").await, ["Renamed Person"]);
    assert!(found("customer 2").await.is_empty());
    // A search pages too.
    let first = s
        .store
        .conversations(&s.workspace, 3, None, Some("customer"))
        .await
        .unwrap();
    let last = first.last().unwrap();
    let rest = s
        .store
        .conversations(
            &s.workspace,
            100,
            Some(&ConversationKey {
                last_at: last.last_at,
                phone_number_id: last.phone_number_id.clone(),
                customer: last.contact.id.to_string(),
            }),
            Some("customer"),
        )
        .await
        .unwrap();
    assert_eq!(first.len() + rest.len(), 7);
    let ids: HashSet<String> = first
        .iter()
        .chain(&rest)
        .map(|c| c.contact.id.to_string())
        .collect();
    assert_eq!(ids.len(), 7);
    // Unread and the window come with every row.
    assert!(everything
        .iter()
        .all(|c| c.unread == 1 && c.window_ends_at == Some(c.last_at + DAY_MS)));
}

async fn a_thread_pages_backwards_without_gaps_or_repeats(backend: TestBackend) {
    let s = setup(backend).await;
    // 130 messages, many sharing a second (ties broken by their row id),
    // the oldest of them delivered last.
    let texts: Vec<(String, String, i64)> = (0..130)
        .map(|i| (format!("wamid.{i}"), format!("line {i}"), T0 + i / 4))
        .collect();
    let texts: Vec<(&str, &str, i64)> = texts
        .iter()
        .map(|(w, b, t)| (w.as_str(), b.as_str(), *t))
        .collect();
    customer_writes(&s, sheena(), &texts[10..]).await;
    customer_writes(&s, sheena(), &texts[..10]).await;
    let whole = thread_with(&s.store, &s.workspace, PHONE, CUSTOMER_PHONE).await;
    assert_eq!(whole.len(), 130);
    // The newest page first, then older ones, each oldest first.
    let mut pages = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let page = conversations::thread(
            &s.store,
            &s.caller,
            PHONE,
            CUSTOMER_PHONE,
            before.as_deref(),
        )
        .await
        .unwrap();
        assert!(page.lines.len() as i64 <= THREAD_PAGE);
        let keys: Vec<(i64, i64)> = page
            .lines
            .iter()
            .map(|l| (l.sent_at, l.id.unwrap()))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "a page reads oldest first");
        pages.push(page.lines);
        match page.older {
            Some(older) => before = Some(older),
            None => break,
        }
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [50, 50, 30]);
    let paged: Vec<String> = pages.into_iter().rev().flatten().map(|l| l.wamid).collect();
    let expected: Vec<String> = whole.iter().map(|l| l.wamid.clone()).collect();
    assert_eq!(paged, expected, "no gap, no repeat, in thread order");
    // In thread order: by time, then by arrival.
    assert_eq!(expected[0], "wamid.0");
    assert_eq!(expected.last().unwrap(), "wamid.129");
    // Not a cursor: refused.
    let bad = conversations::thread(&s.store, &s.caller, PHONE, CUSTOMER_PHONE, Some("x")).await;
    assert!(bad.is_err());
}
