//! Customers known by BSUID against the sandbox (Meta as it behaves since
//! 2026), on both backends: a username customer whose phone Meta withholds
//! is answered by the echo bot, the rules bot and an agent, each by
//! `recipient`; asking for the phone makes later sends go by phone; a
//! number change keeps one conversation; authentication templates are
//! refused before Meta for a customer with no known phone, and Meta's own
//! 131062 fails the message with its reason.

mod common;

use std::time::Duration;

use common::{
    live::eventually,
    meta::{connected, Env},
};
use reqwest::Method;
use serde_json::{json, Value};
use switchboard::{
    bot::{self, rules::Reply, BotKind, BotSettings},
    outbox::{Content, Origin, OutboundMessage},
    store::OutboxState,
    templates,
    test_support::TestBackend,
    Error,
};

on_both_backends!(
    a_username_customer_is_answered_by_bsuid_until_they_share_their_phone,
    the_rules_bot_asks_a_username_customer_for_their_phone,
    a_number_change_keeps_one_conversation,
    authentication_templates_need_the_phone,
);

const WAIT: Duration = Duration::from_secs(20);

/// The customer's BSUID as the number sees it, and whether Meta shows
/// their phone to it.
async fn seen_by(env: &Env, phone: &str, wa_id: &str) -> (String, bool) {
    let user = env
        .control_call(
            Method::GET,
            &format!("/_sandbox/users/{wa_id}?phone_number_id={phone}"),
            None,
        )
        .await;
    (
        user["user_id"].as_str().expect("a BSUID").to_string(),
        user.get("wa_id").is_some_and(|w| !w.is_null()),
    )
}

/// A user who picked a username and never talked to the number: Meta
/// withholds their phone from it.
async fn username_customer(env: &Env, phone: &str, wa_id: &str, username: &str) -> String {
    env.control_call(
        Method::PUT,
        &format!("/_sandbox/users/{wa_id}"),
        Some(json!({ "username": username })),
    )
    .await;
    let (bsuid, phone_shown) = seen_by(env, phone, wa_id).await;
    assert!(!phone_shown, "the sandbox withholds the phone");
    bsuid
}

/// The business's messages the customer's phone shows, as sent to Meta.
async fn sent_bodies(env: &Env, phone: &str, wa_id: &str) -> Vec<Value> {
    env.received(phone, wa_id)
        .await
        .into_iter()
        .map(|line| line["message"].clone())
        .collect()
}

async fn received_count_reaches(env: &Env, phone: &str, wa_id: &str, count: usize) -> Vec<Value> {
    eventually(&format!("{count} messages received"), WAIT, || async {
        env.received(phone, wa_id).await.len() >= count
    })
    .await;
    sent_bodies(env, phone, wa_id).await
}

fn text_to(phone: &str, customer: &str, body: &str) -> OutboundMessage {
    OutboundMessage {
        phone_number_id: phone.to_string(),
        recipient: customer.to_string(),
        content: Content::text(body),
        context_wamid: None,
    }
}

async fn a_username_customer_is_answered_by_bsuid_until_they_share_their_phone(
    backend: TestBackend,
) {
    let (env, phone) = connected(backend).await;
    let running = env.run().await;
    let wa_id = "15557770001";
    let bsuid = username_customer(&env, &phone, wa_id, "@sheena.n").await;
    env.customer_writes(
        &phone,
        wa_id,
        json!({ "type": "text", "text": { "body": "hi" }, "name": "Sheena" }),
    )
    .await;

    // The echo bot's answer goes by BSUID: no phone is known.
    let sent = received_count_reaches(&env, &phone, wa_id, 1).await;
    assert_eq!(sent[0]["recipient"], bsuid.as_str(), "{}", sent[0]);
    assert!(sent[0].get("to").is_none(), "never both: {}", sent[0]);
    let contact = env.contact(&phone, &bsuid).await;
    assert_eq!(contact.username.as_deref(), Some("@sheena.n"));
    assert_eq!(contact.phone, None);
    assert_eq!(contact.best_name(), "Sheena");

    // An agent answers from the thread (which names the contact by id).
    env.agent_send(&text_to(&phone, contact.id.as_str(), "An agent here"))
        .await
        .unwrap();
    // And asks for the phone.
    env.agent_send(&OutboundMessage {
        content: Content::RequestContactInfo {
            body: "May we have your number?".into(),
        },
        ..text_to(&phone, contact.id.as_str(), "")
    })
    .await
    .unwrap();
    // And the workspace's own code, through the integration API's path,
    // naming the customer by BSUID.
    switchboard::outbox::queue(
        &env.engine,
        &env.caller.workspace.id,
        None,
        &text_to(&phone, &bsuid, "Your order is ready"),
        Origin::Api,
        Some("api:order-7"),
    )
    .await
    .unwrap();
    let sent = received_count_reaches(&env, &phone, wa_id, 4).await;
    for body in &sent[1..] {
        assert_eq!(body["recipient"], bsuid.as_str(), "{body}");
        assert!(body.get("to").is_none(), "{body}");
    }
    assert_eq!(sent[2]["interactive"]["type"], "request_contact_info");
    assert_eq!(sent[3]["text"]["body"], "Your order is ready");

    // The customer taps "share": the phone joins the contact...
    env.control(
        &format!("/_sandbox/customers/{wa_id}/share-phone"),
        json!({ "phone_number_id": phone }),
    )
    .await;
    eventually("the shared phone on the contact", WAIT, || async {
        env.contact(&phone, &bsuid).await.phone.as_deref() == Some(wa_id)
    })
    .await;
    let thread = switchboard::conversations::thread(
        &env.engine.store,
        &env.caller,
        &phone,
        contact.id.as_str(),
        None,
    )
    .await
    .unwrap();
    assert!(
        thread.lines.iter().any(|l| l.kind == "contacts"),
        "the shared card shows in the thread"
    );
    assert_eq!(thread.contact.id, contact.id, "still one conversation");
    // ...and the next reply goes by phone.
    env.agent_send(&text_to(&phone, contact.id.as_str(), "Thanks!"))
        .await
        .unwrap();
    let sent = received_count_reaches(&env, &phone, wa_id, 5).await;
    assert_eq!(sent[4]["to"], wa_id, "{}", sent[4]);
    assert!(sent[4].get("recipient").is_none());
    let list = switchboard::conversations::list(&env.engine.store, &env.caller, None)
        .await
        .unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    running.stop().await;
}

async fn the_rules_bot_asks_a_username_customer_for_their_phone(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let mut settings: BotSettings = bot::settings(&env.engine, &env.caller).await.unwrap();
    settings.kind = BotKind::Rules;
    settings.rules.default_reply = Some(Reply::RequestPhone {
        text: "Share your number and we will call you back.".into(),
    });
    bot::save(&env.engine, &env.caller, &settings)
        .await
        .unwrap();
    let running = env.run().await;
    let wa_id = "15557770002";
    let bsuid = username_customer(&env, &phone, wa_id, "@ravi").await;
    env.customer_writes(
        &phone,
        wa_id,
        json!({ "type": "text", "text": { "body": "call me" } }),
    )
    .await;
    let sent = received_count_reaches(&env, &phone, wa_id, 1).await;
    assert_eq!(sent[0]["recipient"], bsuid.as_str());
    assert_eq!(sent[0]["interactive"]["type"], "request_contact_info");
    assert_eq!(
        sent[0]["interactive"]["body"]["text"],
        "Share your number and we will call you back."
    );
    running.stop().await;
}

async fn a_number_change_keeps_one_conversation(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let running = env.run().await;
    let (old, new) = ("15557770003", "15557770099");
    env.customer_writes(
        &phone,
        old,
        json!({ "type": "text", "text": { "body": "before" } }),
    )
    .await;
    received_count_reaches(&env, &phone, old, 1).await;
    let before = env.contact(&phone, old).await;
    env.control(
        &format!("/_sandbox/users/{old}/change-number"),
        json!({ "new_wa_id": new }),
    )
    .await;
    env.customer_writes(
        &phone,
        new,
        json!({ "type": "text", "text": { "body": "after" } }),
    )
    .await;
    // The chat moved with the user; the echo bot answers the new phone.
    let sent = received_count_reaches(&env, &phone, new, 2).await;
    assert_eq!(sent[0]["to"], old);
    assert_eq!(sent[1]["to"], new);
    env.drain().await;
    let after = env.contact(&phone, new).await;
    assert_eq!(after.id, before.id, "one contact");
    assert_eq!(after.phone.as_deref(), Some(new));
    let (new_bsuid, _) = seen_by(&env, &phone, new).await;
    assert_eq!(after.bsuid.as_deref(), Some(new_bsuid.as_str()));
    assert_eq!(
        env.contact(&phone, old).await.id,
        before.id,
        "the old phone is an alias"
    );
    let list = switchboard::conversations::list(&env.engine.store, &env.caller, None)
        .await
        .unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert!(
        list[0].messages >= 4,
        "both messages, both replies and the system message"
    );
    running.stop().await;
}

async fn authentication_templates_need_the_phone(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let running = env.run().await;
    let token = env.token_of(&phone).await;
    let created = env
        .graph(
            Method::POST,
            &format!("{}/message_templates", env.demo.waba_id),
            &token,
            Some(json!({ "name": "login_code", "language": "en_US", "category": "AUTHENTICATION",
                "components": [{ "type": "BODY", "text": "Your code is {{1}}.", "example": { "body_text": [["123456"]] } }] })),
        )
        .await;
    assert!(created["id"].is_string(), "{created}");
    eventually("the template approved", WAIT, || async {
        templates::list(&env.engine, &env.caller)
            .await
            .unwrap()
            .iter()
            .any(|t| t.name == "login_code" && t.status == "APPROVED")
    })
    .await;
    let wa_id = "15557770004";
    let bsuid = username_customer(&env, &phone, wa_id, "@kim").await;
    env.customer_writes(
        &phone,
        wa_id,
        json!({ "type": "text", "text": { "body": "my code?" } }),
    )
    .await;
    received_count_reaches(&env, &phone, wa_id, 1).await; // the echo
    let code = OutboundMessage {
        content: switchboard::outbox::template_content(
            "login_code",
            "en_US",
            &[],
            &["482913".into()],
        ),
        ..text_to(&phone, &bsuid, "")
    };
    let refused = env.agent_send(&code).await;
    assert!(
        matches!(&refused, Err(Error::Invalid { message, .. }) if message.contains("phone")),
        "{refused:?}"
    );
    // Had Switchboard thought otherwise (the stored category out of date),
    // Meta's 131062 fails the message with its reason.
    let mut stored = env
        .engine
        .store
        .template(&env.demo.waba_id, "login_code", "en_US")
        .await
        .unwrap()
        .unwrap();
    stored.category = "UTILITY".into();
    env.engine.store.upsert_template(&stored).await.unwrap();
    let (id, _) = env.agent_send(&code).await.unwrap();
    eventually("Meta's refusal recorded", WAIT, || async {
        env.engine
            .store
            .outbox_entry(&env.caller.workspace.id, id)
            .await
            .unwrap()
            .is_some_and(|e| e.state == OutboxState::Failed)
    })
    .await;
    env.drain().await;
    let thread =
        switchboard::conversations::thread(&env.engine.store, &env.caller, &phone, &bsuid, None)
            .await
            .unwrap();
    let failed = thread
        .lines
        .iter()
        .find(|l| l.status.as_deref() == Some("failed"))
        .expect("the failed line");
    assert_eq!(failed.error_code, Some(131062));
    assert_eq!(
        sent_bodies(&env, &phone, wa_id).await.len(),
        1,
        "nothing reached the customer"
    );
    running.stop().await;
}
