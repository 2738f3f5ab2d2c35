//! `/api/v1` reads: conversations and messages a page at a time, numbers;
//! every endpoint in the OpenAPI document tried with another workspace's
//! key; and every answer checked against the document's own schemas.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::{json, Value};
use switchboard::{
    accounts::{Caller, Role, Workspace},
    api_keys::{self, PRIVACY, READ, SEND},
    test_support::TestBackend,
};

use crate::{
    helpers::{spawn_app, TestApp},
    integration::{
        assert_api_error, call, customer_says, owner_caller, send_message, CUSTOMER, PHONE, WABA,
    },
};

/// Checks `body` against what the document says `method path` answers
/// with `status`; objects may carry no property the document omits.
pub(crate) fn conforms(document: &Value, path: &str, method: &str, status: u16, body: &Value) {
    let errors = violations(document, path, method, status, body);
    assert!(
        errors.is_empty(),
        "{method} {path} {status} does not match the document: {errors:?}\n{body}"
    );
}

fn violations(
    document: &Value,
    path: &str,
    method: &str,
    status: u16,
    body: &Value,
) -> Vec<String> {
    let response = &document["paths"][path][method]["responses"][status.to_string()];
    assert!(
        response.is_object(),
        "{method} {path} does not document {status}"
    );
    let mut schema = response["content"]["application/json"]["schema"].clone();
    schema["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    schema["components"] = strict(document["components"].clone());
    let validator = jsonschema::validator_for(&schema).expect("the document's schema compiles");
    validator.iter_errors(body).map(|e| e.to_string()).collect()
}

/// Every object schema with properties refuses undocumented ones.
fn strict(mut schema: Value) -> Value {
    match &mut schema {
        Value::Object(map) => {
            for value in map.values_mut() {
                *value = strict(value.take());
            }
            if map.contains_key("properties") {
                map.insert("unevaluatedProperties".into(), json!(false));
            }
        }
        Value::Array(items) => {
            for item in items {
                *item = strict(item.take());
            }
        }
        _ => {}
    }
    schema
}

/// The events the endpoints receive are in the document's `webhooks`, and
/// one as the engine makes it matches its schema exactly.
#[tokio::test]
async fn the_document_describes_the_token_expiring_event() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let doc = document(&app).await;
    let event = &doc["webhooks"]["number.token_expiring"]["post"];
    assert_eq!(event["operationId"], "event_number_token_expiring");
    let headers: Vec<&str> = event["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(
        headers,
        ["webhook-id", "webhook-timestamp", "webhook-signature"]
    );
    let mut schema = event["requestBody"]["content"]["application/json"]["schema"].clone();
    schema["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    schema["components"] = strict(doc["components"].clone());
    let validator = jsonschema::validator_for(&schema).expect("the document's schema compiles");
    let data = switchboard::outgoing_webhooks::TokenExpiring {
        phone_number_id: PHONE.into(),
        display_phone_number: None,
        expires_at: 1_800_000_000_000,
        days_left: 6,
        warning_days: 7,
        refresh_refused: "Meta refused to refresh it".into(),
    };
    let (_, kind, payload) =
        switchboard::outgoing_webhooks::token_expiring(5, data, 1_799_000_000_000);
    assert_eq!(kind, "number.token_expiring");
    let errors: Vec<String> = validator
        .iter_errors(&payload)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}\n{payload}");
    // What it refuses: another type, a field the document does not name.
    let mut wrong = payload.clone();
    wrong["type"] = json!("message.status");
    assert!(!validator.is_valid(&wrong));
    let mut extra = payload;
    extra["data"]["token"] = json!("EAA...");
    assert!(
        !validator.is_valid(&extra),
        "no undocumented field, let alone a token"
    );
}

pub(crate) async fn document(app: &TestApp) -> Value {
    let (status, document, _) =
        call(app, Method::GET, "/api/v1/openapi.json", None, None, None).await;
    assert_eq!(status, 200);
    assert_eq!(document["openapi"], "3.1.0");
    document
}

/// GETs `path` with `key`, checks the answer against the document under
/// `template`, and returns it.
async fn get(app: &TestApp, doc: &Value, template: &str, path: &str, key: &str) -> (u16, Value) {
    let (status, body, _) = call(app, Method::GET, path, Some(key), None, None).await;
    conforms(doc, template, "get", status, &body);
    (status, body)
}

/// Follows `next_cursor` to the end, `limit` at a time.
async fn all_pages(
    app: &TestApp,
    doc: &Value,
    template: &str,
    path: &str,
    key: &str,
    limit: u32,
) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..20 {
        let url = match &cursor {
            Some(c) => format!("{path}?limit={limit}&cursor={c}"),
            None => format!("{path}?limit={limit}"),
        };
        let (status, page) = get(app, doc, template, &url, key).await;
        assert_eq!(status, 200, "{page}");
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= limit as usize);
        items.extend(data.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return items,
        }
    }
    panic!("the pages never ended");
}

async fn pages_and_workspaces(backend: TestBackend) {
    let app = spawn_app(backend).await;
    let doc = document(&app).await;
    // The check can fail: an undocumented field, a missing one, a wrong type.
    for wrong in [
        json!({ "data": [], "extra": 1 }),
        json!({}),
        json!({ "data": [{ "phone_number_id": 1 }] }),
    ] {
        assert!(
            !violations(&doc, "/api/v1/numbers", "get", 200, &wrong).is_empty(),
            "{wrong}"
        );
    }
    let owner = owner_caller(&app).await;
    let store = &app.engine.store;
    store
        .connect_number(&owner.workspace.id, &PHONE.into(), &WABA.into(), None, 0)
        .await
        .unwrap();
    // Five customers, the first of whom wrote four times.
    let customers: Vec<String> = (0..5).map(|i| format!("1650555000{i}")).collect();
    for (i, customer) in customers.iter().enumerate() {
        customer_says(&app, &owner.workspace.id, customer, &format!("wamid.c{i}")).await;
    }
    for i in 1..4 {
        customer_says(
            &app,
            &owner.workspace.id,
            &customers[0],
            &format!("wamid.more{i}"),
        )
        .await;
    }
    let (_, key) = api_keys::create(&app.engine, &owner, "CRM", &[READ, SEND])
        .await
        .unwrap();

    // Conversations: every one exactly once, across pages of two.
    let conversations = all_pages(
        &app,
        &doc,
        "/api/v1/conversations",
        "/api/v1/conversations",
        &key,
        2,
    )
    .await;
    let seen: HashSet<&str> = conversations
        .iter()
        .map(|c| c["customer"].as_str().unwrap())
        .collect();
    assert_eq!(conversations.len(), 5);
    assert_eq!(seen, customers.iter().map(String::as_str).collect());
    let activity: Vec<i64> = conversations
        .iter()
        .map(|c| c["last_at"].as_i64().unwrap())
        .collect();
    assert!(
        activity.windows(2).all(|w| w[0] >= w[1]),
        "most recent first: {activity:?}"
    );
    // Nobody read them yet; the customers' windows are open a day.
    let first = conversations
        .iter()
        .find(|c| c["customer"] == customers[0].as_str())
        .unwrap();
    assert_eq!(first["unread"], 4, "{first}");
    assert_eq!(
        first["window_ends_at"].as_i64(),
        first["last_at"].as_i64().map(|at| at + 24 * 60 * 60 * 1000)
    );

    // Marking one read clears its count, and only its count.
    let read_template = "/api/v1/conversations/{phone_number_id}/{customer}/read";
    let read_path = format!("/api/v1/conversations/{PHONE}/{}/read", customers[0]);
    let (status, read, _) = call(&app, Method::POST, &read_path, Some(&key), None, None).await;
    conforms(&doc, read_template, "post", status, &read);
    assert_eq!((status, read["unread"].as_i64()), (200, Some(0)), "{read}");
    let unread: Vec<(String, i64)> = all_pages(
        &app,
        &doc,
        "/api/v1/conversations",
        "/api/v1/conversations",
        &key,
        10,
    )
    .await
    .iter()
    .map(|c| {
        (
            c["customer"].as_str().unwrap().to_string(),
            c["unread"].as_i64().unwrap(),
        )
    })
    .collect();
    assert!(
        unread
            .iter()
            .all(|(customer, n)| *n == i64::from(*customer != customers[0])),
        "{unread:?}"
    );
    let (status, bad, _) = call(
        &app,
        Method::POST,
        &format!("/api/v1/conversations/{PHONE}/not-a-customer/read"),
        Some(&key),
        None,
        None,
    )
    .await;
    conforms(&doc, read_template, "post", status, &bad);
    assert_api_error(status, &bad, 422, "invalid_request");

    // Messages of one conversation, newest first, across pages of three.
    let template = "/api/v1/conversations/{phone_number_id}/{customer}/messages";
    let path = format!("/api/v1/conversations/{PHONE}/{}/messages", customers[0]);
    let messages = all_pages(&app, &doc, template, &path, &key, 3).await;
    let ids: Vec<&str> = messages.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        ["wamid.more3", "wamid.more2", "wamid.more1", "wamid.c0"]
    );
    assert_eq!(messages[0]["direction"], "inbound");
    assert_eq!(messages[0]["payload"]["text"]["body"], "Hello");

    // Bad paging input is a clear error.
    for bad in [
        "?limit=0",
        "?limit=101",
        "?cursor=not-a-cursor",
        "?limit=ten",
    ] {
        let (status, body) = get(
            &app,
            &doc,
            "/api/v1/conversations",
            &format!("/api/v1/conversations{bad}"),
            &key,
        )
        .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (422, Some("invalid_request")),
            "{bad}"
        );
    }

    // Numbers.
    let (status, numbers) = get(&app, &doc, "/api/v1/numbers", "/api/v1/numbers", &key).await;
    assert_eq!(status, 200);
    assert_eq!(numbers["data"][0]["phone_number_id"], PHONE);
    assert_eq!(numbers["data"].as_array().unwrap().len(), 1);

    // Templates (none synced for a number connected without Meta).
    let approved_templates = || {
        get(
            &app,
            &doc,
            "/api/v1/templates",
            "/api/v1/templates?status=approved",
            &key,
        )
    };
    let (status, listed) = approved_templates().await;
    assert_eq!(
        (status, listed["data"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    store
        .upsert_template(&switchboard::store::StoredTemplate {
            waba_id: WABA.into(),
            name: "order_update".into(),
            language: "en_US".into(),
            template_id: "1".into(),
            category: "UTILITY".into(),
            status: "APPROVED".into(),
            rejected_reason: None,
            parameter_format: "POSITIONAL".into(),
            components: r#"[{"type":"BODY","text":"Hi {{1}}"}]"#.into(),
            updated_at: 1,
            quality: None,
        })
        .await
        .unwrap();
    let (_, listed) = approved_templates().await;
    assert_eq!(listed["data"][0]["name"], "order_update");
    assert_eq!(listed["data"][0]["components"][0]["text"], "Hi {{1}}");

    // A message sent through the API, read back.
    customer_says(&app, &owner.workspace.id, CUSTOMER, "wamid.open").await;
    let send = json!({ "phone_number_id": PHONE, "to": CUSTOMER, "message": { "type": "text", "body": "On its way" } });
    let (status, accepted) = send_message(&app, Some(&key), Some("k1"), send.clone()).await;
    conforms(&doc, "/api/v1/messages", "post", status, &accepted);
    assert_eq!(status, 202);
    let id = accepted["id"].as_i64().unwrap();
    let message_state = || async {
        let path = format!("/api/v1/messages/{id}");
        get(&app, &doc, "/api/v1/messages/{id}", &path, &key).await
    };
    let (status, state) = message_state().await;
    assert_eq!((status, state["id"].as_i64()), (200, Some(id)));

    // Errors match the document too.
    let (status, body) = send_message(&app, Some(&key), None, json!({ "to": 1 })).await;
    conforms(&doc, "/api/v1/messages", "post", status, &body);
    let (status, body, _) = call(&app, Method::GET, "/api/v1/numbers", None, None, None).await;
    assert_eq!(status, 401);
    conforms(&doc, "/api/v1/numbers", "get", status, &body);
    let oversized = json!({ "phone_number_id": PHONE, "to": CUSTOMER, "message": { "type": "text", "body": "x".repeat(70_000) } });
    let (status, body) = send_message(&app, Some(&key), None, oversized).await;
    assert_api_error(status, &body, 413, "payload_too_large");
    conforms(&doc, "/api/v1/messages", "post", status, &body);

    // Another workspace's key, on every endpoint the document lists, with
    // this workspace's ids: nothing of this workspace comes back.
    let elsewhere = Workspace {
        id: uuid_like("elsewhere").into(),
        name: "Elsewhere".into(),
    };
    store
        .insert_workspace(&elsewhere, &owner.user.id, 1)
        .await
        .unwrap();
    let stranger = Caller {
        user: owner.user.clone(),
        workspace: elsewhere,
        role: Role::Owner,
    };
    let (_, other_key) = api_keys::create(&app.engine, &stranger, "Other", &[READ, SEND, PRIVACY])
        .await
        .unwrap();
    let contact_of = |customer: &str| {
        conversations
            .iter()
            .find(|c| c["customer"] == customer)
            .map(|c| c["contact"]["id"].as_str().unwrap().to_string())
            .unwrap()
    };
    let first_contact = contact_of(&customers[0]);
    let paths = doc["paths"].as_object().unwrap();
    let mut tried = 0;
    for (template, item) in paths {
        let concrete = template
            .replace("{id}", &id.to_string())
            .replace("{phone_number_id}", PHONE)
            .replace("{customer}", CUSTOMER)
            .replace("{contact_id}", &first_contact);
        for method in item.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = (method == Method::POST).then(|| send.clone());
            let (status, answer, _) = call(
                &app,
                method.clone(),
                &concrete,
                Some(&other_key),
                Some("k1"),
                body,
            )
            .await;
            conforms(
                &doc,
                template,
                &method.as_str().to_lowercase(),
                status,
                &answer,
            );
            assert!(
                status == 404
                    || (status == 200 && answer["data"].as_array().is_some_and(Vec::is_empty)),
                "{method} {concrete} with another workspace's key: {status} {answer}"
            );
            let text = answer.to_string();
            assert!(
                !text.contains(PHONE) && !text.contains(CUSTOMER),
                "{method} {concrete} leaked: {text}"
            );
            tried += 1;
        }
    }
    assert!(tried >= 5, "every endpoint tried ({tried})");
    // Its send under the same Idempotency-Key did not reach this
    // workspace's message either, and its erasure erased nothing.
    let (_, state) = message_state().await;
    assert_eq!(state["id"].as_i64(), Some(id));

    // Data rights: a `privacy` key exports a customer, then erases them.
    let export_path = format!("/api/v1/contacts/{first_contact}/export");
    let export_template = "/api/v1/contacts/{contact_id}/export";
    let (status, refused) = get(&app, &doc, export_template, &export_path, &key).await;
    assert_api_error(status, &refused, 403, "insufficient_scope");
    let (_, privacy_key) = api_keys::create(&app.engine, &owner, "DPO", &[PRIVACY])
        .await
        .unwrap();
    let (status, export) = get(&app, &doc, export_template, &export_path, &privacy_key).await;
    assert_eq!(status, 200, "{export}");
    let exported: Vec<&str> = export["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        exported,
        ["wamid.c0", "wamid.more1", "wamid.more2", "wamid.more3"]
    );
    let (status, bad) = get(
        &app,
        &doc,
        export_template,
        "/api/v1/contacts/16505550000/export",
        &privacy_key,
    )
    .await;
    assert_api_error(status, &bad, 422, "invalid_request");
    let erase_path = format!("/api/v1/contacts/{first_contact}");
    let (status, report, _) = call(
        &app,
        Method::DELETE,
        &erase_path,
        Some(&privacy_key),
        None,
        None,
    )
    .await;
    conforms(
        &doc,
        "/api/v1/contacts/{contact_id}",
        "delete",
        status,
        &report,
    );
    assert_eq!((status, report["messages"].as_u64()), (200, Some(4)));
    let (status, gone) = get(&app, &doc, export_template, &export_path, &privacy_key).await;
    assert_api_error(status, &gone, 404, "not_found");
    let left = all_pages(
        &app,
        &doc,
        "/api/v1/conversations",
        "/api/v1/conversations",
        &key,
        10,
    )
    .await;
    assert_eq!(left.len(), 5, "the others stay");
}

fn uuid_like(seed: &str) -> String {
    format!("{seed}-00000000-0000-0000-0000-000000000000")
}

#[tokio::test]
async fn the_api_pages_reads_and_keeps_to_its_workspace_on_sqlite() {
    pages_and_workspaces(TestBackend::Sqlite).await;
}

#[tokio::test]
async fn the_api_pages_reads_and_keeps_to_its_workspace_on_postgres() {
    pages_and_workspaces(TestBackend::Postgres).await;
}
