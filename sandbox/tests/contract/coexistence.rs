//! Coexistence (reference meta-2026 §2): a WhatsApp Business app number
//! joins the platform with its app, hands over its contacts and history
//! once within 24 hours, echoes what the business types in the app, and
//! can be offboarded, reconnected or removed.

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::helpers::{answer, assert_graph_error, World};

const FEATURE: &str = "whatsapp_business_app_onboarding";

async fn create_app_number(world: &World, body: Value) -> Value {
    let (status, created) = world
        .control("POST", "/_sandbox/business-app/numbers", body)
        .await;
    assert_eq!(status, 200, "{created}");
    created
}

/// Onboards `display` onto the demo WABA (subscribed, and the world's token
/// reaches it), as finishing the popup would.
async fn onboard(world: &World, display: &str, share_history: Option<bool>) -> String {
    let mut body = json!({ "display_phone_number": display });
    if let Some(share) = share_history {
        body["share_history"] = json!(share);
    }
    let (status, done) = world
        .control("POST", "/_sandbox/signup/business-app", body)
        .await;
    assert_eq!(status, 200, "{done}");
    done["phone_number_id"].as_str().unwrap().to_string()
}

async fn settle(world: &World) {
    let (status, body) = world
        .control("POST", "/_sandbox/webhooks/settle", json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn sync(world: &World, phone: &str, kind: &str) -> (u16, Value) {
    world
        .call(
            "POST",
            &format!("{phone}/smb_app_data"),
            Some(json!({ "messaging_product": "whatsapp", "sync_type": kind })),
        )
        .await
}

/// The change's value carries the number like a `messages` change.
fn assert_about(value: &Value, phone: &str, display: &str) {
    assert_eq!(value["messaging_product"], "whatsapp", "{value}");
    assert_eq!(value["metadata"]["phone_number_id"], phone, "{value}");
    assert_eq!(
        value["metadata"]["display_phone_number"], display,
        "{value}"
    );
}

#[tokio::test]
async fn the_popup_connects_a_business_app_number_registered_verified_at_20_per_second() {
    let mut world = World::start().await;
    let demo = world.demo().clone();
    create_app_number(
        &world,
        json!({ "display_phone_number": "15557001000", "verified_name": "Corner Shop", "share_history": false }),
    )
    .await;
    let popup = world
        .http
        .get(format!(
            "{}/dialog/embedded_signup?app_id=1000000000000001&config_id=1&feature_type={FEATURE}",
            world.base
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        popup.contains("15557001000"),
        "the popup offers the app's number"
    );
    assert!(popup.contains("Share your chat history"));
    assert!(popup.contains("FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING"));
    assert!(popup.contains("Meta sends waba_id only"));

    let (status, done) = answer(
        world
            .http
            .post(format!("{}/dialog/embedded_signup/finish", world.base))
            .json(&json!({
                "app_id": "1000000000000001", "config_id": "7", "feature_type": FEATURE,
                "business": demo.business_id, "waba": demo.waba_id,
                "app_number": "15557001000", "share_history": true,
            })),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    world.token = world.exchange(done["code"].as_str().unwrap()).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let phone = done["phone_number_id"].as_str().unwrap();
    let (status, read) = world
        .call(
            "GET",
            &format!("{phone}?fields=is_on_biz_app,platform_type,code_verification_status,throughput,status,last_onboarded_time,verified_name"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["is_on_biz_app"], true);
    assert_eq!(read["platform_type"], "CLOUD_API");
    assert_eq!(read["code_verification_status"], "VERIFIED");
    assert_eq!(
        read["status"], "CONNECTED",
        "the app keeps its registration"
    );
    assert_eq!(read["verified_name"], "Corner Shop");
    let onboarded = read["last_onboarded_time"].as_str().unwrap();
    assert!(
        onboarded.ends_with("+0000") && onboarded.len() == 24,
        "{onboarded}"
    );
    let (_, held) = world
        .control("GET", &format!("/_sandbox/phones/{phone}"), Value::Null)
        .await;
    assert_eq!(held["throughput_mps"], 20);
    // The ticked opt-in wins over the number's default.
    assert_eq!(held["coexistence"]["share_history"], true);
    assert_eq!(held["coexistence"]["state"], "CONNECTED");

    // An ordinary number is not on the app.
    let (_, other) = world
        .call(
            "GET",
            &format!("{}?fields=is_on_biz_app", demo.phone_number_id),
            None,
        )
        .await;
    assert_eq!(other["is_on_biz_app"], false);

    // The same number cannot join twice; a typed number joins without data.
    let again = world
        .control(
            "POST",
            "/_sandbox/signup/business-app",
            json!({ "display_phone_number": "15557001000" }),
        )
        .await;
    assert_eq!(again.0, 400, "{}", again.1);
    let (status, typed) = answer(
        world
            .http
            .post(format!("{}/dialog/embedded_signup/finish", world.base))
            .json(&json!({
                "app_id": "1000000000000001", "config_id": "7", "feature_type": FEATURE,
                "business": demo.business_id, "waba": demo.waba_id,
                "app_number": "__new", "new_app_number": "+1 555 700 2000", "new_app_number_name": "Typed Shop",
            })),
    )
    .await;
    assert_eq!(status, 200, "{typed}");
    let typed_id = typed["phone_number_id"].as_str().unwrap();
    let (_, held) = world
        .control("GET", &format!("/_sandbox/phones/{typed_id}"), Value::Null)
        .await;
    assert_eq!(held["coexistence"]["contacts"], json!([]));
    assert_eq!(held["coexistence"]["history_messages_pending"], 0);
    // Meta onboards no coexistence number from Nigeria or South Africa.
    let (status, refused) = answer(
        world
            .http
            .post(format!("{}/dialog/embedded_signup/finish", world.base))
            .json(&json!({
                "app_id": "1000000000000001", "config_id": "7", "feature_type": FEATURE,
                "business": demo.business_id, "waba": demo.waba_id,
                "app_number": "__new", "new_app_number": "27115550000", "new_app_number_name": "Cape Shop",
            })),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
}

#[tokio::test]
async fn the_control_signup_grants_a_code_for_the_waba_and_refuses_unknown_numbers() {
    let world = World::start().await;
    create_app_number(
        &world,
        json!({ "display_phone_number": "15557003000", "verified_name": "Bike Repair" }),
    )
    .await;
    let (status, done) = world
        .control(
            "POST",
            "/_sandbox/signup/business-app",
            json!({ "display_phone_number": "15557003000" }),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["waba_id"], json!(world.demo().waba_id));
    assert_eq!(done["business_id"], json!(world.demo().business_id));
    assert!(done["phone_number_id"].is_string());
    let token = world.exchange(done["code"].as_str().unwrap()).await;
    assert!(token["access_token"].is_string(), "{token}");

    let unknown = world
        .control(
            "POST",
            "/_sandbox/signup/business-app",
            json!({ "display_phone_number": "15557009999" }),
        )
        .await;
    assert_eq!(unknown.0, 404);
    let foreign = world
        .control(
            "POST",
            "/_sandbox/signup/business-app",
            json!({ "display_phone_number": "15557003000", "business_id": "1" }),
        )
        .await;
    assert_eq!(foreign.0, 400);
}

#[tokio::test]
async fn the_state_sync_sends_the_apps_contacts_once_and_only_within_24_hours() {
    let world = World::start().await;
    create_app_number(
        &world,
        json!({
            "display_phone_number": "15557004000", "verified_name": "Florist",
            "contacts": [
                { "phone_number": "16505550101", "full_name": "Ada Lovelace", "first_name": "Ada" },
                { "phone_number": "16505550102" },
            ],
        }),
    )
    .await;
    let phone = onboard(&world, "15557004000", None).await;

    let (status, body) = sync(&world, &phone, "smb_app_state_sync").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["messaging_product"], "whatsapp");
    assert!(body["request_id"].as_str().is_some_and(|id| !id.is_empty()));
    settle(&world).await;
    let changes = world.receiver.changes("smb_app_state_sync");
    assert_eq!(changes.len(), 1, "{changes:?}");
    let (entry, value) = &changes[0];
    assert_eq!(entry["id"], json!(world.demo().waba_id));
    assert_about(value, &phone, "15557004000");
    let items = value["state_sync"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["type"], "contact");
    assert_eq!(items[0]["action"], "add");
    assert_eq!(
        items[0]["contact"],
        json!({ "phone_number": "16505550101", "full_name": "Ada Lovelace", "first_name": "Ada" })
    );
    assert_eq!(
        items[1]["contact"],
        json!({ "phone_number": "16505550102" })
    );
    assert!(items[0]["metadata"]["timestamp"]
        .as_str()
        .unwrap()
        .parse::<i64>()
        .is_ok());

    // Once per kind; an unknown kind; a number not from the app.
    assert_graph_error(
        &sync(&world, &phone, "smb_app_state_sync").await,
        400,
        100,
        None,
    );
    assert_graph_error(&sync(&world, &phone, "everything").await, 400, 100, None);
    let demo_phone = world.demo().phone_number_id.clone();
    assert_graph_error(&sync(&world, &demo_phone, "history").await, 400, 100, None);
    // The history may still be asked for, but not after 24 hours.
    world.advance_clock(24 * 3600 + 1).await;
    let late = sync(&world, &phone, "history").await;
    assert_graph_error(&late, 400, 100, None);
    assert!(late.1["error"]["error_data"]["details"]
        .as_str()
        .unwrap()
        .contains("24 hours"));
    settle(&world).await;
    assert!(world.receiver.changes("history").is_empty());
}

#[tokio::test]
async fn the_history_comes_phase_by_phase_in_chunks_of_at_most_so_many_messages() {
    let world = World::start().await;
    let created = create_app_number(
        &world,
        json!({
            "display_phone_number": "15557005000", "verified_name": "Bakery Two",
            "history": { "threads": 3, "messages_per_thread": 10, "chunk_messages": 4, "shuffle": true },
        }),
    )
    .await;
    assert_eq!(created["total_messages"], 30);
    assert_eq!(created["messages_per_phase"], json!([9, 9, 12]));
    let customers: Vec<String> = serde_json::from_value(created["customers"].clone()).unwrap();
    assert_eq!(customers.iter().collect::<HashSet<_>>().len(), 3);
    let phone = onboard(&world, "15557005000", None).await;
    let onboarded_secs = {
        let (_, held) = world
            .control("GET", &format!("/_sandbox/phones/{phone}"), Value::Null)
            .await;
        held["coexistence"]["onboarded_at"].as_i64().unwrap() / 1000
    };
    let (status, body) = sync(&world, &phone, "history").await;
    assert_eq!(status, 200, "{body}");
    settle(&world).await;

    let changes = world.receiver.changes("history");
    // 9, 9 and 12 messages in chunks of 4: three chunks per phase.
    assert_eq!(changes.len(), 9);
    let mut per_phase = [0usize; 3];
    let mut orders = HashSet::new();
    let mut wamids = HashSet::new();
    let mut progress = Vec::new();
    for (_, value) in &changes {
        assert_about(value, &phone, "15557005000");
        let item = &value["history"][0];
        let phase = item["metadata"]["phase"].as_u64().unwrap() as usize;
        orders.insert((phase, item["metadata"]["chunk_order"].as_u64().unwrap()));
        progress.push(item["metadata"]["progress"].as_u64().unwrap());
        let mut in_chunk = 0;
        for thread in item["threads"].as_array().unwrap() {
            let customer = thread["id"].as_str().unwrap();
            assert!(customers.iter().any(|c| c == customer), "{thread}");
            for message in thread["messages"].as_array().unwrap() {
                in_chunk += 1;
                assert!(wamids.insert(message["id"].as_str().unwrap().to_string()));
                assert_eq!(message["type"], "text");
                assert!(message["text"]["body"].is_string());
                assert!(message["history_context"]["status"].is_string());
                // Customer messages come from the customer; replies from the
                // business number, to the customer.
                if message["from"] == customer {
                    assert!(message.get("to").is_none(), "{message}");
                } else {
                    assert_eq!(message["from"], "15557005000");
                    assert_eq!(message["to"], customer);
                }
                let age = onboarded_secs
                    - message["timestamp"]
                        .as_str()
                        .unwrap()
                        .parse::<i64>()
                        .unwrap();
                let (newest, oldest) = [(0, 1), (1, 90), (90, 180)][phase];
                assert!(age > newest * 86_400 && age < oldest * 86_400, "{message}");
            }
            assert!(in_chunk <= 4);
        }
        per_phase[phase] += in_chunk;
    }
    assert_eq!(per_phase, [9, 9, 12]);
    assert_eq!(wamids.len(), 30);
    assert_eq!(orders.len(), 9, "every (phase, chunk_order) once");
    assert!(progress.contains(&100));
    // Asked once only.
    assert_graph_error(&sync(&world, &phone, "history").await, 400, 100, None);
}

#[tokio::test]
async fn a_large_history_goes_out_thousands_of_messages_per_webhook() {
    let world = World::start().await;
    create_app_number(
        &world,
        json!({
            "display_phone_number": "15557006000", "verified_name": "Big Store",
            "history": { "threads": 4, "messages_per_thread": 1500, "chunk_messages": 5000 },
        }),
    )
    .await;
    let phone = onboard(&world, "15557006000", None).await;
    assert_eq!(sync(&world, &phone, "history").await.0, 200);
    settle(&world).await;
    let changes = world.receiver.changes("history");
    assert_eq!(changes.len(), 3, "one chunk per phase");
    for (_, value) in &changes {
        let count: usize = value["history"][0]["threads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["messages"].as_array().unwrap().len())
            .sum();
        assert_eq!(count, 2000);
    }
}

#[tokio::test]
async fn a_declined_history_is_a_single_error_item() {
    let world = World::start().await;
    create_app_number(
        &world,
        json!({
            "display_phone_number": "15557007000", "verified_name": "Quiet Shop",
            "history": { "threads": 2, "messages_per_thread": 4 }, "share_history": false,
        }),
    )
    .await;
    let phone = onboard(&world, "15557007000", None).await;
    assert_eq!(sync(&world, &phone, "history").await.0, 200);
    settle(&world).await;
    let changes = world.receiver.changes("history");
    assert_eq!(changes.len(), 1, "{changes:?}");
    let item = &changes[0].1["history"][0];
    assert!(item.get("threads").is_none(), "{item}");
    let error = &item["errors"][0];
    assert_eq!(error["code"], 2593109);
    assert!(
        error["title"]
            .as_str()
            .unwrap()
            .contains("history sync is turned off")
            || error["title"]
                .as_str()
                .unwrap()
                .contains("History sync is turned off")
    );
    assert!(error["message"].is_string());
    assert!(error["error_data"]["details"].is_string());
}

#[tokio::test]
async fn what_the_business_types_in_the_app_is_echoed_and_contacts_change_live() {
    let world = World::start().await;
    create_app_number(
        &world,
        json!({ "display_phone_number": "15557008000", "verified_name": "Echo Cafe" }),
    )
    .await;
    let phone = onboard(&world, "15557008000", None).await;
    let (status, sent) = world
        .control(
            "POST",
            &format!("/_sandbox/phones/{phone}/app-messages"),
            json!({ "to": "16505550199", "type": "text", "text": { "body": "Your table is ready" } }),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    settle(&world).await;
    let echoes = world.receiver.changes("smb_message_echoes");
    assert_eq!(echoes.len(), 1);
    let value = &echoes[0].1;
    assert_about(value, &phone, "15557008000");
    let echo = &value["message_echoes"][0];
    assert_eq!(echo["from"], "15557008000");
    assert_eq!(echo["to"], "16505550199");
    assert_eq!(echo["id"], sent["wamid"]);
    assert_eq!(echo["type"], "text");
    assert_eq!(echo["text"]["body"], "Your table is ready");
    assert!(echo["timestamp"].is_string());
    let (_, chat) = world
        .control(
            "GET",
            &format!("/_sandbox/chats/{phone}/16505550199"),
            Value::Null,
        )
        .await;
    let line = &chat["messages"][0];
    assert_eq!(line["direction"], "outbound");
    assert_eq!(line["via"], "business_app");
    assert_eq!(line["message"]["text"]["body"], "Your table is ready");

    let added = world
        .control(
            "POST",
            &format!("/_sandbox/phones/{phone}/app-contacts"),
            json!({ "phone_number": "16505550199", "full_name": "Grace Hopper", "action": "add" }),
        )
        .await;
    assert_eq!(added.0, 200, "{}", added.1);
    let removed = world
        .control(
            "POST",
            &format!("/_sandbox/phones/{phone}/app-contacts"),
            json!({ "phone_number": "16505550199", "action": "remove" }),
        )
        .await;
    assert_eq!(removed.0, 200, "{}", removed.1);
    settle(&world).await;
    let changes = world.receiver.changes("smb_app_state_sync");
    let items: Vec<Value> = changes
        .iter()
        .map(|(_, v)| v["state_sync"][0].clone())
        .collect();
    let add = items.iter().find(|i| i["action"] == "add").unwrap();
    assert_eq!(add["contact"]["full_name"], "Grace Hopper");
    let remove = items.iter().find(|i| i["action"] == "remove").unwrap();
    assert_eq!(
        remove["contact"],
        json!({ "phone_number": "16505550199" }),
        "names absent on remove"
    );

    // Only coexistence numbers have an app.
    let demo_phone = world.demo().phone_number_id.clone();
    let refused = world
        .control(
            "POST",
            &format!("/_sandbox/phones/{demo_phone}/app-messages"),
            json!({ "to": "16505550199", "type": "text", "text": { "body": "x" } }),
        )
        .await;
    assert_eq!(refused.0, 400);
}

#[tokio::test]
async fn a_coexistence_number_sends_at_most_20_messages_a_second() {
    let world = World::start().await;
    create_app_number(
        &world,
        json!({ "display_phone_number": "15557010000", "verified_name": "Fast Shop" }),
    )
    .await;
    let phone = onboard(&world, "15557010000", None).await;
    // 41 sends straddle at most one second boundary: at most 40 pass.
    let mut refused = Vec::new();
    for i in 0..41 {
        let message = json!({
            "messaging_product": "whatsapp", "to": format!("1650555{:04}", 2000 + i),
            "type": "text", "text": { "body": "hi" },
        });
        let result = world
            .call("POST", &format!("{phone}/messages"), Some(message))
            .await;
        if result.0 != 200 {
            refused.push(result);
        }
    }
    assert!(!refused.is_empty());
    assert_graph_error(&refused[0], 429, 130429, None);
}

async fn event(world: &World, phone: &str, body: Value) -> (u16, Value) {
    world
        .control(
            "POST",
            &format!("/_sandbox/phones/{phone}/coexistence"),
            body,
        )
        .await
}

#[tokio::test]
async fn offboarding_pauses_sends_reconnecting_resumes_and_removal_ends_access() {
    let world = World::start().await;
    create_app_number(
        &world,
        json!({ "display_phone_number": "15557011000", "verified_name": "Moving Shop" }),
    )
    .await;
    let phone = onboard(&world, "15557011000", None).await;
    let path = format!("{phone}/messages");
    let message = json!({ "messaging_product": "whatsapp", "to": "16505550123", "type": "text", "text": { "body": "hi" } });
    let send = || world.call("POST", &path, Some(message.clone()));
    assert_eq!(send().await.0, 200);

    let (status, body) = event(&world, &phone, json!({ "event": "ACCOUNT_OFFBOARDED" })).await;
    assert_eq!(status, 200, "{body}");
    assert_graph_error(&send().await, 400, 133010, None);
    let (_, read) = world
        .call("GET", &format!("{phone}?fields=status"), None)
        .await;
    assert_eq!(read["status"], "DISCONNECTED");
    // Only PARTNER_REMOVED takes a reason; events follow one another.
    assert_eq!(
        event(
            &world,
            &phone,
            json!({ "event": "ACCOUNT_RECONNECTED", "reason": "CHANGE_NUMBER" })
        )
        .await
        .0,
        400
    );
    assert_eq!(
        event(&world, &phone, json!({ "event": "ACCOUNT_OFFBOARDED" }))
            .await
            .0,
        400
    );
    assert_eq!(
        event(&world, &phone, json!({ "event": "ACCOUNT_RECONNECTED" }))
            .await
            .0,
        200
    );
    assert_eq!(send().await.0, 200);

    assert_eq!(
        event(
            &world,
            &phone,
            json!({ "event": "PARTNER_REMOVED", "reason": "NOT_A_REASON" })
        )
        .await
        .0,
        400
    );
    let (status, body) = event(&world, &phone, json!({ "event": "PARTNER_REMOVED" })).await;
    assert_eq!(status, 200, "{body}");
    settle(&world).await;

    let updates: Vec<Value> = world
        .receiver
        .changes("account_update")
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    let offboarded = updates
        .iter()
        .find(|v| v["event"] == "ACCOUNT_OFFBOARDED")
        .unwrap();
    assert_eq!(offboarded["metadata"]["phone_number_id"], json!(phone));
    assert_eq!(offboarded["phone_number"], "15557011000");
    assert_eq!(
        offboarded["waba_info"]["waba_id"],
        json!(world.demo().waba_id)
    );
    let reconnected = updates
        .iter()
        .find(|v| v["event"] == "ACCOUNT_RECONNECTED")
        .unwrap();
    assert_eq!(reconnected["metadata"]["phone_number_id"], json!(phone));
    let removed = updates
        .iter()
        .find(|v| v["event"] == "PARTNER_REMOVED")
        .unwrap();
    assert_eq!(
        removed["disconnection_info"],
        json!({ "reason": "ACCOUNT_DISCONNECTED", "initiated_by": "USER" })
    );
    assert_eq!(removed["waba_info"]["waba_id"], json!(world.demo().waba_id));
    assert_eq!(
        removed["waba_info"]["owner_business_id"],
        json!(world.demo().business_id)
    );

    // Terminal: the app's access to the WABA ended.
    assert_graph_error(&send().await, 403, 200, None);
    assert_graph_error(&world.call("GET", &phone, None).await, 403, 200, None);
    assert_graph_error(&sync(&world, &phone, "history").await, 403, 200, None);
    let waba = world.demo().waba_id.clone();
    assert_graph_error(
        &world
            .call("GET", &format!("{waba}/phone_numbers"), None)
            .await,
        403,
        200,
        None,
    );
    assert_eq!(
        event(&world, &phone, json!({ "event": "ACCOUNT_RECONNECTED" }))
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn partner_removed_carries_the_reason_given() {
    let world = World::start().await;
    create_app_number(
        &world,
        json!({ "display_phone_number": "15557012000", "verified_name": "Idle Shop" }),
    )
    .await;
    let phone = onboard(&world, "15557012000", None).await;
    let (status, body) = event(
        &world,
        &phone,
        json!({ "event": "PARTNER_REMOVED", "reason": "PRIMARY_INACTIVITY", "initiated_by": "SYSTEM" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["webhook"]["disconnection_info"],
        json!({ "reason": "PRIMARY_INACTIVITY", "initiated_by": "SYSTEM" })
    );
    let not_linked = event(
        &world,
        &world.demo().phone_number_id.clone(),
        json!({ "event": "ACCOUNT_OFFBOARDED" }),
    )
    .await;
    assert_eq!(not_linked.0, 400);
}
