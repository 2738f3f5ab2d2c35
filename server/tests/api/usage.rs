//! `GET /api/v1/usage`: the cost ledger through the integration API. Its
//! shape is the document's, its query is checked exactly as the document
//! states, and it keeps to the key's workspace and scope.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::Method;
use serde_json::{json, Value};
use switchboard::{
    accounts::{Caller, Role, Workspace},
    api_keys::{self, READ, SEND},
    costs,
    test_support::TestBackend,
};

use crate::{
    helpers::{spawn_app, TestApp},
    integration::{assert_api_error, call, owner_caller, PHONE, WABA},
    integration_reads::{conforms, document},
    webhooks::{post, sign},
};

/// Meta reports statuses with pricing (each twice) for messages
/// Switchboard never stored: they count all the same.
async fn statuses_arrive(app: &TestApp, workspace: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let pricing = |category: &str, kind: &str, billable: bool| json!({ "billable": billable, "pricing_model": "PMP", "type": kind, "category": category });
    let statuses = json!([
        { "id": "wamid.m1", "status": "sent", "timestamp": now.to_string(), "recipient_id": "919876543210",
          "pricing": pricing("marketing", "regular", true) },
        { "id": "wamid.m1", "status": "delivered", "timestamp": now.to_string(), "recipient_id": "919876543210",
          "pricing": pricing("marketing", "regular", true) },
        { "id": "wamid.m2", "status": "delivered", "timestamp": now.to_string(), "recipient_id": "919876543211",
          "pricing": pricing("marketing", "regular", true) },
        { "id": "wamid.b1", "status": "read", "timestamp": now.to_string(), "recipient_user_id": "US.13491208655302741918",
          "pricing": pricing("service", "free_customer_service", false) },
        { "id": "wamid.f1", "status": "failed", "timestamp": now.to_string(), "recipient_id": "919876543212",
          "errors": [{ "code": 131026, "title": "Message undeliverable" }] },
    ]);
    let body = json!({ "object": "whatsapp_business_account", "entry": [{ "id": WABA, "changes": [{ "field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": { "phone_number_id": PHONE }, "statuses": statuses,
    }}]}]})
    .to_string()
    .into_bytes();
    for _ in 0..2 {
        assert_eq!(
            post(app, body.clone(), Some(sign(&body))).await.status(),
            200
        );
    }
    // The server's workers apply them; drained, not polled.
    switchboard::runtime::drain(&app.engine, Duration::from_secs(10))
        .await
        .expect("drained");
    let rows = app
        .engine
        .store
        .cost_ledger(workspace, None, None)
        .await
        .unwrap();
    assert_eq!(
        rows.iter().map(|r| r.billable + r.free).sum::<i64>(),
        3,
        "the statuses were counted"
    );
    costs::month_of(now as i64 * 1000)
}

async fn usage(backend: TestBackend) {
    let app = spawn_app(backend).await;
    let doc = document(&app).await;
    let owner = owner_caller(&app).await;
    let store = &app.engine.store;
    store
        .connect_number(&owner.workspace.id, &PHONE.into(), &WABA.into(), None, 0)
        .await
        .unwrap();
    let (_, key) = api_keys::create(&app.engine, &owner, "Finance", &[READ])
        .await
        .unwrap();
    let month = statuses_arrive(&app, owner.workspace.id.as_str()).await;

    let get = |path: String, key: String| {
        let app = &app;
        let doc = &doc;
        async move {
            let (status, body, _) = call(app, Method::GET, &path, Some(&key), None, None).await;
            conforms(doc, "/api/v1/usage", "get", status, &body);
            (status, body)
        }
    };
    // Counts only: each message once, the BSUID-only customer's under no
    // market, the failed one (no pricing) not at all.
    let (status, body) = get("/api/v1/usage".into(), key.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!([
            { "phone_number_id": PHONE, "month": month, "category": "marketing", "pricing_type": "regular",
              "market": "India", "billable": 2, "free": 0, "estimate": null },
            { "phone_number_id": PHONE, "month": month, "category": "service", "pricing_type": "free_customer_service",
              "market": null, "billable": 0, "free": 1, "estimate": null },
        ])
    );
    assert_eq!(
        (body["totals"].clone(), body["rate_card"].clone()),
        (json!([]), Value::Null)
    );

    // With a rate card: 2 × 0.7846 INR.
    let card = "Market,Currency,Marketing,Utility,Authentication,Service\nIndia,INR,0.7846,0.1150,0.1150,0\n";
    costs::load_rate_card(store, &owner, Some("inr.csv"), card.as_bytes())
        .await
        .unwrap();
    let (status, body) = get(
        format!("/api/v1/usage?month={month}&phone_number_id={PHONE}"),
        key.clone(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"][0]["estimate"],
        json!({ "currency": "INR", "rate_micros": 784_600, "cost_micros": 1_569_200 })
    );
    assert_eq!(
        body["data"][1]["estimate"],
        Value::Null,
        "no market, no estimate"
    );
    assert_eq!(
        body["totals"],
        json!([{ "currency": "INR", "cost_micros": 1_569_200 }])
    );
    assert_eq!(body["rate_card"]["file_name"], "inr.csv");
    let (_, other_month) = get("/api/v1/usage?month=1999-12".into(), key.clone()).await;
    assert_eq!(other_month["data"], json!([]));
    let (_, other_number) = get("/api/v1/usage?phone_number_id=1".into(), key.clone()).await;
    assert_eq!(other_number["data"], json!([]));

    // The query is checked exactly as the document states it.
    let parameters = doc["paths"]["/api/v1/usage"]["get"]["parameters"]
        .as_array()
        .unwrap();
    for (name, samples) in [
        (
            "month",
            &[
                "2026-01",
                "0000-12",
                "2026-13",
                "2026-00",
                "2026-1",
                "2026-01-01",
                "",
            ][..],
        ),
        (
            "phone_number_id",
            &["1", "106540352242922", "12a", "-1", "", &"1".repeat(33)][..],
        ),
    ] {
        let schema = &parameters.iter().find(|p| p["name"] == name).unwrap()["schema"];
        let validator = jsonschema::validator_for(schema).unwrap();
        for sample in samples {
            let (status, body) = get(format!("/api/v1/usage?{name}={sample}"), key.clone()).await;
            let valid = validator.is_valid(&json!(sample));
            assert_eq!(status == 200, valid, "{name}={sample:?}: {status} {body}");
            if !valid {
                assert_api_error(status, &body, 422, "invalid_request");
            }
        }
    }

    // A key without the read scope is refused.
    let (_, sender) = api_keys::create(&app.engine, &owner, "Sender", &[SEND])
        .await
        .unwrap();
    let (status, body) = get("/api/v1/usage".into(), sender).await;
    assert_api_error(status, &body, 403, "insufficient_scope");
    let (status, body, _) = call(&app, Method::GET, "/api/v1/usage", None, None, None).await;
    assert_api_error(status, &body, 401, "unauthorized");

    // Another workspace's key sees nothing of this one, even naming its number.
    let elsewhere = Workspace {
        id: "ws-usage-elsewhere".into(),
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
    let (_, other_key) = api_keys::create(&app.engine, &stranger, "Other", &[READ])
        .await
        .unwrap();
    let (status, body) = get(format!("/api/v1/usage?phone_number_id={PHONE}"), other_key).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({ "data": [], "totals": [], "rate_card": null }));
}

#[tokio::test]
async fn usage_counts_keeps_to_its_workspace_and_checks_its_query_on_sqlite() {
    usage(TestBackend::Sqlite).await;
}

#[tokio::test]
async fn usage_counts_keeps_to_its_workspace_and_checks_its_query_on_postgres() {
    usage(TestBackend::Postgres).await;
}
