//! Numbers that stay on the WhatsApp Business app (Meta's coexistence,
//! reference meta-2026 §2), numbers still to verify, and signups that name
//! no number, against the sandbox over loopback HTTP on both backends:
//! onboarding without register, the app's history imported once (shuffled,
//! duplicated chunks) without a bot reply, echoes that quiet the bot, the
//! offboard/reconnect/removal cycle with nothing lost, verification codes,
//! and the number picker.

mod common;

use common::meta::{setup, Env, PIN};
use serde_json::{json, Value};
use switchboard::{
    health::probe,
    numbers::{self, NumberStatus},
    onboarding::{self, verification, Awaiting, OnboardingStep, Progress, SignupData, StepState},
    outbox::{Content, OutboundMessage},
    store::{now_millis, MessageOrigin, OutboxState, SyncType},
    test_support::TestBackend,
};

on_both_backends!(
    a_business_app_number_connects_without_register_and_its_history_lands_once,
    history_declined_is_shown_once,
    an_echo_shows_in_the_thread_and_quiets_the_bot,
    offboarding_holds_messages_and_reconnecting_sends_them,
    a_number_to_verify_takes_a_code_then_a_pin,
    a_signup_naming_no_number_offers_a_choice,
    deregistering_counts_toward_metas_register_limit,
);

const APP_NUMBER: &str = "15550009999";
const COEXISTENCE: &str = "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING";

/// A WhatsApp Business app number with `history` (threads, messages per
/// thread), its contacts, and whether the business shares its chats.
async fn business_app_number(env: &Env, history: Option<(u32, u32)>, share: bool) -> Value {
    let mut body = json!({
        "display_phone_number": APP_NUMBER,
        "verified_name": "Corner Shop",
        "contacts": [{ "phone_number": "16505550101", "full_name": "Ana Lima" }],
        "share_history": share,
    });
    if let Some((threads, per_thread)) = history {
        body["history"] = json!({ "threads": threads, "messages_per_thread": per_thread,
            "chunk_messages": 500, "shuffle": true });
    }
    env.control("/_sandbox/business-app/numbers", body).await
}

/// Finishes the coexistence signup (as the popup would) and runs the
/// onboarding: the number's id and the run as it ends.
async fn connect_business_app(env: &Env, attempt: &str) -> (String, Progress) {
    let signup = env
        .control(
            "/_sandbox/signup/business-app",
            json!({ "display_phone_number": APP_NUMBER }),
        )
        .await;
    let phone = signup["phone_number_id"].as_str().unwrap().to_string();
    onboarding::submit_code(
        &env.engine,
        &env.caller,
        attempt,
        signup["code"].as_str().unwrap(),
    )
    .await
    .unwrap();
    let data = SignupData {
        event: COEXISTENCE.into(),
        waba_id: signup["waba_id"].as_str().unwrap().into(),
        phone_number_id: Some(phone.clone()),
        business_id: signup["business_id"].as_str().map(str::to_string),
    };
    onboarding::submit_signup(&env.engine, &env.caller, attempt, &data)
        .await
        .unwrap();
    env.advance_onboarding().await;
    (phone, env.latest().await)
}

/// Meta's coexistence event for the number (offboarded, reconnected,
/// removed), sent by the sandbox as an `account_update` webhook.
async fn coexistence_event(env: &Env, phone: &str, event: Value) {
    env.control(&format!("/_sandbox/phones/{phone}/coexistence"), event)
        .await;
}

fn text_to(phone: &str, customer: &str, body: &str) -> OutboundMessage {
    OutboundMessage {
        phone_number_id: phone.to_string(),
        recipient: customer.to_string(),
        content: Content::Text {
            body: body.into(),
            preview_url: false,
        },
        context_wamid: None,
    }
}

async fn count(env: &Env, action: &str) -> usize {
    env.audit_actions()
        .await
        .into_iter()
        .filter(|a| a == action)
        .count()
}

/// The lines of the thread with `customer`, every page of it, oldest
/// first: (origin, inbound).
async fn thread(env: &Env, phone: &str, customer: &str) -> Vec<(Option<MessageOrigin>, bool)> {
    let mut lines = Vec::new();
    let mut before = None;
    loop {
        let page = switchboard::conversations::thread(
            &env.engine.store,
            &env.caller,
            phone,
            customer,
            before.as_deref(),
        )
        .await
        .unwrap();
        let page_lines: Vec<_> = page
            .lines
            .into_iter()
            .map(|line| (line.origin, line.direction == "inbound"))
            .collect();
        lines.splice(0..0, page_lines);
        match page.older {
            Some(older) => before = Some(older),
            None => return lines,
        }
    }
}

async fn a_business_app_number_connects_without_register_and_its_history_lands_once(
    backend: TestBackend,
) {
    let env = setup(backend).await;
    let running = env.run().await;
    // Meta may deliver every webhook twice.
    env.set_faults(json!({ "duplicate_webhooks": 1.0 })).await;
    let app = business_app_number(&env, Some((30, 100)), true).await;
    let total = app["total_messages"].as_i64().unwrap();
    assert_eq!(total, 3000);

    let (phone, run) = connect_business_app(&env, "attempt-coex-1").await;
    assert!(run.is_live(), "{run:?}");
    assert!(run.business_app);
    let steps: Vec<OnboardingStep> = run.steps.iter().map(|s| s.step).collect();
    assert!(steps.contains(&OnboardingStep::BusinessAppSync));
    assert!(
        !steps.contains(&OnboardingStep::Register),
        "a Business app number is never registered"
    );
    assert!(run.steps.iter().all(|s| s.state == StepState::Done));
    let asked: Vec<(SyncType, Option<String>)> = run
        .syncs
        .iter()
        .map(|s| (s.sync_type, s.problem.clone()))
        .collect();
    assert_eq!(
        asked,
        [(SyncType::History, None), (SyncType::Contacts, None)]
    );
    let number = env.number(&phone).await.unwrap();
    assert!(number.business_app_since.is_some());
    assert_eq!(number.send_rate, 20, "Meta's fixed level for the app");
    let at_meta = env
        .control_call(
            reqwest::Method::GET,
            &format!("/_sandbox/phones/{phone}"),
            None,
        )
        .await;
    assert_eq!(at_meta["registered"], true, "{at_meta}");

    env.drain().await;
    let progress = env.engine.store.history_progress(&phone).await.unwrap();
    assert_eq!(progress.messages, total, "every chunk once");
    assert_eq!(
        env.engine
            .store
            .count_messages(&env.caller.workspace.id)
            .await
            .unwrap(),
        total,
        "every message once, duplicates and all"
    );
    // Every imported thread is listed, none of them unread.
    let list = env
        .engine
        .store
        .conversations(&env.caller.workspace.id, 100, None, None)
        .await
        .unwrap();
    assert_eq!(list.len(), 30);
    assert!(
        list.iter().all(|c| c.messages == 100 && c.unread == 0),
        "{list:?}"
    );
    // Imported, both ways, never answered.
    let customer = app["customers"][0].as_str().unwrap();
    let lines = thread(&env, &phone, customer).await;
    assert_eq!(lines.len(), 100);
    assert!(lines
        .iter()
        .all(|(origin, _)| *origin == Some(MessageOrigin::History)));
    assert!(lines.iter().any(|(_, inbound)| *inbound));
    assert!(lines.iter().any(|(_, inbound)| !*inbound));
    for state in [OutboxState::Queued, OutboxState::Sent] {
        assert_eq!(
            env.engine.store.outbox_count(&phone, state).await.unwrap(),
            0,
            "no bot reply to history"
        );
    }
    // The app's contacts name the customers.
    let ana = env.contact(&phone, "16505550101").await;
    assert_eq!(ana.saved_name.as_deref(), Some("Ana Lima"));
    assert_eq!(ana.best_name(), "Ana Lima");

    // A restart that runs the sync step again asks Meta nothing twice.
    let history_webhooks = deliveries_of(&env, "history").await;
    env.engine
        .store
        .set_onboarding_state(
            &run.id,
            OnboardingStep::Live,
            OnboardingStep::BusinessAppSync,
            onboarding::RunState::Ready,
            None,
            now_millis(),
        )
        .await
        .unwrap();
    env.advance_onboarding().await;
    env.drain().await;
    let again = env.latest().await;
    assert!(again.is_live());
    assert!(again.syncs.iter().all(|s| s.problem.is_none()), "{again:?}");
    assert_eq!(deliveries_of(&env, "history").await, history_webhooks);

    // Switchboard never deregisters it, and keeps it at Meta's level.
    let refused = numbers::disconnect(&env.engine, &env.caller, &phone, true).await;
    assert!(format!("{:?}", refused.unwrap_err()).contains("WhatsApp Business app"));
    let faster = numbers::set_send_rate(&env.engine, &env.caller, &phone, 80).await;
    assert!(faster.is_err());
    running.stop().await;
}

/// How many webhooks of `field` the sandbox delivered.
async fn deliveries_of(env: &Env, field: &str) -> usize {
    let log = env
        .control_call(reqwest::Method::GET, "/_sandbox/webhooks", None)
        .await;
    let entries = log
        .as_array()
        .cloned()
        .or_else(|| log["deliveries"].as_array().cloned())
        .unwrap_or_default();
    let plain = format!("\"field\":\"{field}\"");
    let escaped = format!("\\\"field\\\":\\\"{field}\\\"");
    entries
        .iter()
        .filter(|d| {
            let text = d.to_string();
            text.contains(&plain) || text.contains(&escaped)
        })
        .count()
}

async fn history_declined_is_shown_once(backend: TestBackend) {
    let env = setup(backend).await;
    let running = env.run().await;
    env.set_faults(json!({ "duplicate_webhooks": 1.0 })).await;
    business_app_number(&env, Some((2, 10)), false).await;
    let (phone, run) = connect_business_app(&env, "attempt-coex-2").await;
    assert!(run.is_live());
    env.drain().await;
    let run = env.latest().await;
    let history = run
        .syncs
        .iter()
        .find(|s| s.sync_type == SyncType::History)
        .unwrap();
    assert!(history.declined_at.is_some(), "{run:?}");
    assert_eq!(count(&env, "number.history_declined").await, 1);
    assert_eq!(
        env.engine
            .store
            .history_progress(&phone)
            .await
            .unwrap()
            .messages,
        0
    );
    running.stop().await;
}

async fn an_echo_shows_in_the_thread_and_quiets_the_bot(backend: TestBackend) {
    let env = setup(backend).await;
    let running = env.run().await;
    business_app_number(&env, None, true).await;
    let (phone, run) = connect_business_app(&env, "attempt-coex-3").await;
    assert!(run.is_live());
    let customer = "16505550202";
    env.customer_writes(
        &phone,
        customer,
        json!({ "type": "text", "text": { "body": "hi" } }),
    )
    .await;
    env.drain().await;
    assert_eq!(
        env.received(&phone, customer).await.len(),
        1,
        "the bot answers"
    );

    // Someone answers from the app: it shows in the thread, and the bot
    // leaves the customer to them.
    env.control(
        &format!("/_sandbox/phones/{phone}/app-messages"),
        json!({ "to": customer, "type": "text", "text": { "body": "On my way!" } }),
    )
    .await;
    env.drain().await;
    let lines = thread(&env, &phone, customer).await;
    assert!(
        lines.contains(&(Some(MessageOrigin::BusinessApp), false)),
        "{lines:?}"
    );
    env.customer_writes(
        &phone,
        customer,
        json!({ "type": "text", "text": { "body": "thanks" } }),
    )
    .await;
    env.drain().await;
    assert_eq!(
        env.received(&phone, customer)
            .await
            .iter()
            .filter(|m| m.to_string().contains("Received:"))
            .count(),
        1,
        "the bot keeps quiet after a person answered from the app"
    );

    // Half an hour later (Meta's clock), the bot answers again.
    env.control("/_sandbox/clock/advance", json!({ "seconds": 31 * 60 }))
        .await;
    env.customer_writes(
        &phone,
        customer,
        json!({ "type": "text", "text": { "body": "one more" } }),
    )
    .await;
    env.drain().await;
    assert_eq!(
        env.received(&phone, customer)
            .await
            .iter()
            .filter(|m| m.to_string().contains("Received:"))
            .count(),
        2
    );
    running.stop().await;
}

async fn offboarding_holds_messages_and_reconnecting_sends_them(backend: TestBackend) {
    let env = setup(backend).await;
    let running = env.run().await;
    env.set_faults(json!({ "duplicate_webhooks": 1.0 })).await;
    business_app_number(&env, None, true).await;
    let (phone, _) = connect_business_app(&env, "attempt-coex-4").await;
    let customer = "16505550303";
    env.customer_writes(
        &phone,
        customer,
        json!({ "type": "text", "text": { "body": "hello" } }),
    )
    .await;
    env.drain().await;
    let answered = env.received(&phone, customer).await.len();

    coexistence_event(&env, &phone, json!({ "event": "ACCOUNT_OFFBOARDED" })).await;
    env.drain().await;
    assert_eq!(env.status_of(&phone).await, NumberStatus::Offboarded);
    assert_eq!(count(&env, "number.offboarded").await, 1);
    env.agent_send(&text_to(&phone, customer, "Your order is ready"))
        .await
        .unwrap();
    env.drain().await;
    assert_eq!(
        env.engine
            .store
            .outbox_count(&phone, OutboxState::Queued)
            .await
            .unwrap(),
        1,
        "the message waits"
    );
    assert_eq!(env.received(&phone, customer).await.len(), answered);

    coexistence_event(&env, &phone, json!({ "event": "ACCOUNT_RECONNECTED" })).await;
    env.drain().await;
    assert_eq!(env.status_of(&phone).await, NumberStatus::Reconnecting);
    // The probe subscribes again and reads the number, then it sends.
    probe::probe_due(&env.engine).await.unwrap();
    let health = env.engine.store.number_health(&phone).await.unwrap();
    assert_eq!(
        env.status_of(&phone).await,
        NumberStatus::Live,
        "{health:?}"
    );
    env.drain().await;
    let received = env.received(&phone, customer).await;
    assert_eq!(received.len(), answered + 1, "{received:?}");
    assert!(received
        .last()
        .unwrap()
        .to_string()
        .contains("Your order is ready"));

    // The business ends the connection: final, with Meta's reason.
    coexistence_event(&env, &phone, json!({ "event": "PARTNER_REMOVED", "reason": "PRIMARY_INACTIVITY", "initiated_by": "SYSTEM" })).await;
    env.drain().await;
    let number = env.number(&phone).await.unwrap();
    assert_eq!(number.status, NumberStatus::Disconnected);
    let reason = number.status_reason.unwrap();
    assert!(reason.contains("PRIMARY_INACTIVITY"), "{reason}");
    assert!(env
        .engine
        .store
        .number_token(&phone)
        .await
        .unwrap()
        .is_none());
    assert_eq!(count(&env, "number.partner_removed").await, 1);
    running.stop().await;
}

/// A number of the demo WABA that Meta has not verified yet.
async fn unverified_number(env: &Env, display: &str) -> String {
    let waba = env.demo.waba_id.clone();
    let added = env
        .control(
            &format!("/_sandbox/wabas/{waba}/phones"),
            json!({ "display_phone_number": display, "verified_name": "Acme Annex", "verified": false }),
        )
        .await;
    added["id"].as_str().unwrap().to_string()
}

async fn a_number_to_verify_takes_a_code_then_a_pin(backend: TestBackend) {
    let env = setup(backend).await;
    let phone = unverified_number(&env, "15550004444").await;
    let at_code = env.until_pin("attempt-verify-1", &phone).await;
    assert_eq!(at_code.step, OnboardingStep::VerifyNumber, "{at_code:?}");
    assert_eq!(at_code.waiting_for, Some(Awaiting::VerificationCode));
    // A PIN is not what it waits for.
    assert!(
        onboarding::submit_pin(&env.engine, &env.caller, &at_code.id, PIN)
            .await
            .is_err()
    );

    let sent = verification::request_code(
        &env.engine,
        &env.caller,
        &at_code.id,
        switchboard::graph::numbers::CodeMethod::Sms,
    )
    .await
    .unwrap();
    assert_eq!(sent.code_requests.len(), 1);
    assert_eq!(sent.problem, None);
    // A second code straight away is held back (Meta limits them too).
    assert!(verification::request_code(
        &env.engine,
        &env.caller,
        &at_code.id,
        switchboard::graph::numbers::CodeMethod::Voice,
    )
    .await
    .is_err());

    let wrong = verification::submit_code(&env.engine, &env.caller, &at_code.id, "000000")
        .await
        .unwrap();
    assert_eq!(wrong.step, OnboardingStep::VerifyNumber);
    assert!(wrong.problem.unwrap().contains("not right"));
    assert!(
        verification::submit_code(&env.engine, &env.caller, &at_code.id, "12ab")
            .await
            .is_err(),
        "not a code"
    );

    let at_meta = env
        .control_call(
            reqwest::Method::GET,
            &format!("/_sandbox/phones/{phone}"),
            None,
        )
        .await;
    let code = at_meta["last_verification_code"].as_str().unwrap();
    let verified = verification::submit_code(&env.engine, &env.caller, &at_code.id, code)
        .await
        .unwrap();
    assert_eq!(verified.waiting_for, Some(Awaiting::Pin), "{verified:?}");
    assert_eq!(verified.register_attempts_left, Some(10));
    assert!(env.audited("number.verified").await);
    onboarding::submit_pin(&env.engine, &env.caller, &at_code.id, PIN)
        .await
        .unwrap();
    env.advance_onboarding().await;
    assert!(env.latest().await.is_live());
}

async fn a_signup_naming_no_number_offers_a_choice(backend: TestBackend) {
    let env = setup(backend).await;
    // The demo WABA now has two numbers not connected anywhere.
    let annex = unverified_number(&env, "15550004445").await;
    let code = env.code().await;
    let attempt = "attempt-choice-1";
    onboarding::submit_code(&env.engine, &env.caller, attempt, &code)
        .await
        .unwrap();
    let data = SignupData {
        event: "FINISH_ONLY_WABA".into(),
        waba_id: env.demo.waba_id.clone(),
        phone_number_id: None,
        business_id: Some(env.demo.business_id.clone()),
    };
    onboarding::submit_signup(&env.engine, &env.caller, attempt, &data)
        .await
        .unwrap();
    env.advance_onboarding().await;
    let offered = env.latest().await;
    assert_eq!(offered.waiting_for, Some(Awaiting::Number), "{offered:?}");
    let ids: Vec<&str> = offered
        .choices
        .iter()
        .map(|c| c.phone_number_id.as_str())
        .collect();
    assert!(ids.len() >= 2, "{ids:?}");
    assert!(ids.contains(&annex.as_str()));
    // Only what was offered.
    assert!(
        onboarding::choose_number(&env.engine, &env.caller, &offered.id, "999999999")
            .await
            .is_err()
    );
    let chosen = env.demo.new_phone_number_id.clone();
    onboarding::choose_number(&env.engine, &env.caller, &offered.id, &chosen)
        .await
        .unwrap();
    env.advance_onboarding().await;
    let at_pin = env.latest().await;
    assert_eq!(at_pin.phone_number_id.as_deref(), Some(chosen.as_str()));
    assert_eq!(at_pin.waiting_for, Some(Awaiting::Pin), "{at_pin:?}");
    // Chosen once: a second choice changes nothing.
    assert!(
        onboarding::choose_number(&env.engine, &env.caller, &offered.id, &annex)
            .await
            .is_err()
    );
}

async fn deregistering_counts_toward_metas_register_limit(backend: TestBackend) {
    let env = setup(backend).await;
    let phone = env.demo.new_phone_number_id.clone();
    let live = env.connect("attempt-dereg-1", &phone).await;
    assert!(live.is_live());
    numbers::disconnect(&env.engine, &env.caller, &phone, true)
        .await
        .unwrap();
    // One register, one deregister: Meta counts both.
    assert_eq!(
        onboarding::register_attempts_left(&env.engine, &phone)
            .await
            .unwrap(),
        8
    );
}
