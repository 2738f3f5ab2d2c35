//! Errors about the whole account (reference meta-2026 §7, and Meta's
//! 131031, 131042, 368, 133010), on both backends: the number pauses with
//! Meta's words, every queued message waits (none fails, none is lost),
//! one audit entry; an admin resumes it and everything goes, once.

mod common;

use common::meta::connected;
use serde_json::json;
use switchboard::{
    numbers::{self, NumberStatus},
    store::OutboxState,
    test_support::TestBackend,
};

on_both_backends!(a_billing_problem_pauses_the_number_until_an_admin_resumes_it,);

const MESSAGES: i64 = 5;

async fn a_billing_problem_pauses_the_number_until_an_admin_resumes_it(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    // Meta refuses every send with its billing error until it is fixed.
    env.set_faults(json!({ "graph": [{
        "path_contains": "/messages", "method": "POST",
        "effect": { "kind": "meta_error", "status": 400, "code": 131042,
                    "title": "Business eligibility payment issue" } }] }))
        .await;
    let running = env.run().await;
    env.queue_templates(&phone, "1650333", MESSAGES).await;
    env.drain().await;
    let number = env.number(&phone).await.unwrap();
    assert_eq!(number.status, NumberStatus::PausedByMeta);
    let reason = number.status_reason.unwrap_or_default();
    assert!(reason.contains("131042"), "{reason}");
    assert!(
        reason.contains("Business eligibility payment issue"),
        "{reason}"
    );
    let store = &env.engine.store;
    assert_eq!(
        store
            .outbox_count(&phone, OutboxState::Queued)
            .await
            .unwrap(),
        MESSAGES
    );
    assert_eq!(
        store
            .outbox_count(&phone, OutboxState::Failed)
            .await
            .unwrap(),
        0
    );
    let paused = env
        .audit_actions()
        .await
        .into_iter()
        .filter(|a| a == "number.paused_by_meta")
        .count();
    assert_eq!(paused, 1, "{:?}", env.audit_actions().await);

    // The business pays; an admin resumes; everything goes, once each.
    env.set_faults(json!({})).await;
    numbers::resume(&env.engine, &env.caller, &phone)
        .await
        .unwrap();
    assert!(
        numbers::resume(&env.engine, &env.caller, &phone)
            .await
            .is_err(),
        "a live number is not resumed"
    );
    env.drain().await;
    assert_eq!(
        store.outbox_count(&phone, OutboxState::Sent).await.unwrap(),
        MESSAGES
    );
    for i in 0..MESSAGES {
        assert_eq!(
            env.received(&phone, &format!("1650333{i:04}")).await.len(),
            1
        );
    }
    assert!(env
        .audit_actions()
        .await
        .iter()
        .any(|a| a == "number.resumed"));
    running.stop().await;
}
