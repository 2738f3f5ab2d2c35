use serde_json::json;

use crate::helpers::{assert_graph_error, World};

#[tokio::test]
async fn the_profile_is_read_in_data_zero() {
    let world = World::start().await;
    let path = format!(
        "{}/whatsapp_business_profile?fields=about,email,websites,vertical",
        world.demo().phone_number_id
    );
    let (status, body) = world.call("GET", &path, None).await;
    assert_eq!(status, 200, "{body}");
    let profile = &body["data"][0];
    assert_eq!(profile["about"], "Fresh bread every morning.");
    assert_eq!(profile["websites"], json!(["https://acme-bakery.example"]));
    assert_eq!(profile["vertical"], "RESTAURANT");
    assert_eq!(profile["messaging_product"], "whatsapp");
    assert!(
        profile.get("address").is_none(),
        "only the fields asked for"
    );
}

#[tokio::test]
async fn updates_change_only_the_fields_given() {
    let world = World::start().await;
    let phone = world.demo().phone_number_id.clone();
    let path = format!("{phone}/whatsapp_business_profile");
    let update = json!({ "messaging_product": "whatsapp", "about": "Open 7-19", "websites": ["https://a.example", "http://b.example"] });
    assert_eq!(
        world.call("POST", &path, Some(update)).await,
        (200, json!({ "success": true }))
    );
    let (_, body) = world.call("GET", &path, None).await;
    assert_eq!(body["data"][0]["about"], "Open 7-19");
    assert_eq!(body["data"][0]["websites"].as_array().unwrap().len(), 2);
    assert_eq!(body["data"][0]["email"], "hello@acme-bakery.example");
}

#[tokio::test]
async fn metas_field_limits_are_enforced() {
    let world = World::start().await;
    let path = format!("{}/whatsapp_business_profile", world.demo().phone_number_id);
    let cases = [
        json!({ "about": "" }),
        json!({ "about": "x".repeat(140) }),
        json!({ "address": "x".repeat(257) }),
        json!({ "description": "x".repeat(513) }),
        json!({ "email": "not-an-email" }),
        json!({ "email": format!("{}@example.com", "x".repeat(120)) }),
        json!({ "websites": ["https://a.example", "https://b.example", "https://c.example"] }),
        json!({ "websites": ["ftp://a.example"] }),
        json!({ "vertical": "SPACESHIPS" }),
        json!({ "profile_picture_handle": "4:not-a-real-handle" }),
    ];
    for case in cases {
        let mut body = case.clone();
        body["messaging_product"] = json!("whatsapp");
        let result = world.call("POST", &path, Some(body)).await;
        assert_graph_error(&result, 400, 100, None);
        let field = case.as_object().unwrap().keys().next().unwrap().clone();
        assert!(
            result.1["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&format!("Param {field}")),
            "{}",
            result.1
        );
    }
    // Nothing was changed by the refused updates.
    let (_, body) = world.call("GET", &path, None).await;
    assert_eq!(body["data"][0]["about"], "Fresh bread every morning.");
    let max = json!({ "messaging_product": "whatsapp", "about": "x".repeat(139), "description": "d".repeat(512), "vertical": "RETAIL" });
    assert_eq!(world.call("POST", &path, Some(max)).await.0, 200);
}
