//! Account-level decisions (reference meta-2026 §3, §7): what Meta tells
//! the app by webhook, and what Graph then does.

use serde_json::{json, Value};

use crate::helpers::{assert_graph_error, World};

/// The demo's hello_world template (UTILITY as seeded; order_update is
/// the other).
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

    /// A number's messaging limit fields, old and new.
    async fn limit_of(&self, phone: &str) -> Value {
        let fields = "fields=whatsapp_business_manager_messaging_limit,messaging_limit_tier";
        let (status, body) = self.call("GET", &format!("{phone}?{fields}"), None).await;
        assert_eq!(status, 200, "{body}");
        body
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

    // Every restriction in force is listed in the last announcement
    // (deliveries may arrive in any order).
    let changes = world.receiver.wait_for_changes("account_update", 6).await;
    let listed = changes
        .iter()
        .map(|(_, value)| value["restriction_info"].as_array().unwrap().len());
    assert_eq!(listed.max(), Some(6));
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
    let scheduled =
        json!({ "waba_ban_state": "SCHEDULE_FOR_DISABLE", "waba_ban_date": "March 1, 2027" });
    assert!(
        changes
            .iter()
            .any(|(_, value)| value["ban_info"] == scheduled),
        "{changes:?}"
    );

    for body in [
        json!({ "state": "BANISH" }),
        json!({ "state": "DISABLE", "date": "2027-01-02" }),
        json!({ "state": "DISABLE", "date": "February 30, 2027" }),
    ] {
        assert_eq!(world.on_waba("ban", body).await.0, 400);
    }
}

#[tokio::test]
async fn other_account_events_reach_the_app_in_metas_shapes() {
    let world = World::start().await;
    let waba = world.waba();
    let owner = world.demo().business_id.clone();
    let now = world.now_secs().await;
    let events = [
        json!({ "event": "ACCOUNT_VIOLATION", "violation_type": "DIRECT_SEND_UTILITY_CATEGORY_ABUSE_WARN", "remediation": "Use utility templates for utility messages." }),
        json!({ "event": "ACCOUNT_VIOLATION", "violation_type": "SCAM" }),
        json!({ "event": "ACCOUNT_DELETED" }),
        json!({ "event": "PARTNER_ADDED" }),
        json!({ "event": "PARTNER_APP_INSTALLED" }),
        json!({ "event": "VOLUME_BASED_PRICING_TIER_UPDATE", "pricing_category": "UTILITY", "tier": "25000001:50000000", "effective_month": "2026-12", "region": "India" }),
        json!({ "event": "AUTH_INTL_PRICE_ELIGIBILITY_UPDATE" }),
    ];
    for event in &events {
        let (status, body) = world.on_waba("account-update", event.clone()).await;
        assert_eq!(status, 200, "{event} -> {body}");
    }
    let changes = world
        .receiver
        .wait_for_changes("account_update", events.len())
        .await;
    assert!(changes.iter().all(|(entry, _)| entry["id"] == json!(waba)));
    // Deliveries may arrive in any order: put them back in the order sent.
    let key = |value: &Value| {
        let event = value["event"].as_str().unwrap_or_default().to_string();
        event
            + value["violation_info"]["violation_type"]
                .as_str()
                .unwrap_or("")
    };
    let sent: Vec<String> = [
        "ACCOUNT_VIOLATIONDIRECT_SEND_UTILITY_CATEGORY_ABUSE_WARN",
        "ACCOUNT_VIOLATIONSCAM",
        "ACCOUNT_DELETED",
        "PARTNER_ADDED",
        "PARTNER_APP_INSTALLED",
        "VOLUME_BASED_PRICING_TIER_UPDATE",
        "AUTH_INTL_PRICE_ELIGIBILITY_UPDATE",
    ]
    .map(String::from)
    .to_vec();
    let values: Vec<&Value> = sent
        .iter()
        .map(|wanted| {
            let found = changes.iter().find(|(_, value)| key(value) == *wanted);
            &found.unwrap_or_else(|| panic!("no {wanted}")).1
        })
        .collect();
    assert_eq!(
        *values[0],
        json!({ "event": "ACCOUNT_VIOLATION", "violation_info": {
            "violation_type": "DIRECT_SEND_UTILITY_CATEGORY_ABUSE_WARN",
            "remediation": "Use utility templates for utility messages.",
        } })
    );
    assert_eq!(
        *values[1],
        json!({ "event": "ACCOUNT_VIOLATION", "violation_info": { "violation_type": "SCAM" } })
    );
    assert_eq!(*values[2], json!({ "event": "ACCOUNT_DELETED" }));
    assert_eq!(
        *values[3],
        json!({ "event": "PARTNER_ADDED", "waba_info": { "waba_id": waba, "owner_business_id": owner } })
    );
    assert_eq!(
        *values[4],
        json!({ "event": "PARTNER_APP_INSTALLED", "waba_info": {
            "waba_id": waba, "owner_business_id": owner, "partner_app_id": "1000000000000001",
        } })
    );
    let tier = &values[5]["volume_tier_info"];
    assert_eq!(values[5]["event"], "VOLUME_BASED_PRICING_TIER_UPDATE");
    assert!(tier["tier_update_time"].as_i64().unwrap() >= now, "{tier}");
    assert_eq!(tier["pricing_category"], "UTILITY");
    assert_eq!(tier["tier"], "25000001:50000000");
    assert_eq!(tier["effective_month"], "2026-12");
    assert_eq!(tier["region"], "India");
    let eligibility = &values[6]["auth_international_rate_eligibility"];
    assert_eq!(values[6]["event"], "AUTH_INTL_PRICE_ELIGIBILITY_UPDATE");
    assert!(eligibility["start_time"].as_i64().unwrap() >= now);
    assert_eq!(eligibility["exception_countries"], json!([]));
}

#[tokio::test]
async fn unknown_or_malformed_account_events_are_refused() {
    let world = World::start().await;
    for event in [
        json!({ "event": "SOMETHING_NEW" }),
        json!({ "event": "ACCOUNT_RESTRICTION" }),
        json!({ "event": "ACCOUNT_DELETED", "reason": "why not" }),
        json!({ "event": "ACCOUNT_VIOLATION" }),
        json!({ "event": "VOLUME_BASED_PRICING_TIER_UPDATE", "pricing_category": "MARKETING", "tier": "1:2", "effective_month": "2026-12" }),
        json!({ "event": "VOLUME_BASED_PRICING_TIER_UPDATE", "pricing_category": "UTILITY", "tier": "many", "effective_month": "2026-12" }),
        json!({ "event": "VOLUME_BASED_PRICING_TIER_UPDATE", "pricing_category": "UTILITY", "tier": "1:2", "effective_month": "December" }),
        json!({ "event": "AUTH_INTL_PRICE_ELIGIBILITY_UPDATE", "exception_countries": [{ "country_code": "india", "start_time": 1 }] }),
    ] {
        let (status, body) = world.on_waba("account-update", event.clone()).await;
        assert_eq!(status, 400, "{event} -> {body}");
    }
    let (status, _) = world
        .control(
            "POST",
            "/_sandbox/wabas/42/account-update",
            json!({ "event": "ACCOUNT_DELETED" }),
        )
        .await;
    assert_eq!(status, 404);
    world.sandbox_settles().await;
    assert!(world.receiver.changes("account_update").is_empty());
}

#[tokio::test]
async fn a_new_portfolio_limit_is_announced_and_read_on_every_number() {
    let world = World::start().await;
    let phone = world.demo().phone_number_id.clone();
    let other = world.demo().new_phone_number_id.clone();
    let before = world.limit_of(&phone).await;
    assert_eq!(
        before["whatsapp_business_manager_messaging_limit"],
        "TIER_2K"
    );
    assert_eq!(before["messaging_limit_tier"], "TIER_2K");

    let (status, body) = world
        .on_waba(
            "capability",
            json!({ "max_daily_conversations_per_business": 10000, "max_phone_numbers_per_business": 25 }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let changes = world
        .receiver
        .wait_for_changes("business_capability_update", 1)
        .await;
    let (entry, value) = &changes[0];
    assert_eq!(entry["id"], json!(world.waba()));
    assert!(entry["time"].is_i64());
    assert_eq!(
        *value,
        json!({ "max_daily_conversations_per_business": 10000, "max_phone_numbers_per_business": 25 })
    );
    for id in [phone.clone(), other] {
        let after = world.limit_of(&id).await;
        assert_eq!(
            after["whatsapp_business_manager_messaging_limit"],
            "TIER_10K"
        );
        assert_eq!(after["messaging_limit_tier"], "TIER_10K");
    }

    // A tier name is passed on as given; -1 reads as unlimited.
    world
        .on_waba(
            "capability",
            json!({ "max_daily_conversations_per_business": "TIER_100K" }),
        )
        .await;
    let changes = world
        .receiver
        .wait_for_changes("business_capability_update", 2)
        .await;
    assert!(changes.iter().any(
        |(_, v)| v["max_daily_conversations_per_business"] == "TIER_100K"
            && v["max_phone_numbers_per_business"] == 25
    ));
    world
        .on_waba(
            "capability",
            json!({ "max_daily_conversations_per_business": -1 }),
        )
        .await;
    let unlimited = world.limit_of(&phone).await;
    assert_eq!(
        unlimited["whatsapp_business_manager_messaging_limit"],
        "TIER_UNLIMITED"
    );

    for body in [
        json!({ "max_daily_conversations_per_business": 3000 }),
        json!({ "max_daily_conversations_per_business": "TIER_3K" }),
        json!({ "max_phone_numbers_per_business": 25 }),
        json!({ "max_daily_conversations_per_business": 2000, "max_phone_numbers_per_business": 0 }),
        json!({ "max_daily_conversations_per_business": 2000, "max_daily_conversation_per_phone": 2000 }),
    ] {
        assert_eq!(
            world.on_waba("capability", body.clone()).await.0,
            400,
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_display_name_decision_is_announced_and_changes_the_number() {
    let world = World::start().await;
    let phone = world.demo().phone_number_id.clone();
    let review_path = format!("/_sandbox/phones/{phone}/name-review");
    let review = |body: Value| world.control("POST", &review_path, body);
    let read_path = format!("{phone}?fields=name_status,verified_name");
    let read = || world.call("GET", &read_path, None);

    let (status, body) =
        review(json!({ "decision": "DEFERRED", "requested_verified_name": "Acme Bread Co" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(read().await.1["name_status"], "PENDING_REVIEW");
    assert_eq!(read().await.1["verified_name"], "Acme Bakery");

    review(json!({ "decision": "REJECTED", "requested_verified_name": "Acme Bread Co", "rejection_reason": "NAME_FORMAT_UNACCEPTABLE" })).await;
    assert_eq!(read().await.1["name_status"], "DECLINED");

    review(json!({ "decision": "APPROVED", "requested_verified_name": "Acme Bread Co" })).await;
    let (_, now) = read().await;
    assert_eq!(
        (now["name_status"].as_str(), now["verified_name"].as_str()),
        (Some("APPROVED"), Some("Acme Bread Co"))
    );

    let changes = world
        .receiver
        .wait_for_changes("phone_number_name_update", 3)
        .await;
    assert!(changes
        .iter()
        .all(|(entry, _)| entry["id"] == json!(world.waba())));
    let decided = |decision: &str| {
        changes
            .iter()
            .find(|(_, value)| value["decision"] == decision)
            .map(|(_, value)| value.clone())
            .unwrap()
    };
    assert_eq!(
        decided("DEFERRED"),
        json!({ "display_phone_number": "15550001234", "decision": "DEFERRED", "requested_verified_name": "Acme Bread Co", "rejection_reason": null })
    );
    assert_eq!(
        decided("REJECTED")["rejection_reason"],
        "NAME_FORMAT_UNACCEPTABLE"
    );
    assert_eq!(decided("APPROVED")["rejection_reason"], Value::Null);

    for body in [
        json!({ "decision": "MAYBE", "requested_verified_name": "X" }),
        json!({ "decision": "REJECTED", "requested_verified_name": "X" }),
        json!({ "decision": "APPROVED", "requested_verified_name": "X", "rejection_reason": "Y" }),
        json!({ "decision": "APPROVED", "requested_verified_name": " " }),
    ] {
        assert_eq!(review(body.clone()).await.0, 400, "{body}");
    }
    let (status, _) = world
        .control(
            "POST",
            "/_sandbox/phones/42/name-review",
            json!({ "decision": "APPROVED", "requested_verified_name": "X" }),
        )
        .await;
    assert_eq!(status, 404);
}

impl World {
    async fn health_of(&self, node: &str) -> Value {
        let (status, body) = self
            .call("GET", &format!("{node}?fields=health_status"), None)
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["id"], json!(node));
        body["health_status"].clone()
    }
}

/// The entity of `kind` in a `health_status`.
fn entity<'a>(health: &'a Value, kind: &str) -> &'a Value {
    health["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["entity_type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} entity in {health}"))
}

#[tokio::test]
async fn health_names_every_node_of_a_send() {
    let world = World::start().await;
    let phone = world.demo().phone_number_id.clone();
    let health = world.health_of(&phone).await;
    assert_eq!(
        health,
        json!({
            "can_send_message": "AVAILABLE",
            "entities": [
                { "entity_type": "PHONE_NUMBER", "id": phone, "can_send_message": "AVAILABLE" },
                { "entity_type": "WABA", "id": world.waba(), "can_send_message": "AVAILABLE" },
                { "entity_type": "BUSINESS", "id": world.demo().business_id, "can_send_message": "AVAILABLE" },
                { "entity_type": "APP", "id": "1000000000000001", "can_send_message": "AVAILABLE" },
            ],
        })
    );
    // Asked of the WABA, there is no number entity.
    let health = world.health_of(&world.waba()).await;
    let kinds: Vec<&str> = health["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["entity_type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["WABA", "BUSINESS", "APP"]);

    let unregistered = world.health_of(&world.demo().new_phone_number_id).await;
    assert_eq!(unregistered["can_send_message"], "BLOCKED");
    let number = entity(&unregistered, "PHONE_NUMBER");
    assert_eq!(number["can_send_message"], "BLOCKED");
    assert_eq!(number["errors"][0]["error_code"], 133010);
    assert!(number["errors"][0]["error_description"].is_string());
    assert!(number["errors"][0]["possible_solution"].is_string());
}

#[tokio::test]
async fn a_restriction_limits_health_until_it_expires_and_a_ban_blocks_it() {
    let world = World::start().await;
    let phone = world.demo().phone_number_id.clone();
    world
        .on_waba(
            "restrictions",
            json!({ "restriction_type": "RESTRICTED_BUSINESS_INITIATED_CALLING", "for_seconds": 7200 }),
        )
        .await;
    assert_eq!(
        world.health_of(&phone).await["can_send_message"],
        "AVAILABLE"
    );
    world
        .on_waba(
            "restrictions",
            json!({ "restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING", "for_seconds": 3600, "remediation": "Fix the flagged templates." }),
        )
        .await;
    for node in [phone.clone(), world.waba()] {
        let health = world.health_of(&node).await;
        assert_eq!(health["can_send_message"], "LIMITED", "{health}");
        let waba = entity(&health, "WABA");
        assert_eq!(waba["can_send_message"], "LIMITED");
        assert_eq!(waba["errors"].as_array().unwrap().len(), 1, "{waba}");
        let error = &waba["errors"][0];
        assert_eq!(error["error_code"], 368);
        let description = error["error_description"].as_str().unwrap();
        assert!(
            description.contains("RESTRICTED_BIZ_INITIATED_MESSAGING")
                && description.contains("is restricted until 20"),
            "{description}"
        );
        assert_eq!(error["possible_solution"], "Fix the flagged templates.");
        assert_eq!(entity(&health, "BUSINESS")["can_send_message"], "AVAILABLE");
    }
    world.advance_clock(3600).await;
    assert_eq!(
        world.health_of(&phone).await["can_send_message"],
        "AVAILABLE"
    );

    world.on_waba("ban", json!({ "state": "DISABLE" })).await;
    let health = world.health_of(&world.waba()).await;
    assert_eq!(health["can_send_message"], "BLOCKED");
    assert_eq!(entity(&health, "WABA")["errors"][0]["error_code"], 131031);
    world.on_waba("ban", json!({ "state": "REINSTATE" })).await;
    assert_eq!(
        world.health_of(&world.waba()).await["can_send_message"],
        "AVAILABLE"
    );
}

#[tokio::test]
async fn a_waba_reads_with_metas_default_fields() {
    let world = World::start().await;
    let waba = world.waba();
    let (status, body) = world.call("GET", &waba, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], json!(waba));
    assert_eq!(body["name"], "Acme Bakery WhatsApp");
    assert!(body["timezone_id"].is_string());
    assert!(body["message_template_namespace"].is_string());
    assert!(body.get("health_status").is_none());
    let (_, owner) = world
        .call("GET", &format!("{waba}?fields=owner_business_info"), None)
        .await;
    assert_eq!(
        owner["owner_business_info"]["id"],
        json!(world.demo().business_id)
    );
    let unknown = world
        .call("GET", &format!("{waba}?fields=favourite_colour"), None)
        .await;
    assert_graph_error(&unknown, 400, 100, None);
}

impl World {
    /// Sends `message` and returns the `pricing` of its `sent` status.
    async fn priced(&self, message: Value) -> Value {
        let (status, body) = self.send(message).await;
        assert_eq!(status, 200, "{body}");
        let wamid = body["messages"][0]["id"].as_str().unwrap().to_string();
        let sent = self.receiver.wait_for_status(&wamid, "sent").await;
        assert_eq!(sent["pricing"]["pricing_model"], "PMP", "{sent}");
        assert_eq!(
            sent["conversation"]["origin"]["type"], sent["pricing"]["category"],
            "{sent}"
        );
        sent["pricing"].clone()
    }

    /// The demo customer writes, coming from a click-to-WhatsApp ad.
    async fn customer_writes_from_an_ad(&self, referral: Value) -> (u16, Value) {
        let path = format!("/_sandbox/customers/{}/messages", self.customer());
        self.control(
            "POST",
            &path,
            json!({ "type": "text", "text": { "body": "Is this still on sale?" }, "referral": referral }),
        )
        .await
    }
}

fn text(to: &str, body: &str) -> Value {
    json!({ "messaging_product": "whatsapp", "to": to, "type": "text", "text": { "body": body } })
}

fn pricing(billable: bool, kind: &str, category: &str) -> Value {
    json!({ "billable": billable, "pricing_model": "PMP", "type": kind, "category": category })
}

#[tokio::test]
async fn each_kind_of_message_is_priced_as_meta_prices_it() {
    let world = World::start().await;
    let customer = world.customer();
    world.recategorise(HELLO_WORLD, "MARKETING").await;
    // Outside the customer service window every template is charged.
    assert_eq!(
        world.priced(order_update(&customer)).await,
        pricing(true, "regular", "utility")
    );
    assert_eq!(
        world.priced(hello_world(&customer)).await,
        pricing(true, "regular", "marketing")
    );
    // Inside it, replies and utility templates are free; marketing is not.
    world.customer_writes("hello").await;
    assert_eq!(
        world.priced(text(&customer, "hi!")).await,
        pricing(false, "free_customer_service", "service")
    );
    assert_eq!(
        world.priced(order_update(&customer)).await,
        pricing(false, "free_customer_service", "utility")
    );
    assert_eq!(
        world.priced(hello_world(&customer)).await,
        pricing(true, "regular", "marketing")
    );
    world.recategorise(HELLO_WORLD, "AUTHENTICATION").await;
    assert_eq!(
        world.priced(hello_world(&customer)).await,
        pricing(true, "regular", "authentication")
    );
}

#[tokio::test]
async fn a_customer_from_an_ad_answered_within_a_day_gets_three_free_days() {
    let world = World::start().await;
    let customer = world.customer();
    world.recategorise(HELLO_WORLD, "MARKETING").await;
    let referral = json!({
        "source_url": "https://fb.me/3cr4Wqqkm",
        "source_id": "120212345678901234",
        "source_type": "ad",
        "headline": "Fresh bread, 20% off",
        "body": "Order today",
        "media_type": "image",
        "image_url": "https://scontent.example/ad.jpg",
        "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4XvnO2E4Nx0-eM-GABDLOPaOdRMXP",
    });
    let (status, body) = world.customer_writes_from_an_ad(referral.clone()).await;
    assert_eq!(status, 200, "{body}");
    // The inbound message carries the referral as Meta passes it on.
    let inbound = world.receiver.wait_for_changes("messages", 1).await;
    assert_eq!(inbound[0].1["messages"][0]["referral"], referral);

    world.advance_clock(23 * 3600).await;
    let free = pricing(false, "free_entry_point", "referral_conversion");
    assert_eq!(world.priced(text(&customer, "Yes it is!")).await, free);
    // 71 h in: templates are still free, though the 24 h window has shut.
    world.advance_clock(48 * 3600).await;
    assert_eq!(world.priced(hello_world(&customer)).await, free);
    let (_, late) = world.send(text(&customer, "anyone there?")).await;
    let wamid = late["messages"][0]["id"].as_str().unwrap();
    let failed = world.receiver.wait_for_status(wamid, "failed").await;
    assert!(failed.get("pricing").is_none(), "{failed}");
    // 72 h after the reply that opened it, the free window is over.
    world.advance_clock(24 * 3600).await;
    assert_eq!(
        world.priced(hello_world(&customer)).await,
        pricing(true, "regular", "marketing")
    );
}

#[tokio::test]
async fn an_ad_answered_after_a_day_is_priced_as_usual() {
    let world = World::start().await;
    let customer = world.customer();
    let (status, _) = world
        .customer_writes_from_an_ad(
            json!({ "source_url": "https://fb.me/x", "source_id": "1", "source_type": "post" }),
        )
        .await;
    assert_eq!(status, 200);
    world.advance_clock(24 * 3600 + 1).await;
    assert_eq!(
        world.priced(order_update(&customer)).await,
        pricing(true, "regular", "utility")
    );
    for referral in [
        json!({ "source_id": "1", "source_type": "ad" }),
        json!({ "source_url": "https://fb.me/x", "source_id": "1", "source_type": "billboard" }),
        json!("from an ad"),
    ] {
        assert_eq!(world.customer_writes_from_an_ad(referral).await.0, 400);
    }
}
