use serde_json::{json, Value};

use crate::helpers::{assert_graph_error, World};

fn message(to: &str, kind: &str, object: Value) -> Value {
    let mut body = json!({ "messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": kind });
    body[kind] = object;
    body
}

#[tokio::test]
async fn a_text_gets_a_wamid_then_sent_delivered_read() {
    let world = World::start().await;
    world.customer_writes("hi").await;
    let to = world.demo().customer_wa_id.clone();
    let (status, body) = world.send_text(&format!("+{to}"), "Hello!").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["messaging_product"], "whatsapp");
    assert_eq!(
        body["contacts"][0],
        json!({ "input": format!("+{to}"), "wa_id": to })
    );
    let wamid = body["messages"][0]["id"].as_str().unwrap().to_string();
    assert!(wamid.starts_with("wamid."));

    let sent = world.receiver.wait_for_status(&wamid, "sent").await;
    assert_eq!(sent["recipient_id"], json!(to));
    assert!(sent["timestamp"].is_string(), "timestamps are strings");
    assert!(sent["conversation"]["expiration_timestamp"].is_string());
    assert_eq!(sent["pricing"]["category"], "service");
    world.receiver.wait_for_status(&wamid, "delivered").await;
    world.receiver.wait_for_status(&wamid, "read").await;

    let phone = world.demo().phone_number_id.clone();
    let (_, chat) = world
        .control("GET", &format!("/_sandbox/chats/{phone}/{to}"), json!(null))
        .await;
    let last = chat["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["direction"], "outbound");
    assert_eq!(last["message"]["text"]["body"], "Hello!");
    assert_eq!(last["status"], "read");
}

#[tokio::test]
async fn free_form_outside_the_window_fails_with_131047() {
    let world = World::start().await;
    let to = world.demo().customer_wa_id.clone();
    let (status, body) = world.send_text(&to, "nobody asked").await;
    assert_eq!(status, 200, "accepted first, failed later, as Meta does");
    let wamid = body["messages"][0]["id"].as_str().unwrap().to_string();
    let failed = world.receiver.wait_for_status(&wamid, "failed").await;
    assert_eq!(failed["errors"][0]["code"], 131047);

    // The window opens when the customer writes, and closes 24 h later.
    world.customer_writes("hello?").await;
    let (_, body) = world.send_text(&to, "now it works").await;
    let wamid = body["messages"][0]["id"].as_str().unwrap().to_string();
    world.receiver.wait_for_status(&wamid, "delivered").await;
    world.advance_clock(24 * 3600 + 1).await;
    let (_, body) = world.send_text(&to, "too late").await;
    let wamid = body["messages"][0]["id"].as_str().unwrap().to_string();
    world.receiver.wait_for_status(&wamid, "failed").await;
}

#[tokio::test]
async fn templates_go_out_any_time_and_are_checked() {
    let world = World::start().await;
    let to = world.demo().customer_wa_id.clone();
    let template = |content: Value| message(&to, "template", content);
    let hello = template(json!({ "name": "hello_world", "language": { "code": "en_US" } }));
    let (status, body) = world.send(hello).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["messages"][0]["message_status"], "accepted");
    let wamid = body["messages"][0]["id"].as_str().unwrap().to_string();
    // hello_world is a UTILITY template, charged outside the window.
    let sent = world.receiver.wait_for_status(&wamid, "sent").await;
    assert_eq!(sent["pricing"]["category"], "utility");
    assert_eq!(sent["pricing"]["type"], "regular");
    world.receiver.wait_for_status(&wamid, "delivered").await;

    let unknown = template(json!({ "name": "nope", "language": { "code": "en_US" } }));
    assert_graph_error(&world.send(unknown).await, 404, 132001, None);

    let short = template(json!({
        "name": "order_update", "language": { "code": "en_US" },
        "components": [{ "type": "body", "parameters": [{ "type": "text", "text": "only one" }] }],
    }));
    assert_graph_error(&world.send(short).await, 400, 132000, None);

    let full = template(json!({
        "name": "order_update", "language": { "code": "en_US" },
        "components": [{ "type": "body", "parameters": [{ "type": "text", "text": "A-1" }, { "type": "text", "text": "shipped" }] }],
    }));
    assert_eq!(world.send(full).await.0, 200);
}

#[tokio::test]
async fn invalid_messages_get_metas_errors() {
    let world = World::start().await;
    world.customer_writes("hi").await;
    let to = world.demo().customer_wa_id.clone();
    let call = |body: Value| world.send(body);

    let mut no_product = message(&to, "text", json!({ "body": "x" }));
    no_product
        .as_object_mut()
        .unwrap()
        .remove("messaging_product");
    assert_graph_error(&call(no_product).await, 400, 100, None);

    let mut no_to = message(&to, "text", json!({ "body": "x" }));
    no_to.as_object_mut().unwrap().remove("to");
    assert_graph_error(&call(no_to).await, 400, 131008, None);

    assert_graph_error(
        &call(message("12ab", "text", json!({ "body": "x" }))).await,
        400,
        131009,
        None,
    );
    assert_graph_error(
        &call(message(&to, "text", json!({ "body": "x".repeat(4097) }))).await,
        400,
        131009,
        None,
    );
    assert_graph_error(
        &call(message(&to, "text", json!({}))).await,
        400,
        131008,
        None,
    );
    assert_graph_error(
        &call(message(&to, "hologram", json!({}))).await,
        400,
        100,
        None,
    );
    assert_graph_error(
        &call(message(
            &to,
            "image",
            json!({ "id": "999", "link": "https://x.example/a.jpg" }),
        ))
        .await,
        400,
        131009,
        None,
    );
    assert_graph_error(
        &call(message(&to, "image", json!({ "id": "999" }))).await,
        400,
        131009,
        None,
    );
    assert_eq!(
        call(message(
            &to,
            "image",
            json!({ "link": "https://x.example/a.jpg", "caption": "hi" })
        ))
        .await
        .0,
        200
    );

    let buttons: Vec<Value> = (0..4)
        .map(|i| json!({ "type": "reply", "reply": { "id": format!("b{i}"), "title": "Yes" } }))
        .collect();
    let four = message(
        &to,
        "interactive",
        json!({ "type": "button", "body": { "text": "Pick" }, "action": { "buttons": buttons } }),
    );
    assert_graph_error(&call(four).await, 400, 131009, None);
    let long_title = message(
        &to,
        "interactive",
        json!({ "type": "button", "body": { "text": "Pick" },
        "action": { "buttons": [{ "type": "reply", "reply": { "id": "a", "title": "x".repeat(21) } }] } }),
    );
    assert_graph_error(&call(long_title).await, 400, 131009, None);

    let list = message(
        &to,
        "interactive",
        json!({ "type": "list", "body": { "text": "Menu" }, "action": {
        "button": "Choose", "sections": [{ "title": "Bread", "rows": [{ "id": "r1", "title": "Sourdough", "description": "Slow" }] }] } }),
    );
    assert_eq!(call(list).await.0, 200);
    let reaction = message(
        &to,
        "reaction",
        json!({ "message_id": "wamid.X", "emoji": "👍" }),
    );
    assert_eq!(call(reaction).await.0, 200);
}

#[tokio::test]
async fn mark_as_read_with_a_typing_indicator() {
    let world = World::start().await;
    let inbound = world.customer_writes("are you open?").await;
    let read = json!({ "messaging_product": "whatsapp", "status": "read", "message_id": inbound, "typing_indicator": { "type": "text" } });
    assert_eq!(world.send(read).await, (200, json!({ "success": true })));
    let unknown =
        json!({ "messaging_product": "whatsapp", "status": "read", "message_id": "wamid.unknown" });
    assert_graph_error(&world.send(unknown).await, 400, 131009, None);
}

#[tokio::test]
async fn the_numbers_throughput_is_enforced_with_130429() {
    let world = World::start().await;
    world.customer_writes("hi").await;
    world.set_throughput(2).await;
    // Five sends can straddle at most one second boundary: at most four pass.
    let mut refused = Vec::new();
    for i in 0..5 {
        let to = format!("1650555{:04}", 1000 + i);
        let result = world.send_text(&to, "hi").await;
        if result.0 != 200 {
            refused.push(result);
        }
    }
    assert!(!refused.is_empty());
    assert_graph_error(&refused[0], 429, 130429, None);
}

/// Meta's throughput counts a number's messages both ways ("inclusive of
/// inbound and outbound messages"): customers who wrote this second use
/// up what the business may send in it. Their messages are never refused.
#[tokio::test]
async fn customers_messages_count_towards_the_numbers_throughput() {
    let world = World::start().await;
    world.set_throughput(2).await;
    let to = world.demo().customer_wa_id.clone();
    // The sandbox counts by the second of this machine's clock (moved on
    // only by whole seconds): an attempt that straddled a second proves
    // nothing, and is made again.
    let second = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    for _ in 0..5 {
        let started = second();
        world.customer_writes("are you open?").await;
        world.customer_writes("and on Sunday?").await;
        let reply = world.send_text(&to, "yes, 9 to 5").await;
        if second() == started {
            assert_graph_error(&reply, 429, 130429, None);
            return;
        }
    }
    panic!("five attempts each straddled a second");
}

#[tokio::test]
async fn the_pair_rate_limit_is_enforced_with_131056() {
    let world = World::start().await;
    world.customer_writes("hi").await;
    let to = world.demo().customer_wa_id.clone();
    for i in 0..45 {
        assert_eq!(
            world.send_text(&to, &format!("burst {i}")).await.0,
            200,
            "send {i}"
        );
    }
    let limited = world.send_text(&to, "one too many").await;
    assert_graph_error(&limited, 429, 131056, None);
    assert_eq!(limited.1["error"]["is_transient"], true);
    // Another customer is not affected.
    assert_eq!(world.send_text("16505550000", "hello").await.0, 200);
    // Quota returns at one message per six seconds.
    world.advance_clock(6).await;
    assert_eq!(world.send_text(&to, "after a pause").await.0, 200);
}

#[tokio::test]
async fn inbound_messages_of_every_type_reach_the_webhook() {
    let world = World::start().await;
    let wa_id = world.demo().customer_wa_id.clone();
    let path = format!("/_sandbox/customers/{wa_id}/messages");
    let cases = [
        json!({ "type": "text", "text": { "body": "hi" } }),
        json!({ "type": "image", "image": { "caption": "look" } }),
        json!({ "type": "location", "location": { "latitude": 51.5, "longitude": -0.12, "name": "Shop" } }),
        json!({ "type": "contacts", "contacts": [{ "name": { "formatted_name": "Ann" }, "phones": [{ "phone": "+1555" }] }] }),
        json!({ "type": "interactive", "interactive": { "type": "button_reply", "button_reply": { "id": "yes", "title": "Yes" } } }),
        json!({ "type": "button", "button": { "payload": "STOP", "text": "Stop" } }),
        json!({ "type": "reaction", "reaction": { "message_id": "wamid.X", "emoji": "❤" } }),
        json!({ "type": "unsupported" }),
    ];
    for case in &cases {
        let (status, body) = world.control("POST", &path, case.clone()).await;
        assert_eq!(status, 200, "{case} -> {body}");
    }
    let bodies = world.receiver.wait_for(cases.len()).await;
    let mut seen = Vec::new();
    for body in &bodies {
        let value = &body["entry"][0]["changes"][0]["value"];
        assert_eq!(value["contacts"][0]["wa_id"], json!(wa_id));
        assert_eq!(
            value["metadata"]["phone_number_id"],
            json!(world.demo().phone_number_id)
        );
        let message = &value["messages"][0];
        assert_eq!(message["from"], json!(wa_id));
        seen.push(message["type"].as_str().unwrap().to_string());
        match message["type"].as_str().unwrap() {
            "image" => {
                assert!(message["image"]["id"].is_string());
                assert_eq!(message["image"]["mime_type"], "image/jpeg");
                assert!(message["image"]["sha256"].is_string());
            }
            "unsupported" => assert_eq!(message["errors"][0]["code"], 131051),
            _ => {}
        }
    }
    seen.sort();
    let mut expected: Vec<String> = cases
        .iter()
        .map(|c| c["type"].as_str().unwrap().to_string())
        .collect();
    expected.sort();
    assert_eq!(seen, expected);

    let (status, _) = world
        .control("POST", &path, json!({ "type": "text" }))
        .await;
    assert_eq!(status, 400, "a text without its object is refused");
}

#[tokio::test]
async fn callback_data_is_echoed_on_every_status_and_bounded() {
    let world = World::start().await;
    world.customer_writes("hi").await;
    let to = world.demo().customer_wa_id.clone();
    let mut body = message(&to, "text", json!({ "body": "Your order" }));
    body["biz_opaque_callback_data"] = json!("order-77");
    let (status, answer) = world.send(body).await;
    assert_eq!(status, 200, "{answer}");
    let wamid = answer["messages"][0]["id"].as_str().unwrap().to_string();
    for step in ["sent", "delivered", "read"] {
        let receipt = world.receiver.wait_for_status(&wamid, step).await;
        assert_eq!(receipt["biz_opaque_callback_data"], "order-77", "{step}");
    }

    let mut long = message(&to, "text", json!({ "body": "Too much" }));
    long["biz_opaque_callback_data"] = json!("x".repeat(513));
    assert_graph_error(&world.send(long).await, 400, 131009, None);
}
