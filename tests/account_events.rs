//! What Meta says about an account as a whole (reference meta-2026 §3),
//! on both backends, with every webhook delivered twice: restrictions gate
//! exactly the sends they name until they end, a disabled account holds
//! every message until Meta reinstates it, notices are kept and audited
//! once, and the health probe reads what the webhooks leave out.

mod common;

use common::meta::{connected, Env};
use serde_json::json;
use switchboard::{
    health::{
        doctor::{self, Fix, Light},
        probe,
    },
    numbers::NumberStatus,
    outbox::{Content, OutboundMessage},
    store::OutboxState,
    test_support::TestBackend,
};

on_both_backends!(
    a_restriction_gates_templates_until_meta_lifts_it,
    a_restriction_on_replies_holds_the_bot_until_it_ends,
    a_disabled_account_holds_every_message_until_reinstated,
    notices_are_kept_and_audited_once,
    a_quality_update_reads_the_number_from_meta,
    a_refused_kind_waits_and_a_refused_permission_asks_to_reconnect,
    the_doctor_registers_again_a_number_that_fell_off,
);

const DAY_SECS: i64 = 86_400;

fn template_to(phone: &str, customer: &str) -> OutboundMessage {
    OutboundMessage {
        phone_number_id: phone.to_string(),
        recipient: customer.to_string(),
        content: Content::Template {
            name: "hello_world".into(),
            language: "en_US".into(),
            components: vec![],
        },
        context_wamid: None,
    }
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

/// How many of the number's outbox messages are in `state`.
async fn in_state(env: &Env, phone: &str, state: OutboxState) -> i64 {
    env.engine.store.outbox_count(phone, state).await.unwrap()
}

async fn count(env: &Env, action: &str) -> usize {
    env.audit_actions()
        .await
        .into_iter()
        .filter(|a| a == action)
        .count()
}

async fn restrict(env: &Env, restriction_type: &str, for_seconds: i64) {
    let waba = env.demo.waba_id.clone();
    env.control(
        &format!("/_sandbox/wabas/{waba}/restrictions"),
        json!({ "restriction_type": restriction_type, "for_seconds": for_seconds,
                "remediation": "Review Meta's policies" }),
    )
    .await;
}

async fn probe_now(env: &Env, phone: &str) -> probe::Probed {
    let number = env.number(phone).await.expect("number");
    probe::probe(&env.engine, &number).await.expect("probe")
}

async fn a_restriction_gates_templates_until_meta_lifts_it(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    env.set_faults(json!({ "duplicate_webhooks": 1.0 })).await;
    let running = env.run().await;
    switchboard::templates::sync::sync_waba(&env.engine, &env.demo.waba_id)
        .await
        .unwrap();
    let customer = "16505550101";
    env.customer_writes(
        &phone,
        customer,
        json!({ "type": "text", "text": { "body": "hi" } }),
    )
    .await;
    env.drain().await;
    // An integration's template, queued under its Idempotency-Key before
    // the restriction...
    let keyed = template_to(&phone, "16505550109");
    let queue_keyed = || {
        switchboard::outbox::queue(
            &env.engine,
            &env.caller.workspace.id,
            None,
            &keyed,
            switchboard::outbox::Origin::Api,
            Some("api:order-7"),
        )
    };
    let (first, new) = queue_keyed().await.expect("queued");
    assert!(new);
    env.drain().await;
    restrict(&env, "RESTRICTED_BIZ_INITIATED_MESSAGING", DAY_SECS).await;
    env.drain().await;
    assert_eq!(count(&env, "waba.restricted").await, 1, "audited once");
    // ...is answered as before when the integration retries it.
    assert_eq!(queue_keyed().await.expect("a retry"), (first, false));

    // A template is refused with the reason and the end; a reply goes.
    let refused = env
        .agent_send(&template_to(&phone, customer))
        .await
        .expect_err("a template is business-initiated");
    let reason = refused.to_string();
    assert!(
        reason.contains("RESTRICTED_BIZ_INITIATED_MESSAGING") && reason.contains("until"),
        "{reason}"
    );
    env.agent_send(&text_to(&phone, customer, "a reply still goes"))
        .await
        .expect("a reply inside the window");
    env.drain().await;
    let received: Vec<String> = env
        .received(&phone, customer)
        .await
        .iter()
        .map(|m| m.to_string())
        .collect();
    assert!(
        received.iter().any(|m| m.contains("a reply still goes")),
        "{received:?}"
    );

    // Meta's clock passes the end: its health status reads AVAILABLE and
    // the probe lifts the restriction; templates go again.
    env.control(
        "/_sandbox/clock/advance",
        json!({ "seconds": DAY_SECS + 60 }),
    )
    .await;
    let probed = probe_now(&env, &phone).await;
    assert_eq!(probed.lifted, ["RESTRICTED_BIZ_INITIATED_MESSAGING"]);
    assert_eq!(count(&env, "waba.restriction_lifted").await, 1);
    env.agent_send(&template_to(&phone, customer))
        .await
        .expect("templates go again");
    env.drain().await;
    assert_eq!(in_state(&env, &phone, OutboxState::Failed).await, 0);
    running.stop().await;
}

async fn a_restriction_on_replies_holds_the_bot_until_it_ends(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let running = env.run().await;
    restrict(&env, "RESTRICTED_CUSTOMER_INITIATED_MESSAGING", 3600).await;
    env.drain().await;
    // The echo bot's reply is queued in the pipeline and waits there.
    let customer = "16505550102";
    env.customer_writes(
        &phone,
        customer,
        json!({ "type": "text", "text": { "body": "hello" } }),
    )
    .await;
    env.drain().await;
    assert!(
        env.received(&phone, customer)
            .await
            .iter()
            .all(|m| m["message"]["type"] != "text"),
        "no reply went: {:?}",
        env.received(&phone, customer).await
    );
    let waiting = in_state(&env, &phone, OutboxState::Queued).await;
    assert!(waiting >= 1, "the reply waits");
    assert_eq!(in_state(&env, &phone, OutboxState::Failed).await, 0);
    let contact = env.contact(&phone, customer).await;
    let thread = switchboard::conversations::thread(
        &env.engine.store,
        &env.caller,
        &phone,
        contact.id.as_str(),
        None,
    )
    .await
    .unwrap();
    let held = thread
        .lines
        .iter()
        .find(|l| l.status.as_deref() == Some("queued") && l.kind == "text")
        .expect("the held reply shows in the thread");
    assert!(
        held.error
            .as_deref()
            .is_some_and(|t| t.contains("RESTRICTED_CUSTOMER_INITIATED_MESSAGING")),
        "{held:?}"
    );
    // A template is not a reply: it goes, to the same customer too (the
    // held reply does not hold it).
    env.agent_send(&template_to(&phone, customer))
        .await
        .expect("a template goes");
    env.drain().await;
    assert!(
        env.received(&phone, customer)
            .await
            .iter()
            .any(|m| m["message"]["type"] == "template"),
        "{:?}",
        env.received(&phone, customer).await
    );

    // The restriction ends at Meta: the held reply goes, once.
    env.control("/_sandbox/clock/advance", json!({ "seconds": 3660 }))
        .await;
    let probed = probe_now(&env, &phone).await;
    assert_eq!(probed.lifted.len(), 1);
    env.drain().await;
    let replies: Vec<_> = env
        .received(&phone, customer)
        .await
        .into_iter()
        .filter(|m| m["message"]["type"] == "text")
        .collect();
    assert_eq!(replies.len(), 1, "{replies:?}");
    running.stop().await;
}

async fn a_disabled_account_holds_every_message_until_reinstated(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    env.set_faults(json!({ "duplicate_webhooks": 1.0 })).await;
    let running = env.run().await;
    switchboard::templates::sync::sync_waba(&env.engine, &env.demo.waba_id)
        .await
        .unwrap();
    let waba = env.demo.waba_id.clone();
    env.control(
        &format!("/_sandbox/wabas/{waba}/ban"),
        json!({ "state": "DISABLE", "date": "December 6, 2026" }),
    )
    .await;
    env.drain().await;
    assert_eq!(env.status_of(&phone).await, NumberStatus::DisabledByMeta);
    let reason = env.number(&phone).await.unwrap().status_reason.unwrap();
    assert!(reason.contains("December 6, 2026"), "{reason}");
    // Queued meanwhile: they wait, none fails.
    for i in 0..3 {
        env.agent_send(&template_to(&phone, &format!("1650444{i:04}")))
            .await
            .expect("queued while disabled");
    }
    env.drain().await;
    assert_eq!(in_state(&env, &phone, OutboxState::Queued).await, 3);
    assert_eq!(in_state(&env, &phone, OutboxState::Sent).await, 0);
    // Reinstated: every held message goes, once each.
    env.control(
        &format!("/_sandbox/wabas/{waba}/ban"),
        json!({ "state": "REINSTATE" }),
    )
    .await;
    env.drain().await;
    assert_eq!(env.status_of(&phone).await, NumberStatus::Live);
    assert_eq!(in_state(&env, &phone, OutboxState::Sent).await, 3);
    for i in 0..3 {
        assert_eq!(
            env.received(&phone, &format!("1650444{i:04}")).await.len(),
            1
        );
    }
    assert_eq!(
        count(&env, "waba.ban_state").await,
        2,
        "disable and reinstate, once each"
    );
    running.stop().await;
}

async fn notices_are_kept_and_audited_once(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    env.set_faults(json!({ "duplicate_webhooks": 1.0 })).await;
    let running = env.run().await;
    let waba = env.demo.waba_id.clone();
    let update = |body| {
        let path = format!("/_sandbox/wabas/{waba}/account-update");
        let env = &env;
        async move { env.control(&path, body).await }
    };
    update(
        json!({ "event": "ACCOUNT_VIOLATION", "violation_type": "SCAM",
        "remediation": "Appeal in Business Support Home" }),
    )
    .await;
    update(json!({ "event": "PARTNER_ADDED" })).await;
    update(
        json!({ "event": "VOLUME_BASED_PRICING_TIER_UPDATE", "pricing_category": "UTILITY",
        "tier": "25000001:50000000", "effective_month": "2026-12" }),
    )
    .await;
    env.control(
        &format!("/_sandbox/wabas/{waba}/capability"),
        json!({ "max_daily_conversations_per_business": 10000, "max_phone_numbers_per_business": 25 }),
    )
    .await;
    env.control(
        &format!("/_sandbox/phones/{phone}/name-review"),
        json!({ "decision": "APPROVED", "requested_verified_name": "Acme Bakery & Cafe" }),
    )
    .await;
    env.drain().await;

    let store = &env.engine.store;
    let notices = store.waba_notices(&waba).await.unwrap().expect("notices");
    assert_eq!(notices.violation_type.as_deref(), Some("SCAM"));
    assert_eq!(
        notices.violation_remediation.as_deref(),
        Some("Appeal in Business Support Home")
    );
    assert_eq!(notices.granted_event.as_deref(), Some("PARTNER_ADDED"));
    assert_eq!(notices.messaging_limit.as_deref(), Some("TIER_10K"));
    assert_eq!(notices.max_phone_numbers, Some(25));
    let tiers = store.pricing_tiers(&waba).await.unwrap();
    assert_eq!(tiers.len(), 1);
    assert_eq!(
        (tiers[0].pricing_category.as_str(), tiers[0].tier.as_str()),
        ("UTILITY", "25000001:50000000")
    );
    let number = env.number(&phone).await.unwrap();
    assert_eq!(number.verified_name.as_deref(), Some("Acme Bakery & Cafe"));
    let health = store.number_health(&phone).await.unwrap().unwrap();
    assert_eq!(health.name_decision.as_deref(), Some("APPROVED"));
    for action in [
        "waba.violation",
        "waba.access_confirmed",
        "waba.pricing_tier",
        "waba.limits",
        "number.name_review",
    ] {
        assert_eq!(count(&env, action).await, 1, "{action}");
    }
    // The Health page shows them.
    let report = switchboard::health::doctor::examine(&env.engine, &env.caller, &phone)
        .await
        .unwrap();
    let policy = report
        .checks
        .iter()
        .find(|c| c.name == "Policy")
        .expect("the violation is shown");
    assert!(policy.says.contains("SCAM"), "{policy:?}");
    running.stop().await;
}

async fn a_quality_update_reads_the_number_from_meta(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let running = env.run().await;
    // Meta's quality moves without a webhook saying what it is now...
    env.control(
        &format!("/_sandbox/phones/{phone}"),
        json!({ "quality_rating": "YELLOW" }),
    )
    .await;
    // ...then a quality update comes (here, the throughput upgrade's).
    env.control(
        &format!("/_sandbox/phones/{phone}/throughput-upgrade"),
        json!({ "takes_ms": 10 }),
    )
    .await;
    env.drain().await;
    let due = env
        .engine
        .store
        .number_health(&phone)
        .await
        .unwrap()
        .unwrap();
    assert!(due.due_at.is_some(), "the webhook asks for a probe");
    assert_eq!(probe::probe_due(&env.engine).await.unwrap(), 1);
    let number = env.number(&phone).await.unwrap();
    assert_eq!(number.quality_rating.as_deref(), Some("YELLOW"));
    let health = env
        .engine
        .store
        .number_health(&phone)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(health.can_send.as_deref(), Some("AVAILABLE"));
    assert!(health.due_at.is_none());
    assert_eq!(
        probe::probe_due(&env.engine).await.unwrap(),
        0,
        "not due again"
    );
    running.stop().await;
}

async fn a_refused_kind_waits_and_a_refused_permission_asks_to_reconnect(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    // Meta refuses marketing for the account: 131063 on a send.
    env.set_faults(json!({ "graph": [{
        "path_contains": "/messages", "method": "POST", "times": 1,
        "effect": { "kind": "meta_error", "status": 400, "code": 131063,
                    "title": "Marketing messages are turned off for this account" } }] }))
        .await;
    let running = env.run().await;
    env.queue_templates(&phone, "1650555", 1).await;
    env.drain().await;
    let store = &env.engine.store;
    let held = store
        .active_restrictions(&env.demo.waba_id, switchboard::store::now_millis())
        .await
        .unwrap();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0].restriction_type, "MARKETING_MESSAGES_REFUSED");
    assert_eq!(
        env.status_of(&phone).await,
        NumberStatus::Live,
        "not paused"
    );
    assert_eq!(in_state(&env, &phone, OutboxState::Failed).await, 0);
    // hello_world is a utility template: with Meta's refusal understood,
    // it went at its next look.
    assert_eq!(env.received(&phone, "16505550000").await.len(), 1);
    // Meta's health status does not show this one: a probe leaves it (it
    // ends by its time, renewed by each refusal).
    let probed = probe_now(&env, &phone).await;
    assert!(probed.lifted.is_empty(), "{probed:?}");
    assert_eq!(
        store
            .active_restrictions(&env.demo.waba_id, switchboard::store::now_millis())
            .await
            .unwrap()
            .len(),
        1
    );

    // A permission Meta says the app lacks: reconnect, nothing lost.
    env.set_faults(json!({ "graph": [{
        "path_contains": "/messages", "method": "POST",
        "effect": { "kind": "meta_error", "status": 403, "code": 200,
                    "title": "Permissions error" } }] }))
        .await;
    env.queue_templates(&phone, "1650666", 1).await;
    env.drain().await;
    assert_eq!(env.status_of(&phone).await, NumberStatus::ReconnectNeeded);
    assert_eq!(in_state(&env, &phone, OutboxState::Queued).await, 1);
    running.stop().await;
}

async fn the_doctor_registers_again_a_number_that_fell_off(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let running = env.run().await;
    // Someone deregistered the number in Meta's tools.
    let token = env.token_of(&phone).await;
    env.graph(
        reqwest::Method::POST,
        &format!("{phone}/deregister"),
        &token,
        Some(json!({})),
    )
    .await;
    let check = |report: &doctor::Report, name: &str| {
        report
            .checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no {name} check: {report:?}"))
            .clone()
    };
    let report = doctor::examine(&env.engine, &env.caller, &phone)
        .await
        .unwrap();
    let registration = check(&report, "Registration");
    assert_eq!(registration.light, Light::Red, "{registration:?}");
    assert_eq!(registration.fix, Some(Fix::Register));
    assert_eq!(check(&report, "Access token").light, Light::Green);
    assert_eq!(check(&report, "Webhook subscription").light, Light::Green);
    let version = check(&report, "Graph API version");
    assert_eq!(version.light, Light::Green, "{version:?}");
    assert!(version.says.contains("2028-07-29"), "{version:?}");

    let wrong = doctor::fix(
        &env.engine,
        &env.caller,
        &phone,
        Fix::Register,
        Some("111111"),
    )
    .await
    .expect_err("a wrong PIN");
    let said = wrong.to_string();
    assert!(
        said.contains("not the number's two-step verification PIN")
            && said.contains("attempts left"),
        "{said}"
    );
    let malformed = doctor::fix(&env.engine, &env.caller, &phone, Fix::Register, Some("12"))
        .await
        .expect_err("not a PIN");
    assert!(malformed.to_string().contains("6 digits"), "{malformed}");
    doctor::fix(
        &env.engine,
        &env.caller,
        &phone,
        Fix::Register,
        Some("246810"),
    )
    .await
    .expect("the right PIN");
    let report = doctor::examine(&env.engine, &env.caller, &phone)
        .await
        .unwrap();
    assert_eq!(check(&report, "Registration").light, Light::Green);
    assert_eq!(
        count(&env, "number.health_fix").await,
        1,
        "the fix that worked"
    );
    running.stop().await;
}
