//! Numbers still to verify (reference meta-platform §4): NOT_VERIFIED
//! until a code requested by SMS or voice is verified; /register refused
//! until then; codes expire, wrong ones are refused, requests are limited.

use serde_json::{json, Value};

use crate::helpers::{answer, assert_graph_error, World};

/// Adds a number to the demo WABA: its id.
async fn add_number(world: &World, body: Value) -> String {
    let waba = world.demo().waba_id.clone();
    let (status, added) = world
        .control("POST", &format!("/_sandbox/wabas/{waba}/phones"), body)
        .await;
    assert_eq!(status, 200, "{added}");
    added["id"].as_str().unwrap().to_string()
}

async fn unverified_number(world: &World) -> String {
    add_number(
        world,
        json!({ "display_phone_number": "15558001000", "verified_name": "Late Shop", "verified": false }),
    )
    .await
}

async fn request_code(world: &World, phone: &str) -> (u16, Value) {
    world
        .call(
            "POST",
            &format!("{phone}/request_code"),
            Some(json!({ "code_method": "SMS", "language": "en_US" })),
        )
        .await
}

async fn verify(world: &World, phone: &str, code: &str) -> (u16, Value) {
    world
        .call(
            "POST",
            &format!("{phone}/verify_code"),
            Some(json!({ "code": code })),
        )
        .await
}

/// The code Meta sent, as the sandbox shows it.
async fn sent_code(world: &World, phone: &str) -> String {
    let (_, held) = world
        .control("GET", &format!("/_sandbox/phones/{phone}"), Value::Null)
        .await;
    held["last_verification_code"].as_str().unwrap().to_string()
}

async fn status_of(world: &World, phone: &str) -> Value {
    let (status, read) = world
        .call(
            "GET",
            &format!("{phone}?fields=code_verification_status"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{read}");
    read["code_verification_status"].clone()
}

fn wrong(code: &str) -> String {
    let first = (code.as_bytes()[0] - b'0' + 1) % 10;
    format!("{first}{}", &code[1..])
}

async fn register(world: &World, phone: &str) -> (u16, Value) {
    world
        .call(
            "POST",
            &format!("{phone}/register"),
            Some(json!({ "messaging_product": "whatsapp", "pin": "123456" })),
        )
        .await
}

#[tokio::test]
async fn an_unverified_number_reads_not_verified_and_cannot_register() {
    let world = World::start().await;
    let phone = unverified_number(&world).await;
    assert_eq!(status_of(&world, &phone).await, "NOT_VERIFIED");
    let (_, listed) = world
        .call(
            "GET",
            &format!(
                "{}/phone_numbers?fields=code_verification_status",
                world.demo().waba_id
            ),
            None,
        )
        .await;
    assert!(listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["id"] == json!(phone) && p["code_verification_status"] == "NOT_VERIFIED"));
    let refused = register(&world, &phone).await;
    assert_graph_error(&refused, 400, 133006, None);

    // Added verified by default; registered when asked.
    let verified = add_number(
        &world,
        json!({ "display_phone_number": "15558001001", "verified_name": "Ready Shop", "registered": true }),
    )
    .await;
    assert_eq!(status_of(&world, &verified).await, "VERIFIED");
    let (_, read) = world
        .call("GET", &format!("{verified}?fields=status"), None)
        .await;
    assert_eq!(read["status"], "CONNECTED");

    let waba = world.demo().waba_id.clone();
    for bad in [
        json!({ "display_phone_number": "15558001001", "verified_name": "Twice" }),
        json!({ "display_phone_number": "15558001002", "verified_name": "X", "verified": false, "registered": true }),
        json!({ "display_phone_number": "12", "verified_name": "Short" }),
    ] {
        let (status, body) = world
            .control("POST", &format!("/_sandbox/wabas/{waba}/phones"), bad)
            .await;
        assert_eq!(status, 400, "{body}");
    }
    let (status, _) = world
        .control(
            "POST",
            "/_sandbox/wabas/42/phones",
            json!({ "display_phone_number": "15558001003", "verified_name": "Nowhere" }),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_requested_code_verifies_the_number_once() {
    let world = World::start().await;
    let phone = unverified_number(&world).await;
    assert_eq!(
        request_code(&world, &phone).await,
        (200, json!({ "success": true }))
    );
    let code = sent_code(&world, &phone).await;
    assert!(
        code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        "{code}"
    );

    assert_graph_error(
        &verify(&world, &phone, &wrong(&code)).await,
        400,
        136025,
        None,
    );
    assert_eq!(status_of(&world, &phone).await, "NOT_VERIFIED");
    assert_eq!(
        verify(&world, &phone, &code).await,
        (200, json!({ "success": true }))
    );
    assert_eq!(status_of(&world, &phone).await, "VERIFIED");
    // Used up.
    assert_graph_error(&verify(&world, &phone, &code).await, 400, 136026, None);
    assert_eq!(register(&world, &phone).await.0, 200);
}

#[tokio::test]
async fn a_code_expires_after_ten_minutes_and_a_new_one_replaces_it() {
    let world = World::start().await;
    let phone = unverified_number(&world).await;
    assert_eq!(request_code(&world, &phone).await.0, 200);
    let first = sent_code(&world, &phone).await;
    world.advance_clock(10 * 60).await;
    assert_graph_error(&verify(&world, &phone, &first).await, 400, 136026, None);

    let by_voice = world
        .call(
            "POST",
            &format!("{phone}/request_code"),
            Some(json!({ "code_method": "VOICE", "language": "en_US" })),
        )
        .await;
    assert_eq!(by_voice.0, 200, "{}", by_voice.1);
    let second = sent_code(&world, &phone).await;
    world.advance_clock(9 * 60).await;
    assert_eq!(verify(&world, &phone, &second).await.0, 200);
}

#[tokio::test]
async fn five_wrong_codes_use_the_code_up() {
    let world = World::start().await;
    let phone = unverified_number(&world).await;
    assert_eq!(request_code(&world, &phone).await.0, 200);
    let code = sent_code(&world, &phone).await;
    for _ in 0..4 {
        assert_graph_error(
            &verify(&world, &phone, &wrong(&code)).await,
            400,
            136025,
            None,
        );
    }
    assert_graph_error(
        &verify(&world, &phone, &wrong(&code)).await,
        400,
        136023,
        None,
    );
    assert_graph_error(&verify(&world, &phone, &code).await, 400, 136026, None);
}

#[tokio::test]
async fn code_requests_are_limited_and_checked() {
    let world = World::start().await;
    let phone = unverified_number(&world).await;
    assert_eq!(request_code(&world, &phone).await.0, 200);
    // A minute between requests.
    assert_graph_error(&request_code(&world, &phone).await, 429, 136024, None);
    // Five a day.
    for _ in 0..4 {
        world.advance_clock(61).await;
        assert_eq!(request_code(&world, &phone).await.0, 200);
    }
    world.advance_clock(61).await;
    assert_graph_error(&request_code(&world, &phone).await, 429, 136024, None);
    world.advance_clock(24 * 3600).await;
    assert_eq!(request_code(&world, &phone).await.0, 200);

    let bad_method = world
        .call(
            "POST",
            &format!("{phone}/request_code"),
            Some(json!({ "code_method": "EMAIL", "language": "en_US" })),
        )
        .await;
    assert_graph_error(&bad_method, 400, 100, None);
    let no_language = world
        .call(
            "POST",
            &format!("{phone}/request_code"),
            Some(json!({ "code_method": "SMS" })),
        )
        .await;
    assert_graph_error(&no_language, 400, 100, None);
}

#[tokio::test]
async fn the_popup_can_leave_a_new_number_unverified() {
    let mut world = World::start().await;
    let demo = world.demo().clone();
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
    assert!(popup.contains("the number is not verified yet"));
    let (status, done) = answer(
        world
            .http
            .post(format!("{}/dialog/embedded_signup/finish", world.base))
            .json(&json!({
                "app_id": "1000000000000001", "config_id": "7",
                "business": demo.business_id, "waba": demo.waba_id,
                "phone": "__new", "new_phone": "15558002000", "new_phone_name": "Fresh Shop",
                "new_phone_unverified": true,
            })),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    world.token = world.exchange(done["code"].as_str().unwrap()).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let phone = done["phone_number_id"].as_str().unwrap();
    assert_eq!(status_of(&world, phone).await, "NOT_VERIFIED");
}
