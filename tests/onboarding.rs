//! Onboarding, the token vault and token health, against the sandbox over
//! loopback HTTP, on both backends: every step and every failure.

mod common;

use common::meta::{engine_for, setup, Env, PIN};
use serde_json::json;
use switchboard::{
    numbers::{self, NumberStatus},
    onboarding::{self, Awaiting, OnboardingStep, Progress, RunState, SignupData, StepState},
    test_support::TestBackend,
    tokens,
    vault::{generate_key_entry, KeyRing},
};

on_both_backends!(
    a_number_connects_step_by_step,
    signup_data_may_arrive_before_the_code,
    an_expired_code_fails_and_cannot_be_retried,
    a_reused_code_fails,
    a_waba_that_was_not_granted_is_refused,
    a_number_outside_the_waba_is_refused,
    a_wrong_pin_can_be_retried,
    the_register_attempt_limit_is_respected,
    a_token_revoked_midway_fails_the_step_and_flags_the_number,
    a_restart_between_steps_resumes,
    token_health_flags_expired_and_revoked_tokens,
    reconnecting_keeps_the_number_and_resumes,
    another_workspace_cannot_take_a_connected_number,
    disconnecting_keeps_history_and_unsubscribes,
    rotating_keys_moves_every_token_to_the_new_key,
);

fn step_states(progress: &Progress) -> Vec<(OnboardingStep, StepState)> {
    progress.steps.iter().map(|s| (s.step, s.state)).collect()
}

/// Asserts how many apps Meta has subscribed to the demo WABA's webhooks.
async fn assert_subscribed_apps(env: &Env, token: &str, count: usize) {
    let path = format!("{}/subscribed_apps", env.demo.waba_id);
    let subscribed = env.graph(reqwest::Method::GET, &path, token, None).await;
    assert_eq!(
        subscribed["data"].as_array().map(Vec::len),
        Some(count),
        "{subscribed}"
    );
}

async fn a_number_connects_step_by_step(backend: TestBackend) {
    let env = setup(backend).await;
    let phone = env.demo.new_phone_number_id.clone();
    let code = env.code().await;
    let after_code = onboarding::submit_code(&env.engine, &env.caller, "attempt-0001", &code)
        .await
        .unwrap();
    assert_eq!(
        (after_code.step, after_code.waiting_for),
        (OnboardingStep::Verify, Some(Awaiting::Signup))
    );
    assert_eq!(after_code.steps[0].state, StepState::Done);

    onboarding::submit_signup(
        &env.engine,
        &env.caller,
        "attempt-0001",
        &env.signup(&phone),
    )
    .await
    .unwrap();
    onboarding::run_ready(&env.engine).await;
    let at_pin = env.latest().await;
    assert_eq!(at_pin.waiting_for, Some(Awaiting::Pin));
    assert_eq!(
        step_states(&at_pin)[..5],
        [
            (OnboardingStep::Exchange, StepState::Done),
            (OnboardingStep::Verify, StepState::Done),
            (OnboardingStep::Subscribe, StepState::Done),
            // Meta verified the demo's number already.
            (OnboardingStep::VerifyNumber, StepState::Done),
            (OnboardingStep::Register, StepState::Waiting),
        ]
    );
    assert_eq!(env.status_of(&phone).await, NumberStatus::Onboarding);

    onboarding::submit_pin(&env.engine, &env.caller, &at_pin.id, PIN)
        .await
        .unwrap();
    onboarding::run_ready(&env.engine).await;
    let live = env.latest().await;
    assert!(live.is_live(), "{live:?}");
    assert!(live.steps.iter().all(|s| s.state == StepState::Done));
    assert_eq!(live.display_phone_number.as_deref(), Some("15550005678"));

    let number = env.number(&phone).await.unwrap();
    assert_eq!(
        (number.status, number.verified_name.as_deref()),
        (NumberStatus::Live, Some("Acme Bakery"))
    );
    // Sealed at rest: the stored bytes do not contain the token.
    let token = env.token_of(&phone).await;
    let stored = env
        .engine
        .store
        .number_token(&phone)
        .await
        .unwrap()
        .unwrap();
    assert!(!stored
        .sealed
        .ciphertext
        .windows(token.len())
        .any(|w| w == token.as_bytes()));
    assert_eq!(stored.sealed.key_id, "k1");
    assert!(stored
        .scopes
        .contains(&"whatsapp_business_messaging".to_string()));
    assert_eq!(stored.expires_at, None, "business tokens never expire");
    // Meta's side: the app is subscribed and the number registered.
    assert_subscribed_apps(&env, &token, 1).await;
    let info = env
        .graph(
            reqwest::Method::GET,
            &format!("{phone}?fields=status"),
            &token,
            None,
        )
        .await;
    assert_eq!(info["status"], "CONNECTED");
    assert!(env.audited("number.connected").await);
}

async fn signup_data_may_arrive_before_the_code(backend: TestBackend) {
    let env = setup(backend).await;
    let phone = env.demo.phone_number_id.clone();
    let first = onboarding::submit_signup(
        &env.engine,
        &env.caller,
        "attempt-0002",
        &env.signup(&phone),
    )
    .await
    .unwrap();
    assert_eq!(first.waiting_for, Some(Awaiting::Code));
    let code = env.code().await;
    onboarding::submit_code(&env.engine, &env.caller, "attempt-0002", &code)
        .await
        .unwrap();
    onboarding::run_ready(&env.engine).await;
    // This number was registered already: no PIN needed.
    let live = env.latest().await;
    assert!(live.is_live(), "{live:?}");
    assert_eq!(env.status_of(&phone).await, NumberStatus::Live);
}

async fn an_expired_code_fails_and_cannot_be_retried(backend: TestBackend) {
    let env = setup(backend).await;
    let code = env.code().await;
    env.control("/_sandbox/clock/advance", json!({ "seconds": 31 }))
        .await;
    let failed = onboarding::submit_code(&env.engine, &env.caller, "attempt-0003", &code)
        .await
        .unwrap();
    assert_eq!(
        (failed.step.as_str(), failed.state.as_str()),
        ("exchange", "failed")
    );
    assert!(failed.problem.unwrap().contains("expired"));
    let retry = onboarding::retry(&env.engine, &env.caller, &failed.id).await;
    assert!(matches!(retry, Err(switchboard::Error::Invalid { .. })));
}

async fn a_reused_code_fails(backend: TestBackend) {
    let env = setup(backend).await;
    let code = env.code().await;
    let first = onboarding::submit_code(&env.engine, &env.caller, "attempt-0004", &code)
        .await
        .unwrap();
    assert_eq!(first.step, OnboardingStep::Verify);
    // The browser retrying the same attempt changes nothing...
    let again = onboarding::submit_code(&env.engine, &env.caller, "attempt-0004", &code)
        .await
        .unwrap();
    assert_eq!((again.step.as_str(), again.problem), ("verify", None));
    // ...but the code cannot start a second run.
    let second = onboarding::submit_code(&env.engine, &env.caller, "attempt-0005", &code)
        .await
        .unwrap();
    assert_eq!(
        (second.step.as_str(), second.state.as_str()),
        ("exchange", "failed")
    );
}

async fn a_waba_that_was_not_granted_is_refused(backend: TestBackend) {
    let env = setup(backend).await;
    let code = env.code().await;
    onboarding::submit_code(&env.engine, &env.caller, "attempt-0006", &code)
        .await
        .unwrap();
    let claimed = SignupData {
        waba_id: "999000111222333".into(),
        ..env.signup(&env.demo.phone_number_id)
    };
    onboarding::submit_signup(&env.engine, &env.caller, "attempt-0006", &claimed)
        .await
        .unwrap();
    onboarding::run_ready(&env.engine).await;
    let refused = env.latest().await;
    assert_eq!(
        (refused.step.as_str(), refused.state.as_str()),
        ("verify", "failed")
    );
    assert!(refused.problem.unwrap().contains("was not granted"));
    assert!(env
        .engine
        .store
        .numbers_of(&env.caller.workspace.id)
        .await
        .unwrap()
        .is_empty());
    assert!(env.audited("onboarding.refused").await);
}

async fn a_number_outside_the_waba_is_refused(backend: TestBackend) {
    let env = setup(backend).await;
    let progress = env.until_pin("attempt-0007", "123456789012345").await;
    assert_eq!(progress.state, RunState::Failed);
    assert!(progress.problem.unwrap().contains("does not belong"));
    assert!(env.number("123456789012345").await.is_none());
}

async fn a_wrong_pin_can_be_retried(backend: TestBackend) {
    let env = setup(backend).await;
    let phone = env.demo.new_phone_number_id.clone();
    let at_pin = env.until_pin("attempt-0008", &phone).await;
    // The number already has a two-step PIN, set in WhatsApp Manager.
    let token = env.token_of(&phone).await;
    let set = env
        .graph(
            reqwest::Method::POST,
            &phone,
            &token,
            Some(json!({ "pin": PIN })),
        )
        .await;
    assert_eq!(set["success"], true, "{set}");

    let wrong = onboarding::submit_pin(&env.engine, &env.caller, &at_pin.id, "000000")
        .await
        .unwrap();
    assert_eq!(
        (wrong.step, wrong.waiting_for),
        (OnboardingStep::Register, Some(Awaiting::Pin))
    );
    assert!(wrong
        .problem
        .unwrap()
        .contains("not the number's two-step verification PIN"));
    let malformed = onboarding::submit_pin(&env.engine, &env.caller, &at_pin.id, "12ab").await;
    assert!(matches!(
        malformed,
        Err(switchboard::Error::Invalid { field: "pin", .. })
    ));

    onboarding::submit_pin(&env.engine, &env.caller, &at_pin.id, PIN)
        .await
        .unwrap();
    onboarding::run_ready(&env.engine).await;
    assert!(env.latest().await.is_live());
}

async fn the_register_attempt_limit_is_respected(backend: TestBackend) {
    let env = setup(backend).await;
    let phone = env.demo.new_phone_number_id.clone();
    let at_pin = env.until_pin("attempt-0009", &phone).await;
    let token = env.token_of(&phone).await;
    env.graph(
        reqwest::Method::POST,
        &phone,
        &token,
        Some(json!({ "pin": PIN })),
    )
    .await;
    for _ in 0..10 {
        let wrong = onboarding::submit_pin(&env.engine, &env.caller, &at_pin.id, "000000")
            .await
            .unwrap();
        assert_eq!(wrong.waiting_for, Some(Awaiting::Pin));
    }
    // The 11th would be refused by Meta and block the number for 72 hours.
    match onboarding::submit_pin(&env.engine, &env.caller, &at_pin.id, PIN).await {
        Err(switchboard::Error::Invalid {
            field: "pin",
            message,
        }) => assert!(message.contains("10 registration attempts")),
        other => panic!("expected the limit, got {other:?}"),
    }
    assert_eq!(env.status_of(&phone).await, NumberStatus::Onboarding);
}

async fn a_token_revoked_midway_fails_the_step_and_flags_the_number(backend: TestBackend) {
    let env = setup(backend).await;
    let phone = env.demo.new_phone_number_id.clone();
    let at_pin = env.until_pin("attempt-0010", &phone).await;
    let token = env.token_of(&phone).await;
    env.control("/_sandbox/tokens/revoke", json!({ "token": token }))
        .await;
    let revoked = onboarding::submit_pin(&env.engine, &env.caller, &at_pin.id, PIN)
        .await
        .unwrap();
    assert_eq!(revoked.state, RunState::Failed);
    assert!(revoked.problem.unwrap().contains("connect WhatsApp again"));
    assert_eq!(env.status_of(&phone).await, NumberStatus::ReconnectNeeded);
    assert!(env.audited("number.reconnect_needed").await);
}

async fn a_restart_between_steps_resumes(backend: TestBackend) {
    let env = setup(backend).await;
    let phone = env.demo.phone_number_id.clone();
    let code = env.code().await;
    onboarding::submit_code(&env.engine, &env.caller, "attempt-0011", &code)
        .await
        .unwrap();
    onboarding::submit_signup(
        &env.engine,
        &env.caller,
        "attempt-0011",
        &env.signup(&phone),
    )
    .await
    .unwrap();
    // The process stops before any worker ran the verify step.
    env.engine.store.close().await;

    let restarted = engine_for(&env.db, &env.sandbox, &env.keys).await;
    assert_eq!(
        onboarding::run_ready(&restarted).await,
        3,
        "verify, subscribe, details"
    );
    let progress = onboarding::latest(&restarted, &env.caller)
        .await
        .unwrap()
        .unwrap();
    assert!(progress.is_live(), "{progress:?}");
}

async fn token_health_flags_expired_and_revoked_tokens(backend: TestBackend) {
    let env = setup(backend).await;
    let phone = env.demo.phone_number_id.clone();
    assert!(env.connect("attempt-0012", &phone).await.is_live());
    let healthy = tokens::check_health(&env.engine).await.unwrap();
    assert_eq!(
        (healthy.checked, healthy.healthy, healthy.flagged.len()),
        (1, 1, 0)
    );

    // A token that still works sends on, however soon it ends (the
    // expiry worker refreshes it or warns); its end is kept.
    let token = env.token_of(&phone).await;
    let ends = env
        .control(
            "/_sandbox/tokens/expire",
            json!({ "token": token, "in_seconds": 3 * 86_400 }),
        )
        .await["expires_at"]
        .as_i64()
        .unwrap();
    let expiring = tokens::check_health(&env.engine).await.unwrap();
    assert_eq!((expiring.healthy, expiring.flagged.len()), (1, 0));
    assert_eq!(env.status_of(&phone).await, NumberStatus::Live);
    assert_eq!(env.stored_token(&phone).await.expires_at, Some(ends * 1000));

    env.control(
        "/_sandbox/tokens/expire",
        json!({ "token": token, "in_seconds": 0 }),
    )
    .await;
    let expired = tokens::check_health(&env.engine).await.unwrap();
    assert_eq!(expired.flagged, vec![phone.clone()]);
    let number = env.number(&phone).await.unwrap();
    assert_eq!(number.status, NumberStatus::ReconnectNeeded);
    let reason = number.status_reason.unwrap();
    assert!(reason.contains("no longer valid"), "{reason}");
    assert!(!env.status_of(&phone).await.can_send());
    // Flagged numbers are not checked (nor audited) again.
    assert_eq!(tokens::check_health(&env.engine).await.unwrap().checked, 0);
    let flagged_entries = env
        .audit_actions()
        .await
        .iter()
        .filter(|a| *a == "number.reconnect_needed")
        .count();
    assert_eq!(flagged_entries, 1);

    // A revoked token, found by the check.
    env.connect("attempt-0013", &phone).await;
    assert_eq!(env.status_of(&phone).await, NumberStatus::Live);
    let token = env.token_of(&phone).await;
    env.control("/_sandbox/tokens/revoke", json!({ "token": token }))
        .await;
    let revoked = tokens::check_health(&env.engine).await.unwrap();
    assert_eq!(revoked.flagged, vec![phone.clone()]);
    let reason = env.number(&phone).await.unwrap().status_reason.unwrap();
    assert!(reason.contains("no longer valid"), "{reason}");
}

async fn reconnecting_keeps_the_number_and_resumes(backend: TestBackend) {
    let env = setup(backend).await;
    let phone = env.demo.phone_number_id.clone();
    env.connect("attempt-0014", &phone).await;
    let before = env.number(&phone).await.unwrap();
    let old_token = env.token_of(&phone).await;
    numbers::flag_reconnect(&env.engine, &phone.as_str().into(), "test: revoked")
        .await
        .unwrap();

    assert!(env.connect("attempt-0015", &phone).await.is_live());
    let after = env.number(&phone).await.unwrap();
    assert_eq!(
        (after.status, after.created_at),
        (NumberStatus::Live, before.created_at)
    );
    assert_ne!(
        env.token_of(&phone).await,
        old_token,
        "the new token replaced the old"
    );
    assert_eq!(
        env.engine
            .store
            .numbers_of(&env.caller.workspace.id)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn another_workspace_cannot_take_a_connected_number(backend: TestBackend) {
    let env = setup(backend).await;
    let phone = env.demo.phone_number_id.clone();
    env.connect("attempt-0016", &phone).await;
    // The same person's second workspace is "another workspace" too.
    let intruder = Env {
        caller: env.in_another_workspace().await,
        ..env
    };
    let progress = intruder.connect("attempt-0017", &phone).await;
    assert_eq!(progress.state, RunState::Failed);
    assert!(progress.problem.unwrap().contains("another workspace"));
    let number = intruder
        .engine
        .store
        .number(&phone.as_str().into())
        .await
        .unwrap()
        .unwrap();
    assert_ne!(number.workspace_id, intruder.caller.workspace.id);
}

async fn disconnecting_keeps_history_and_unsubscribes(backend: TestBackend) {
    let env = setup(backend).await;
    let phone = env.demo.phone_number_id.clone();
    env.connect("attempt-0018", &phone).await;
    let token = env.token_of(&phone).await;
    numbers::disconnect(&env.engine, &env.caller, &phone, false)
        .await
        .unwrap();
    assert_eq!(env.status_of(&phone).await, NumberStatus::Disconnected);
    assert!(env
        .engine
        .store
        .number_token(&phone)
        .await
        .unwrap()
        .is_none());
    assert_subscribed_apps(&env, &token, 0).await;
    assert!(env.audited("number.disconnected").await);
    let missing = numbers::disconnect(&env.engine, &env.caller, "42", false).await;
    assert!(matches!(missing, Err(switchboard::Error::NotFound)));
}

async fn rotating_keys_moves_every_token_to_the_new_key(backend: TestBackend) {
    let env = setup(backend).await;
    let phone = env.demo.phone_number_id.clone();
    env.connect("attempt-0019", &phone).await;
    let token = env.token_of(&phone).await;
    // A run holding its own token (code exchanged, signup data not yet in).
    let code = env.code().await;
    let pending = onboarding::submit_code(&env.engine, &env.caller, "attempt-0020", &code)
        .await
        .unwrap();

    // An outgoing webhook's secrets, current and previous, are sealed too.
    let (endpoint, _) = switchboard::outgoing_webhooks::create(
        &env.engine,
        &env.caller,
        "https://example.com/hook",
    )
    .await
    .unwrap();
    let secret =
        switchboard::outgoing_webhooks::rotate_secret(&env.engine, &env.caller, &endpoint.id)
            .await
            .unwrap();

    let rotated_keys = format!("{},{}", generate_key_entry("k2"), env.keys);
    let rotated = engine_for(&env.db, &env.sandbox, &rotated_keys).await;
    // Before rotating, old ciphertexts still open with the old key listed.
    assert_eq!(
        tokens::open_number_token(&rotated, &phone)
            .await
            .unwrap()
            .expose(),
        &token
    );

    let ring = KeyRing::new(switchboard::config::parse_key_ring(&rotated_keys).unwrap()).unwrap();
    let report = tokens::rotate_keys(&rotated.store, &ring).await.unwrap();
    assert_eq!((report.resealed, report.already_current), (4, 0));
    assert_eq!(
        rotated
            .store
            .number_token(&phone)
            .await
            .unwrap()
            .unwrap()
            .sealed
            .key_id,
        "k2"
    );
    let again = tokens::rotate_keys(&rotated.store, &ring).await.unwrap();
    assert_eq!((again.resealed, again.already_current), (0, 4));

    // The old key can go: everything opens with the new one alone.
    let new_only = rotated_keys.split(',').next().unwrap().to_string();
    let new_ring = KeyRing::new(switchboard::config::parse_key_ring(&new_only).unwrap()).unwrap();
    tokens::check_key_ring(&rotated.store, &new_ring)
        .await
        .unwrap();
    // A ring that lacks the key in use is refused at start-up.
    let old_only = KeyRing::new(switchboard::config::parse_key_ring(&env.keys).unwrap()).unwrap();
    let refused = tokens::check_key_ring(&rotated.store, &old_only)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("k2"), "{refused}");
    let later = engine_for(&env.db, &env.sandbox, &new_only).await;
    assert_eq!(
        tokens::open_number_token(&later, &phone)
            .await
            .unwrap()
            .expose(),
        &token
    );
    onboarding::submit_signup(&later, &env.caller, "attempt-0020", &env.signup(&phone))
        .await
        .unwrap();
    onboarding::run_ready(&later).await;
    let resumed = onboarding::progress(&later, &env.caller, &pending.id)
        .await
        .unwrap();
    assert!(resumed.is_live(), "{resumed:?}");
    let row = later.store.endpoint(&endpoint.id).await.unwrap().unwrap();
    let secrets = switchboard::outgoing_webhooks::active_secrets(
        &later,
        &row,
        switchboard::store::now_millis(),
    )
    .expect("the current secret opens");
    assert_eq!(secrets.len(), 2, "both secrets open under the new key");
    assert_eq!(secrets[0].expose(), &secret);
}
