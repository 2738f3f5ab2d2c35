//! Users as Meta shows them to a business since 2026 (reference
//! meta-2026.md §1): a BSUID everywhere, a username when the user has one,
//! and the phone withheld from a username user unless this number
//! exchanged a message with the phone in the last 30 days.

use serde_json::{json, Value};

use crate::helpers::World;

/// Meta's BSUID shape: country, optional `ENT.`, up to 128 alphanumerics.
fn is_bsuid(text: &str) -> bool {
    let Some((country, rest)) = text.split_once('.') else {
        return false;
    };
    let rest = rest.strip_prefix("ENT.").unwrap_or(rest);
    country.len() == 2
        && country.bytes().all(|b| b.is_ascii_uppercase())
        && (1..=128).contains(&rest.len())
        && rest.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The value of the last `messages` change that carried messages.
fn last_inbound(world: &World) -> Value {
    world
        .receiver
        .bodies()
        .iter()
        .flat_map(|body| {
            body["entry"][0]["changes"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|change| change["value"].clone())
        .rfind(|value| value.get("messages").is_some())
        .expect("an inbound message")
}

async fn writes_and_arrives(world: &World, text: &str) -> Value {
    let before = world.receiver.posts.lock().unwrap().len();
    world.customer_writes(text).await;
    world.receiver.wait_for(before + 1).await;
    last_inbound(world)
}

async fn give_username(world: &World, username: &str) {
    let wa_id = world.demo().customer_wa_id.clone();
    let (status, body) = world
        .control(
            "PUT",
            &format!("/_sandbox/users/{wa_id}"),
            json!({ "username": username }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn every_incoming_message_names_the_user_by_bsuid_and_phone() {
    let world = World::start().await;
    let wa_id = world.demo().customer_wa_id.clone();
    let value = writes_and_arrives(&world, "hello").await;
    let contact = &value["contacts"][0];
    let user_id = contact["user_id"].as_str().unwrap();
    assert!(is_bsuid(user_id), "{user_id}");
    assert_eq!(contact["wa_id"], wa_id.as_str());
    let message = &value["messages"][0];
    assert_eq!(message["from"], wa_id.as_str());
    assert_eq!(message["from_user_id"], user_id);
    assert!(contact["profile"].get("username").is_none());
}

#[tokio::test]
async fn a_username_users_phone_is_withheld_until_the_business_writes_to_it() {
    let world = World::start().await;
    let wa_id = world.demo().customer_wa_id.clone();
    give_username(&world, "@casey.c").await;

    let value = writes_and_arrives(&world, "hi, it's me").await;
    let contact = &value["contacts"][0];
    assert!(contact.get("wa_id").is_none(), "phone withheld: {contact}");
    assert_eq!(contact["profile"]["username"], "@casey.c");
    let message = &value["messages"][0];
    assert!(message.get("from").is_none(), "{message}");
    let user_id = message["from_user_id"].as_str().unwrap().to_string();
    assert_eq!(contact["user_id"], user_id.as_str());

    // The business writes to the phone: the phone shows for 30 days.
    let (status, sent) = world.send_text(&wa_id, "hello by phone").await;
    assert_eq!(status, 200, "{sent}");
    let value = writes_and_arrives(&world, "thanks").await;
    assert_eq!(value["contacts"][0]["wa_id"], wa_id.as_str());
    assert_eq!(value["messages"][0]["from"], wa_id.as_str());
    assert_eq!(
        value["contacts"][0]["user_id"],
        user_id.as_str(),
        "a username does not change the BSUID"
    );

    world.advance_clock(31 * 24 * 3600).await;
    let value = writes_and_arrives(&world, "me again, a month later").await;
    assert!(value["contacts"][0].get("wa_id").is_none(), "{value}");
}

#[tokio::test]
async fn every_number_of_a_portfolio_sees_the_same_bsuid() {
    let world = World::start().await;
    let demo = world.demo().clone();
    let path = |phone: &str| {
        format!(
            "/_sandbox/users/{}?phone_number_id={phone}",
            demo.customer_wa_id
        )
    };
    let (_, first) = world
        .control("GET", &path(&demo.phone_number_id), json!(null))
        .await;
    let (_, second) = world
        .control("GET", &path(&demo.new_phone_number_id), json!(null))
        .await;
    assert!(is_bsuid(first["user_id"].as_str().unwrap()), "{first}");
    assert_eq!(first["user_id"], second["user_id"]);
}

#[tokio::test]
async fn statuses_carry_the_bsuid_and_failed_ones_no_contacts() {
    let world = World::start().await;
    let wa_id = world.demo().customer_wa_id.clone();
    give_username(&world, "@casey.c").await;
    world.customer_writes("open the window").await;
    let (status, sent) = world.send_text(&wa_id, "an answer").await;
    assert_eq!(status, 200, "{sent}");
    let wamid = sent["messages"][0]["id"].as_str().unwrap().to_string();
    world.receiver.wait_for_status(&wamid, "read").await;
    let user_id = last_inbound(&world)["contacts"][0]["user_id"].clone();

    let mut seen = Vec::new();
    for body in world.receiver.bodies() {
        let value = &body["entry"][0]["changes"][0]["value"];
        let Some(item) = value["statuses"].get(0) else {
            continue;
        };
        if item["id"] != wamid.as_str() {
            continue;
        }
        let contact = &value["contacts"][0];
        assert_eq!(item["recipient_id"], wa_id.as_str(), "sent by phone");
        assert_eq!(item["recipient_user_id"], user_id);
        assert_eq!(contact["user_id"], user_id);
        assert_eq!(contact["wa_id"], wa_id.as_str());
        let status = item["status"].as_str().unwrap().to_string();
        let username = contact["profile"]["username"].as_str().map(str::to_string);
        seen.push((status, username));
    }
    assert_eq!(
        seen,
        [
            ("sent".to_string(), None),
            ("delivered".to_string(), Some("@casey.c".to_string())),
            ("read".to_string(), Some("@casey.c".to_string())),
        ]
    );

    // Outside the window a send fails: no contacts, no BSUID.
    world.advance_clock(25 * 3600).await;
    let (status, sent) = world.send_text(&wa_id, "too late").await;
    assert_eq!(status, 200, "{sent}");
    let late = sent["messages"][0]["id"].as_str().unwrap().to_string();
    world.receiver.wait_for_status(&late, "failed").await;
    let failed = world
        .receiver
        .bodies()
        .into_iter()
        .map(|body| body["entry"][0]["changes"][0]["value"].clone())
        .find(|value| value["statuses"][0]["id"] == late.as_str())
        .unwrap();
    assert!(failed.get("contacts").is_none(), "{failed}");
    assert!(
        failed["statuses"][0].get("recipient_user_id").is_none(),
        "{failed}"
    );
    assert_eq!(failed["statuses"][0]["recipient_id"], wa_id.as_str());
}

/// The BSUID an incoming change names its sender by.
fn user_id_of(value: &Value) -> String {
    value["contacts"][0]["user_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Sends `body` (with `messaging_product`) from the demo number.
async fn send(world: &World, mut body: Value) -> (u16, Value) {
    body["messaging_product"] = json!("whatsapp");
    world.send(body).await
}

#[tokio::test]
async fn a_send_by_bsuid_reaches_the_user_and_keeps_the_phone_withheld() {
    let world = World::start().await;
    let wa_id = world.demo().customer_wa_id.clone();
    give_username(&world, "@casey.c").await;
    let value = writes_and_arrives(&world, "hello, business").await;
    let user_id = user_id_of(&value);

    let (status, sent) = send(
        &world,
        json!({ "recipient_type": "individual", "recipient": user_id, "type": "text", "text": { "body": "hello, user" } }),
    )
    .await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(
        sent["contacts"][0],
        json!({ "input": user_id, "user_id": user_id })
    );
    let wamid = sent["messages"][0]["id"].as_str().unwrap().to_string();
    let read = world.receiver.wait_for_status(&wamid, "read").await;
    assert!(read.get("recipient_id").is_none(), "phone withheld: {read}");
    assert_eq!(read["recipient_user_id"], user_id.as_str());

    let (_, chat) = world
        .control(
            "GET",
            &format!("/_sandbox/chats/{}/{wa_id}", world.demo().phone_number_id),
            json!(null),
        )
        .await;
    let last = chat["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["message"]["text"]["body"], "hello, user");

    // A send by BSUID is no exchange by phone: still withheld.
    let value = writes_and_arrives(&world, "got it").await;
    assert!(value["contacts"][0].get("wa_id").is_none(), "{value}");
}

#[tokio::test]
async fn with_both_to_and_recipient_the_phone_wins() {
    let world = World::start().await;
    let wa_id = world.demo().customer_wa_id.clone();
    let value = writes_and_arrives(&world, "hi").await;
    let user_id = user_id_of(&value);
    let (status, sent) = send(
        &world,
        json!({ "to": wa_id, "recipient": user_id, "type": "text", "text": { "body": "by phone" } }),
    )
    .await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(
        sent["contacts"][0],
        json!({ "input": wa_id, "wa_id": wa_id })
    );
}

#[tokio::test]
async fn unknown_foreign_or_malformed_bsuids_are_refused() {
    let world = World::start().await;
    world.customer_writes("hi").await;
    for recipient in ["US.424242424242", "GB.ENT.1", "not-a-bsuid", "16505551234"] {
        let result = send(
            &world,
            json!({ "recipient": recipient, "type": "text", "text": { "body": "?" } }),
        )
        .await;
        crate::helpers::assert_graph_error(&result, 400, 131009, None);
    }
    let result = send(
        &world,
        json!({ "type": "text", "text": { "body": "to nobody" } }),
    )
    .await;
    crate::helpers::assert_graph_error(&result, 400, 131008, None);
}

#[tokio::test]
async fn authentication_templates_cannot_go_to_a_bsuid() {
    let world = World::start().await;
    let waba = world.demo().waba_id.clone();
    let value = writes_and_arrives(&world, "send me a code").await;
    let user_id = user_id_of(&value);
    let (status, made) = world
        .call(
            "POST",
            &format!("{waba}/message_templates"),
            Some(json!({
                "name": "login_code", "language": "en_US", "category": "AUTHENTICATION",
                "components": [{ "type": "BODY", "text": "Your code is {{1}}. It expires soon.", "example": { "body_text": [["123456"]] } }],
            })),
        )
        .await;
    assert_eq!(status, 200, "{made}");
    let template = json!({ "name": "login_code", "language": { "code": "en_US" } });
    let result = send(
        &world,
        json!({ "recipient": user_id, "type": "template", "template": template }),
    )
    .await;
    crate::helpers::assert_graph_error(&result, 400, 131062, None);
}

#[tokio::test]
async fn a_shared_phone_arrives_as_a_contact_request_reply_and_stays_visible() {
    let world = World::start().await;
    let wa_id = world.demo().customer_wa_id.clone();
    give_username(&world, "@casey.c").await;
    let value = writes_and_arrives(&world, "hello").await;
    let user_id = user_id_of(&value);
    let share = format!("/_sandbox/customers/{wa_id}/share-phone");

    // Nobody asked yet: there is nothing to tap.
    let (status, _) = world.control("POST", &share, json!({})).await;
    assert_eq!(status, 400);

    let ask = json!({
        "recipient": user_id, "type": "interactive",
        "interactive": { "type": "request_contact_info", "body": { "text": "May we have your number?" },
                         "action": { "name": "request_contact_info" } },
    });
    let (status, sent) = send(&world, ask).await;
    assert_eq!(status, 200, "{sent}");

    let before = world.receiver.posts.lock().unwrap().len();
    let (status, _) = world.control("POST", &share, json!({})).await;
    assert_eq!(status, 200);
    world.receiver.wait_for(before + 1).await;
    let value = last_inbound(&world);
    let message = &value["messages"][0];
    assert_eq!(message["type"], "contacts");
    assert_eq!(message["origin"], "contact_request");
    assert_eq!(message["from_user_id"], user_id.as_str());
    assert_eq!(
        message["contacts"][0]["phones"][0]["phone"],
        format!("+{wa_id}")
    );
    assert_eq!(
        value["contacts"][0]["wa_id"],
        wa_id.as_str(),
        "in the contact book now"
    );

    // The contact book outlasts the 30-day rule.
    world.advance_clock(40 * 24 * 3600).await;
    let value = writes_and_arrives(&world, "still me").await;
    assert_eq!(value["contacts"][0]["wa_id"], wa_id.as_str());
}

#[tokio::test]
async fn a_contact_request_needs_its_action_name() {
    let world = World::start().await;
    let wa_id = world.demo().customer_wa_id.clone();
    world.customer_writes("hi").await;
    let result = send(
        &world,
        json!({ "to": wa_id, "type": "interactive",
                "interactive": { "type": "request_contact_info", "body": { "text": "Your number?" }, "action": {} } }),
    )
    .await;
    crate::helpers::assert_graph_error(&result, 400, 131009, None);
}

/// The system message of the last `messages` change that carried one.
fn last_system(world: &World) -> Value {
    last_inbound(world)["messages"][0].clone()
}

async fn change_number(world: &World, new_wa_id: &str) -> Value {
    let wa_id = world.demo().customer_wa_id.clone();
    let before = world.receiver.posts.lock().unwrap().len();
    let (status, body) = world
        .control(
            "POST",
            &format!("/_sandbox/users/{wa_id}/change-number"),
            json!({ "new_wa_id": new_wa_id }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    world.receiver.wait_for(before + 1).await;
    last_system(world)
}

#[tokio::test]
async fn a_new_phone_number_is_announced_with_the_new_bsuid() {
    let world = World::start().await;
    let wa_id = world.demo().customer_wa_id.clone();
    let value = writes_and_arrives(&world, "hello").await;
    let old_user_id = value["contacts"][0]["user_id"].clone();

    let message = change_number(&world, "16505559999").await;
    assert_eq!(message["type"], "system");
    assert_eq!(message["from"], wa_id.as_str());
    let system = &message["system"];
    assert_eq!(system["type"], "user_changed_number");
    assert_eq!(system["wa_id"], "16505559999");
    assert_eq!(system["previous_user_id"], old_user_id);
    assert!(is_bsuid(system["user_id"].as_str().unwrap()));
    assert_ne!(system["user_id"], old_user_id, "a new phone is a new BSUID");

    // The user now writes from the new number, with the new BSUID.
    let (status, _) = world
        .control(
            "POST",
            "/_sandbox/customers/16505559999/messages",
            json!({ "type": "text", "text": { "body": "new phone" } }),
        )
        .await;
    assert_eq!(status, 200);
    world.receiver.wait_for(3).await;
    let value = last_inbound(&world);
    assert_eq!(value["contacts"][0]["user_id"], system["user_id"]);
    assert_eq!(value["contacts"][0]["wa_id"], "16505559999");
}

#[tokio::test]
async fn a_username_users_new_number_changes_only_the_bsuid() {
    let world = World::start().await;
    give_username(&world, "@casey.c").await;
    let value = writes_and_arrives(&world, "hello").await;
    let old_user_id = value["contacts"][0]["user_id"].clone();
    let message = change_number(&world, "16505559999").await;
    assert!(message.get("from").is_none(), "{message}");
    let system = &message["system"];
    assert_eq!(system["type"], "user_changed_user_id");
    assert!(system.get("wa_id").is_none(), "{system}");
    assert_eq!(system["previous_user_id"], old_user_id);
    assert_ne!(system["user_id"], old_user_id);
}
