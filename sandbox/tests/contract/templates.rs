use serde_json::{json, Value};

use crate::helpers::{assert_graph_error, World};

#[tokio::test]
async fn templates_are_listed_with_cursor_paging_and_filters() {
    let world = World::start().await;
    let waba = world.demo().waba_id.clone();
    let (status, first) = world
        .call("GET", &format!("{waba}/message_templates?limit=1"), None)
        .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["data"].as_array().unwrap().len(), 1);
    assert_eq!(first["data"][0]["name"], "hello_world");
    assert_eq!(first["data"][0]["status"], "APPROVED");
    assert_eq!(first["data"][0]["components"][0]["type"], "BODY");
    let next = first["paging"]["next"].as_str().expect("a next page");
    assert!(next.contains("/v25.0/"), "{next}");
    let after = first["paging"]["cursors"]["after"].as_str().unwrap();
    let second = listed(&world, &format!("limit=1&after={after}")).await;
    assert_eq!(second["data"][0]["name"], "order_update");
    assert!(second["paging"].get("next").is_none(), "the last page");

    let filtered = listed(&world, "name=order&language=en_US").await;
    assert_eq!(filtered["data"].as_array().unwrap().len(), 1);
    let none = listed(&world, "status=REJECTED").await;
    assert!(none["data"].as_array().unwrap().is_empty());
    let bad = world
        .call(
            "GET",
            &format!("{waba}/message_templates?after=nonsense"),
            None,
        )
        .await;
    assert_graph_error(&bad, 400, 100, None);
}

/// Submits a template for the demo WABA: (HTTP status, JSON body).
async fn submit(world: &World, template: Value) -> (u16, Value) {
    let waba = &world.demo().waba_id;
    let path = format!("{waba}/message_templates");
    world.call("POST", &path, Some(template)).await
}

/// The demo WABA's templates as Meta lists them for `query`
/// (`name=…`, `status=…`).
async fn listed(world: &World, query: &str) -> Value {
    let waba = &world.demo().waba_id;
    let path = format!("{waba}/message_templates?{query}");
    world.call("GET", &path, None).await.1
}

/// A utility template that reads as an advert, so Meta rejects it.
fn weekend_deal() -> Value {
    shipping(
        "weekend_deal",
        "Hi {{1}}, 20% off order {{2}} this weekend.",
    )
}

/// The value of the first `message_template_status_update` webhook for
/// `template_id` announcing `event`, waiting for it.
async fn status_webhook(world: &World, template_id: &str, event: &str) -> Value {
    for _ in 0..500 {
        for body in world.receiver.bodies() {
            for change in body["entry"][0]["changes"].as_array().into_iter().flatten() {
                let value = &change["value"];
                if change["field"] == "message_template_status_update"
                    && value["message_template_id"]
                        .as_u64()
                        .map(|n| n.to_string())
                        .as_deref()
                        == Some(template_id)
                    && value["event"] == event
                {
                    return value.clone();
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!(
        "no {event} webhook for {template_id}: {:?}",
        world.receiver.bodies()
    );
}

fn shipping(name: &str, body: &str) -> Value {
    json!({
        "name": name, "language": "en_US", "category": "UTILITY",
        "components": [
            { "type": "HEADER", "format": "TEXT", "text": "Order {{1}}", "example": { "header_text": ["A-1"] } },
            { "type": "BODY", "text": body, "example": { "body_text": [["Ann", "A-1"]] } },
            { "type": "FOOTER", "text": "Acme Bakery" },
            { "type": "BUTTONS", "buttons": [
                { "type": "QUICK_REPLY", "text": "Thanks" },
                { "type": "URL", "text": "Track", "url": "https://acme.example/track/{{1}}", "example": ["A-1"] },
                { "type": "PHONE_NUMBER", "text": "Call us", "phone_number": "+16505550100" },
            ]},
        ],
    })
}

#[tokio::test]
async fn a_created_template_is_reviewed_announced_sent_paused_and_deleted() {
    let world = World::start().await;
    let waba = world.demo().waba_id.clone();
    let customer = world.demo().customer_wa_id.clone();
    let path = format!("{waba}/message_templates");

    let (status, created) = submit(
        &world,
        shipping("order_shipped", "Hi {{1}}, order {{2}} shipped."),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(
        (created["status"].as_str(), created["category"].as_str()),
        (Some("PENDING"), Some("UTILITY"))
    );
    let id = created["id"].as_str().unwrap().to_string();
    // Pending: listed as such, and not sendable yet.
    let pending = listed(&world, "name=order_shipped").await;
    assert_eq!(pending["data"][0]["status"], "PENDING");
    let send = |header: Vec<Value>, body: Vec<Value>| {
        json!({ "messaging_product": "whatsapp", "to": customer, "type": "template", "template": {
            "name": "order_shipped", "language": { "code": "en_US" },
            "components": [ { "type": "header", "parameters": header }, { "type": "body", "parameters": body } ] } })
    };
    let params = |n: usize| {
        (0..n)
            .map(|i| json!({ "type": "text", "text": format!("v{i}") }))
            .collect::<Vec<_>>()
    };
    let early = world.send(send(params(1), params(2))).await;
    assert_graph_error(&early, 404, 132001, None);

    // Approved after the review delay, with the webhook.
    let approved = status_webhook(&world, &id, "APPROVED").await;
    assert_eq!(approved["message_template_name"], "order_shipped");
    assert_eq!(approved["message_template_language"], "en_US");
    assert!(
        approved["message_template_id"].is_u64(),
        "an integer id: {approved}"
    );
    let (status, sent) = world.send(send(params(1), params(2))).await;
    assert_eq!(status, 200, "{sent}");
    let wrong = world.send(send(params(1), params(1))).await;
    assert_graph_error(&wrong, 400, 132000, None);

    // Paused by quality: announced, and sends are refused with 132015.
    let (status, _) = world
        .control(
            "POST",
            &format!("/_sandbox/templates/{id}/status"),
            json!({ "status": "PAUSED" }),
        )
        .await;
    assert_eq!(status, 200);
    status_webhook(&world, &id, "PAUSED").await;
    let paused = world.send(send(params(1), params(2))).await;
    assert_graph_error(&paused, 400, 132015, None);

    // The same name and language again is refused; deleting frees it.
    let again = submit(
        &world,
        shipping("order_shipped", "Hi {{1}}, order {{2}} shipped."),
    )
    .await;
    assert_graph_error(&again, 400, 100, Some(2388024));
    assert_eq!(
        again.1["error"]["error_user_title"],
        "Content in This Language Already Exists"
    );
    let (status, deleted) = world
        .call("DELETE", &format!("{path}?name=order_shipped"), None)
        .await;
    assert_eq!((status, deleted["success"].as_bool()), (200, Some(true)));
    let gone = listed(&world, "name=order_shipped").await;
    assert!(gone["data"].as_array().unwrap().is_empty());
    let missing = world
        .call("DELETE", &format!("{path}?name=order_shipped"), None)
        .await;
    assert_graph_error(&missing, 400, 100, Some(2593002));
}

#[tokio::test]
async fn promotional_utility_templates_are_rejected_with_a_reason() {
    let world = World::start().await;
    let (status, created) = submit(&world, weekend_deal()).await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    let rejected = status_webhook(&world, &id, "REJECTED").await;
    assert_eq!(rejected["reason"], "INCORRECT_CATEGORY");
    // Meta's default fields leave the reason out: it must be asked for.
    let default = listed(&world, "status=REJECTED").await;
    assert_eq!(default["data"][0]["name"], "weekend_deal");
    assert!(
        default["data"][0].get("rejected_reason").is_none(),
        "{default}"
    );
    let found = listed(&world, "status=REJECTED&fields=name,rejected_reason").await;
    assert_eq!(found["data"][0]["rejected_reason"], "INCORRECT_CATEGORY");
    assert_eq!(found["data"][0]["name"], "weekend_deal");
    assert!(found["data"][0].get("components").is_none(), "{found}");
}

#[tokio::test]
async fn listings_give_metas_default_fields_unless_asked() {
    let world = World::start().await;
    let default = listed(&world, "limit=1").await;
    let keys: Vec<&str> = default["data"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "id",
        "name",
        "language",
        "status",
        "category",
        "parameter_format",
        "components",
    ] {
        assert!(keys.contains(&key), "{key} in {keys:?}");
    }
    assert!(!keys.contains(&"quality_score") && !keys.contains(&"rejected_reason"));
    let asked = listed(&world, "limit=1&fields=name,quality_score").await;
    assert_eq!(
        asked["data"][0]["quality_score"]["score"], "GREEN",
        "{asked}"
    );
    assert!(asked["data"][0]["quality_score"]["date"].is_i64());
}

/// The value of the first change of `field` for `template_id`.
async fn template_webhook(world: &World, field: &str, template_id: &str) -> Value {
    for _ in 0..500 {
        for body in world.receiver.bodies() {
            for change in body["entry"][0]["changes"].as_array().into_iter().flatten() {
                let id = change["value"]["message_template_id"]
                    .as_u64()
                    .map(|n| n.to_string());
                if change["field"] == field && id.as_deref() == Some(template_id) {
                    return change["value"].clone();
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!(
        "no {field} webhook for {template_id}: {:?}",
        world.receiver.bodies()
    );
}

#[tokio::test]
async fn quality_and_category_changes_are_announced_and_listed() {
    let world = World::start().await;
    let first = listed(&world, "limit=1").await["data"][0].clone();
    let id = first["id"].as_str().unwrap().to_string();
    let (status, _) = world
        .control(
            "POST",
            &format!("/_sandbox/templates/{id}/quality"),
            json!({ "score": "yellow" }),
        )
        .await;
    assert_eq!(status, 200);
    let quality = template_webhook(&world, "message_template_quality_update", &id).await;
    assert_eq!(quality["previous_quality_score"], "GREEN");
    assert_eq!(quality["new_quality_score"], "YELLOW");
    assert_eq!(quality["message_template_name"], first["name"]);
    assert_eq!(quality["message_template_language"], first["language"]);

    let (status, _) = world
        .control(
            "POST",
            &format!("/_sandbox/templates/{id}/category"),
            json!({ "category": "MARKETING" }),
        )
        .await;
    assert_eq!(status, 200);
    let category = template_webhook(&world, "template_category_update", &id).await;
    assert_eq!(category["previous_category"], first["category"]);
    assert_eq!(category["new_category"], "MARKETING");

    let now = listed(&world, "limit=1&fields=category,quality_score").await;
    assert_eq!(now["data"][0]["category"], "MARKETING");
    assert_eq!(now["data"][0]["quality_score"]["score"], "YELLOW");
    let (status, _) = world
        .control(
            "POST",
            &format!("/_sandbox/templates/{id}/quality"),
            json!({ "score": "PURPLE" }),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn invalid_templates_are_refused_as_meta_refuses_them() {
    let world = World::start().await;
    let waba = world.demo().waba_id.clone();
    let path = format!("{waba}/message_templates");
    let mut bad_name = shipping("Order Shipped", "Hi {{1}}, order {{2}} shipped.");
    let result = submit(&world, bad_name.clone()).await;
    assert_graph_error(&result, 400, 100, None);
    bad_name["name"] = json!("fine_name");
    bad_name["category"] = json!("GOSSIP");
    assert_graph_error(&submit(&world, bad_name).await, 400, 100, None);
    let at_edge = submit(&world, shipping("edge", "{{1}} order {{2}} shipped")).await;
    assert_graph_error(&at_edge, 400, 100, Some(2388299));
    let long = submit(
        &world,
        shipping(
            "long",
            &format!("Hi {{{{1}}}} {{{{2}}}} {}", "x".repeat(1100)),
        ),
    )
    .await;
    assert_graph_error(&long, 400, 100, Some(2388040));
    let unknown_waba = world
        .call(
            "POST",
            "999999/message_templates",
            Some(shipping("x", "Hi {{1}}, {{2}} here.")),
        )
        .await;
    assert_eq!(unknown_waba.0, 400);
    // Nothing refused was stored.
    let (_, all) = world.call("GET", &path, None).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 2, "{all}");
}

#[tokio::test]
async fn rejected_and_approved_templates_are_edited_within_meta_s_limits() {
    let world = World::start().await;
    let (_, created) = submit(&world, weekend_deal()).await;
    let id = created["id"].as_str().unwrap().to_string();
    status_webhook(&world, &id, "REJECTED").await;

    // Editing the pending one is refused; the rejected one may change category.
    let (status, edited) = world
        .call("POST", &id, Some(json!({ "category": "MARKETING", "components": shipping("x", "Hi {{1}}, 20% off order {{2}} this weekend.")["components"] })))
        .await;
    assert_eq!(
        (status, edited["success"].as_bool()),
        (200, Some(true)),
        "{edited}"
    );
    let found = listed(&world, "name=weekend_deal").await;
    assert_eq!(
        (
            found["data"][0]["status"].as_str(),
            found["data"][0]["category"].as_str()
        ),
        (Some("PENDING"), Some("MARKETING"))
    );
    let pending = world
        .call("POST", &id, Some(json!({ "components": [] })))
        .await;
    assert_graph_error(&pending, 400, 100, None);
    status_webhook(&world, &id, "APPROVED").await;

    // Approved: one edit a day, no category change, components checked.
    let body = |text: &str| json!({ "components": [{ "type": "BODY", "text": text, "example": { "body_text": [["Ann"]] } }] });
    let category = world
        .call("POST", &id, Some(json!({ "category": "UTILITY" })))
        .await;
    assert_graph_error(&category, 400, 100, None);
    let invalid = world
        .call("POST", &id, Some(body("{{1}} is at the start")))
        .await;
    assert_graph_error(&invalid, 400, 100, Some(2388299));
    let (status, _) = world
        .call("POST", &id, Some(body("Hi {{1}}, this weekend only.")))
        .await;
    assert_eq!(status, 200);
    // Wait for the second approval before trying again.
    for _ in 0..200 {
        let now = listed(&world, "name=weekend_deal").await;
        if now["data"][0]["status"] == "APPROVED" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let again = world
        .call("POST", &id, Some(body("Hi {{1}}, see you soon.")))
        .await;
    assert_graph_error(&again, 400, 100, None);
    assert!(again.1["error"]["error_user_msg"]
        .as_str()
        .unwrap()
        .contains("once a day"));
}

#[tokio::test]
async fn a_named_template_needs_each_parameter_s_name() {
    let world = World::start().await;
    let waba = world.demo().waba_id.clone();
    let customer = world.demo().customer_wa_id.clone();
    let (status, created) = world
        .call("POST", &format!("{waba}/message_templates"), Some(json!({
            "name": "table_ready", "language": "en_US", "category": "UTILITY", "parameter_format": "NAMED",
            "components": [{ "type": "BODY", "text": "Hi {{first_name}}, table for {{party_size}} is ready.",
                "example": { "body_text_named_params": [
                    { "param_name": "first_name", "example": "Ann" }, { "param_name": "party_size", "example": "4" } ] } }] })))
        .await;
    assert_eq!(status, 200, "{created}");
    status_webhook(&world, created["id"].as_str().unwrap(), "APPROVED").await;
    let send = |parameters: Value| {
        json!({ "messaging_product": "whatsapp", "to": customer, "type": "template",
        "template": { "name": "table_ready", "language": { "code": "en_US" },
            "components": [{ "type": "body", "parameters": parameters }] } })
    };
    let unnamed = world
        .send(send(
            json!([{ "type": "text", "text": "Bo" }, { "type": "text", "text": "2" }]),
        ))
        .await;
    assert_graph_error(&unnamed, 400, 131008, None);
    let (status, sent) = world
        .send(send(json!([
            { "type": "text", "parameter_name": "first_name", "text": "Bo" },
            { "type": "text", "parameter_name": "party_size", "text": "2" } ])))
        .await;
    assert_eq!(status, 200, "{sent}");
}
