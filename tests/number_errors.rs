//! Errors Meta reports for a number as a whole (`value.errors[]` with no
//! message or status; reference meta-2026 §5), on both backends: kept,
//! shown on the number, audited once however often the webhook comes.

mod common;

use common::meta::connected;
use serde_json::json;
use switchboard::test_support::TestBackend;

on_both_backends!(an_error_about_the_number_is_kept_and_audited_once,);

async fn an_error_about_the_number_is_kept_and_audited_once(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    // Every webhook twice, and the change holds no message to dedupe by.
    env.set_faults(json!({ "duplicate_webhooks": 1.0 })).await;
    let running = env.run().await;
    env.control(
        &format!("/_sandbox/phones/{phone}/errors"),
        json!({ "code": 131060, "title": "Sync failed", "details": "The app's data could not be shared." }),
    )
    .await;
    env.drain().await;
    let errors = env
        .engine
        .store
        .number_errors(&env.caller.workspace.id, &phone, 10)
        .await
        .unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].code, Some(131060));
    assert_eq!(errors[0].title.as_deref(), Some("Sync failed"));
    assert_eq!(
        errors[0].details.as_deref(),
        Some("The app's data could not be shared.")
    );
    let audited = env
        .audit_actions()
        .await
        .into_iter()
        .filter(|a| a == "number.meta_error")
        .count();
    assert_eq!(audited, 1);
    // Another error later is kept too, newest first.
    env.control(
        &format!("/_sandbox/phones/{phone}/errors"),
        json!({ "code": 131000, "title": "Something went wrong" }),
    )
    .await;
    env.drain().await;
    let errors = env
        .engine
        .store
        .number_errors(&env.caller.workspace.id, &phone, 10)
        .await
        .unwrap();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0].code, Some(131000));
    running.stop().await;
}
