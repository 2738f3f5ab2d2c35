//! The bot and the outbox against the sandbox, on both backends: one reply
//! per new message whatever the duplicates, throttling backed off, a dead
//! token pausing the number until it is reconnected, Meta's refusals
//! sorted, every message type accepted, and a number's rate kept.

mod common;

use std::time::Duration;

use common::{
    live::eventually,
    meta::{connected, Env},
};
use serde_json::{json, Value};
use switchboard::{
    bot::{
        rules::{Match, Reply, Rule, RulesConfig},
        BotKind, BotSettings,
    },
    numbers,
    outbox::{self, Choice, Content, Media, Origin, OutboundMessage, Section},
    store::{now_millis, OutboxEntry, OutboxState},
    test_support::TestBackend,
};

on_both_backends!(
    the_echo_bot_answers_each_message_once_despite_duplicates,
    the_rules_bot_answers_from_its_rules,
    throttling_backs_off_and_delivers_everything,
    a_revoked_token_pauses_sending_until_reconnected,
    permanent_errors_give_up_with_the_reason,
    every_message_type_reaches_the_customer,
    an_agent_cannot_send_free_form_outside_the_window,
    a_number_never_sends_faster_than_its_rate,
    an_agent_sends_a_file_uploaded_to_meta,
    a_closed_window_offers_the_approved_templates,
);

const CUSTOMER: &str = "15550001111";
const WAIT: Duration = Duration::from_secs(20);

fn text(body: &str) -> Value {
    json!({ "type": "text", "text": { "body": body } })
}

fn bodies(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|line| line["message"]["text"]["body"].as_str())
        .map(str::to_string)
        .collect()
}

/// Waits until the customer's message is stored: their window is open.
async fn inbound_stored(env: &Env, phone: &str) {
    eventually("the inbound message stored", WAIT, || async {
        outbox::window(&env.engine, &env.caller, phone, CUSTOMER)
            .await
            .unwrap()
            .last_inbound_at
            .is_some()
    })
    .await;
}

/// The customer reacts (which the bot does not answer) and so opens the
/// window for the agent's messages.
async fn customer_reacts(env: &Env, phone: &str) {
    env.customer_writes(
        phone,
        CUSTOMER,
        json!({ "type": "reaction", "reaction": { "message_id": "wamid.x", "emoji": "👍" } }),
    )
    .await;
    inbound_stored(env, phone).await;
}

/// The outbox's entry `id`, as stored now.
async fn outbox_entry(env: &Env, id: i64) -> OutboxEntry {
    env.engine
        .store
        .outbox_entry(&env.caller.workspace.id, id)
        .await
        .unwrap()
        .unwrap()
}

async fn agent_sends(env: &Env, phone: &str, content: Content) -> i64 {
    let message = OutboundMessage {
        phone_number_id: phone.to_string(),
        recipient: CUSTOMER.to_string(),
        content,
        context_wamid: None,
    };
    env.agent_send(&message).await.expect("queued").0
}

async fn the_echo_bot_answers_each_message_once_despite_duplicates(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    // Every webhook delivered twice, some out of order.
    env.set_faults(json!({ "duplicate_webhooks": 1.0, "reorder_webhooks": 0.3 }))
        .await;
    let running = env.run().await;
    for word in ["one", "two", "three"] {
        env.customer_writes(&phone, CUSTOMER, text(word)).await;
    }
    eventually("three echoes", WAIT, || async {
        bodies(&env.received(&phone, CUSTOMER).await).len() >= 3
    })
    .await;
    // Every duplicate delivered and processed: still no second answer.
    env.drain().await;
    let mut echoes = bodies(&env.received(&phone, CUSTOMER).await);
    echoes.sort();
    assert_eq!(
        echoes,
        vec!["Received: one", "Received: three", "Received: two"]
    );
    // Each inbound message was marked read on the customer's phone.
    let read = env
        .chat(&phone, CUSTOMER)
        .await
        .iter()
        .filter(|l| l["direction"] == "inbound" && l["status"] == "read")
        .count();
    assert_eq!(read, 3);
    // The replies are in the thread, tied to their inbound message.
    let thread =
        switchboard::conversations::thread(&env.engine.store, &env.caller, &phone, CUSTOMER, None)
            .await
            .unwrap();
    assert_eq!(
        thread
            .lines
            .iter()
            .filter(|l| l.direction == "outbound")
            .count(),
        3
    );
    running.stop().await;
}

async fn the_rules_bot_answers_from_its_rules(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let settings = BotSettings {
        kind: BotKind::Rules,
        rules: RulesConfig {
            rules: vec![Rule {
                when: Match::Keyword("menu".into()),
                reply: Reply::List {
                    text: "What would you like?".into(),
                    button: "Choose".into(),
                    rows: vec!["Soup".into(), "Salad".into()],
                },
            }],
            default_reply: Some(Reply::Text {
                text: "An agent will answer.".into(),
            }),
            hours: None,
        },
        ..BotSettings::default()
    };
    switchboard::bot::save(&env.engine, &env.caller, &settings)
        .await
        .expect("saved");
    let running = env.run().await;
    env.customer_writes(&phone, CUSTOMER, text("show me the MENU"))
        .await;
    env.customer_writes(&phone, CUSTOMER, text("hello?")).await;
    eventually("two answers", WAIT, || async {
        env.received(&phone, CUSTOMER).await.len() >= 2
    })
    .await;
    let received = env.received(&phone, CUSTOMER).await;
    let list = received
        .iter()
        .find(|l| l["message"]["type"] == "interactive")
        .expect("the list");
    assert_eq!(
        list["message"]["interactive"]["action"]["sections"][0]["rows"][1]["title"],
        "Salad"
    );
    assert!(bodies(&received).contains(&"An agent will answer.".to_string()));
    running.stop().await;
}

async fn throttling_backs_off_and_delivers_everything(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let running = env.run().await;
    customer_reacts(&env, &phone).await;
    // Meta answers 130429 to the next three sends, then 500 once.
    env.set_faults(json!({ "graph": [
        { "path_contains": "/messages", "times": 3, "effect": { "kind": "throttle", "code": 130429 } },
        { "path_contains": "/messages", "times": 1, "effect": { "kind": "server_error", "status": 500 } },
    ] }))
    .await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(agent_sends(&env, &phone, Content::text(format!("update {n}"))).await);
    }
    eventually("all five delivered", Duration::from_secs(60), || async {
        bodies(&env.received(&phone, CUSTOMER).await).len() == 5
    })
    .await;
    assert_eq!(
        bodies(&env.received(&phone, CUSTOMER).await),
        (0..5).map(|n| format!("update {n}")).collect::<Vec<_>>(),
        "in the order queued"
    );
    let first = outbox_entry(&env, ids[0]).await;
    assert_eq!(first.state, OutboxState::Sent);
    assert!(first.attempts > 1, "it was retried: {first:?}");
    running.stop().await;
}

async fn a_revoked_token_pauses_sending_until_reconnected(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let running = env.run().await;
    env.customer_writes(&phone, CUSTOMER, text("hi")).await;
    eventually("the echo", WAIT, || async {
        env.received(&phone, CUSTOMER).await.len() == 1
    })
    .await;
    let token = env.token_of(&phone).await;
    env.control("/_sandbox/tokens/revoke", json!({ "token": token }))
        .await;
    let id = agent_sends(&env, &phone, Content::text("are you there?")).await;
    eventually("reconnect needed", WAIT, || async {
        env.number(&phone).await.unwrap().status == numbers::NumberStatus::ReconnectNeeded
    })
    .await;
    // Everything due has run; the paused number's message still waits.
    env.drain().await;
    let waiting = outbox_entry(&env, id).await;
    assert_eq!(waiting.state, OutboxState::Queued, "nothing is dropped");
    assert_eq!(env.received(&phone, CUSTOMER).await.len(), 1);

    // Reconnecting (a new signup) lets it go.
    let progress = env.connect("attempt-0002", &phone).await;
    assert_eq!(progress.state, switchboard::onboarding::RunState::Done);
    eventually("the waiting message delivered", WAIT, || async {
        bodies(&env.received(&phone, CUSTOMER).await).contains(&"are you there?".to_string())
    })
    .await;
    running.stop().await;
}

async fn permanent_errors_give_up_with_the_reason(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let running = env.run().await;
    customer_reacts(&env, &phone).await;
    env.set_faults(json!({ "graph": [
        { "path_contains": "/messages", "times": 1, "effect": { "kind": "meta_error", "status": 400, "code": 131026, "title": "Message undeliverable" } },
        { "path_contains": "/messages", "times": 1, "effect": { "kind": "meta_error", "status": 400, "code": 131047, "title": "Re-engagement message" } },
    ] }))
    .await;
    let undeliverable = agent_sends(&env, &phone, Content::text("first")).await;
    let outside = agent_sends(&env, &phone, Content::text("second")).await;
    let third = agent_sends(&env, &phone, Content::text("third")).await;
    let entry = |id| outbox_entry(&env, id);
    eventually("all three settled", WAIT, || async {
        entry(third).await.state == OutboxState::Sent
    })
    .await;
    let failed = entry(undeliverable).await;
    assert_eq!(failed.state, OutboxState::Failed);
    assert_eq!(failed.error_code, Some(131026));
    assert!(failed.error_title.unwrap().contains("undeliverable"));
    assert_eq!(failed.attempts, 1, "not retried");
    let needs_template = entry(outside).await;
    assert_eq!(needs_template.state, OutboxState::NeedsTemplate);
    assert_eq!(needs_template.error_code, Some(131047));
    // Both stay visible in the conversation with their state.
    let unsent = env
        .engine
        .store
        .unsent_for(
            &env.caller.workspace.id,
            &phone,
            &env.contact(&phone, CUSTOMER).await.id,
        )
        .await
        .unwrap();
    assert_eq!(
        unsent.iter().map(|e| e.state.as_str()).collect::<Vec<_>>(),
        vec!["failed", "needs_template"]
    );
    running.stop().await;
}

async fn every_message_type_reaches_the_customer(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let running = env.run().await;
    let inbound = env
        .customer_writes(&phone, CUSTOMER, json!({ "type": "sticker" }))
        .await;
    inbound_stored(&env, &phone).await;
    let link = |name: &str| Media::Link(format!("https://example.com/{name}"));
    let choice = |id: &str| Choice {
        id: id.into(),
        title: id.into(),
        description: None,
    };
    let contents = vec![
        Content::Text {
            body: "See https://example.com".into(),
            preview_url: true,
        },
        Content::Image {
            media: link("a.jpg"),
            caption: Some("A picture".into()),
        },
        Content::Document {
            media: link("invoice.pdf"),
            caption: None,
            filename: Some("invoice.pdf".into()),
        },
        Content::Audio {
            media: link("note.ogg"),
        },
        Content::Video {
            media: link("clip.mp4"),
            caption: None,
        },
        Content::Template {
            name: "hello_world".into(),
            language: "en_US".into(),
            components: vec![],
        },
        Content::Buttons {
            body: "Pick one".into(),
            buttons: vec![choice("Yes"), choice("No")],
        },
        Content::List {
            body: "Menu".into(),
            button: "Open".into(),
            sections: vec![Section {
                title: Some("Food".into()),
                rows: vec![choice("Soup")],
            }],
        },
        Content::Reaction {
            message_id: inbound.clone(),
            emoji: "❤".into(),
        },
    ];
    let kinds: Vec<&str> = contents.iter().map(Content::kind).collect();
    for content in contents {
        agent_sends(&env, &phone, content).await;
    }
    agent_sends(
        &env,
        &phone,
        Content::MarkRead {
            message_id: inbound.clone(),
            typing: true,
        },
    )
    .await;
    eventually("every type received", WAIT, || async {
        env.received(&phone, CUSTOMER).await.len() == kinds.len()
    })
    .await;
    let received: Vec<String> = env
        .received(&phone, CUSTOMER)
        .await
        .iter()
        .map(|l| {
            l["message"]["type"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(received, kinds);
    // The read receipt is no message: it may land after the last of them.
    eventually("the inbound message marked read", WAIT, || async {
        env.chat(&phone, CUSTOMER).await[0]["status"] == "read"
    })
    .await;
    let chat = env.chat(&phone, CUSTOMER).await;
    assert_eq!(chat[0]["status"], "read", "marked read");
    // Every sent message became a thread line with Meta's wamid.
    let thread =
        switchboard::conversations::thread(&env.engine.store, &env.caller, &phone, CUSTOMER, None)
            .await
            .unwrap();
    let outbound: Vec<_> = thread
        .lines
        .iter()
        .filter(|l| l.direction == "outbound")
        .collect();
    assert_eq!(outbound.len(), kinds.len());
    assert!(outbound.iter().all(|l| l.wamid.starts_with("wamid.")));
    running.stop().await;
}

async fn an_agent_cannot_send_free_form_outside_the_window(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let message = |content| OutboundMessage {
        phone_number_id: phone.clone(),
        recipient: "15559990000".into(),
        content,
        context_wamid: None,
    };
    let refused = env
        .agent_send(&message(Content::text("hello")))
        .await
        .expect_err("never wrote: window closed");
    assert!(refused.to_string().contains("template"), "{refused}");
    let template = Content::Template {
        name: "hello_world".into(),
        language: "en_US".into(),
        components: vec![],
    };
    let (id, new) = outbox::send(
        &env.engine,
        &env.caller,
        &message(template.clone()),
        Origin::Agent,
        Some("k1"),
    )
    .await
    .expect("a template may go");
    assert!(new);
    let again = outbox::send(
        &env.engine,
        &env.caller,
        &message(template),
        Origin::Agent,
        Some("k1"),
    )
    .await
    .unwrap();
    assert_eq!(again, (id, false), "the same key queues once");
    let invalid = env
        .agent_send(&message(Content::Buttons {
            body: "x".into(),
            buttons: vec![],
        }))
        .await;
    assert!(invalid.is_err());
    let window = outbox::window(&env.engine, &env.caller, &phone, "15559990000")
        .await
        .unwrap();
    assert!(!window.is_open(now_millis()));
}

/// Not a timing test: sending slower never fails it; only a burst above
/// the rate does.
async fn a_number_never_sends_faster_than_its_rate(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    for refused in [0, 1001] {
        assert!(
            numbers::set_send_rate(&env.engine, &env.caller, &phone, refused)
                .await
                .is_err()
        );
    }
    numbers::set_send_rate(&env.engine, &env.caller, &phone, 5)
        .await
        .unwrap();
    assert_eq!(env.number(&phone).await.unwrap().send_rate, 5);
    env.control_call(
        reqwest::Method::POST,
        &format!("/_sandbox/phones/{phone}"),
        Some(json!({ "throughput": 5 })),
    )
    .await;
    let running = env.run().await;
    let customers: Vec<String> = (0..12).map(|n| format!("1555000{n:04}")).collect();
    for customer in &customers {
        env.customer_writes(&phone, customer, json!({ "type": "sticker" }))
            .await;
    }
    eventually("all inbound stored", WAIT, || async {
        env.engine
            .store
            .count_messages(&env.caller.workspace.id)
            .await
            .unwrap()
            == 12
    })
    .await;
    for customer in &customers {
        let message = OutboundMessage {
            phone_number_id: phone.clone(),
            recipient: customer.clone(),
            content: Content::text("sale!"),
            context_wamid: None,
        };
        env.agent_send(&message).await.unwrap();
    }
    eventually("all twelve sent", WAIT, || async {
        env.engine
            .store
            .outbox_count(&phone, OutboxState::Sent)
            .await
            .unwrap()
            == 12
    })
    .await;
    let mut times = Vec::new();
    for customer in &customers {
        for line in env.received(&phone, customer).await {
            times.push(line["timestamp"].as_i64().unwrap());
        }
    }
    times.sort();
    assert_eq!(times.len(), 12, "none refused by Meta, none twice");
    // The sandbox's clock sees each send after the scheduler and loopback
    // have delayed it by a few milliseconds, more on a busy machine, which
    // can bring the next send closer; the slots themselves are checked
    // without a clock (`outbox::pacing`). Six sends in 950 ms would be a
    // rate above 5/s that no such delay explains.
    for (i, start) in times.iter().enumerate() {
        let in_one_second = times[i..].iter().take_while(|t| **t - start < 950).count();
        assert!(
            in_one_second <= 5,
            "{in_one_second} sends within 950 ms: {times:?}"
        );
    }
    let overall = 11_000.0 / (times[11] - times[0]) as f64;
    assert!(overall <= 5.0, "{overall:.2} sends a second on average");
    running.stop().await;
}

async fn an_agent_sends_a_file_uploaded_to_meta(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let running = env.run().await;
    env.customer_writes(&phone, CUSTOMER, json!({ "type": "sticker" }))
        .await;
    inbound_stored(&env, &phone).await;
    let file = |mime: &str, name: &str| outbox::Attachment {
        bytes: b"%PDF-1.4 a small invoice".to_vec(),
        mime_type: mime.into(),
        filename: name.into(),
        caption: Some("Your invoice".into()),
    };
    let refused = outbox::send_file(
        &env.engine,
        &env.caller,
        &phone,
        CUSTOMER,
        file("image/gif", "a.gif"),
        None,
    )
    .await
    .expect_err("GIFs are not sendable");
    assert!(refused.to_string().contains("does not take"), "{refused}");
    outbox::send_file(
        &env.engine,
        &env.caller,
        &phone,
        CUSTOMER,
        file("application/pdf", "invoice.pdf"),
        None,
    )
    .await
    .expect("uploaded and queued");
    let line = env
        .first_received("the document received", &phone, CUSTOMER)
        .await;
    assert_eq!(line["message"]["type"], "document");
    assert_eq!(line["message"]["document"]["filename"], "invoice.pdf");
    assert_eq!(line["message"]["document"]["caption"], "Your invoice");
    assert!(
        line["message"]["document"]["id"].as_str().is_some(),
        "sent by the id Meta gave"
    );
    running.stop().await;
}

async fn a_closed_window_offers_the_approved_templates(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let running = env.run().await;
    let templates = outbox::approved_templates(&env.engine, &env.caller, &phone)
        .await
        .unwrap();
    let order = templates
        .iter()
        .find(|t| t.name == "order_update")
        .expect("listed");
    assert_eq!((order.language.as_str(), order.variables()), ("en_US", 2));
    assert!(order.body.contains("{{2}}"));
    // The customer never wrote: a template still reaches them.
    let stranger = "15559990000";
    let message = OutboundMessage {
        phone_number_id: phone.clone(),
        recipient: stranger.into(),
        content: outbox::template_content(
            "order_update",
            "en_US",
            &[],
            &["Ana".into(), "#42".into()],
        ),
        context_wamid: None,
    };
    env.agent_send(&message).await.expect("queued");
    let line = env
        .first_received("the template received", &phone, stranger)
        .await;
    assert_eq!(line["message"]["template"]["name"], "order_update");
    assert_eq!(
        line["message"]["template"]["components"][0]["parameters"][1]["text"],
        "#42"
    );
    running.stop().await;
}
