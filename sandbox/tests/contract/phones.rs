use serde_json::json;

use crate::helpers::{assert_graph_error, World, VERSION};

#[tokio::test]
async fn a_phone_number_has_metas_default_fields() {
    let world = World::start().await;
    let phone = world.demo().phone_number_id.clone();
    let (status, body) = world.call("GET", &phone, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], json!(phone));
    assert_eq!(body["display_phone_number"], "15550001234");
    assert_eq!(body["verified_name"], "Acme Bakery");
    assert_eq!(body["quality_rating"], "GREEN");
    assert_eq!(body["code_verification_status"], "VERIFIED");
    assert_eq!(body["throughput"]["level"], "STANDARD");
    assert!(body["webhook_configuration"]["application"]
        .as_str()
        .unwrap()
        .ends_with("/hook"));
}

#[tokio::test]
async fn fields_select_what_comes_back() {
    let world = World::start().await;
    let phone = world.demo().new_phone_number_id.clone();
    let (status, body) = world
        .call(
            "GET",
            &format!("{phone}?fields=status,is_pin_enabled"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({ "status": "PENDING", "is_pin_enabled": false, "id": phone })
    );

    let unknown = world
        .call("GET", &format!("{phone}?fields=favourite_colour"), None)
        .await;
    assert_graph_error(&unknown, 400, 100, None);
}

#[tokio::test]
async fn an_unknown_id_is_metas_object_does_not_exist_error() {
    let world = World::start().await;
    let result = world.call("GET", "123456789012345", None).await;
    assert_graph_error(&result, 400, 100, Some(33));
    assert_eq!(result.1["error"]["type"], "GraphMethodException");
    assert!(result.1["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Object with ID '123456789012345' does not exist"));
}

#[tokio::test]
async fn phone_numbers_of_a_waba_page_with_cursors() {
    let world = World::start().await;
    let waba = world.demo().waba_id.clone();
    let (status, first) = world
        .call("GET", &format!("{waba}/phone_numbers?limit=1"), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(first["data"].as_array().unwrap().len(), 1);
    let after = first["paging"]["cursors"]["after"].as_str().unwrap();
    assert!(first["paging"]["next"].is_string());
    let (_, second) = world
        .call(
            "GET",
            &format!("{waba}/phone_numbers?limit=1&after={after}"),
            None,
        )
        .await;
    assert_eq!(second["data"].as_array().unwrap().len(), 1);
    assert_ne!(first["data"][0]["id"], second["data"][0]["id"]);
    assert!(second["paging"].get("next").is_none());
}

#[tokio::test]
async fn register_sets_the_pin_then_requires_it() {
    let world = World::start().await;
    let phone = world.demo().new_phone_number_id.clone();
    let path = format!("{phone}/register");
    let register = |pin: &str| {
        world.call(
            "POST",
            &path,
            Some(json!({ "messaging_product": "whatsapp", "pin": pin })),
        )
    };
    assert_eq!(register("135790").await, (200, json!({ "success": true })));
    assert_graph_error(&register("000000").await, 400, 133005, None);
    assert_eq!(register("135790").await.0, 200);
    assert_graph_error(&register("12ab").await, 400, 100, None);

    let (_, body) = world
        .call(
            "GET",
            &format!("{phone}?fields=status,is_pin_enabled"),
            None,
        )
        .await;
    assert_eq!(body["status"], "CONNECTED");
    assert_eq!(body["is_pin_enabled"], true);
}

#[tokio::test]
async fn ten_register_calls_per_72_hours_then_133016() {
    let world = World::start().await;
    let phone = world.demo().new_phone_number_id.clone();
    let body = json!({ "messaging_product": "whatsapp", "pin": "111111" });
    for attempt in 1..=10 {
        let (status, _) = world
            .call("POST", &format!("{phone}/register"), Some(body.clone()))
            .await;
        assert_eq!(status, 200, "attempt {attempt}");
    }
    assert_graph_error(
        &world
            .call("POST", &format!("{phone}/register"), Some(body.clone()))
            .await,
        400,
        133016,
        None,
    );
    world.advance_clock(72 * 3600).await;
    assert_eq!(
        world
            .call("POST", &format!("{phone}/register"), Some(body))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn register_and_deregister_share_the_10_per_72_hours_limit() {
    let world = World::start().await;
    let phone = world.demo().new_phone_number_id.clone();
    let register = json!({ "messaging_product": "whatsapp", "pin": "111111" });
    for attempt in 1..=5 {
        let registered = world
            .call("POST", &format!("{phone}/register"), Some(register.clone()))
            .await;
        assert_eq!(registered.0, 200, "register {attempt}");
        let deregistered = world
            .call("POST", &format!("{phone}/deregister"), None)
            .await;
        assert_eq!(deregistered.0, 200, "deregister {attempt}");
    }
    // Ten calls in all: the eleventh of either kind is refused.
    assert_graph_error(
        &world
            .call("POST", &format!("{phone}/deregister"), None)
            .await,
        400,
        133016,
        None,
    );
    assert_graph_error(
        &world
            .call("POST", &format!("{phone}/register"), Some(register.clone()))
            .await,
        400,
        133016,
        None,
    );
    // The window moves: the first calls leave it 72 hours after them.
    world.advance_clock(72 * 3600).await;
    assert_eq!(
        world
            .call("POST", &format!("{phone}/deregister"), None)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn deregistered_numbers_cannot_send() {
    let world = World::start().await;
    let phone = world.demo().phone_number_id.clone();
    assert_eq!(
        world
            .call("POST", &format!("{phone}/deregister"), None)
            .await,
        (200, json!({ "success": true }))
    );
    let to = world.demo().customer_wa_id.clone();
    assert_graph_error(&world.send_text(&to, "hello").await, 400, 133010, None);
}

#[tokio::test]
async fn the_two_step_pin_can_be_changed() {
    let world = World::start().await;
    let phone = world.demo().phone_number_id.clone();
    assert_eq!(
        world
            .call("POST", &phone, Some(json!({ "pin": "654321" })))
            .await
            .0,
        200
    );
    let register = world
        .call(
            "POST",
            &format!("{phone}/register"),
            Some(json!({ "messaging_product": "whatsapp", "pin": "654321" })),
        )
        .await;
    assert_eq!(register.0, 200);
}

#[tokio::test]
async fn any_graph_version_is_accepted_and_reported() {
    let world = World::start().await;
    let phone = world.demo().phone_number_id.clone();
    let response = world
        .http
        .get(format!("{}/v19.0/{phone}", world.base))
        .bearer_auth(&world.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["facebook-api-version"], "v19.0");
    let _ = VERSION;
}

#[tokio::test]
async fn another_businesss_token_cannot_see_the_number() {
    let world = World::start().await;
    // A code for the demo business that grants no WABA.
    let (_, code) = world
        .control("POST", "/_sandbox/codes", json!({ "waba_ids": [] }))
        .await;
    let token = world.exchange(code["code"].as_str().unwrap()).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let phone = world.demo().phone_number_id.clone();
    let response = world
        .http
        .get(world.graph(&phone))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let result = (response.status().as_u16(), response.json().await.unwrap());
    assert_graph_error(&result, 400, 100, Some(33));
}

#[tokio::test]
async fn a_throughput_upgrade_refuses_sends_for_its_minute_then_announces_itself() {
    let world = World::start().await;
    let phone = world.demo().phone_number_id.clone();
    let customer = world.demo().customer_wa_id.clone();
    world.customer_writes("hello").await;
    let before = world.receiver.wait_for(1).await.len();
    let (status, body) = world
        .control(
            "POST",
            &format!("/_sandbox/phones/{phone}/throughput-upgrade"),
            json!({ "takes_ms": 400 }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let during = world.send_text(&customer, "during the upgrade").await;
    assert_graph_error(&during, 400, 131057, None);

    let bodies = world.receiver.wait_for(before + 1).await;
    let change = &bodies[before]["entry"][0]["changes"][0];
    assert_eq!(change["field"], "phone_number_quality_update");
    assert_eq!(change["value"]["event"], "THROUGHPUT_UPGRADE");
    assert_eq!(change["value"]["display_phone_number"], "15550001234");
    assert_eq!(
        change["value"]["max_daily_conversations_per_business"],
        "TIER_UNLIMITED"
    );
    let (_, read) = world
        .call("GET", &format!("{phone}?fields=throughput"), None)
        .await;
    assert_eq!(read["throughput"]["level"], "HIGH", "{read}");
    let (status, sent) = world.send_text(&customer, "after the upgrade").await;
    assert_eq!(status, 200, "{sent}");
}

#[tokio::test]
async fn an_error_about_the_whole_number_comes_as_a_messages_change_with_errors_only() {
    let world = World::start().await;
    let phone = world.demo().phone_number_id.clone();
    let (status, body) = world
        .control(
            "POST",
            &format!("/_sandbox/phones/{phone}/errors"),
            json!({ "code": 131060, "title": "Sync failed", "details": "The app's data could not be shared." }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let bodies = world.receiver.wait_for(1).await;
    let change = &bodies[0]["entry"][0]["changes"][0];
    assert_eq!(change["field"], "messages");
    let value = &change["value"];
    assert_eq!(value["metadata"]["phone_number_id"], json!(phone));
    assert!(
        value.get("messages").is_none() && value.get("statuses").is_none(),
        "{value}"
    );
    assert_eq!(value["errors"][0]["code"], 131060);
    assert_eq!(value["errors"][0]["title"], "Sync failed");
    assert_eq!(value["errors"][0]["message"], "Sync failed");
    assert_eq!(
        value["errors"][0]["error_data"]["details"],
        "The app's data could not be shared."
    );
    let (status, _) = world
        .control(
            "POST",
            "/_sandbox/phones/nope/errors",
            json!({ "code": 1, "title": "x" }),
        )
        .await;
    assert_eq!(status, 404);
}
