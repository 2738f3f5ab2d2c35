//! Meta raising a number's throughput (`THROUGHPUT_UPGRADE`, reference
//! meta-2026 §3.2 and §7), on both backends: sends refused with 131057
//! during the upgrade wait and go, the number's rate becomes Meta's new
//! level by itself (once, however often the webhook comes), and the
//! running sender takes the new pace from its next batch.

mod common;

use std::time::{Duration, Instant};

use common::meta::connected;
use serde_json::json;
use switchboard::{numbers, store::OutboxState, test_support::TestBackend};

on_both_backends!(a_throughput_upgrade_raises_the_sending_rate_by_itself,);

const MESSAGES: i64 = 100;
/// The rate before the upgrade: the messages would need about 20 s.
const SLOW_RATE: i64 = 5;

async fn a_throughput_upgrade_raises_the_sending_rate_by_itself(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    numbers::set_send_rate(&env.engine, &env.caller, &phone, SLOW_RATE)
        .await
        .unwrap();
    // Every webhook twice: the upgrade must act once.
    env.set_faults(json!({ "duplicate_webhooks": 1.0 })).await;
    let running = env.run().await;
    env.queue_templates(&phone, "1650444", MESSAGES).await;
    let started = Instant::now();
    env.control(
        &format!("/_sandbox/phones/{phone}/throughput-upgrade"),
        json!({ "takes_ms": 300 }),
    )
    .await;
    // At the old pace the last message would leave after about 20 s.
    let limit = Duration::from_secs_f64(0.95 * MESSAGES as f64 / SLOW_RATE as f64);
    let store = &env.engine.store;
    while store.outbox_count(&phone, OutboxState::Sent).await.unwrap() < MESSAGES {
        assert!(
            started.elapsed() < limit,
            "still at the old pace after {:?}: {} of {MESSAGES} sent",
            started.elapsed(),
            store.outbox_count(&phone, OutboxState::Sent).await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    env.drain().await;
    assert_eq!(
        store
            .outbox_count(&phone, OutboxState::Failed)
            .await
            .unwrap(),
        0,
        "131057 during the upgrade is waited out, not a failure"
    );
    let number = env.number(&phone).await.expect("the number");
    assert_eq!(number.send_rate, 1000);
    let raised = env
        .audit_actions()
        .await
        .into_iter()
        .filter(|a| a == "number.throughput_raised")
        .count();
    assert_eq!(raised, 1, "one audit entry, however often Meta says it");
    running.stop().await;
}
