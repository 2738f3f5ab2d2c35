//! Tokens that expire, against the sandbox over loopback HTTP, on both
//! backends: a 60-day token refreshed before its end (and the new one
//! used), Meta's refusal warned at 14, 7 and 1 days once each (audit, one
//! signed event per warning, the banner's list), a reconnect clearing
//! them, an expired token warned without a refresh, Meta not answering
//! costing nothing, and a token that never expires never touched. The
//! worker runs "days later" through its `now`; the sandbox's clock is
//! moved as far, so that Meta agrees.

mod common;

use common::{
    endpoint::Receiver,
    meta::{setup, Env},
};
use serde_json::{json, Value};
use standardwebhooks::Webhook;
use switchboard::{
    accounts::{Caller, Role},
    numbers::NumberStatus,
    outgoing_webhooks,
    store::{now_millis, DeliveryState, StoredToken},
    test_support::TestBackend,
    token_expiry::{self, ExpiryReport},
    Error,
};

on_both_backends!(
    a_sixty_day_token_is_refreshed_before_it_ends_and_used,
    a_refused_refresh_warns_at_14_7_and_1_days_once_each,
    an_expired_token_is_warned_about_without_a_refresh,
    meta_not_answering_warns_nobody_and_is_tried_again,
    a_token_that_never_expires_is_never_touched,
);

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
const HOUR_MS: i64 = 60 * 60 * 1000;
const CUSTOMER_PREFIX: &str = "1650555";

/// Meta's login configuration issues 60-day tokens; `refresh` says
/// whether it refreshes them.
async fn sixty_day_tokens(env: &Env, refresh: &str) {
    env.control_call(
        reqwest::Method::PUT,
        "/_sandbox/app",
        Some(json!({ "token_expiry": "60_days", "token_refresh": refresh })),
    )
    .await;
}

/// The demo number connected, and its stored token.
async fn connect(env: &Env, attempt: &str) -> (String, StoredToken) {
    let phone = env.demo.phone_number_id.clone();
    assert!(env.connect(attempt, &phone).await.is_live());
    let stored = env.stored_token(&phone).await;
    (phone, stored)
}

/// Moves Meta's clock to `at` (Unix ms; it only goes forward).
async fn meta_clock_to(env: &Env, at: i64) {
    let state = env
        .control_call(reqwest::Method::GET, "/_sandbox/state", None)
        .await;
    let meta_now = state["now"].as_i64().expect("the sandbox's clock");
    let seconds = (at - meta_now) / 1000;
    assert!(seconds >= 0, "Meta's clock only goes forward");
    env.control("/_sandbox/clock/advance", json!({ "seconds": seconds }))
        .await;
}

async fn look(env: &Env, now: i64) -> ExpiryReport {
    token_expiry::check_due(&env.engine, now).await.unwrap()
}

fn count(actions: &[String], action: &str) -> usize {
    actions.iter().filter(|a| *a == action).count()
}

async fn a_sixty_day_token_is_refreshed_before_it_ends_and_used(backend: TestBackend) {
    let env = setup(backend).await;
    sixty_day_tokens(&env, "allowed").await;
    let (phone, before) = connect(&env, "attempt-0001").await;
    let now = now_millis();
    let ends = before.expires_at.expect("a 60-day token has an end");
    assert!(
        (ends - now - 60 * DAY_MS).abs() < HOUR_MS,
        "about 60 days: {ends}"
    );
    let old_token = env.token_of(&phone).await;

    // Today it is not due.
    assert_eq!(look(&env, now).await, ExpiryReport::default());
    assert_eq!(env.stored_token(&phone).await, before);

    // 13 days before the end (Meta's clock too): refreshed.
    let later = ends - 13 * DAY_MS;
    meta_clock_to(&env, later).await;
    let report = look(&env, later).await;
    assert_eq!(report.refreshed, vec![phone.clone()], "{report:?}");
    assert!(report.warned.is_empty());
    let after = env.stored_token(&phone).await;
    let new_token = env.token_of(&phone).await;
    assert_ne!(new_token, old_token, "a new token is stored");
    assert_ne!(after.sealed, before.sealed);
    // Its end is Meta's word (debug_token, in seconds): 60 days from
    // Meta's now.
    let new_ends = after.expires_at.expect("the new token has an end");
    assert_eq!(new_ends % 1000, 0, "from debug_token's seconds");
    assert!(
        (new_ends - later - 60 * DAY_MS).abs() < HOUR_MS,
        "60 days on: {new_ends}"
    );
    assert_eq!(
        (
            after.refresh_refused.clone(),
            after.expiry_warned_days,
            after.stored_at
        ),
        (None, None, later)
    );
    let actions = env.audit_actions().await;
    assert_eq!(count(&actions, "number.token_refreshed"), 1);
    assert_eq!(count(&actions, "number.token_expiring"), 0);
    // The new token is not due: not looked at again, however often.
    for at in [later, later + 2 * HOUR_MS, later + 10 * DAY_MS] {
        assert_eq!(look(&env, at).await.checked, 0, "{at}");
    }
    assert_eq!(env.stored_token(&phone).await, after);

    // Sends go with the new token: the old one ends now at Meta, and a
    // template still reaches the customer.
    env.control(
        "/_sandbox/tokens/expire",
        json!({ "token": old_token, "in_seconds": 0 }),
    )
    .await;
    let running = env.run().await;
    env.queue_templates(&phone, CUSTOMER_PREFIX, 1).await;
    env.drain().await;
    let received = env
        .received(&phone, &format!("{CUSTOMER_PREFIX}0000"))
        .await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(env.status_of(&phone).await, NumberStatus::Live);
    running.stop().await;
}

async fn a_refused_refresh_warns_at_14_7_and_1_days_once_each(backend: TestBackend) {
    let env = setup(backend).await;
    let receiver = Receiver::default();
    let url = receiver.start().await;
    let (endpoint, secret) = outgoing_webhooks::create(&env.engine, &env.caller, &url)
        .await
        .unwrap();
    sixty_day_tokens(&env, "refused").await;
    let (phone, first) = connect(&env, "attempt-0001").await;
    let ends = first.expires_at.unwrap();
    let display = env.number(&phone).await.unwrap().display_phone_number;
    assert!(display.is_some());
    let running = env.run().await;

    // (how long before the end, the warning due, whole days left)
    let thresholds = [
        (13 * DAY_MS + 12 * HOUR_MS, 14, 13),
        (6 * DAY_MS + 12 * HOUR_MS, 7, 6),
        (12 * HOUR_MS, 1, 0),
    ];
    for (before_end, warning, _) in thresholds {
        let at = ends - before_end;
        meta_clock_to(&env, at).await;
        let report = look(&env, at).await;
        assert_eq!(report.checked, 1, "{warning}: {report:?}");
        assert!(report.refreshed.is_empty());
        assert_eq!(report.warned, vec![(phone.clone(), warning)]);
        // Again at once: claimed already, nothing.
        assert_eq!(look(&env, at).await, ExpiryReport::default());
        // Two instances an interval later: each may look, neither warns.
        let again = at + 2 * HOUR_MS;
        let (one, two) = tokio::join!(look(&env, again), look(&env, again));
        assert_eq!(one.checked + two.checked, 1, "one instance takes it up");
        assert!(one.warned.is_empty() && two.warned.is_empty());
        let now = env.stored_token(&phone).await;
        assert_eq!(now.expiry_warned_days, Some(warning));
        let (reason, _) = now.refresh_refused.expect("Meta's refusal kept");
        assert!(reason.contains("not refreshable"), "{reason}");
        assert_eq!(now.sealed, first.sealed, "the token stays");
    }

    // One audit entry per warning.
    let actions = env.audit_actions().await;
    assert_eq!(count(&actions, "number.token_expiring"), 3, "{actions:?}");
    assert_eq!(count(&actions, "number.token_refreshed"), 0);

    // One signed delivery per warning, with what the admins need.
    env.drain().await;
    let events = receiver.of_type("number.token_expiring");
    assert_eq!(events.len(), 3, "one per warning");
    let reference = Webhook::new(&secret).unwrap();
    for ((headers, body, event), (_, warning, days_left)) in events.iter().zip(thresholds) {
        reference
            .verify(body, headers)
            .expect("the reference implementation accepts it");
        assert_eq!(
            headers["webhook-id"].to_str().unwrap(),
            format!("tok_exp_{phone}_{}_{warning}", first.stored_at)
        );
        let data = &event["data"];
        assert_eq!(data["phone_number_id"], phone.as_str(), "{event}");
        assert_eq!(data["display_phone_number"], json!(display));
        assert_eq!(data["expires_at"], ends);
        assert_eq!(data["warning_days"], warning);
        assert_eq!(data["days_left"], days_left);
        assert!(
            data["refresh_refused"]
                .as_str()
                .unwrap()
                .contains("not refreshable"),
            "{event}"
        );
        // The payload is what the OpenAPI document's type describes.
        let typed: outgoing_webhooks::TokenExpiringEvent =
            serde_json::from_value(event.clone()).expect("the documented shape");
        assert_eq!(typed.kind, outgoing_webhooks::TOKEN_EXPIRING);
    }
    let log = outgoing_webhooks::deliveries(&env.engine, &env.caller)
        .await
        .unwrap();
    let warnings: Vec<_> = log
        .iter()
        .filter(|d| d.event_type == "number.token_expiring")
        .collect();
    assert_eq!(warnings.len(), 3);
    assert!(warnings
        .iter()
        .all(|d| d.state == DeliveryState::Delivered && d.endpoint_id == endpoint.id));

    // The banner's list: admins see the number, when and why; agents
    // may not ask.
    let listed = token_expiry::warnings(&env.engine, &env.caller)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].phone_number_id.as_str(), listed[0].expires_at),
        (phone.as_str(), ends)
    );
    assert!(listed[0]
        .refresh_refused
        .as_deref()
        .is_some_and(|r| r.contains("not refreshable")));
    let agent = Caller {
        role: Role::Agent,
        ..env.caller.clone()
    };
    assert!(matches!(
        token_expiry::warnings(&env.engine, &agent).await,
        Err(Error::Forbidden)
    ));

    // A reconnect brings a fresh token: the warnings are cleared, and
    // start afresh for it.
    let (_, fresh) = connect(&env, "attempt-0002").await;
    assert_ne!(fresh.sealed, first.sealed);
    assert_eq!(
        (fresh.expiry_warned_days, fresh.refresh_refused),
        (None, None)
    );
    assert!(token_expiry::warnings(&env.engine, &env.caller)
        .await
        .unwrap()
        .is_empty());
    let fresh_ends = fresh.expires_at.unwrap();
    assert!(fresh_ends > ends + 50 * DAY_MS, "a new 60 days");
    let at = fresh_ends - 13 * DAY_MS;
    meta_clock_to(&env, at).await;
    assert_eq!(look(&env, at).await.warned, vec![(phone.clone(), 14)]);
    assert_eq!(
        token_expiry::warnings(&env.engine, &env.caller)
            .await
            .unwrap()
            .len(),
        1
    );
    env.drain().await;
    assert_eq!(receiver.of_type("number.token_expiring").len(), 4);
    running.stop().await;
}

async fn an_expired_token_is_warned_about_without_a_refresh(backend: TestBackend) {
    let env = setup(backend).await;
    sixty_day_tokens(&env, "allowed").await;
    let (phone, before) = connect(&env, "attempt-0001").await;
    let ends = before.expires_at.unwrap();
    // The instance was down for the whole window: the token ended an hour
    // ago. Meta cannot extend it, so it is not asked; the last warning
    // comes, once.
    let at = ends + HOUR_MS;
    meta_clock_to(&env, at).await;
    let report = look(&env, at).await;
    assert_eq!(report.warned, vec![(phone.clone(), 1)], "{report:?}");
    assert!(report.refreshed.is_empty());
    assert!(look(&env, at + 2 * HOUR_MS).await.warned.is_empty());
    let after = env.stored_token(&phone).await;
    assert_eq!(after.sealed, before.sealed);
    assert_eq!(after.refresh_refused, None, "Meta was not asked");
    let listed = token_expiry::warnings(&env.engine, &env.caller)
        .await
        .unwrap();
    let reason = listed[0].refresh_refused.clone();
    assert_eq!(reason, None, "no refusal: it expired");
    let entries = switchboard::audit::entries(&env.engine.store, &env.caller, 10)
        .await
        .unwrap();
    let warned = entries
        .iter()
        .find(|e| e.action == "number.token_expiring")
        .expect("audited");
    let detail: Value = serde_json::from_str(&warned.detail).unwrap();
    assert_eq!(
        (
            detail["days_left"].as_i64(),
            detail["warning_days"].as_i64()
        ),
        (Some(0), Some(1))
    );
    assert!(
        detail["refresh_refused"]
            .as_str()
            .unwrap()
            .contains("cannot extend an expired token"),
        "{detail}"
    );
    // The token's own text never reaches the audit log.
    let token = env.token_of(&phone).await;
    assert!(entries.iter().all(|e| !e.detail.contains(&token)));
}

async fn meta_not_answering_warns_nobody_and_is_tried_again(backend: TestBackend) {
    let env = setup(backend).await;
    sixty_day_tokens(&env, "allowed").await;
    let (phone, before) = connect(&env, "attempt-0001").await;
    let at = before.expires_at.unwrap() - 10 * DAY_MS;
    meta_clock_to(&env, at).await;
    env.set_faults(json!({ "graph": [{
        "path_contains": "oauth/access_token", "times": 1,
        "effect": { "kind": "server_error", "status": 503 } }] }))
        .await;
    let report = look(&env, at).await;
    assert_eq!(
        (report.checked, report.skipped, report.warned.len()),
        (1, 1, 0),
        "{report:?}"
    );
    let after = env.stored_token(&phone).await;
    assert_eq!(
        (after.refresh_refused, after.expiry_warned_days),
        (None, None)
    );
    assert!(!env.audited("number.token_expiring").await);
    // An interval later Meta answers: refreshed.
    let report = look(&env, at + 2 * HOUR_MS).await;
    assert_eq!(report.refreshed, vec![phone.clone()], "{report:?}");
}

async fn a_token_that_never_expires_is_never_touched(backend: TestBackend) {
    let env = setup(backend).await;
    let (phone, before) = connect(&env, "attempt-0001").await;
    assert_eq!(before.expires_at, None, "business tokens never expire");
    let now = now_millis();
    for at in [now, now + 100 * DAY_MS, now + 3650 * DAY_MS] {
        assert_eq!(look(&env, at).await, ExpiryReport::default(), "{at}");
    }
    assert_eq!(env.stored_token(&phone).await, before);
    let actions = env.audit_actions().await;
    assert_eq!(count(&actions, "number.token_refreshed"), 0);
    assert_eq!(count(&actions, "number.token_expiring"), 0);
}
