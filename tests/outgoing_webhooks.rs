//! Outgoing webhooks against a receiver on loopback, on both backends:
//! each event once per endpoint whatever Meta's duplicates, signatures the
//! Standard Webhooks reference implementation accepts (also across a
//! secret rotation), failures logged, and manual redelivery.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::{
    endpoint::Receiver,
    live::eventually,
    meta::{connected, setup, setup_with},
};
use serde_json::{json, Value};
use standardwebhooks::Webhook;
use switchboard::{
    egress::EgressPolicy, outgoing_webhooks, store::DeliveryState, test_support::TestBackend,
};

on_both_backends!(
    each_event_reaches_the_endpoint_once_signed,
    failures_are_logged_and_redelivered_on_demand,
    after_a_rotation_both_secrets_verify,
    endpoints_must_be_https_and_belong_to_the_workspace,
    private_addresses_are_refused_when_added_and_when_delivering,
    a_disconnected_number_is_not_routed_until_connected_again,
    an_endpoint_whose_secret_cannot_be_opened_gets_nothing,
);

const CUSTOMER: &str = "15550002222";
const WAIT: Duration = Duration::from_secs(20);

fn text(body: &str) -> Value {
    json!({ "type": "text", "text": { "body": body } })
}

async fn each_event_reaches_the_endpoint_once_signed(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let receiver = Receiver::default();
    let url = receiver.start().await;
    let (endpoint, secret) = outgoing_webhooks::create(&env.engine, &env.caller, &url)
        .await
        .unwrap();
    assert!(secret.starts_with("whsec_"));
    env.set_faults(json!({ "duplicate_webhooks": 1.0 })).await;
    let running = env.run().await;
    let wamid = env.customer_writes(&phone, CUSTOMER, text("hello")).await;
    // The message, then the echo reply's sent, delivered and read.
    eventually("the message and three statuses", WAIT, || async {
        receiver.of_type("message.status").len() >= 3
    })
    .await;
    // Every duplicate processed and every delivery posted.
    env.drain().await;
    let received = receiver.of_type("message.received");
    assert_eq!(received.len(), 1, "once, though Meta delivered it twice");
    let (headers, body, event) = &received[0];
    assert_eq!(event["data"]["wamid"], wamid.as_str());
    assert_eq!(event["data"]["from"], CUSTOMER);
    assert_eq!(event["data"]["message"]["text"]["body"], "hello");
    // The contact: Switchboard's id and what Meta showed of the customer.
    let contact = env.contact(&phone, CUSTOMER).await;
    let shown = &event["data"]["contact"];
    assert_eq!(shown["id"], contact.id.as_str());
    assert_eq!(shown["phone"], CUSTOMER);
    assert_eq!(
        shown["user_id"],
        contact.bsuid.as_deref().expect("the sandbox gives a BSUID")
    );
    let reference = Webhook::new(&secret).unwrap();
    for (headers, body, _) in receiver.events() {
        reference
            .verify(&body, &headers)
            .expect("the reference implementation accepts it");
    }
    let wrong = Webhook::new(&switchboard::outgoing_webhooks::signing::new_secret()).unwrap();
    assert!(
        wrong.verify(body, headers).is_err(),
        "another secret does not verify"
    );
    let statuses: Vec<Value> = receiver
        .of_type("message.status")
        .into_iter()
        .map(|e| e.2["data"]["status"].clone())
        .collect();
    assert_eq!(statuses.len(), 3, "{statuses:?}");
    for (_, _, status) in receiver.of_type("message.status") {
        assert_eq!(
            status["data"]["contact"]["id"],
            contact.id.as_str(),
            "{status}"
        );
    }
    let log = outgoing_webhooks::deliveries(&env.engine, &env.caller)
        .await
        .unwrap();
    assert_eq!(log.len(), 4);
    assert!(log
        .iter()
        .all(|d| d.state == DeliveryState::Delivered && d.endpoint_id == endpoint.id));
    running.stop().await;
}

async fn failures_are_logged_and_redelivered_on_demand(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let receiver = Receiver::default();
    receiver
        .answers
        .lock()
        .unwrap()
        .push_back(StatusCode::INTERNAL_SERVER_ERROR);
    let url = receiver.start().await;
    outgoing_webhooks::create(&env.engine, &env.caller, &url)
        .await
        .unwrap();
    switchboard::bot::save(&env.engine, &env.caller, &Default::default())
        .await
        .unwrap(); // no bot: only the inbound message's event
    let running = env.run().await;
    env.customer_writes(&phone, CUSTOMER, text("hello")).await;
    let failed = || async {
        outgoing_webhooks::deliveries(&env.engine, &env.caller)
            .await
            .unwrap()
    };
    eventually("a failed attempt logged", WAIT, || async {
        failed().await.first().is_some_and(|d| d.attempts == 1)
    })
    .await;
    let entry = failed().await.remove(0);
    assert_eq!(
        (entry.state, entry.last_status),
        (DeliveryState::Pending, Some(500))
    );
    assert!(entry.next_attempt_at > entry.created_at, "retried later");
    outgoing_webhooks::redeliver(&env.engine, &env.caller, entry.id)
        .await
        .unwrap();
    eventually("delivered after the redelivery", WAIT, || async {
        failed().await[0].state == DeliveryState::Delivered
    })
    .await;
    assert_eq!(
        receiver.of_type("message.received").len(),
        2,
        "the failed try, then the good one"
    );
    assert!(
        outgoing_webhooks::redeliver(&env.engine, &env.caller, 999_999)
            .await
            .is_err()
    );
    running.stop().await;
}

async fn after_a_rotation_both_secrets_verify(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let receiver = Receiver::default();
    let url = receiver.start().await;
    let (endpoint, old) = outgoing_webhooks::create(&env.engine, &env.caller, &url)
        .await
        .unwrap();
    let new = outgoing_webhooks::rotate_secret(&env.engine, &env.caller, &endpoint.id)
        .await
        .unwrap();
    assert_ne!(old, new);
    let listed = outgoing_webhooks::list(&env.engine, &env.caller)
        .await
        .unwrap();
    assert!(listed[0].previous_secret_until.is_some());
    let running = env.run().await;
    env.customer_writes(&phone, CUSTOMER, text("hello")).await;
    eventually("the event", WAIT, || async {
        !receiver.of_type("message.received").is_empty()
    })
    .await;
    let (headers, body, _) = receiver.of_type("message.received").remove(0);
    assert_eq!(
        headers["webhook-signature"]
            .to_str()
            .unwrap()
            .split(' ')
            .count(),
        2
    );
    Webhook::new(&new)
        .unwrap()
        .verify(&body, &headers)
        .expect("the new secret verifies");
    Webhook::new(&old)
        .unwrap()
        .verify(&body, &headers)
        .expect("the old one too, during the grace");
    running.stop().await;
}

async fn endpoints_must_be_https_and_belong_to_the_workspace(backend: TestBackend) {
    let env = setup(backend).await;
    for bad in [
        "http://example.com/hook",
        "ftp://example.com",
        "not a url",
        "https://user:pw@example.com/",
    ] {
        assert!(
            outgoing_webhooks::create(&env.engine, &env.caller, bad)
                .await
                .is_err(),
            "{bad}"
        );
    }
    let (endpoint, _) =
        outgoing_webhooks::create(&env.engine, &env.caller, "https://example.com/hook")
            .await
            .unwrap();
    assert!(
        outgoing_webhooks::rotate_secret(&env.engine, &env.caller, "ep_other")
            .await
            .is_err()
    );
    assert!(
        outgoing_webhooks::delete(&env.engine, &env.caller, "ep_other")
            .await
            .is_err()
    );
    let mut agent = env.caller.clone();
    agent.role = switchboard::accounts::Role::Agent;
    assert!(
        outgoing_webhooks::list(&env.engine, &agent).await.is_err(),
        "admins only"
    );
    assert!(outgoing_webhooks::delete(&env.engine, &agent, &endpoint.id)
        .await
        .is_err());
    outgoing_webhooks::delete(&env.engine, &env.caller, &endpoint.id)
        .await
        .unwrap();
    assert!(outgoing_webhooks::list(&env.engine, &env.caller)
        .await
        .unwrap()
        .is_empty());
    let log = env
        .engine
        .store
        .audit_entries(&env.caller.workspace.id, 50)
        .await
        .unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert!(
        actions.contains(&"endpoint.created") && actions.contains(&"endpoint.deleted"),
        "{actions:?}"
    );
}

async fn private_addresses_are_refused_when_added_and_when_delivering(backend: TestBackend) {
    // The operator allows one inside network, which is not loopback.
    let env = setup_with(backend, |config| {
        config.outgoing_webhook_allow = EgressPolicy::parse("10.0.0.0/8").unwrap();
    })
    .await;
    let phone = env.demo.phone_number_id.clone();
    let progress = env.connect("attempt-0001", &phone).await;
    assert_eq!(progress.state, switchboard::onboarding::RunState::Done);
    let refused = |url: &'static str| {
        let env = &env;
        async move {
            match outgoing_webhooks::create(&env.engine, &env.caller, url).await {
                Err(switchboard::Error::Invalid { message, .. }) => message,
                other => panic!("{url} was not refused: {other:?}"),
            }
        }
    };
    for inside in [
        "https://127.0.0.1/hook",
        "https://192.168.1.20/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://100.64.1.1/hook",
        "https://[::1]/hook",
        "https://[fd00:ec2::254]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://2130706433/hook",
    ] {
        assert!(
            refused(inside).await.contains("private network"),
            "{inside}"
        );
    }
    assert!(refused("http://203.0.113.9/hook")
        .await
        .contains("https://"));
    // The allowed network is allowed, over plain HTTP too (removed at
    // once: no test connects anywhere but loopback).
    let (allowed, _) = outgoing_webhooks::create(&env.engine, &env.caller, "http://10.1.2.3/hook")
        .await
        .expect("on the allow-list");
    outgoing_webhooks::delete(&env.engine, &env.caller, &allowed.id)
        .await
        .unwrap();

    // A name is checked when the delivery connects: `localhost` resolves to
    // loopback, so the receiver behind it never hears from us.
    let receiver = Receiver::default();
    let url = receiver.start().await;
    let port = url::Url::parse(&url).unwrap().port().unwrap();
    let by_name = format!("https://localhost:{port}/hook");
    let (endpoint, _) = outgoing_webhooks::create(&env.engine, &env.caller, &by_name)
        .await
        .expect("a public-looking name is accepted until it resolves");
    switchboard::bot::save(&env.engine, &env.caller, &Default::default())
        .await
        .unwrap();
    let running = env.run().await;
    env.customer_writes(&phone, CUSTOMER, text("hello")).await;
    let deliveries = || async {
        outgoing_webhooks::deliveries(&env.engine, &env.caller)
            .await
            .unwrap()
            .into_iter()
            .filter(|d| d.endpoint_id == endpoint.id)
            .collect::<Vec<_>>()
    };
    eventually("the refusal logged", WAIT, || async {
        deliveries().await.first().is_some_and(|d| d.attempts == 1)
    })
    .await;
    let entry = deliveries().await.remove(0);
    assert_eq!(entry.state, DeliveryState::Failed, "not retried");
    assert_eq!(
        entry.last_error.as_deref(),
        Some("refused: private address")
    );
    assert_eq!(entry.last_status, None);
    env.drain().await;
    assert!(receiver.of_type("message.received").is_empty());
    running.stop().await;
}

async fn a_disconnected_number_is_not_routed_until_connected_again(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let receiver = Receiver::default();
    let url = receiver.start().await;
    outgoing_webhooks::create(&env.engine, &env.caller, &url)
        .await
        .unwrap();
    let running = env.run().await;
    // A conversation before: the customer's window is open at Meta.
    env.customer_writes(&phone, CUSTOMER, text("hello")).await;
    eventually("the first answer", WAIT, || async {
        env.received(&phone, CUSTOMER).await.len() == 1
    })
    .await;
    env.drain().await;
    let stored = env
        .engine
        .store
        .count_messages(&env.caller.workspace.id)
        .await
        .unwrap();
    let told = receiver.events().len();
    switchboard::numbers::disconnect(&env.engine, &env.caller, &phone, false)
        .await
        .unwrap();
    // Meta may still deliver the number's events (retries, another app's
    // subscription): one arrives, as it would after the signature check.
    let wamid = "wamid.after-disconnect";
    let body = json!({ "object": "whatsapp_business_account", "entry": [{ "id": env.demo.waba_id, "changes": [{ "field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "15550783881", "phone_number_id": phone },
        "contacts": [{ "profile": { "name": "Ana" }, "wa_id": CUSTOMER }],
        "messages": [{ "from": CUSTOMER, "id": wamid, "timestamp": (switchboard::store::now_millis() / 1000).to_string(), "type": "text", "text": { "body": "anyone there?" } }],
    }}]}]});
    env.engine
        .store
        .append_webhook_events(&[switchboard::store::NewWebhookEvent {
            received_at: switchboard::store::now_millis(),
            signature: "sha256=checked-at-the-door".into(),
            body: body.to_string().into_bytes(),
        }])
        .await
        .unwrap();
    env.engine.wake.journal.notify_one();
    env.drain().await;
    let waiting = env.engine.store.unrouted_changes(10).await.unwrap();
    assert!(
        waiting
            .iter()
            .any(|u| u.phone_number_id.as_deref() == Some(phone.as_str())),
        "{waiting:?}"
    );
    assert_eq!(
        env.engine
            .store
            .count_messages(&env.caller.workspace.id)
            .await
            .unwrap(),
        stored,
        "not stored in the disconnected number's conversations"
    );
    assert_eq!(receiver.events().len(), told, "no outgoing webhook fired");
    assert_eq!(
        env.received(&phone, CUSTOMER).await.len(),
        1,
        "no bot reply"
    );

    // Connected again: the waiting event is processed, answered, told.
    let progress = env.connect("attempt-0002", &phone).await;
    assert_eq!(progress.state, switchboard::onboarding::RunState::Done);
    eventually("the bot answers the waiting message", WAIT, || async {
        env.received(&phone, CUSTOMER).await.len() == 2
    })
    .await;
    env.drain().await;
    assert_eq!(receiver.of_type("message.received").len(), 2);
    running.stop().await;
}

async fn an_endpoint_whose_secret_cannot_be_opened_gets_nothing(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let receiver = Receiver::default();
    let url = receiver.start().await;
    let (endpoint, _) = outgoing_webhooks::create(&env.engine, &env.caller, &url)
        .await
        .unwrap();
    // The key that sealed the secret leaves the ring.
    let forget = "UPDATE webhook_endpoints SET secret_key_id = 'retired' WHERE id = $1";
    match &env.engine.store {
        switchboard::store::Store::Sqlite(s) => {
            sqlx::query(forget)
                .bind(&endpoint.id)
                .execute(s.pool())
                .await
                .unwrap();
        }
        switchboard::store::Store::Postgres(s) => {
            sqlx::query(forget)
                .bind(&endpoint.id)
                .execute(s.pool())
                .await
                .unwrap();
        }
    }
    switchboard::bot::save(&env.engine, &env.caller, &Default::default())
        .await
        .unwrap();
    let running = env.run().await;
    env.customer_writes(&phone, CUSTOMER, text("hello")).await;
    let logged = || async {
        outgoing_webhooks::deliveries(&env.engine, &env.caller)
            .await
            .unwrap()
    };
    eventually("the unsigned attempt logged", WAIT, || async {
        logged().await.first().is_some_and(|d| d.attempts == 1)
    })
    .await;
    let entry = logged().await.remove(0);
    assert_eq!(
        entry.state,
        DeliveryState::Pending,
        "retried, in case the key comes back"
    );
    assert!(
        entry
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("signing secret cannot be opened"),
        "{entry:?}"
    );
    env.drain().await;
    assert!(receiver.events().is_empty(), "nothing unsigned was sent");
    running.stop().await;
}
