use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{assert_graph_error, World};

#[tokio::test]
async fn a_server_error_for_one_call_then_normal_service() {
    let world = World::start().await;
    let phone = world.demo().phone_number_id.clone();
    world
        .control("PUT", "/_sandbox/faults", json!({ "graph": [{ "path_contains": phone, "times": 1, "effect": { "kind": "server_error", "status": 503 } }] }))
        .await;
    assert_graph_error(&world.call("GET", &phone, None).await, 503, 2, None);
    assert_eq!(world.call("GET", &phone, None).await.0, 200);
}

#[tokio::test]
async fn a_500_is_metas_131000() {
    let world = World::start().await;
    world.customer_writes("hi").await;
    world
        .control("PUT", "/_sandbox/faults", json!({ "graph": [{ "path_contains": "messages", "method": "POST", "effect": { "kind": "server_error", "status": 500 } }] }))
        .await;
    let to = world.demo().customer_wa_id.clone();
    assert_graph_error(&world.send_text(&to, "x").await, 500, 131000, None);
    world
        .control("DELETE", "/_sandbox/faults", json!(null))
        .await;
    assert_eq!(world.send_text(&to, "x").await.0, 200);
}

#[tokio::test]
async fn slow_answers_and_throttling() {
    let world = World::start().await;
    let phone = world.demo().phone_number_id.clone();
    world
        .control(
            "PUT",
            "/_sandbox/faults",
            json!({ "graph": [
            { "times": 1, "effect": { "kind": "slow", "millis": 300 } },
            { "times": 1, "effect": { "kind": "throttle", "code": 130429 } },
            { "times": 1, "effect": { "kind": "throttle", "code": 4 } },
        ] }),
        )
        .await;
    let started = Instant::now();
    assert_eq!(world.call("GET", &phone, None).await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_graph_error(&world.call("GET", &phone, None).await, 429, 130429, None);
    assert_graph_error(&world.call("GET", &phone, None).await, 429, 4, None);
    assert_eq!(world.call("GET", &phone, None).await.0, 200);
}

#[tokio::test]
async fn malformed_fault_rules_are_refused() {
    let world = World::start().await;
    let (status, body) = world
        .control(
            "PUT",
            "/_sandbox/faults",
            json!({ "duplicate_webhooks": 2.0 }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = world
        .control(
            "PUT",
            "/_sandbox/faults",
            json!({ "graph": [{ "effect": { "kind": "explode" } }] }),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("invalid JSON body"));
}

#[tokio::test]
async fn a_rule_with_a_chance_hits_about_that_share_of_calls() {
    let world = World::start().await;
    let phone = world.demo().phone_number_id.clone();
    world
        .control(
            "PUT",
            "/_sandbox/faults",
            json!({ "graph": [
                { "path_contains": phone, "chance": 0.3, "effect": { "kind": "server_error", "status": 503 } },
            ] }),
        )
        .await;
    let mut failed = 0;
    for _ in 0..200 {
        match world.call("GET", &phone, None).await.0 {
            503 => failed += 1,
            200 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    // 60 expected; the seeded generator keeps this from flaking.
    assert!((30..=90).contains(&failed), "{failed} of 200 failed");

    world
        .control(
            "PUT",
            "/_sandbox/faults",
            json!({ "graph": [
            { "chance": 0.0, "effect": { "kind": "server_error", "status": 503 } },
        ] }),
        )
        .await;
    for _ in 0..20 {
        assert_eq!(world.call("GET", &phone, None).await.0, 200);
    }
}
