//! Account-level decisions (reference meta-2026 §3, §7): what Meta tells
//! the app by webhook, and what Graph then does.

use serde_json::{json, Value};

use crate::helpers::{assert_graph_error, World};

/// The demo's templates (both UTILITY as seeded).
const HELLO_WORLD: &str = "1000000000000001";

fn hello_world(to: &str) -> Value {
    json!({
        "messaging_product": "whatsapp", "to": to, "type": "template",
        "template": { "name": "hello_world", "language": { "code": "en_US" } },
    })
}

fn order_update(to: &str) -> Value {
    json!({
        "messaging_product": "whatsapp", "to": to, "type": "template",
        "template": {
            "name": "order_update", "language": { "code": "en_US" },
            "components": [{ "type": "body", "parameters": [
                { "type": "text", "text": "A-1" }, { "type": "text", "text": "shipped" },
            ] }],
        },
    })
}

impl World {
    fn waba(&self) -> String {
        self.demo().waba_id.clone()
    }

    fn customer(&self) -> String {
        self.demo().customer_wa_id.clone()
    }

    /// A control call under `/_sandbox/wabas/{demo waba}/`.
    async fn on_waba(&self, what: &str, body: Value) -> (u16, Value) {
        let path = format!("/_sandbox/wabas/{}/{what}", self.waba());
        self.control("POST", &path, body).await
    }

    /// The sandbox clock, in Unix seconds.
    async fn now_secs(&self) -> i64 {
        let (_, state) = self.control("GET", "/_sandbox/state", json!(null)).await;
        state["now"].as_i64().unwrap() / 1000
    }

    /// Waits until every webhook so far has been delivered.
    async fn sandbox_settles(&self) {
        let (status, body) = self
            .control("POST", "/_sandbox/webhooks/settle", json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
    }

    async fn recategorise(&self, template_id: &str, category: &str) {
        let path = format!("/_sandbox/templates/{template_id}/category");
        let (status, body) = self
            .control("POST", &path, json!({ "category": category }))
            .await;
        assert_eq!(status, 200, "{body}");
    }
}

/// `error_data.details` of a refused call.
fn details(result: &(u16, Value)) -> String {
    result.1["error"]["error_data"]["details"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_restriction_is_announced_then_refuses_templates_until_it_expires() {
    let world = World::start().await;
    let customer = world.customer();
    world.customer_writes("hi").await;
    let now = world.now_secs().await;
    let (status, body) = world
        .on_waba(
            "restrictions",
            json!({
                "restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING",
                "for_seconds": 86400,
                "remediation": "Review your templates.",
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let expiration = body["expiration"].as_i64().unwrap();
    assert!((now + 86400..=now + 86401).contains(&expiration), "{body}");
    assert_eq!(body["success"], true);

    let changes = world.receiver.wait_for_changes("account_update", 1).await;
    let (entry, value) = &changes[0];
    assert_eq!(entry["id"], json!(world.waba()));
    assert!(entry["time"].is_i64(), "{entry}");
    assert_eq!(
        *value,
        json!({
            "event": "ACCOUNT_RESTRICTION",
            "waba_info": { "waba_id": world.waba(), "owner_business_id": world.demo().business_id },
            "restriction_info": [{
                "restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING",
                "expiration": expiration,
                "remediation": "Review your templates.",
            }],
        })
    );

    let refused = world.send(hello_world(&customer)).await;
    assert_graph_error(&refused, 403, 368, None);
    let error = &refused.1["error"];
    assert_eq!(
        error["message"],
        "(#368) Temporarily blocked for policies violations"
    );
    assert_eq!(error["type"], "OAuthException");
    let details = details(&refused);
    assert!(
        details.contains("RESTRICTED_BIZ_INITIATED_MESSAGING") && details.contains("until 20"),
        "{details}"
    );
    // A reply inside the customer's window is not business-initiated.
    assert_eq!(world.send_text(&customer, "still here").await.0, 200);

    let path = format!("/_sandbox/wabas/{}", world.waba());
    let (_, held) = world.control("GET", &path, json!(null)).await;
    assert_eq!(
        held["restrictions"][0]["restriction_type"],
        "RESTRICTED_BIZ_INITIATED_MESSAGING"
    );
    assert_eq!(held["restrictions"][0]["expiration"], expiration);
    assert_eq!(held["sending_disabled"], false);

    world.advance_clock(86400).await;
    let (status, body) = world.send(hello_world(&customer)).await;
    assert_eq!(status, 200, "{body}");
    let (_, held) = world.control("GET", &path, json!(null)).await;
    assert_eq!(held["restrictions"], json!([]));
    // Meta announces no lift.
    world.sandbox_settles().await;
    assert_eq!(world.receiver.changes("account_update").len(), 1);
}

#[tokio::test]
async fn utility_restrictions_refuse_utility_templates_only() {
    let world = World::start().await;
    let customer = world.customer();
    world.recategorise(HELLO_WORLD, "MARKETING").await;
    for kind in [
        "RESTRICTED_UTILITY_TEMPLATES",
        "RESTRICTED_DIRECT_SEND_UTILITY_TEMPLATES",
    ] {
        let restricted = world
            .on_waba(
                "restrictions",
                json!({ "restriction_type": kind, "for_seconds": 60 }),
            )
            .await;
        assert_eq!(restricted.0, 200, "{:?}", restricted.1);
        let refused = world.send(order_update(&customer)).await;
        assert_graph_error(&refused, 403, 368, None);
        assert!(details(&refused).contains(kind), "{:?}", refused.1);
        assert_eq!(world.send(hello_world(&customer)).await.0, 200);
        world.advance_clock(60).await;
        assert_eq!(world.send(order_update(&customer)).await.0, 200);
    }
}

#[tokio::test]
async fn a_customer_initiated_restriction_refuses_replies_and_calling_ones_refuse_nothing() {
    let world = World::start().await;
    let customer = world.customer();
    world.customer_writes("hello").await;
    for kind in [
        "RESTRICTED_ADD_PHONE_NUMBER_ACTION",
        "RESTRICTED_BUSINESS_INITIATED_CALLING",
        "RESTRICTED_USER_INITIATED_CALLING",
        "RESTRICTED_USER_INITIATED_CALLING_CALL_BUTTON_HIDDEN",
        "RESTRICTED_BIZ_INITIATED_AND_USER_INITIATED_CALLING",
    ] {
        let restricted = world
            .on_waba(
                "restrictions",
                json!({ "restriction_type": kind, "for_seconds": 3600 }),
            )
            .await;
        assert_eq!(restricted.0, 200, "{:?}", restricted.1);
    }
    assert_eq!(world.send_text(&customer, "a reply").await.0, 200);
    assert_eq!(world.send(hello_world(&customer)).await.0, 200);

    world
        .on_waba(
            "restrictions",
            json!({ "restriction_type": "RESTRICTED_CUSTOMER_INITIATED_MESSAGING", "for_seconds": 3600 }),
        )
        .await;
    let refused = world.send_text(&customer, "another reply").await;
    assert_graph_error(&refused, 403, 368, None);
    assert!(details(&refused).contains("RESTRICTED_CUSTOMER_INITIATED_MESSAGING"));
    assert_eq!(world.send(hello_world(&customer)).await.0, 200);

    // Every restriction in force is listed in the last announcement.
    let changes = world.receiver.wait_for_changes("account_update", 6).await;
    let (_, last) = changes.last().unwrap();
    assert_eq!(last["restriction_info"].as_array().unwrap().len(), 6);
}

#[tokio::test]
async fn restrictions_take_only_metas_types_and_a_sane_length() {
    let world = World::start().await;
    let restrict = |body: Value| world.on_waba("restrictions", body);
    for body in [
        json!({ "restriction_type": "RESTRICTED_EVERYTHING", "for_seconds": 60 }),
        json!({ "restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING", "for_seconds": 0 }),
        json!({ "restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING", "for_seconds": i64::MAX }),
        json!({ "restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING", "for_seconds": 60, "colour": "red" }),
    ] {
        let (status, answer) = restrict(body.clone()).await;
        assert_eq!(status, 400, "{body} -> {answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    let (status, _) = world
        .control(
            "POST",
            "/_sandbox/wabas/42/restrictions",
            json!({ "restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING", "for_seconds": 60 }),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_disabled_waba_sends_nothing_until_reinstated() {
    let world = World::start().await;
    let customer = world.customer();
    world.customer_writes("hi").await;
    let (status, body) = world
        .on_waba(
            "ban",
            json!({ "state": "DISABLE", "date": "January 2, 2027" }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let changes = world.receiver.wait_for_changes("account_update", 1).await;
    let (entry, value) = &changes[0];
    assert_eq!(entry["id"], json!(world.waba()));
    assert_eq!(
        *value,
        json!({
            "event": "DISABLED_UPDATE",
            "ban_info": { "waba_ban_state": "DISABLE", "waba_ban_date": "January 2, 2027" },
        })
    );

    for refused in [
        world.send_text(&customer, "hello").await,
        world.send(hello_world(&customer)).await,
    ] {
        assert_graph_error(&refused, 403, 131031, None);
        assert_eq!(
            refused.1["error"]["message"],
            "(#131031) Business Account locked"
        );
        assert!(details(&refused).starts_with("The WhatsApp Business Account is disabled"));
    }
    let path = format!("/_sandbox/wabas/{}", world.waba());
    let (_, held) = world.control("GET", &path, json!(null)).await;
    assert_eq!(held["sending_disabled"], true);
    assert_eq!(held["ban_info"]["waba_ban_state"], "DISABLE");

    // Reinstated on the sandbox clock's day unless a date is given.
    let (status, body) = world.on_waba("ban", json!({ "state": "REINSTATE" })).await;
    assert_eq!(status, 200, "{body}");
    let date = body["ban_info"]["waba_ban_date"].as_str().unwrap();
    assert!(date.contains(", 20"), "{date}");
    assert_eq!(world.send_text(&customer, "back").await.0, 200);

    // A scheduled disable changes nothing yet.
    let (status, _) = world
        .on_waba(
            "ban",
            json!({ "state": "SCHEDULE_FOR_DISABLE", "date": "March 1, 2027" }),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(world.send_text(&customer, "still").await.0, 200);
    let changes = world.receiver.wait_for_changes("account_update", 3).await;
    assert_eq!(
        changes[2].1["ban_info"],
        json!({ "waba_ban_state": "SCHEDULE_FOR_DISABLE", "waba_ban_date": "March 1, 2027" })
    );

    for body in [
        json!({ "state": "BANISH" }),
        json!({ "state": "DISABLE", "date": "2027-01-02" }),
        json!({ "state": "DISABLE", "date": "February 30, 2027" }),
    ] {
        assert_eq!(world.on_waba("ban", body).await.0, 400);
    }
}
