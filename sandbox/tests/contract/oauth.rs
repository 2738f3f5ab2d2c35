use serde_json::{json, Value};

use crate::helpers::{answer, assert_graph_error, World};

async fn as_result(response: reqwest::Response) -> (u16, Value) {
    (response.status().as_u16(), response.json().await.unwrap())
}

/// A code Meta will not exchange: error 100, with a subcode that says why.
fn assert_code_refused(body: &Value, subcode: i64) {
    assert_eq!(body["error"]["code"], 100, "{body}");
    assert_eq!(body["error"]["error_subcode"], subcode, "{body}");
}

#[tokio::test]
async fn code_exchange_returns_a_bearer_token_by_get_and_post() {
    let world = World::start().await;
    let by_get = world.exchange(&world.code().await).await;
    assert_eq!(by_get["token_type"], "bearer");
    assert!(by_get["access_token"].as_str().unwrap().starts_with("EAA"));
    // A business integration token never expires: no expires_in.
    assert!(by_get.get("expires_in").is_none());

    let code = world.code().await;
    let by_post = world.http.post(world.graph("oauth/access_token")).form(&[
        ("client_id", "1000000000000001"),
        ("client_secret", "sandbox-app-secret"),
        ("code", code.as_str()),
    ]);
    let (status, body) = answer(by_post).await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(body["access_token"], by_get["access_token"]);
}

#[tokio::test]
async fn a_code_is_single_use() {
    let world = World::start().await;
    let code = world.code().await;
    world.exchange(&code).await;
    let again = world.exchange(&code).await;
    assert_eq!(again["error"]["type"], "OAuthException");
    assert_code_refused(&again, 36009);
}

#[tokio::test]
async fn a_code_expires_after_thirty_seconds() {
    let world = World::start().await;
    let fresh = world.code().await;
    let stale = world.code().await;
    world.advance_clock(29).await;
    assert!(world.exchange(&fresh).await["access_token"].is_string());
    world.advance_clock(2).await;
    let expired = world.exchange(&stale).await;
    assert_code_refused(&expired, 36007);
}

#[tokio::test]
async fn a_wrong_secret_or_app_id_is_refused() {
    let world = World::start().await;
    let code = world.code().await;
    let call = |id: &'static str, secret: &'static str| {
        world.http.get(world.graph("oauth/access_token")).query(&[
            ("client_id", id),
            ("client_secret", secret),
            ("code", code.as_str()),
        ])
    };
    assert_graph_error(
        &answer(call("1000000000000001", "wrong")).await,
        400,
        1,
        None,
    );
    assert_graph_error(
        &answer(call("42", "sandbox-app-secret")).await,
        400,
        101,
        None,
    );
    // The failed attempts did not use the code up.
    assert!(world.exchange(&code).await["access_token"].is_string());
}

async fn debug_token(world: &World, app_token: &str, input: &str) -> (u16, Value) {
    let request = world
        .http
        .get(world.graph("debug_token"))
        .query(&[("input_token", input), ("access_token", app_token)]);
    answer(request).await
}

const APP_TOKEN: &str = "1000000000000001|sandbox-app-secret";

#[tokio::test]
async fn debug_token_names_the_granted_wabas() {
    let world = World::start().await;
    let (status, body) = debug_token(&world, APP_TOKEN, &world.token).await;
    assert_eq!(status, 200);
    let data = &body["data"];
    assert_eq!(data["is_valid"], true);
    assert_eq!(data["type"], "SYSTEM_USER");
    assert_eq!(data["expires_at"], 0);
    assert_eq!(data["app_id"], "1000000000000001");
    let management = data["granular_scopes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["scope"] == "whatsapp_business_management")
        .unwrap();
    assert_eq!(management["target_ids"], json!([world.demo().waba_id]));
}

#[tokio::test]
async fn debug_token_reports_invalid_tokens_with_200() {
    let world = World::start().await;
    world.revoke_token().await;
    let (status, body) = debug_token(&world, APP_TOKEN, &world.token).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["is_valid"], false);
    assert_eq!(body["data"]["error"]["code"], 190);

    let (status, body) = debug_token(&world, APP_TOKEN, "EAAnot-a-token").await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["is_valid"], false);

    // A wrong app token is an ordinary error.
    assert_graph_error(
        &debug_token(&world, "1|wrong", &world.token).await,
        401,
        190,
        None,
    );
}

#[tokio::test]
async fn me_gives_the_client_business() {
    let world = World::start().await;
    let (status, body) = world
        .call("GET", "me?fields=client_business_id", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["client_business_id"], json!(world.demo().business_id));
    assert!(body["id"].is_string());
}

#[tokio::test]
async fn expired_revoked_and_garbage_tokens_get_190() {
    let mut world = World::start().await;
    let phone = world.demo().phone_number_id.clone();

    world.expire_token(None).await;
    assert_graph_error(&world.call("GET", &phone, None).await, 401, 190, Some(463));

    world.token = world.exchange(&world.code().await).await["access_token"]
        .as_str()
        .unwrap()
        .into();
    world.revoke_token().await;
    assert_graph_error(&world.call("GET", &phone, None).await, 401, 190, Some(458));

    world.token = "garbage".into();
    let response = world
        .http
        .get(world.graph(&phone))
        .bearer_auth("garbage")
        .send()
        .await
        .unwrap();
    assert!(response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    assert_graph_error(&as_result(response).await, 401, 190, None);
}

#[tokio::test]
async fn a_token_expiring_later_works_until_then() {
    let world = World::start().await;
    let phone = world.demo().phone_number_id.clone();
    world.expire_token(Some(60)).await;
    assert_eq!(world.call("GET", &phone, None).await.0, 200);
    world.advance_clock(61).await;
    assert_graph_error(&world.call("GET", &phone, None).await, 401, 190, Some(463));
}

#[tokio::test]
async fn removing_the_app_revokes_its_tokens_and_says_so_by_webhook() {
    let world = World::start().await;
    let waba = world.demo().waba_id.clone();
    let phone = world.demo().phone_number_id.clone();
    let (status, body) = world
        .control(
            "POST",
            &format!("/_sandbox/wabas/{waba}/remove-app"),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["revoked_tokens"].as_i64()),
        (200, Some(1)),
        "{body}"
    );
    assert_graph_error(&world.call("GET", &phone, None).await, 401, 190, Some(458));
    let bodies = world.receiver.wait_for(1).await;
    let change = &bodies[0]["entry"][0]["changes"][0];
    assert_eq!(change["field"], "account_update");
    assert_eq!(change["value"]["event"], "PARTNER_APP_UNINSTALLED");
    assert_eq!(change["value"]["waba_info"]["waba_id"], waba.as_str());
    let (missing, _) = world
        .control("POST", "/_sandbox/wabas/42/remove-app", json!({}))
        .await;
    assert_eq!(missing, 404);
}
