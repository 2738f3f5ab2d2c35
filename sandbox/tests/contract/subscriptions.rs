use serde_json::json;

use crate::helpers::{assert_graph_error, Receiver, World};

#[tokio::test]
async fn subscribe_list_override_and_unsubscribe() {
    let world = World::start().await;
    let waba = world.demo().waba_id.clone();
    let path = format!("{waba}/subscribed_apps");
    // The helper subscribed the demo WABA; start from scratch.
    world.call("DELETE", &path, None).await;
    assert_eq!(
        world.call("GET", &path, None).await,
        (200, json!({ "data": [] }))
    );

    let (other, other_url) = Receiver::start().await;
    *other.verify_token.lock().unwrap() = "override-token".into();
    let override_body =
        json!({ "override_callback_uri": other_url, "verify_token": "override-token" });

    // Meta refuses an override before the plain subscription.
    let early = world.call("POST", &path, Some(override_body.clone())).await;
    assert_graph_error(&early, 400, 100, None);
    assert!(early.1["error"]["message"]
        .as_str()
        .unwrap()
        .contains("must be subscribed"));

    assert_eq!(
        world.call("POST", &path, None).await,
        (200, json!({ "success": true }))
    );
    let (_, listed) = world.call("GET", &path, None).await;
    assert_eq!(
        listed["data"][0]["whatsapp_business_api_data"]["id"],
        "1000000000000001"
    );
    assert!(listed["data"][0].get("override_callback_uri").is_none());

    assert_eq!(world.call("POST", &path, Some(override_body)).await.0, 200);
    let (_, listed) = world.call("GET", &path, None).await;
    assert_eq!(listed["data"][0]["override_callback_uri"], json!(other_url));

    // Webhooks for this WABA now go to the override.
    world.customer_writes("to the override").await;
    let bodies = other.wait_for(1).await;
    assert_eq!(bodies[0]["entry"][0]["id"], json!(waba));

    assert_eq!(
        world.call("DELETE", &path, None).await,
        (200, json!({ "success": true }))
    );
    assert_eq!(
        world.call("GET", &path, None).await.1,
        json!({ "data": [] })
    );
}

#[tokio::test]
async fn nothing_is_delivered_for_a_waba_the_app_is_not_subscribed_to() {
    let world = World::start().await;
    let waba = world.demo().waba_id.clone();
    world
        .call("DELETE", &format!("{waba}/subscribed_apps"), None)
        .await;
    world.customer_writes("is anyone there?").await;
    // Settled: the attempt was made (and logged), nothing was delivered.
    let (status, _) = world
        .control("POST", "/_sandbox/webhooks/settle", json!({}))
        .await;
    assert_eq!(status, 200);
    assert!(world.receiver.bodies().is_empty());
    let (_, log) = world
        .control("GET", "/_sandbox/webhooks", json!(null))
        .await;
    let last = log["attempts"].as_array().unwrap().last().unwrap().clone();
    assert!(
        last["error"].as_str().unwrap().contains("not subscribed"),
        "{last}"
    );

    world
        .call("POST", &format!("{waba}/subscribed_apps"), None)
        .await;
    world.customer_writes("hello again").await;
    world.receiver.wait_for(1).await;
}

#[tokio::test]
async fn an_override_that_fails_the_handshake_is_refused() {
    let world = World::start().await;
    let path = format!("{}/subscribed_apps", world.demo().waba_id);
    world.call("POST", &path, None).await;
    let (_, url) = Receiver::start().await;
    let result = world
        .call(
            "POST",
            &path,
            Some(json!({ "override_callback_uri": url, "verify_token": "not-what-it-expects" })),
        )
        .await;
    assert_eq!(result.0, 400, "{}", result.1);
    assert_eq!(result.1["error"]["code"], 2200);
}
