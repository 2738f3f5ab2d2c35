//! Token lifetimes (reference meta-2026 §6): business tokens never expire
//! unless the login configuration says 60 days; `fb_exchange_token` gives
//! a fresh 60-day token (or is refused, when the sandbox is told Meta
//! refuses it); all on the sandbox clock.

use serde_json::{json, Value};

use crate::helpers::{answer, assert_graph_error, World};

const APP: &str = "1000000000000001";
const SECRET: &str = "sandbox-app-secret";
const SIXTY_DAYS: i64 = 60 * 24 * 3600;

async fn set_app(world: &World, settings: Value) -> Value {
    let (status, body) = world.control("PUT", "/_sandbox/app", settings).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The sandbox clock now, in Unix seconds.
async fn now_secs(world: &World) -> i64 {
    let (_, state) = world.control("GET", "/_sandbox/state", Value::Null).await;
    state["now"].as_i64().unwrap() / 1000
}

async fn debug(world: &World, token: &str) -> Value {
    let (status, body) = answer(world.http.get(world.graph("debug_token")).query(&[
        ("input_token", token),
        ("access_token", &format!("{APP}|{SECRET}")),
    ]))
    .await;
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

async fn refresh(world: &World, token: &str) -> (u16, Value) {
    answer(world.http.get(world.graph("oauth/access_token")).query(&[
        ("grant_type", "fb_exchange_token"),
        ("client_id", APP),
        ("client_secret", SECRET),
        ("fb_exchange_token", token),
        ("set_token_expires_in_60_days", "true"),
    ]))
    .await
}

/// Reads the demo number with `token`: the HTTP status.
async fn read_with(world: &World, token: &str) -> (u16, Value) {
    let phone = world.demo().phone_number_id.clone();
    answer(world.http.get(world.graph(&phone)).bearer_auth(token)).await
}

#[tokio::test]
async fn with_the_60_day_setting_the_exchange_answers_expires_in_and_the_token_expires() {
    let world = World::start().await;
    let settings = set_app(&world, json!({ "token_expiry": "60_days" })).await;
    assert_eq!(settings["token_expiry"], "60_days");
    assert_eq!(settings["token_refresh"], "allowed");
    let before = now_secs(&world).await;
    let exchanged = world.exchange(&world.code().await).await;
    assert_eq!(exchanged["expires_in"], SIXTY_DAYS, "{exchanged}");
    let token = exchanged["access_token"].as_str().unwrap().to_string();
    let expires_at = debug(&world, &token).await["expires_at"].as_i64().unwrap();
    assert!((before + SIXTY_DAYS..=before + SIXTY_DAYS + 5).contains(&expires_at));

    // The sandbox clock decides.
    world.advance_clock((SIXTY_DAYS - 60) as u64).await;
    assert_eq!(read_with(&world, &token).await.0, 200);
    world.advance_clock(120).await;
    assert_graph_error(&read_with(&world, &token).await, 401, 190, Some(463));
    let data = debug(&world, &token).await;
    assert_eq!(data["is_valid"], false);
    assert_eq!(data["error"]["subcode"], 463);
    // An expired token cannot be refreshed.
    assert_graph_error(&refresh(&world, &token).await, 401, 190, Some(463));

    // Back to never: no expires_in, expires_at 0.
    set_app(&world, json!({ "token_expiry": "never" })).await;
    let exchanged = world.exchange(&world.code().await).await;
    assert!(exchanged.get("expires_in").is_none(), "{exchanged}");
    let token = exchanged["access_token"].as_str().unwrap();
    assert_eq!(debug(&world, token).await["expires_at"], 0);
}

#[tokio::test]
async fn a_token_exchange_gives_a_fresh_60_day_token_and_the_old_one_lives_on() {
    let world = World::start().await;
    let before = now_secs(&world).await;
    let (status, fresh) = refresh(&world, &world.token).await;
    assert_eq!(status, 200, "{fresh}");
    assert_eq!(fresh["token_type"], "bearer");
    assert_eq!(fresh["expires_in"], SIXTY_DAYS);
    let token = fresh["access_token"].as_str().unwrap().to_string();
    assert_ne!(token, world.token);
    let data = debug(&world, &token).await;
    assert_eq!(data["is_valid"], true);
    let expires_at = data["expires_at"].as_i64().unwrap();
    assert!((before + SIXTY_DAYS..=before + SIXTY_DAYS + 5).contains(&expires_at));
    let management = data["granular_scopes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["scope"] == "whatsapp_business_management")
        .unwrap()
        .clone();
    assert_eq!(management["target_ids"], json!([world.demo().waba_id]));
    assert_eq!(read_with(&world, &token).await.0, 200);
    // The old (never-expiring) token still works.
    assert_eq!(read_with(&world, &world.token).await.0, 200);

    // Refreshing a refreshed token moves its expiry on.
    world.advance_clock(30 * 24 * 3600).await;
    let (status, again) = refresh(&world, &token).await;
    assert_eq!(status, 200, "{again}");
    world.advance_clock(40 * 24 * 3600).await;
    assert_graph_error(&read_with(&world, &token).await, 401, 190, Some(463));
    let newer = again["access_token"].as_str().unwrap();
    assert_eq!(read_with(&world, newer).await.0, 200);
}

#[tokio::test]
async fn a_refused_or_malformed_token_exchange_is_an_oauth_error() {
    let world = World::start().await;
    let settings = set_app(&world, json!({ "token_refresh": "refused" })).await;
    assert_eq!(settings["token_refresh"], "refused");
    let refused = refresh(&world, &world.token).await;
    assert_graph_error(&refused, 400, 100, None);
    assert_eq!(refused.1["error"]["type"], "OAuthException");
    set_app(&world, json!({ "token_refresh": "allowed" })).await;

    assert_graph_error(&refresh(&world, "EAAnot-a-token").await, 401, 190, None);
    let wrong_secret = answer(world.http.get(world.graph("oauth/access_token")).query(&[
        ("grant_type", "fb_exchange_token"),
        ("client_id", APP),
        ("client_secret", "wrong"),
        ("fb_exchange_token", &world.token),
    ]))
    .await;
    assert_graph_error(&wrong_secret, 400, 1, None);
    let unknown_grant = answer(world.http.get(world.graph("oauth/access_token")).query(&[
        ("grant_type", "client_credentials"),
        ("client_id", APP),
        ("client_secret", SECRET),
    ]))
    .await;
    assert_graph_error(&unknown_grant, 400, 100, None);
    world.revoke_token().await;
    assert_graph_error(&refresh(&world, &world.token).await, 401, 190, Some(458));
    let bad_setting = world
        .control("PUT", "/_sandbox/app", json!({ "token_expiry": "30_days" }))
        .await;
    assert_eq!(bad_setting.0, 400);
}
