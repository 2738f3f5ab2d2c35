//! The webhook journal and pipeline, on both backends: every change applied
//! once, statuses forward only, unrouted events, dead letters and replay.

mod common;

use std::sync::Arc;

use serde_json::{json, Value};
use switchboard::{
    pipeline::{self, MAX_ATTEMPTS},
    store::{EventState, EventSummary, NewWebhookEvent, Store},
    test_support::{workspace_with_number, TestBackend, TestDatabase},
    webhook::Journal,
};
use tokio::sync::Notify;

on_both_backends!(
    every_message_of_a_batch_is_stored_once,
    a_duplicate_delivery_has_no_second_effect,
    read_is_not_undone_by_a_late_delivered,
    a_status_before_its_message_is_applied_when_it_comes,
    failed_keeps_its_error,
    an_unknown_number_waits_until_it_is_connected,
    unprocessable_bodies_are_kept_as_rejected,
    errors_retry_then_dead_letter_then_replay,
    journaled_events_survive_a_restart,
    concurrent_workers_never_claim_an_event_twice,
    workers_claiming_ahead_apply_every_event_once,
    a_batch_claimed_ahead_is_given_back_untried,
    a_lapsed_claim_taken_again_is_not_given_back,
    the_business_removing_the_app_pauses_its_numbers,
    the_business_ending_the_connection_disconnects_its_numbers,
    a_late_copy_of_an_older_ban_update_changes_nothing,
    a_restriction_redelivered_after_it_was_lifted_stays_lifted,
    dead_letters_show_to_their_workspace_and_to_the_operator,
    the_lag_is_exact_when_small_and_estimated_from_ids_beyond,
    a_batch_ends_as_if_its_events_were_applied_one_by_one,
);

const PHONE: &str = "106540352242922";
const WABA: &str = "524126980791429";

struct Setup {
    db: TestDatabase,
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
        db,
        store,
        journal,
        workspace,
    }
}

fn envelope(changes: Vec<Value>) -> Vec<u8> {
    json!({ "object": "whatsapp_business_account", "entry": [{ "id": WABA, "changes": changes }] })
        .to_string()
        .into_bytes()
}

fn messages_change(phone: &str, messages: Vec<Value>, statuses: Vec<Value>) -> Value {
    json!({ "field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "15550783881", "phone_number_id": phone },
        "contacts": [{ "profile": { "name": "Sheena" }, "wa_id": "16505551234" }],
        "messages": messages, "statuses": statuses,
    }})
}

fn text(wamid: &str, body: &str) -> Value {
    json!({ "from": "16505551234", "id": wamid, "timestamp": "1700000000", "type": "text", "text": { "body": body } })
}

fn status(wamid: &str, status: &str) -> Value {
    json!({ "id": wamid, "status": status, "timestamp": "1700000100", "recipient_id": "16505551234" })
}

async fn deliver(s: &Setup, body: Vec<u8>) {
    s.journal.append("sha256=test".into(), body).await.unwrap()
}

/// Meta delivers the customer's messages to the demo number, as one event.
async fn deliver_messages(s: &Setup, messages: Vec<Value>) {
    deliver(s, envelope(vec![messages_change(PHONE, messages, vec![])])).await
}

/// Meta delivers status updates for the demo number, as one event.
async fn deliver_statuses(s: &Setup, statuses: Vec<Value>) {
    deliver(s, envelope(vec![messages_change(PHONE, vec![], statuses)])).await
}

async fn drain(store: &Store) -> pipeline::Processed {
    let mut total = pipeline::Processed::default();
    loop {
        let pass = pipeline::process_due(store).await.unwrap();
        if pass.events == 0 {
            return total;
        }
        total.events += pass.events;
        total.rejected += pass.rejected;
        total.failed += pass.failed;
        total.applied.duplicates += pass.applied.duplicates;
        total.applied.unrouted += pass.applied.unrouted;
        total.applied.new_inbound.extend(pass.applied.new_inbound);
    }
}

/// How many audit entries of the workspace are `action`.
async fn audited(s: &Setup, action: &str) -> usize {
    s.store
        .audit_entries(&s.workspace, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == action)
        .count()
}

/// (wamid, direction, summary, sent_at, status) of each line.
async fn thread(s: &Setup) -> Vec<(String, String, String, i64, Option<String>)> {
    switchboard::test_support::thread_with(&s.store, &s.workspace, PHONE, "16505551234")
        .await
        .into_iter()
        .map(|line| {
            (
                line.wamid,
                line.direction,
                line.summary,
                line.sent_at,
                line.status,
            )
        })
        .collect()
}

async fn every_message_of_a_batch_is_stored_once(backend: TestBackend) {
    let s = setup(backend).await;
    let first: Vec<Value> = (0..30)
        .map(|i| text(&format!("wamid.a{i}"), &format!("a{i}")))
        .collect();
    let second: Vec<Value> = (0..30)
        .map(|i| text(&format!("wamid.b{i}"), &format!("b{i}")))
        .collect();
    deliver(
        &s,
        envelope(vec![
            messages_change(PHONE, first, vec![]),
            messages_change(PHONE, second, vec![]),
        ]),
    )
    .await;
    let processed = drain(&s.store).await;
    assert_eq!(processed.applied.new_inbound.len(), 60);
    let lines = thread(&s).await;
    assert_eq!(lines.len(), 60);
    assert!(lines.iter().all(|l| l.1 == "inbound"));
}

async fn a_duplicate_delivery_has_no_second_effect(backend: TestBackend) {
    let s = setup(backend).await;
    let body = envelope(vec![messages_change(
        PHONE,
        vec![text("wamid.dup", "hello")],
        vec![],
    )]);
    deliver(&s, body.clone()).await;
    deliver(&s, body.clone()).await;
    let processed = drain(&s.store).await;
    assert_eq!(processed.events, 2, "both deliveries were journaled");
    assert_eq!(
        processed.applied.new_inbound.len(),
        1,
        "only one is new: one reply, not two"
    );
    assert_eq!(processed.applied.duplicates, 1);
    // Once more, later, after processing: still nothing new.
    deliver(&s, body).await;
    assert!(drain(&s.store).await.applied.new_inbound.is_empty());
    assert_eq!(thread(&s).await.len(), 1);
}

async fn read_is_not_undone_by_a_late_delivered(backend: TestBackend) {
    let s = setup(backend).await;
    deliver_messages(&s, vec![text("wamid.m", "hi")]).await;
    deliver_statuses(&s, vec![status("wamid.m", "read")]).await;
    deliver_statuses(
        &s,
        vec![status("wamid.m", "delivered"), status("wamid.m", "sent")],
    )
    .await;
    drain(&s.store).await;
    assert_eq!(thread(&s).await[0].4.as_deref(), Some("read"));
}

async fn a_status_before_its_message_is_applied_when_it_comes(backend: TestBackend) {
    let s = setup(backend).await;
    deliver_statuses(&s, vec![status("wamid.early", "delivered")]).await;
    drain(&s.store).await;
    deliver_messages(&s, vec![text("wamid.early", "late message")]).await;
    drain(&s.store).await;
    assert_eq!(thread(&s).await[0].4.as_deref(), Some("delivered"));
}

async fn failed_keeps_its_error(backend: TestBackend) {
    let s = setup(backend).await;
    let failed = json!({ "id": "wamid.f", "status": "failed", "timestamp": "1700000100", "recipient_id": "16505551234",
        "errors": [{ "code": 131047, "title": "Re-engagement message", "error_data": { "details": "More than 24 hours have passed" } }] });
    deliver(
        &s,
        envelope(vec![messages_change(
            PHONE,
            vec![text("wamid.f", "x")],
            vec![failed],
        )]),
    )
    .await;
    deliver_statuses(&s, vec![status("wamid.f", "delivered")]).await;
    drain(&s.store).await;
    let line = &thread(&s).await[0];
    assert_eq!(line.4.as_deref(), Some("failed"));
    let error: (Option<i64>, Option<String>, Option<String>) = match &s.store {
        Store::Sqlite(db) => sqlx::query_as(
            "SELECT error_code, error_title, error_details FROM messages WHERE wamid = 'wamid.f'",
        )
        .fetch_one(db.pool())
        .await
        .unwrap(),
        Store::Postgres(db) => sqlx::query_as(
            "SELECT error_code, error_title, error_details FROM messages WHERE wamid = 'wamid.f'",
        )
        .fetch_one(db.pool())
        .await
        .unwrap(),
    };
    assert_eq!(error.0, Some(131047));
    assert_eq!(error.1.as_deref(), Some("Re-engagement message"));
    assert_eq!(error.2.as_deref(), Some("More than 24 hours have passed"));
}

async fn an_unknown_number_waits_until_it_is_connected(backend: TestBackend) {
    let s = setup(backend).await;
    let other = "999000111222333";
    deliver(
        &s,
        envelope(vec![messages_change(
            other,
            vec![text("wamid.u", "early bird")],
            vec![],
        )]),
    )
    .await;
    let processed = drain(&s.store).await;
    assert_eq!(processed.applied.unrouted, 1);
    let waiting = s.store.unrouted_changes(10).await.unwrap();
    assert_eq!(waiting[0].phone_number_id.as_deref(), Some(other));

    s.store
        .connect_number(
            &s.workspace.as_str().into(),
            &other.into(),
            &WABA.into(),
            None,
            0,
        )
        .await
        .unwrap();
    assert_eq!(
        pipeline::route_waiting_events(&s.store, other)
            .await
            .unwrap(),
        1
    );
    let processed = drain(&s.store).await;
    assert_eq!(processed.applied.new_inbound.len(), 1);
    assert!(s.store.unrouted_changes(10).await.unwrap().is_empty());
    let lines =
        switchboard::test_support::thread_with(&s.store, &s.workspace, other, "16505551234").await;
    assert_eq!(lines[0].summary, "early bird");
}

async fn unprocessable_bodies_are_kept_as_rejected(backend: TestBackend) {
    let s = setup(backend).await;
    deliver(&s, b"not json at all".to_vec()).await;
    deliver(&s, br#"{"object":"page","entry":[]}"#.to_vec()).await;
    assert_eq!(drain(&s.store).await.rejected, 2);
    let rejected = events_in(&s, EventState::Rejected).await;
    assert_eq!(rejected.len(), 2);
    assert!(rejected
        .iter()
        .any(|e| e.last_error.as_deref().unwrap().contains("not JSON")));
    assert!(rejected
        .iter()
        .any(|e| e.last_error.as_deref().unwrap().contains("`page`")));
    assert_eq!(s.store.pending_webhook_events().await.unwrap(), 0);
}

/// The journal's events in `state` (up to ten).
async fn events_in(s: &Setup, state: EventState) -> Vec<EventSummary> {
    s.store.webhook_events_in(state, 10).await.unwrap()
}

/// Runs SQL on whichever backend (test plumbing only).
async fn execute(store: &Store, sql: &str) {
    match store {
        Store::Sqlite(db) => sqlx::query(sql).execute(db.pool()).await.map(|_| ()),
        Store::Postgres(db) => sqlx::query(sql).execute(db.pool()).await.map(|_| ()),
    }
    .unwrap();
}

/// Runs SQL on the webhook journal (a file of its own on SQLite).
async fn execute_on_journal(store: &Store, sql: &str) {
    match store {
        Store::Sqlite(db) => sqlx::query(sql)
            .execute(db.journal_pool())
            .await
            .map(|_| ()),
        Store::Postgres(db) => sqlx::query(sql)
            .execute(db.journal_pool())
            .await
            .map(|_| ()),
    }
    .unwrap();
}

async fn errors_retry_then_dead_letter_then_replay(backend: TestBackend) {
    let s = setup(backend).await;
    // Break processing: the messages table is gone.
    execute(&s.store, "ALTER TABLE messages RENAME TO messages_away").await;
    deliver_messages(&s, vec![text("wamid.r", "retry me")]).await;
    let first = pipeline::process_due(&s.store).await.unwrap();
    assert_eq!(first.failed, 1);
    // Backoff: not due again at once.
    assert_eq!(pipeline::process_due(&s.store).await.unwrap().events, 0);
    for _ in 1..MAX_ATTEMPTS {
        execute_on_journal(&s.store, "UPDATE webhook_events SET next_attempt_at = 0").await;
        assert_eq!(pipeline::process_due(&s.store).await.unwrap().failed, 1);
    }
    let dead = events_in(&s, EventState::Dead).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].attempts, MAX_ATTEMPTS);
    assert!(
        dead[0].last_error.as_deref().unwrap().contains("messages"),
        "{:?}",
        dead[0].last_error
    );

    execute(&s.store, "ALTER TABLE messages_away RENAME TO messages").await;
    assert_eq!(pipeline::replay(&s.store, None).await.unwrap(), 1);
    assert_eq!(drain(&s.store).await.applied.new_inbound.len(), 1);
    // Replaying again has nothing to do and changes nothing.
    assert_eq!(
        pipeline::replay(&s.store, Some(dead[0].id)).await.unwrap(),
        0
    );
    assert_eq!(thread(&s).await.len(), 1);
}

async fn journaled_events_survive_a_restart(backend: TestBackend) {
    let s = setup(backend).await;
    for i in 0..20 {
        deliver_messages(&s, vec![text(&format!("wamid.c{i}"), "x")]).await;
    }
    // "Crash": drop everything without processing, then open the database anew.
    let Setup {
        db,
        store,
        journal,
        workspace,
    } = s;
    drop(journal);
    store.close().await;
    let store = db.open_store().await;
    assert_eq!(store.pending_webhook_events().await.unwrap(), 20);
    assert_eq!(drain(&store).await.applied.new_inbound.len(), 20);
    assert_eq!(
        switchboard::test_support::thread_with(&store, &workspace, PHONE, "16505551234")
            .await
            .len(),
        20
    );
}

async fn the_lag_is_exact_when_small_and_estimated_from_ids_beyond(backend: TestBackend) {
    let s = setup(backend).await;
    assert_eq!(
        s.store.webhook_journal_lag().await.unwrap(),
        Default::default()
    );
    for i in 0..3 {
        deliver_messages(&s, vec![text(&format!("wamid.l{i}"), "x")]).await;
    }
    let lag = s.store.webhook_journal_lag().await.unwrap();
    assert_eq!(lag.events, 3);
    assert!(lag.oldest_received_at.is_some());
    drain(&s.store).await;
    assert_eq!(
        s.store.webhook_journal_lag().await.unwrap(),
        Default::default()
    );

    // A backlog bigger than what is counted: estimated from the ids, which
    // is exact here (every event after the oldest pending one is pending).
    let backlog = (switchboard::store::EXACT_LAG_UP_TO + 50) as usize;
    let events: Vec<NewWebhookEvent> = (0..backlog)
        .map(|i| NewWebhookEvent {
            received_at: 1_000 + i as i64,
            signature: "sha256=test".into(),
            body: envelope(vec![messages_change(
                PHONE,
                vec![text(&format!("wamid.b{i}"), "x")],
                vec![],
            )]),
        })
        .collect();
    for chunk in events.chunks(1_000) {
        s.store.append_webhook_events(chunk).await.unwrap();
    }
    let lag = s.store.webhook_journal_lag().await.unwrap();
    assert_eq!(lag.events, backlog as i64);
    assert_eq!(lag.oldest_received_at, Some(1_000));
    // Claims take the oldest first, behind a backlog as from a fresh start.
    let claimed = s
        .store
        .claim_webhook_events(i64::MAX / 4, 10_000, 5)
        .await
        .unwrap();
    let received: Vec<i64> = claimed.iter().map(|e| e.received_at).collect();
    assert_eq!(received, [1_000, 1_001, 1_002, 1_003, 1_004]);
}

async fn concurrent_workers_never_claim_an_event_twice(backend: TestBackend) {
    let s = setup(backend).await;
    for i in 0..200 {
        deliver_messages(&s, vec![text(&format!("wamid.w{i}"), "x")]).await;
    }
    let (events, new) = side_by_side(&s.store, 4, |store| async move {
        let processed = drain(&store).await;
        (processed.events, processed.applied.new_inbound.len())
    })
    .await;
    assert_eq!(events, 200, "each event claimed by exactly one worker");
    assert_eq!(new, 200);
    assert_eq!(most_attempts(&s.store).await, 1);
}

/// Runs `workers` copies of `work` on their own tasks until each returns
/// what it processed, `(events, new inbound messages)`; the totals.
async fn side_by_side<F, Work>(store: &Store, workers: usize, work: F) -> (usize, usize)
where
    F: Fn(Store) -> Work,
    Work: std::future::Future<Output = (usize, usize)> + Send + 'static,
{
    let tasks: Vec<_> = (0..workers)
        .map(|_| tokio::spawn(work(store.clone())))
        .collect();
    let (mut events, mut new) = (0, 0);
    for task in tasks {
        let (task_events, task_new) = task.await.unwrap();
        events += task_events;
        new += task_new;
    }
    (events, new)
}

/// The most attempts any journaled event has had.
async fn most_attempts(store: &Store) -> i64 {
    const SQL: &str = "SELECT MAX(attempts) FROM webhook_events";
    match store {
        Store::Sqlite(db) => sqlx::query_scalar(SQL).fetch_one(db.journal_pool()).await,
        Store::Postgres(db) => sqlx::query_scalar(SQL).fetch_one(db.pool()).await,
    }
    .unwrap()
}

/// As the server's workers run: each claims its next batch while it
/// applies one.
async fn workers_claiming_ahead_apply_every_event_once(backend: TestBackend) {
    let s = setup(backend).await;
    for i in 0..200 {
        deliver_messages(&s, vec![text(&format!("wamid.a{i}"), "x")]).await;
    }
    let (events, new) = side_by_side(&s.store, 3, |store| async move {
        let mut passes = pipeline::Passes::default();
        let (mut events, mut new) = (0, 0);
        loop {
            let pass = passes.pass(&store, 16, true, &|_| {}).await.unwrap();
            if pass.events == 0 {
                return (events, new);
            }
            events += pass.events;
            new += pass.applied.new_inbound.len();
        }
    })
    .await;
    assert_eq!(events, 200, "each event claimed by exactly one worker");
    assert_eq!(new, 200);
    assert_eq!(most_attempts(&s.store).await, 1);
    assert_eq!(s.store.pending_webhook_events().await.unwrap(), 0);
    assert_eq!(s.store.count_messages(&s.workspace).await.unwrap(), 200);
}

/// Giving back events whose lease lapsed and which another claim took
/// leaves that claim's lease (and attempt) alone.
async fn a_lapsed_claim_taken_again_is_not_given_back(backend: TestBackend) {
    let s = setup(backend).await;
    for i in 0..2 {
        deliver_messages(&s, vec![text(&format!("wamid.l{i}"), "x")]).await;
    }
    let now = switchboard::store::now_millis();
    let first = s.store.claim_webhook_events(now, 5, 10).await.unwrap();
    assert_eq!(first.len(), 2);
    // The first lease lapses; another claim takes both.
    let second = s
        .store
        .claim_webhook_events(now + 10, 10_000, 10)
        .await
        .unwrap();
    assert_eq!(second.len(), 2);
    let ids: Vec<i64> = first.iter().map(|e| e.id).collect();
    s.store
        .unclaim_webhook_events(&ids, first[0].lease_until)
        .await
        .unwrap();
    let third = s
        .store
        .claim_webhook_events(now + 20, 10_000, 10)
        .await
        .unwrap();
    assert!(third.is_empty(), "still the second claim's");
    assert_eq!(most_attempts(&s.store).await, 2, "no attempt taken back");
}

/// A stopping worker gives back what it claimed ahead: another takes it
/// at once (no lease to wait out), its attempt not counted.
async fn a_batch_claimed_ahead_is_given_back_untried(backend: TestBackend) {
    let s = setup(backend).await;
    for i in 0..10 {
        deliver_messages(&s, vec![text(&format!("wamid.b{i}"), "x")]).await;
    }
    let mut passes = pipeline::Passes::default();
    let first = passes.pass(&s.store, 4, true, &|_| {}).await.unwrap();
    assert_eq!(first.events, 4);
    // The next four are in hand: another claim skips them.
    let now = switchboard::store::now_millis();
    let others = s.store.claim_webhook_events(now, 1, 100).await.unwrap();
    assert_eq!(others.len(), 2, "the four claimed ahead are leased");
    s.store
        .unclaim_webhook_events(
            &others.iter().map(|e| e.id).collect::<Vec<_>>(),
            others[0].lease_until,
        )
        .await
        .unwrap();

    passes.release(&s.store).await.unwrap();
    let taken = s
        .store
        .claim_webhook_events(now, 10_000, 100)
        .await
        .unwrap();
    assert_eq!(taken.len(), 6, "given back, and free at once");
    assert!(
        taken.iter().all(|e| e.attempts == 1),
        "{:?}",
        taken.iter().map(|e| e.attempts).collect::<Vec<_>>()
    );
    assert_eq!(s.store.pending_webhook_events().await.unwrap(), 6);
}

async fn the_business_removing_the_app_pauses_its_numbers(backend: TestBackend) {
    let s = setup(backend).await;
    let removed = json!({ "field": "account_update", "value": {
        "event": "PARTNER_APP_UNINSTALLED",
        "disconnection_info": { "reason": "Removed by the business", "initiated_by": "USER" },
    }});
    // Delivered twice, as Meta may: one change of state, one audit entry.
    deliver(&s, envelope(vec![removed.clone()])).await;
    deliver(&s, envelope(vec![removed])).await;
    drain(&s.store).await;
    let number = s.store.number(&PHONE.into()).await.unwrap().unwrap();
    assert_eq!(
        number.status,
        switchboard::store::NumberStatus::ReconnectNeeded
    );
    assert!(number
        .status_reason
        .unwrap()
        .contains("PARTNER_APP_UNINSTALLED"));
    let audited = audited(&s, "number.reconnect_needed").await;
    assert_eq!(audited, 1);
}

/// `PARTNER_REMOVED` is final (reference meta-2026 §2): the numbers are
/// disconnected with Meta's reason and their tokens dropped, once.
async fn the_business_ending_the_connection_disconnects_its_numbers(backend: TestBackend) {
    let s = setup(backend).await;
    let removed = json!({ "field": "account_update", "value": {
        "event": "PARTNER_REMOVED",
        "disconnection_info": { "reason": "CHANGE_NUMBER", "initiated_by": "USER" },
    }});
    deliver(&s, envelope(vec![removed.clone()])).await;
    deliver(&s, envelope(vec![removed])).await;
    drain(&s.store).await;
    let number = s.store.number(&PHONE.into()).await.unwrap().unwrap();
    assert_eq!(
        number.status,
        switchboard::store::NumberStatus::Disconnected
    );
    let reason = number.status_reason.unwrap();
    assert!(reason.contains("changed its number"), "{reason}");
    assert_eq!(audited(&s, "number.partner_removed").await, 1);
}

async fn a_late_copy_of_an_older_ban_update_changes_nothing(backend: TestBackend) {
    use switchboard::store::NumberStatus;
    let s = setup(backend).await;
    let ban = |state: &str, time: i64| {
        json!({ "object": "whatsapp_business_account", "entry": [{ "id": WABA, "time": time, "changes": [
            { "field": "account_update", "value": { "event": "DISABLED_UPDATE",
                "ban_info": { "waba_ban_state": state, "waba_ban_date": "December 6, 2026" } } }] }] })
        .to_string()
        .into_bytes()
    };
    deliver(&s, ban("DISABLE", 1_765_000_000)).await;
    drain(&s.store).await;
    let status = |s: &Setup| {
        let store = s.store.clone();
        async move { store.number(&PHONE.into()).await.unwrap().unwrap().status }
    };
    assert_eq!(status(&s).await, NumberStatus::DisabledByMeta);
    deliver(&s, ban("REINSTATE", 1_765_000_600)).await;
    drain(&s.store).await;
    assert_eq!(status(&s).await, NumberStatus::Live);
    // Meta's retry of the first update arrives after the second.
    deliver(&s, ban("DISABLE", 1_765_000_000)).await;
    drain(&s.store).await;
    assert_eq!(
        status(&s).await,
        NumberStatus::Live,
        "the older update is stale"
    );
    let audited = audited(&s, "waba.ban_state").await;
    assert_eq!(audited, 2);
}

async fn a_restriction_redelivered_after_it_was_lifted_stays_lifted(backend: TestBackend) {
    let s = setup(backend).await;
    let far = 4_102_444_800_i64; // 2100-01-01: in force for the test
    let restricted = json!({ "object": "whatsapp_business_account", "entry": [{ "id": WABA, "time": 1_765_000_000, "changes": [
        { "field": "account_update", "value": { "event": "ACCOUNT_RESTRICTION", "restriction_info": [
            { "restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING", "expiration": far }] } }] }] })
    .to_string()
    .into_bytes();
    deliver(&s, restricted.clone()).await;
    drain(&s.store).await;
    let now = switchboard::store::now_millis();
    assert_eq!(
        s.store.active_restrictions(WABA, now).await.unwrap().len(),
        1
    );
    // Meta's health status shows it over; then Meta retries the webhook.
    let lifted = s
        .store
        .lift_restrictions(WABA, now + 1, now + 1)
        .await
        .unwrap();
    assert_eq!(lifted, ["RESTRICTED_BIZ_INITIATED_MESSAGING"]);
    deliver(&s, restricted).await;
    drain(&s.store).await;
    let later = switchboard::store::now_millis() + 2;
    assert!(s
        .store
        .active_restrictions(WABA, later)
        .await
        .unwrap()
        .is_empty());
    let audited = audited(&s, "waba.restricted").await;
    assert_eq!(audited, 1, "the retry has no second effect");
}

async fn dead_letters_show_to_their_workspace_and_to_the_operator(backend: TestBackend) {
    use switchboard::accounts::{Caller, Role, User, Workspace};
    let s = setup(backend).await;
    // Set up by sign-up or `server create-admin`: the installation's owner.
    s.store
        .set_setting("first_owner", "operator-1")
        .await
        .unwrap();
    let operator = Caller {
        user: User {
            id: "operator-1".into(),
            email: "operator@example.com".into(),
            name: "Operator".into(),
        },
        workspace: Workspace {
            id: "installation".into(),
            name: "Installation".into(),
        },
        role: Role::Owner,
    };
    let admin_of = |workspace: &str| Caller {
        user: User {
            id: format!("admin-of-{workspace}"),
            email: "admin@example.com".into(),
            name: "Admin".into(),
        },
        workspace: Workspace {
            id: workspace.into(),
            name: "W".into(),
        },
        role: Role::Admin,
    };
    execute(
        &s.store,
        "INSERT INTO workspaces (id, name, created_at) VALUES ('other', 'Other', 0)",
    )
    .await;
    s.store
        .connect_number(
            &"other".into(),
            &"200000000000001".into(),
            &"300000000000001".into(),
            None,
            0,
        )
        .await
        .unwrap();
    let other = "other".to_string();

    // Two dead letters: one about our number, one about the other's.
    execute(&s.store, "ALTER TABLE messages RENAME TO messages_away").await;
    deliver_messages(&s, vec![text("wamid.ours", "x")]).await;
    let theirs_body = json!({ "object": "whatsapp_business_account", "entry": [{ "id": "300000000000001",
        "changes": [messages_change("200000000000001", vec![text("wamid.theirs", "y")], vec![])] }] });
    deliver(&s, theirs_body.to_string().into_bytes()).await;
    for _ in 0..MAX_ATTEMPTS {
        execute_on_journal(&s.store, "UPDATE webhook_events SET next_attempt_at = 0").await;
        pipeline::process_due(&s.store).await.unwrap();
    }
    assert_eq!(events_in(&s, EventState::Dead).await.len(), 2);

    let ours = pipeline::attention(&s.store, &admin_of(&s.workspace))
        .await
        .unwrap();
    let theirs = pipeline::attention(&s.store, &admin_of(&other))
        .await
        .unwrap();
    assert_eq!((ours.dead.len(), theirs.dead.len()), (1, 1));
    assert_ne!(ours.dead[0].id, theirs.dead[0].id);
    assert_eq!(
        pipeline::attention(&s.store, &operator)
            .await
            .unwrap()
            .dead
            .len(),
        2
    );

    // An admin replays only their own, whatever id they name.
    execute(&s.store, "ALTER TABLE messages_away RENAME TO messages").await;
    assert_eq!(
        pipeline::replay_for(&s.store, &admin_of(&s.workspace), Some(theirs.dead[0].id))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        pipeline::replay_for(&s.store, &admin_of(&s.workspace), None)
            .await
            .unwrap(),
        1
    );
    assert_eq!(events_in(&s, EventState::Dead).await.len(), 1);
    assert_eq!(
        pipeline::replay_for(&s.store, &operator, None)
            .await
            .unwrap(),
        1
    );
    assert!(events_in(&s, EventState::Dead).await.is_empty());
}

/// The pipeline's claims and marks commit without waiting for the disk,
/// but the journal's one connection goes back at full durability, so the
/// next acknowledgement is flushed.
#[tokio::test]
async fn sqlite_journal_is_back_at_full_durability_after_processing() {
    let s = setup(TestBackend::Sqlite).await;
    deliver_messages(&s, vec![text("wamid.d1", "hi")]).await;
    deliver(&s, b"not json".to_vec()).await;
    let processed = drain(&s.store).await;
    assert_eq!((processed.events, processed.rejected), (2, 1));
    let Store::Sqlite(sqlite) = &s.store else {
        unreachable!()
    };
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(sqlite.journal_pool())
        .await
        .unwrap();
    assert_eq!(synchronous, 2, "FULL is 2");
}

/// A priced status (Meta's per-message pricing, a free service message).
fn priced(wamid: &str, status_name: &str) -> Value {
    let mut status = status(wamid, status_name);
    status["pricing"] = json!({ "billable": false, "pricing_model": "PMP", "type": "free_customer_service", "category": "service" });
    status
}

/// What the receipts left in the tables they write, as text rows.
async fn batch_effects(store: &Store) -> Vec<String> {
    const TABLES: [&str; 7] = [
        "SELECT 'message ' || wamid || ' ' || COALESCE(status, '-') || ' ' || CAST(status_rank AS TEXT) || ' ' || COALESCE(CAST(error_code AS TEXT), '-') FROM messages",
        "SELECT 'receipt ' || wamid || ' ' || status || ' ' || CAST(rank AS TEXT) FROM message_statuses",
        "SELECT 'price ' || wamid || ' ' || COALESCE(market, '-') || ' ' || category FROM message_pricing",
        "SELECT 'ledger ' || category || ' ' || pricing_type || ' ' || market || ' ' || CAST(billable AS TEXT) || ' ' || CAST(free AS TEXT) FROM cost_ledger",
        "SELECT 'contact ' || COALESCE(bsuid, '-') || ' ' || COALESCE(phone, '-') || ' ' || COALESCE(username, '-') || ' ' || COALESCE(profile_name, '-') FROM contacts",
        "SELECT 'line ' || m.wamid || ' ' || COALESCE(c.bsuid, '-') || ' ' || COALESCE(c.phone, '-') FROM messages m JOIN contacts c ON c.id = m.contact_id",
        "SELECT 'summary ' || COALESCE(c.bsuid, '-') || ' ' || COALESCE(c.phone, '-') || ' ' || CAST(s.messages AS TEXT) || ' ' || CAST(s.unread AS TEXT) || ' ' || s.last_summary
         FROM conversation_summaries s JOIN contacts c ON c.id = s.contact_id",
    ];
    let mut rows = Vec::new();
    for sql in TABLES {
        let found: Vec<String> = match store {
            Store::Sqlite(db) => sqlx::query_scalar(sql).fetch_all(db.pool()).await,
            Store::Postgres(db) => sqlx::query_scalar(sql).fetch_all(db.pool()).await,
        }
        .unwrap();
        rows.extend(found);
    }
    rows.sort();
    rows
}

/// The messages' wamids in the order of their ids (a thread's order for
/// messages of the same second).
async fn message_order(store: &Store) -> Vec<String> {
    const SQL: &str = "SELECT wamid FROM messages ORDER BY id";
    match store {
        Store::Sqlite(db) => sqlx::query_scalar(SQL).fetch_all(db.pool()).await,
        Store::Postgres(db) => sqlx::query_scalar(SQL).fetch_all(db.pool()).await,
    }
    .unwrap()
}

/// A customer's text with these ids (`from`, `from_user_id`).
fn text_with(wamid: &str, ids: Value) -> Value {
    let mut message = text(wamid, wamid);
    message.as_object_mut().unwrap().remove("from");
    for (key, value) in ids.as_object().unwrap() {
        message[key] = value.clone();
    }
    message
}

/// A batch's messages and receipts are written together and their
/// customers read together (a few statements for all of them); the end
/// is the same as one event at a time: statuses forward only, a receipt
/// or message seen twice counted once, a message priced once, messages
/// in arrival order with their conversations' counts, a customer who
/// shows a new id is the same contact in the next message or receipt,
/// and a phone that moved to another person is theirs from then on.
async fn a_batch_ends_as_if_its_events_were_applied_one_by_one(backend: TestBackend) {
    let together = setup(backend).await;
    let one_by_one = setup(backend).await;
    let mut failed = status("wamid.r2", "failed");
    failed["errors"] = json!([{ "code": 131026, "title": "Message undeliverable" }]);
    let mut with_bsuid = priced("wamid.r3", "read");
    with_bsuid["recipient_user_id"] = json!("US.13491208655302741918");
    let mut with_username = status("wamid.r3", "delivered");
    with_username["recipient_user_id"] = json!("US.13491208655302741918");
    let events = [
        vec![
            text("wamid.r1", "one"),
            text("wamid.r2", "two"),
            text("wamid.r3", "three"),
        ],
        vec![priced("wamid.r1", "delivered"), status("wamid.r2", "sent")],
        vec![priced("wamid.r1", "read"), priced("wamid.r1", "delivered")],
        vec![failed, priced("wamid.elsewhere", "delivered")],
        vec![with_bsuid, with_username],
        vec![status("wamid.r2", "delivered")],
    ];
    let later_messages = [
        // The phone-only customer shows their BSUID...
        vec![text_with(
            "wamid.m1",
            json!({ "from": "16505551234", "from_user_id": "US.13491208655302741918" }),
        )],
        // ...a new customer, twice...
        vec![text_with("wamid.m2", json!({ "from": "16505550000" }))],
        vec![text_with("wamid.m3", json!({ "from": "16505550000" }))],
        vec![text_with("wamid.m2", json!({ "from": "16505550000" }))],
        // ...and the first one's phone now belongs to someone else.
        vec![text_with(
            "wamid.m4",
            json!({ "from": "16505551234", "from_user_id": "US.77" }),
        )],
    ];
    // Then 150 first-time customers in one event and each of them again
    // in the next: more than the batch reads ahead at once.
    let crowd = |round: &str| -> Vec<Value> {
        (0..150)
            .map(|i| {
                let wamid = format!("wamid.crowd{round}{i}");
                text_with(&wamid, json!({ "from": format!("1650666{i:04}") }))
            })
            .collect()
    };
    for s in [&together, &one_by_one] {
        deliver_messages(s, events[0].clone()).await;
        for statuses in &events[1..] {
            deliver_statuses(s, statuses.clone()).await;
        }
        for messages in &later_messages {
            deliver_messages(s, messages.clone()).await;
        }
        deliver_messages(s, crowd("a")).await;
        deliver_messages(s, crowd("b")).await;
    }
    let batched = drain(&together.store).await;
    assert_eq!(
        batched.events,
        events.len() + later_messages.len() + 2,
        "all in one batch"
    );
    let mut single_duplicates = 0;
    loop {
        let pass = pipeline::process_due_then(&one_by_one.store, 1, &|_| {})
            .await
            .unwrap();
        if pass.events == 0 {
            break;
        }
        single_duplicates += pass.applied.duplicates;
    }
    assert_eq!(
        batched.applied.duplicates, 2,
        "wamid.r1 delivered and wamid.m2 came twice"
    );
    assert_eq!(batched.applied.duplicates, single_duplicates);
    let effects = batch_effects(&together.store).await;
    assert_eq!(effects, batch_effects(&one_by_one.store).await);
    let order = message_order(&together.store).await;
    assert_eq!(order, message_order(&one_by_one.store).await);
    assert_eq!(
        order[..7],
        ["wamid.r1", "wamid.r2", "wamid.r3", "wamid.m1", "wamid.m2", "wamid.m3", "wamid.m4"]
    );
    assert_eq!(order.len(), 7 + 300);
    let crowd_summaries = effects
        .iter()
        .filter(|r| r.starts_with("summary - 1650666") && r.contains(" 2 2 wamid.crowdb"))
        .count();
    assert_eq!(
        crowd_summaries, 150,
        "each of the crowd one contact, two messages"
    );
    for expected in [
        "message wamid.r1 read",
        "message wamid.r2 failed",
        "message wamid.r3 read",
        "contact US.13491208655302741918 - - Sheena",
        "contact US.77 16505551234 - Sheena",
        "contact - 16505550000 - -",
        "ledger service free_customer_service North America 0 3",
        "line wamid.r1 US.13491208655302741918 -",
        "line wamid.m1 US.13491208655302741918 -",
        "line wamid.m3 - 16505550000",
        "line wamid.m4 US.77 16505551234",
        "line wamid.r3 US.13491208655302741918 -",
        "summary - 16505550000 2 2 wamid.m3",
        "summary US.13491208655302741918 - 4 4 wamid.m1",
        "summary US.77 16505551234 1 1 wamid.m4",
    ] {
        assert!(
            effects.iter().any(|row| row.starts_with(expected)),
            "no {expected:?} in {effects:#?}"
        );
    }
    let contacts = effects.iter().filter(|r| r.starts_with("contact ")).count();
    assert_eq!(contacts, 3 + 150, "every customer once: {effects:#?}");
}
