//! Message templates against the sandbox, on both backends: synced with
//! every page, created (checked first), rejected with a reason, approved
//! and paused by Meta's webhooks, refused before Meta when not approved,
//! sent with parameters, deleted.

mod common;

use std::time::Duration;

use common::{
    live::eventually,
    meta::{connected, Env},
};
use reqwest::Method;
use serde_json::json;
use switchboard::{
    outbox::{self, OutboundMessage},
    store::StoredTemplate,
    templates,
    test_support::TestBackend,
    Error,
};

on_both_backends!(
    sync_reads_every_page_and_forgets_deleted_templates,
    a_created_template_is_approved_by_webhook_and_sent_with_values,
    a_promotional_utility_template_is_rejected_with_the_reason,
    a_paused_or_unknown_template_is_refused_before_meta,
    invalid_drafts_never_reach_meta,
    a_named_template_is_sent_with_its_parameter_names,
    a_rejection_reason_survives_the_sync_after_it,
    quality_and_category_changes_are_stored_at_once,
    a_quality_or_category_webhook_changes_only_what_it_names,
);

const WAIT: Duration = Duration::from_secs(20);
const CUSTOMER: &str = "15550002222";

fn draft(name: &str, body: &str, samples: &[&str]) -> rules::templates::Draft {
    rules::templates::Draft {
        name: name.into(),
        language: "en_US".into(),
        category: "UTILITY".into(),
        header: "Order {{1}}".into(),
        header_example: "A-1".into(),
        body: body.into(),
        body_examples: samples.iter().map(|s| s.to_string()).collect(),
        footer: "Acme Bakery".into(),
        buttons: vec![rules::templates::Button::QuickReply {
            text: "Thanks".into(),
        }],
    }
}

async fn stored(env: &Env, name: &str) -> Option<StoredTemplate> {
    env.engine
        .store
        .template(&env.demo.waba_id, name, "en_US")
        .await
        .unwrap()
}

/// A utility template that reads as an advert: Meta rejects it.
async fn submit_weekend_deal(env: &Env, phone: &str) {
    templates::create(
        &env.engine,
        &env.caller,
        phone,
        &draft(
            "weekend_deal",
            "Hi {{1}}, 20% off order {{2}} this weekend.",
            &["Ann", "A-1"],
        ),
    )
    .await
    .unwrap();
}

async fn status_becomes(env: &Env, name: &str, status: &str) -> StoredTemplate {
    eventually(&format!("{name} stored as {status}"), WAIT, || async {
        stored(env, name).await.is_some_and(|t| t.status == status)
    })
    .await;
    stored(env, name).await.unwrap()
}

/// Meta's list for the WABA, straight from the sandbox.
async fn listed_at_meta(env: &Env, phone: &str) -> usize {
    let token = env.token_of(phone).await;
    let page = env
        .graph(
            Method::GET,
            &format!("{}/message_templates?limit=1000", env.demo.waba_id),
            &token,
            None,
        )
        .await;
    page["data"].as_array().unwrap().len()
}

fn template_send(phone: &str, name: &str, header: &[&str], body: &[&str]) -> OutboundMessage {
    let params = |values: &[&str]| {
        values
            .iter()
            .map(|v| json!({ "type": "text", "text": v }))
            .collect::<Vec<_>>()
    };
    OutboundMessage {
        phone_number_id: phone.to_string(),
        recipient: CUSTOMER.to_string(),
        content: outbox::Content::Template {
            name: name.into(),
            language: "en_US".into(),
            components: vec![
                json!({ "type": "header", "parameters": params(header) }),
                json!({ "type": "body", "parameters": params(body) }),
            ],
        },
        context_wamid: None,
    }
}

async fn sync_reads_every_page_and_forgets_deleted_templates(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let token = env.token_of(&phone).await;
    // More than one page of 100 at Meta.
    for i in 0..103 {
        let created = env
            .graph(
                Method::POST,
                &format!("{}/message_templates", env.demo.waba_id),
                &token,
                Some(json!({ "name": format!("notice_{i:03}"), "language": "en_US", "category": "UTILITY",
                    "components": [{ "type": "BODY", "text": format!("Notice number {i}.") }] })),
            )
            .await;
        assert!(created["id"].is_string(), "{created}");
    }
    let count = templates::sync::sync_waba(&env.engine, &env.demo.waba_id)
        .await
        .unwrap();
    assert_eq!(count, 105, "two seeded and 103 created");
    let all = templates::list(&env.engine, &env.caller).await.unwrap();
    assert_eq!(all.len(), 105);
    assert!(all.iter().any(|t| t.name == "notice_102"));
    assert!(all
        .iter()
        .any(|t| t.name == "order_update" && t.status == "APPROVED"));

    // Deleted at Meta by someone else: gone here after the next sync.
    let deleted = env
        .graph(
            Method::DELETE,
            &format!("{}/message_templates?name=notice_000", env.demo.waba_id),
            &token,
            None,
        )
        .await;
    assert_eq!(deleted["success"], true);
    templates::sync::sync_waba(&env.engine, &env.demo.waba_id)
        .await
        .unwrap();
    assert!(stored(&env, "notice_000").await.is_none());
    assert_eq!(
        templates::list(&env.engine, &env.caller)
            .await
            .unwrap()
            .len(),
        104
    );
}

async fn a_created_template_is_approved_by_webhook_and_sent_with_values(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let running = env.run().await;
    let made = templates::create(
        &env.engine,
        &env.caller,
        &phone,
        &draft(
            "order_shipped",
            "Hi {{1}}, order {{2}} has shipped.",
            &["Ann", "A-1"],
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        (made.status.as_str(), made.category.as_str()),
        ("PENDING", "UTILITY")
    );
    // Refused before Meta while in review.
    let early = env
        .agent_send(&template_send(
            &phone,
            "order_shipped",
            &["A-7"],
            &["Bo", "A-7"],
        ))
        .await;
    assert!(
        matches!(&early, Err(Error::Invalid { message, .. }) if message.contains("pending")),
        "{early:?}"
    );

    // Meta's review ends with a webhook; the pipeline stores the status.
    let approved = status_becomes(&env, "order_shipped", "APPROVED").await;
    assert!(approved.components.contains("has shipped"));
    let offered = outbox::approved_templates(&env.engine, &env.caller, &phone)
        .await
        .unwrap();
    let offer = offered
        .iter()
        .find(|t| t.name == "order_shipped")
        .expect("offered in the composer");
    assert_eq!(offer.variables(), 2);

    // The wrong number of values is refused here, the right one reaches the customer.
    let wrong = env
        .agent_send(&template_send(&phone, "order_shipped", &["A-7"], &["Bo"]))
        .await;
    assert!(
        matches!(&wrong, Err(Error::Invalid { message, .. }) if message.contains("takes 2 values")),
        "{wrong:?}"
    );
    env.agent_send(&template_send(
        &phone,
        "order_shipped",
        &["A-7"],
        &["Bo", "A-7"],
    ))
    .await
    .expect("queued");
    let line = env
        .first_received("the template received", &phone, CUSTOMER)
        .await;
    assert_eq!(line["message"]["template"]["name"], "order_shipped");
    assert_eq!(
        line["message"]["template"]["components"][1]["parameters"][0]["text"],
        "Bo"
    );

    // Deleted: gone at Meta and here, audited.
    templates::delete(&env.engine, &env.caller, &phone, "order_shipped")
        .await
        .unwrap();
    assert!(stored(&env, "order_shipped").await.is_none());
    assert_eq!(listed_at_meta(&env, &phone).await, 2);
    let actions = env.audit_actions().await;
    assert!(
        actions.contains(&"template.created".to_string())
            && actions.contains(&"template.deleted".to_string()),
        "{actions:?}"
    );
    running.stop().await;
}

async fn a_promotional_utility_template_is_rejected_with_the_reason(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let running = env.run().await;
    submit_weekend_deal(&env, &phone).await;
    let rejected = status_becomes(&env, "weekend_deal", "REJECTED").await;
    assert_eq!(
        rejected.rejected_reason.as_deref(),
        Some("INCORRECT_CATEGORY")
    );
    let refused = env
        .agent_send(&template_send(&phone, "weekend_deal", &["A"], &["B", "C"]))
        .await;
    assert!(
        matches!(&refused, Err(Error::Invalid { message, .. }) if message.contains("rejected (INCORRECT_CATEGORY)")),
        "{refused:?}"
    );
    // The same name and language again: Meta's own refusal, in its words.
    let again = templates::create(
        &env.engine,
        &env.caller,
        &phone,
        &draft(
            "weekend_deal",
            "Hi {{1}}, your order {{2}} is ready.",
            &["Ann", "A-1"],
        ),
    )
    .await;
    assert!(
        matches!(&again, Err(Error::Meta(refusal)) if refusal.to_string().contains("already")),
        "{again:?}"
    );

    // Fixed by the business: marketing is the right category. Meta
    // reviews it again and approves it; then it can be sent.
    let mut fixed = draft(
        "weekend_deal",
        "Hi {{1}}, 20% off order {{2}} this weekend.",
        &["Ann", "A-1"],
    );
    fixed.category = "MARKETING".into();
    let edited = templates::edit(&env.engine, &env.caller, &phone, &fixed)
        .await
        .unwrap();
    assert_eq!(
        (edited.status.as_str(), edited.rejected_reason.as_deref()),
        ("PENDING", None)
    );
    let approved = status_becomes(&env, "weekend_deal", "APPROVED").await;
    assert_eq!(approved.category, "MARKETING");
    env.agent_send(&template_send(&phone, "weekend_deal", &["A"], &["B", "C"]))
        .await
        .expect("approved after the edit");
    // An approved template keeps its category.
    fixed.category = "UTILITY".into();
    let recategorised = templates::edit(&env.engine, &env.caller, &phone, &fixed).await;
    assert!(
        matches!(
            recategorised,
            Err(Error::Invalid {
                field: "category",
                ..
            })
        ),
        "{recategorised:?}"
    );
    assert!(env.audited("template.edited").await);
    running.stop().await;
}

async fn a_paused_or_unknown_template_is_refused_before_meta(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let running = env.run().await;
    templates::sync::sync_waba(&env.engine, &env.demo.waba_id)
        .await
        .unwrap();
    let order = stored(&env, "order_update").await.expect("synced");
    // Meta pauses it for quality; the webhook pauses it here.
    env.control(
        &format!("/_sandbox/templates/{}/status", order.template_id),
        json!({ "status": "PAUSED" }),
    )
    .await;
    status_becomes(&env, "order_update", "PAUSED").await;
    let send = |name: &str| {
        let body: Vec<serde_json::Value> = ["Ana", "#42"]
            .iter()
            .map(|v| json!({ "type": "text", "text": v }))
            .collect();
        OutboundMessage {
            phone_number_id: phone.clone(),
            recipient: CUSTOMER.into(),
            content: outbox::Content::Template {
                name: name.into(),
                language: "en_US".into(),
                components: vec![json!({ "type": "body", "parameters": body })],
            },
            context_wamid: None,
        }
    };
    let paused = env.agent_send(&send("order_update")).await;
    assert!(
        matches!(&paused, Err(Error::Invalid { message, .. }) if message.contains("paused")),
        "{paused:?}"
    );
    let unknown = env.agent_send(&send("no_such_template")).await;
    assert!(
        matches!(&unknown, Err(Error::Invalid { message, .. }) if message.contains("no template")),
        "{unknown:?}"
    );
    assert!(
        env.engine
            .store
            .unsent_for(
                &env.caller.workspace.id,
                &phone,
                &env.contact(&phone, CUSTOMER).await.id
            )
            .await
            .unwrap()
            .is_empty(),
        "nothing queued"
    );
    assert!(
        env.received(&phone, CUSTOMER).await.is_empty(),
        "nothing reached Meta"
    );
    // Reinstated: it goes again.
    env.control(
        &format!("/_sandbox/templates/{}/status", order.template_id),
        json!({ "status": "REINSTATED" }),
    )
    .await;
    status_becomes(&env, "order_update", "APPROVED").await;
    env.agent_send(&send("order_update")).await.expect("queued");
    running.stop().await;
}

async fn invalid_drafts_never_reach_meta(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let cases = [
        ("Bad Name", "Hi {{1}}, order {{2}} shipped.", "name"),
        ("gap", "Hi {{1}}, order {{3}} shipped.", "body"),
        ("edge", "{{1}}, your order {{2}} shipped", "body"),
    ];
    for (name, body, field) in cases {
        let refused = templates::create(
            &env.engine,
            &env.caller,
            &phone,
            &draft(name, body, &["a", "b"]),
        )
        .await;
        assert!(
            matches!(&refused, Err(Error::Invalid { field: f, .. }) if *f == field),
            "{name}: {refused:?}"
        );
    }
    let unsampled = templates::create(
        &env.engine,
        &env.caller,
        &phone,
        &draft("unsampled", "Hi {{1}}, order {{2}} shipped.", &["a"]),
    )
    .await;
    assert!(matches!(
        unsampled,
        Err(Error::Invalid { field: "body", .. })
    ));
    assert_eq!(
        listed_at_meta(&env, &phone).await,
        2,
        "only the seeded templates at Meta"
    );
    assert!(templates::list(&env.engine, &env.caller)
        .await
        .unwrap()
        .iter()
        .all(|t| t.name != "gap"));
}

async fn a_named_template_is_sent_with_its_parameter_names(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let running = env.run().await;
    // Made in Meta's own tools with named parameters; the sync brings it.
    let token = env.token_of(&phone).await;
    let created = env
        .graph(
            Method::POST,
            &format!("{}/message_templates", env.demo.waba_id),
            &token,
            Some(json!({ "name": "table_ready", "language": "en_US", "category": "UTILITY", "parameter_format": "NAMED",
                "components": [{ "type": "BODY", "text": "Hi {{first_name}}, your table for {{party_size}} is ready.",
                    "example": { "body_text_named_params": [
                        { "param_name": "first_name", "example": "Ann" },
                        { "param_name": "party_size", "example": "4" } ] } }] })),
        )
        .await;
    assert!(created["id"].is_string(), "{created}");
    let stored = status_becomes(&env, "table_ready", "APPROVED").await;
    assert_eq!(stored.parameter_format, "NAMED");
    let offered = outbox::approved_templates(&env.engine, &env.caller, &phone)
        .await
        .unwrap();
    let offer = offered
        .iter()
        .find(|t| t.name == "table_ready")
        .expect("offered");
    assert_eq!(offer.variable_names, ["first_name", "party_size"]);

    let content = templates::content_for(
        &env.engine,
        &env.caller,
        &phone,
        "table_ready",
        "en_US",
        &[],
        &["Bo".into(), "2".into()],
    )
    .await
    .unwrap();
    let message = OutboundMessage {
        phone_number_id: phone.clone(),
        recipient: CUSTOMER.into(),
        content,
        context_wamid: None,
    };
    env.agent_send(&message).await.expect("queued");
    let line = env
        .first_received("the named template received", &phone, CUSTOMER)
        .await;
    let parameters = &line["message"]["template"]["components"][0]["parameters"];
    assert_eq!(parameters[0]["parameter_name"], "first_name");
    assert_eq!(parameters[1]["parameter_name"], "party_size");
    assert_eq!(parameters[1]["text"], "2");
    running.stop().await;
}

async fn a_rejection_reason_survives_the_sync_after_it(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let running = env.run().await;
    submit_weekend_deal(&env, &phone).await;
    status_becomes(&env, "weekend_deal", "REJECTED").await;
    env.drain().await;
    // The sync asks for the reason (Meta's default fields leave it out).
    templates::sync::sync_waba(&env.engine, &env.demo.waba_id)
        .await
        .unwrap();
    let synced = stored(&env, "weekend_deal").await.unwrap();
    assert_eq!(
        synced.rejected_reason.as_deref(),
        Some("INCORRECT_CATEGORY")
    );
    assert_eq!(synced.quality.as_deref(), Some("UNKNOWN"));

    // A listing that leaves the reason out never wipes the one held; a
    // template approved since keeps none.
    let store = &env.engine.store;
    let mut listed = synced.clone();
    listed.rejected_reason = None;
    store
        .replace_templates(&env.demo.waba_id, std::slice::from_ref(&listed))
        .await
        .unwrap();
    let kept = stored(&env, "weekend_deal").await.unwrap();
    assert_eq!(kept.rejected_reason.as_deref(), Some("INCORRECT_CATEGORY"));
    listed.status = "APPROVED".into();
    store
        .replace_templates(&env.demo.waba_id, std::slice::from_ref(&listed))
        .await
        .unwrap();
    assert_eq!(
        stored(&env, "weekend_deal").await.unwrap().rejected_reason,
        None
    );
    running.stop().await;
}

async fn quality_and_category_changes_are_stored_at_once(backend: TestBackend) {
    let (env, _phone) = connected(backend).await;
    templates::sync::sync_waba(&env.engine, &env.demo.waba_id)
        .await
        .unwrap();
    let before = stored(&env, "order_update")
        .await
        .expect("a seeded template");
    assert_eq!(before.quality.as_deref(), Some("GREEN"));
    let running = env.run().await;
    let id = before.template_id.clone();
    env.control(
        &format!("/_sandbox/templates/{id}/quality"),
        json!({ "score": "RED" }),
    )
    .await;
    env.control(
        &format!("/_sandbox/templates/{id}/category"),
        json!({ "category": "MARKETING" }),
    )
    .await;
    env.drain().await;
    let after = stored(&env, "order_update").await.unwrap();
    assert_eq!(after.quality.as_deref(), Some("RED"));
    assert_eq!(after.category, "MARKETING");
    assert_eq!(after.status, before.status, "the status is not touched");
    running.stop().await;
}

/// The webhook's own effect, without the sync it also makes due (which
/// would write the same values from Meta's listing).
async fn a_quality_or_category_webhook_changes_only_what_it_names(backend: TestBackend) {
    use switchboard::pipeline::{self, plan::Op};
    let (env, _phone) = connected(backend).await;
    templates::sync::sync_waba(&env.engine, &env.demo.waba_id)
        .await
        .unwrap();
    let before = stored(&env, "order_update").await.unwrap();
    let changed = |quality: Option<&str>, category: Option<&str>| Op::TemplateChanged {
        waba_id: env.demo.waba_id.clone(),
        template_id: before.template_id.clone(),
        name: before.name.clone(),
        language: before.language.clone(),
        quality: quality.map(str::to_string),
        category: category.map(str::to_string),
    };
    let store = &env.engine.store;
    pipeline::apply(store, &[(1, vec![changed(Some("YELLOW"), None)])], &[], 1)
        .await
        .unwrap();
    let after = stored(&env, "order_update").await.unwrap();
    assert_eq!(after.quality.as_deref(), Some("YELLOW"));
    assert_eq!(
        after.category, before.category,
        "a quality event leaves the category"
    );
    pipeline::apply(
        store,
        &[(2, vec![changed(None, Some("MARKETING"))])],
        &[],
        2,
    )
    .await
    .unwrap();
    let after = stored(&env, "order_update").await.unwrap();
    assert_eq!(
        (after.quality.as_deref(), after.category.as_str()),
        (Some("YELLOW"), "MARKETING")
    );
}
