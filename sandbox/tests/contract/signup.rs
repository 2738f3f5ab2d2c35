use serde_json::{json, Value};

use crate::helpers::{answer, World};

async fn finish(world: &World, choice: Value) -> (u16, Value) {
    answer(
        world
            .http
            .post(format!("{}/dialog/embedded_signup/finish", world.base))
            .json(&choice),
    )
    .await
}

#[tokio::test]
async fn the_sdk_and_the_popup_are_served() {
    let world = World::start().await;
    let sdk = world
        .http
        .get(format!("{}/sdk.js", world.base))
        .send()
        .await
        .unwrap();
    assert!(sdk.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/javascript"));
    let script = sdk.text().await.unwrap();
    assert!(
        script.contains(&format!("\"{}\"", world.base)),
        "the SDK knows the popup's origin"
    );
    assert!(script.contains("window.FB"));

    let popup = world
        .http
        .get(format!(
            "{}/dialog/embedded_signup?app_id=1000000000000001&config_id=1",
            world.base
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(popup.contains("Acme Bakery"));
    assert!(popup.contains("WA_EMBEDDED_SIGNUP"));
}

#[tokio::test]
async fn finishing_with_existing_assets_grants_a_code_for_the_waba() {
    let world = World::start().await;
    let demo = world.demo().clone();
    let (status, body) = finish(
        &world,
        json!({
            "app_id": "1000000000000001", "config_id": "77",
            "business": demo.business_id, "waba": demo.waba_id, "phone": demo.new_phone_number_id,
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["waba_id"], json!(demo.waba_id));
    assert_eq!(body["phone_number_id"], json!(demo.new_phone_number_id));
    let token = world.exchange(body["code"].as_str().unwrap()).await;
    assert!(token["access_token"].is_string());
}

#[tokio::test]
async fn finishing_can_create_a_business_a_waba_and_a_number() {
    let world = World::start().await;
    let (status, body) = finish(
        &world,
        json!({
            "app_id": "1000000000000001", "config_id": "77",
            "business": "__new", "new_business": "Zed's Bikes",
            "waba": "__new", "new_waba": "Zed's Bikes WA",
            "phone": "__new", "new_phone": "15557770000", "new_phone_name": "Zed's Bikes",
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let mut world = world;
    world.token = world.exchange(body["code"].as_str().unwrap()).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let phone = body["phone_number_id"].as_str().unwrap();
    let (status, info) = world
        .call(
            "GET",
            &format!("{phone}?fields=display_phone_number,status"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(info["display_phone_number"], "15557770000");
    assert_eq!(info["status"], "PENDING");
    // The new token sees only the new WABA.
    let other = world
        .call("GET", &world.demo().phone_number_id.clone(), None)
        .await;
    assert_eq!(other.0, 400);
}

#[tokio::test]
async fn only_waba_sharing_has_no_phone_and_bad_choices_are_refused() {
    let world = World::start().await;
    let demo = world.demo().clone();
    let (status, body) = finish(
        &world,
        json!({
            "app_id": "1000000000000001", "config_id": "77", "feature_type": "only_waba_sharing",
            "business": demo.business_id, "waba": demo.waba_id,
        }),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body["phone_number_id"].is_null());

    let wrong_app = finish(&world, json!({ "app_id": "1", "config_id": "77", "business": demo.business_id, "waba": demo.waba_id, "phone": demo.phone_number_id })).await;
    assert_eq!(wrong_app.0, 400);
    let no_config = finish(&world, json!({ "app_id": "1000000000000001", "config_id": "", "business": demo.business_id, "waba": demo.waba_id, "phone": demo.phone_number_id })).await;
    assert_eq!(no_config.0, 400);
    let foreign_phone = finish(&world, json!({ "app_id": "1000000000000001", "config_id": "7", "business": demo.business_id, "waba": demo.waba_id, "phone": "123" })).await;
    assert_eq!(foreign_phone.0, 400);
    let garbage = world
        .http
        .post(format!("{}/dialog/embedded_signup/finish", world.base))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
}
