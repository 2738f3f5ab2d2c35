//! The pruner on both backends: what is older than its retention goes,
//! what is recent, pending or dead stays.

mod common;

use common::meta::setup;
use switchboard::{
    outgoing_webhooks, retention,
    store::{now_millis, Prunable, Store},
    test_support::TestBackend,
};

on_both_backends!(old_data_goes_and_live_data_stays);

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Runs `sql` on the main database, or on the webhook journal.
async fn exec(store: &Store, journal: bool, sql: &str) {
    match store {
        Store::Sqlite(s) => {
            let pool = if journal { s.journal_pool() } else { s.pool() };
            sqlx::query(sql).execute(pool).await.unwrap();
        }
        Store::Postgres(s) => {
            sqlx::query(sql).execute(s.pool()).await.unwrap();
        }
    }
}

async fn count(store: &Store, journal: bool, sql: &str) -> i64 {
    match store {
        Store::Sqlite(s) => {
            let pool = if journal { s.journal_pool() } else { s.pool() };
            sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
        }
        Store::Postgres(s) => sqlx::query_scalar(sql).fetch_one(s.pool()).await.unwrap(),
    }
}

async fn old_data_goes_and_live_data_stays(backend: TestBackend) {
    let env = setup(backend).await;
    let store = &env.engine.store;
    let now = now_millis();
    let old = now - 400 * DAY_MS;
    let recent = now - DAY_MS;
    let ws = env.caller.workspace.id.to_string();
    let user = env.caller.user.id.clone();

    for (state, at) in [
        ("done", old),
        ("done", recent),
        ("pending", old),
        ("dead", old),
    ] {
        exec(store, true, &format!(
            "INSERT INTO webhook_events (received_at, signature, body, state, next_attempt_at) VALUES ({at}, 's', 'e', '{state}', {at})"
        ))
        .await;
    }
    for (wamid, at) in [("wamid.old", old), ("wamid.new", recent)] {
        exec(store, false, &format!(
            "INSERT INTO message_statuses (wamid, status, rank, phone_number_id, at) VALUES ('{wamid}', 'sent', 1, 'p', {at})"
        ))
        .await;
    }
    let (endpoint, _) =
        outgoing_webhooks::create(&env.engine, &env.caller, "http://127.0.0.1:9/hook")
            .await
            .unwrap();
    for (event, state, at) in [
        ("e1", "delivered", old),
        ("e2", "failed", old),
        ("e3", "pending", old),
        ("e4", "delivered", recent),
    ] {
        exec(store, false, &format!(
            "INSERT INTO webhook_deliveries (endpoint_id, workspace_id, event_id, event_type, payload, state, next_attempt_at, created_at)
             VALUES ('{}', '{ws}', '{event}', 'message.received', '{{}}', '{state}', {at}, {at})", endpoint.id
        ))
        .await;
    }
    for (token, expires) in [("t-expired", old), ("t-live", now + DAY_MS)] {
        exec(store, false, &format!(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ('{token}', '{user}', {old}, {expires})"
        ))
        .await;
    }
    for at in [old, now] {
        exec(
            store,
            false,
            &format!("INSERT INTO sign_in_failures (key, at) VALUES ('address:x', {at})"),
        )
        .await;
        exec(store, false, &format!(
            "INSERT INTO audit_log (workspace_id, action, detail, at) VALUES ('{ws}', 'test.kept_or_not', '{{}}', {at})"
        ))
        .await;
    }
    for (state, at) in [
        ("sent", old),
        ("sent", recent),
        ("queued", old),
        ("failed", old),
    ] {
        exec(store, false, &format!(
            "INSERT INTO outbox (workspace_id, phone_number_id, recipient, kind, content, origin, state, next_attempt_at, created_at, updated_at)
             VALUES ('{ws}', 'p', '1555', 'text', '{{}}', 'api', '{state}', {at}, {at}, {at})"
        ))
        .await;
    }

    for (media, state, stored_at) in [
        ("m-old", "stored", old),
        ("m-new", "stored", recent),
        ("m-pending", "pending", old),
    ] {
        exec(store, false, &format!(
            "INSERT INTO inbound_media (phone_number_id, media_id, workspace_id, wamid, mime_type, state, next_attempt_at, bytes, size, created_at, stored_at)
             VALUES ('p', '{media}', '{ws}', 'wamid.{media}', 'image/jpeg', '{state}', 0, '\\xffd8', 2, {stored_at}, {stored_at})"
        ))
        .await;
    }

    for (wamid, at) in [("wamid.priced-old", old), ("wamid.priced-new", recent)] {
        exec(store, false, &format!(
            "INSERT INTO message_pricing (phone_number_id, wamid, workspace_id, month, category, pricing, priced_at)
             VALUES ('p', '{wamid}', '{ws}', '2026-01', 'marketing', '{{}}', {at})"
        ))
        .await;
    }

    let pruned = retention::prune_once(&env.engine, now).await;
    let of = |kind: Prunable| pruned.iter().find(|(k, _)| *k == kind).unwrap().1;
    assert_eq!(of(Prunable::ProcessedWebhooks), 1);
    assert_eq!(of(Prunable::Statuses), 1);
    assert_eq!(of(Prunable::Deliveries), 2);
    assert_eq!(of(Prunable::SignInAttempts), 1);
    assert_eq!(of(Prunable::SentOutbox), 1);
    assert_eq!(of(Prunable::InboundMedia), 1);
    assert_eq!(of(Prunable::MessagePricing), 1);
    // The old file's bytes went; its row says why, for the thread.
    assert_eq!(
        count(
            store,
            false,
            "SELECT COUNT(*) FROM inbound_media WHERE media_id = 'm-old' AND bytes IS NULL AND state = 'failed' AND error LIKE '%retention%'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            store,
            false,
            "SELECT COUNT(*) FROM inbound_media WHERE bytes IS NOT NULL"
        )
        .await,
        2,
        "the recent file and the one still downloading keep their bytes"
    );
    assert!(of(Prunable::Sessions) >= 1);
    assert!(of(Prunable::Audit) >= 1);

    let events = "SELECT COUNT(*) FROM webhook_events WHERE state <> 'done' OR received_at > 0";
    assert_eq!(
        count(store, true, events).await,
        3,
        "recent done, pending and dead stay"
    );
    assert_eq!(
        count(
            store,
            false,
            "SELECT COUNT(*) FROM message_statuses WHERE wamid = 'wamid.new'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            store,
            false,
            "SELECT COUNT(*) FROM webhook_deliveries WHERE event_id IN ('e3', 'e4')"
        )
        .await,
        2
    );
    assert_eq!(
        count(
            store,
            false,
            "SELECT COUNT(*) FROM sessions WHERE token_hash = 't-live'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            store,
            false,
            "SELECT COUNT(*) FROM sessions WHERE token_hash = 't-expired'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            store,
            false,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'test.kept_or_not'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            store,
            false,
            "SELECT COUNT(*) FROM outbox WHERE phone_number_id = 'p'"
        )
        .await,
        3
    );

    // A second pass finds nothing more.
    let again = retention::prune_once(&env.engine, now).await;
    assert!(again.iter().all(|(_, n)| *n == 0), "{again:?}");
}
