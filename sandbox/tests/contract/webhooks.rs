use std::time::Duration;

use hmac::{Hmac, Mac};
use sandbox::SandboxConfig;
use serde_json::json;
use sha2::Sha256;

use crate::helpers::{Receiver, World};

fn expected_signature(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(b"sandbox-app-secret").unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn every_delivery_is_signed_over_its_exact_bytes() {
    let world = World::start().await;
    world.customer_writes("see https://example.com/a").await;
    world.receiver.wait_for(1).await;
    let posts = world.receiver.posts.lock().unwrap().clone();
    for (headers, body) in &posts {
        assert_eq!(
            headers["x-hub-signature-256"].to_str().unwrap(),
            expected_signature(body)
        );
        assert_eq!(headers["content-type"], "application/json");
    }
    // Graph escapes slashes, so re-serialised JSON would not match.
    let raw = String::from_utf8(posts[0].1.to_vec()).unwrap();
    assert!(raw.contains(r"https:\/\/example.com\/a"), "{raw}");
}

#[tokio::test]
async fn a_failed_delivery_is_retried_until_200() {
    let world = World::start().await;
    world
        .receiver
        .answers
        .lock()
        .unwrap()
        .extend([500, 503, 404]);
    world.customer_writes("retry me").await;
    let bodies = world.receiver.wait_for(4).await;
    assert!(
        bodies.iter().all(|b| *b == bodies[0]),
        "retries carry the same body"
    );

    let (_, log) = world
        .control("GET", "/_sandbox/webhooks", json!(null))
        .await;
    let attempts: Vec<_> = log["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["attempt"].as_u64().unwrap(),
                a["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(attempts, [(1, 500), (2, 503), (3, 404), (4, 200)]);
}

#[tokio::test]
async fn delivery_stops_after_the_last_retry() {
    let config = SandboxConfig {
        retry_schedule: vec![Duration::from_millis(10), Duration::from_millis(10)],
        ..SandboxConfig::default()
    };
    let world = World::start_with(config).await;
    world.receiver.answers.lock().unwrap().extend([500; 10]);
    world.customer_writes("never acknowledged").await;
    world.receiver.wait_for(3).await;
    let (status, settled) = world
        .control("POST", "/_sandbox/webhooks/settle", json!({}))
        .await;
    assert_eq!((status, settled["in_flight"].as_u64()), (200, Some(0)));
    assert_eq!(world.receiver.posts.lock().unwrap().len(), 3);
    let (_, summary) = world
        .control("GET", "/_sandbox/webhooks/summary", json!(null))
        .await;
    assert_eq!(
        (
            summary["deliveries"].as_u64(),
            summary["acknowledged"].as_u64(),
            summary["unanswered"].as_u64(),
            summary["attempts"].as_u64()
        ),
        (Some(1), Some(0), Some(1), Some(3)),
        "{summary}"
    );
}

#[tokio::test]
async fn the_summary_counts_each_delivery_once_however_many_attempts() {
    let world = World::start().await;
    world.receiver.answers.lock().unwrap().extend([503, 503]);
    world.customer_writes("first").await;
    world.receiver.wait_for(3).await;
    world.customer_writes("second").await;
    world.receiver.wait_for(4).await;
    world
        .control("POST", "/_sandbox/webhooks/settle", json!({}))
        .await;
    let (_, summary) = world
        .control("GET", "/_sandbox/webhooks/summary", json!(null))
        .await;
    assert_eq!(summary["deliveries"], 2, "{summary}");
    assert_eq!(summary["acknowledged"], 2, "{summary}");
    assert_eq!(summary["unanswered"], 0, "{summary}");
    assert_eq!(summary["attempts"], 4, "{summary}");
}

#[test]
fn retrying_for_a_time_extends_the_schedule_to_cover_it() {
    let mut config = SandboxConfig::default();
    let quick: Duration = config.retry_schedule.iter().sum();
    config.retry_for(Duration::from_secs(30));
    let total: Duration = config.retry_schedule.iter().sum();
    assert_eq!(total, Duration::from_secs(30));
    assert!(config
        .retry_schedule
        .iter()
        .all(|w| *w <= Duration::from_secs(2)));
    // A time shorter than the quick retries leaves them as they are.
    let mut short = SandboxConfig::default();
    short.retry_for(quick / 2);
    assert_eq!(
        short.retry_schedule,
        SandboxConfig::default().retry_schedule
    );
}

#[tokio::test]
async fn settling_waits_for_a_sends_statuses_to_arrive() {
    let world = World::start().await;
    let customer = world.demo().customer_wa_id.clone();
    world.customer_writes("hello").await;
    let (status, sent) = world.send_text(&customer, "answer").await;
    assert_eq!(status, 200, "{sent}");
    let wamid = sent["messages"][0]["id"].as_str().unwrap().to_string();
    // Statuses follow the send after a delay: settling waits for them.
    let (status, settled) = world
        .control("POST", "/_sandbox/webhooks/settle", json!({}))
        .await;
    assert_eq!((status, settled["in_flight"].as_u64()), (200, Some(0)));
    let reported: Vec<String> = world
        .receiver
        .statuses()
        .into_iter()
        .filter(|(id, _, _)| *id == wamid)
        .map(|(_, status, _)| status)
        .collect();
    assert_eq!(reported, ["sent", "delivered", "read"]);
}

#[tokio::test]
async fn settling_gives_up_while_the_callback_keeps_failing() {
    let config = SandboxConfig {
        retry_schedule: vec![Duration::from_secs(30)],
        ..SandboxConfig::default()
    };
    let world = World::start_with(config).await;
    world.receiver.answers.lock().unwrap().extend([500; 10]);
    world.customer_writes("never acknowledged").await;
    let (status, settled) = world
        .control(
            "POST",
            "/_sandbox/webhooks/settle",
            json!({ "timeout_ms": 300 }),
        )
        .await;
    assert_eq!(status, 504);
    assert_eq!(settled["in_flight"].as_u64(), Some(1), "{settled}");
}

#[tokio::test]
async fn the_callback_is_verified_by_handshake_before_use() {
    let world = World::start().await;
    let (other, url) = Receiver::start().await;
    *other.verify_token.lock().unwrap() = "something-else".into();
    let (status, body) = world
        .control("PUT", "/_sandbox/webhook", json!({ "url": url }))
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().contains("challenge"),
        "{body}"
    );
    let (status, _) = world
        .control(
            "PUT",
            "/_sandbox/webhook",
            json!({ "url": url, "verify_token": "something-else" }),
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn duplicate_fault_delivers_twice() {
    let world = World::start().await;
    world
        .control(
            "PUT",
            "/_sandbox/faults",
            json!({ "duplicate_webhooks": 1.0 }),
        )
        .await;
    world.customer_writes("twice").await;
    let bodies = world.receiver.wait_for(2).await;
    assert_eq!(bodies[0], bodies[1]);
}

#[tokio::test]
async fn batch_fault_groups_changes_in_one_post() {
    let world = World::start().await;
    world
        .control("PUT", "/_sandbox/faults", json!({ "batch_webhooks": true }))
        .await;
    let wa_id = world.demo().customer_wa_id.clone();
    let path = format!("/_sandbox/customers/{wa_id}/messages");
    let (a, b) = tokio::join!(
        world.control(
            "POST",
            &path,
            json!({ "type": "text", "text": { "body": "one" } })
        ),
        world.control(
            "POST",
            &path,
            json!({ "type": "text", "text": { "body": "two" } })
        ),
    );
    assert_eq!((a.0, b.0), (200, 200));
    let (status, _) = world
        .control("POST", "/_sandbox/webhooks/settle", json!({}))
        .await;
    assert_eq!(status, 200);
    let bodies = world.receiver.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert_eq!(
        bodies[0]["entry"][0]["changes"].as_array().unwrap().len(),
        2
    );
}

#[tokio::test]
async fn reorder_fault_lets_later_statuses_overtake() {
    let config = SandboxConfig {
        status_delay: Duration::from_millis(5),
        ..SandboxConfig::default()
    };
    let world = World::start_with(config).await;
    world
        .control(
            "PUT",
            "/_sandbox/faults",
            json!({ "reorder_webhooks": 0.5 }),
        )
        .await;
    world.customer_writes("open the window").await;
    let to = world.demo().customer_wa_id.clone();
    let mut overtaken = false;
    for _ in 0..10 {
        let (_, sent) = world.send_text(&to, "hello").await;
        let wamid = sent["messages"][0]["id"].as_str().unwrap().to_string();
        world.receiver.wait_for_status(&wamid, "read").await;
        world.receiver.wait_for_status(&wamid, "sent").await;
        world.receiver.wait_for_status(&wamid, "delivered").await;
        let order: Vec<String> = world
            .receiver
            .statuses()
            .into_iter()
            .filter(|(w, _, _)| *w == wamid)
            .map(|(_, s, _)| s)
            .collect();
        overtaken |= order != ["sent", "delivered", "read"];
    }
    assert!(
        overtaken,
        "with a 50% reorder chance, 10 sends kept order every time"
    );
}

#[tokio::test]
async fn no_callback_means_the_attempt_is_logged_as_undeliverable() {
    let world = World::start().await;
    world
        .control("DELETE", "/_sandbox/webhook", json!(null))
        .await;
    world.customer_writes("into the void").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_, log) = world
        .control("GET", "/_sandbox/webhooks", json!(null))
        .await;
    let last = log["attempts"].as_array().unwrap().last().unwrap().clone();
    assert!(
        last["error"].as_str().unwrap().contains("no callback"),
        "{last}"
    );
    let _ = Receiver::default();
}
