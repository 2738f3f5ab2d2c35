//! `appsecret_proof` (reference meta-2026 §8): with *Require App Secret*
//! on, calls made with a business token need a proof; a proof given is
//! checked whether or not it is required; app tokens need none.

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::helpers::{answer, assert_graph_error, World};

const SECRET: &str = "sandbox-app-secret";

fn hmac_hex(message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The real clock in Unix seconds (proofs are checked against it, not
/// against the sandbox's clock).
fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn require_app_secret(world: &World, on: bool) {
    let (status, body) = world
        .control("PUT", "/_sandbox/app", json!({ "require_app_secret": on }))
        .await;
    assert_eq!(status, 200, "{body}");
}

/// Reads the demo number with the business token and these parameters.
async fn read_number(world: &World, params: &[(&str, String)]) -> (u16, serde_json::Value) {
    let phone = world.demo().phone_number_id.clone();
    answer(
        world
            .http
            .get(world.graph(&phone))
            .bearer_auth(&world.token)
            .query(params),
    )
    .await
}

#[tokio::test]
async fn with_the_setting_on_a_call_without_a_proof_is_refused() {
    let world = World::start().await;
    assert_eq!(
        read_number(&world, &[]).await.0,
        200,
        "off: no proof needed"
    );
    require_app_secret(&world, true).await;
    let refused = read_number(&world, &[]).await;
    assert_graph_error(&refused, 400, 100, None);
    assert_eq!(refused.1["error"]["type"], "GraphMethodException");
    assert!(refused.1["error"]["message"]
        .as_str()
        .unwrap()
        .contains("appsecret_proof"));
    // Sends are refused too, and nothing is sent.
    let (status, _) = world.send_text("16505550100", "hello").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_classic_and_the_time_stamped_proofs_both_pass() {
    let world = World::start().await;
    require_app_secret(&world, true).await;
    let classic = hmac_hex(&world.token);
    assert_eq!(
        read_number(&world, &[("appsecret_proof", classic)]).await.0,
        200
    );
    let time = now_secs().to_string();
    let stamped = hmac_hex(&format!("{}|{time}", world.token));
    let (status, body) = read_number(
        &world,
        &[("appsecret_proof", stamped), ("appsecret_time", time)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_wrong_or_stale_proof_is_refused_even_when_not_required() {
    let world = World::start().await;
    let wrong = read_number(&world, &[("appsecret_proof", hmac_hex("another token"))]).await;
    assert_graph_error(&wrong, 400, 100, None);
    // A time-stamped proof lives 5 minutes.
    let time = (now_secs() - 301).to_string();
    let stamped = hmac_hex(&format!("{}|{time}", world.token));
    let stale = read_number(
        &world,
        &[("appsecret_proof", stamped), ("appsecret_time", time)],
    )
    .await;
    assert_graph_error(&stale, 400, 100, None);
}

#[tokio::test]
async fn app_token_calls_need_no_proof() {
    let world = World::start().await;
    require_app_secret(&world, true).await;
    let (status, body) = answer(world.http.get(world.graph("debug_token")).query(&[
        ("input_token", world.token.clone()),
        ("access_token", format!("1000000000000001|{SECRET}")),
    ]))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["is_valid"], true);
}
