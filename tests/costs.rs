//! The cost ledger (per-message pricing, reference meta-2026 §4), on both
//! backends: every message the business sends through the sandbox is
//! counted once, as the `pricing` on its statuses says, whatever Meta's
//! duplicates; a rate card turns billable counts into an estimate.

mod common;

use std::collections::{BTreeMap, HashMap};

use common::meta::{connected, Env};
use serde_json::{json, Value};
use switchboard::{
    costs::{self, markets},
    outbox::{Content, OutboundMessage},
    test_support::TestBackend,
};

on_both_backends!(
    the_ledger_counts_each_message_once_as_meta_priced_it,
    a_rate_card_estimates_billable_messages,
);

/// The seeded `hello_world` template, whose category the test changes.
const HELLO_WORLD_ID: &str = "1000000000000001";

/// (month, category, type, market) → (billable, free).
type Counts = BTreeMap<(String, String, String, String), (i64, i64)>;

impl Env {
    async fn recategorise(&self, category: &str) {
        self.control(
            &format!("/_sandbox/templates/{HELLO_WORLD_ID}/category"),
            json!({ "category": category }),
        )
        .await;
        self.drain().await;
    }

    async fn send_text(&self, phone: &str, customer: &str, body: &str) {
        self.agent_send(&OutboundMessage {
            phone_number_id: phone.to_string(),
            recipient: customer.to_string(),
            content: Content::text(body),
            context_wamid: None,
        })
        .await
        .expect("queued");
    }

    async fn send_hello(&self, phone: &str, customer: &str) {
        self.agent_send(&OutboundMessage {
            phone_number_id: phone.to_string(),
            recipient: customer.to_string(),
            content: Content::Template {
                name: "hello_world".into(),
                language: "en_US".into(),
                components: vec![],
            },
            context_wamid: None,
        })
        .await
        .expect("queued");
    }

    /// What the sandbox priced, read from every webhook it delivered: each
    /// message's first `pricing`, counted once per wamid.
    async fn priced_by_sandbox(&self) -> Counts {
        let log = self
            .control_call(reqwest::Method::GET, "/_sandbox/webhooks", None)
            .await;
        let mut first: HashMap<String, (String, Value)> = HashMap::new();
        for attempt in log["attempts"].as_array().unwrap() {
            let body: Value = serde_json::from_str(attempt["body"].as_str().unwrap()).unwrap();
            for entry in body["entry"].as_array().into_iter().flatten() {
                for change in entry["changes"].as_array().into_iter().flatten() {
                    for status in change["value"]["statuses"].as_array().into_iter().flatten() {
                        if status["pricing"].is_object() {
                            let seconds: i64 =
                                status["timestamp"].as_str().unwrap().parse().unwrap();
                            let month = costs::month_of(seconds * 1000);
                            let market =
                                markets::market_of(status["recipient_id"].as_str().unwrap());
                            first
                                .entry(status["id"].as_str().unwrap().to_string())
                                .or_insert((
                                    format!("{month}|{market}"),
                                    status["pricing"].clone(),
                                ));
                        }
                    }
                }
            }
        }
        let mut counts = Counts::new();
        for (month_market, pricing) in first.into_values() {
            let (month, market) = month_market.split_once('|').unwrap();
            let key = (
                month.to_string(),
                pricing["category"].as_str().unwrap().to_string(),
                pricing["type"].as_str().unwrap().to_string(),
                market.to_string(),
            );
            let count = counts.entry(key).or_default();
            if pricing["billable"].as_bool().unwrap() {
                count.0 += 1;
            } else {
                count.1 += 1;
            }
        }
        counts
    }

    async fn ledger_counts(&self, phone: &str) -> Counts {
        let ledger = costs::ledger(&self.engine.store, &self.caller, None, Some(phone))
            .await
            .unwrap();
        ledger
            .rows
            .into_iter()
            .map(|row| {
                (
                    (
                        row.month,
                        row.category.unwrap(),
                        row.pricing_type.unwrap(),
                        row.market.unwrap(),
                    ),
                    (row.billable, row.free),
                )
            })
            .collect()
    }
}

/// A few hundred messages of every kind, with every webhook delivered
/// twice: the ledger matches, message for message, the pricing the
/// sandbox put on its statuses.
async fn the_ledger_counts_each_message_once_as_meta_priced_it(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    env.set_faults(json!({ "duplicate_webhooks": 1.0 })).await;
    let running = env.run().await;
    // Templates outside any window: charged by their category.
    env.queue_templates(&phone, "1650200", 0).await; // syncs the templates
    env.recategorise("MARKETING").await;
    for i in 0..100 {
        env.send_hello(&phone, &format!("1650200{i:04}")).await;
    }
    env.drain().await;
    env.recategorise("AUTHENTICATION").await;
    for i in 0..50 {
        env.send_hello(&phone, &format!("9198000{i:04}")).await;
    }
    env.drain().await;
    env.recategorise("UTILITY").await;
    for i in 0..50 {
        env.send_hello(&phone, &format!("4470000{i:04}")).await;
    }
    env.drain().await;
    // Customers who wrote: a reply and a utility template, both free.
    for i in 0..40 {
        let customer = format!("1650300{i:04}");
        env.customer_writes(
            &phone,
            &customer,
            json!({ "type": "text", "text": { "body": "hi" } }),
        )
        .await;
    }
    env.drain().await;
    for i in 0..40 {
        let customer = format!("1650300{i:04}");
        env.send_text(&phone, &customer, "Happy to help").await;
        env.send_hello(&phone, &customer).await;
    }
    // Customers from an ad: the reply opens a free entry point.
    for i in 0..20 {
        let customer = format!("5511900{i:04}");
        env.customer_writes(
            &phone,
            &customer,
            json!({ "type": "text", "text": { "body": "I saw your ad" },
                    "referral": { "source_url": "https://fb.me/ad", "source_id": "ad-1", "source_type": "ad" } }),
        )
        .await;
    }
    env.drain().await;
    for i in 0..20 {
        env.send_text(&phone, &format!("5511900{i:04}"), "Welcome!")
            .await;
    }
    env.drain().await;

    let expected = env.priced_by_sandbox().await;
    let total: i64 = expected.values().map(|(b, f)| b + f).sum();
    assert_eq!(
        total,
        // The demo workspace's echo bot answers each of the 60 customers too.
        100 + 50 + 50 + 80 + 20 + 60,
        "every message priced: {expected:?}"
    );
    let kinds: Vec<(&str, &str)> = expected
        .keys()
        .map(|(_, category, kind, _)| (category.as_str(), kind.as_str()))
        .collect();
    for kind in [
        ("marketing", "regular"),
        ("authentication", "regular"),
        ("utility", "regular"),
        ("utility", "free_customer_service"),
        ("service", "free_customer_service"),
        ("referral_conversion", "free_entry_point"),
    ] {
        assert!(kinds.contains(&kind), "{kind:?} in {expected:?}");
    }
    assert_eq!(env.ledger_counts(&phone).await, expected);
    // Every stored pricing is Meta's object as sent.
    let ledger = costs::ledger(&env.engine.store, &env.caller, None, None)
        .await
        .unwrap();
    assert!(ledger.rate_card.is_none() && ledger.totals.is_empty());
    assert!(
        ledger.rows.iter().all(|row| row.estimate.is_none()),
        "counts only"
    );
    // The month filter reads one month; another month has nothing.
    let month = expected.keys().next().unwrap().0.clone();
    let of_month = costs::ledger(&env.engine.store, &env.caller, Some(&month), None)
        .await
        .unwrap();
    assert_eq!(
        of_month.rows.len(),
        ledger.rows.iter().filter(|r| r.month == month).count()
    );
    let none = costs::ledger(&env.engine.store, &env.caller, Some("1999-01"), None)
        .await
        .unwrap();
    assert!(none.rows.is_empty());
    running.stop().await;
}

const CARD: &str =
    "Market,Currency,Marketing,Utility,Authentication,Authentication-International,Service\n\
    North America,USD,0.0250,0.0040,0.0135,,0.0040\n\
    India,INR,0.7846,0.1150,0.1150,2.3000,\n";

/// Three marketing templates to North America, two authentication ones to
/// India, two replies inside the window (ours and the echo bot's): 3 × 0.025 USD and 2 × 0.115 INR;
/// the free reply costs nothing. A bad file is refused with its line and
/// leaves the card as it was.
async fn a_rate_card_estimates_billable_messages(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let running = env.run().await;
    env.queue_templates(&phone, "1650200", 0).await;
    env.recategorise("MARKETING").await;
    for i in 0..3 {
        env.send_hello(&phone, &format!("1650200{i:04}")).await;
    }
    env.drain().await;
    env.recategorise("AUTHENTICATION").await;
    for i in 0..2 {
        env.send_hello(&phone, &format!("9198000{i:04}")).await;
    }
    let customer = "16503000001";
    env.customer_writes(
        &phone,
        customer,
        json!({ "type": "text", "text": { "body": "hi" } }),
    )
    .await;
    env.drain().await;
    env.send_text(&phone, customer, "Hello!").await;
    env.drain().await;

    let loaded = costs::load_rate_card(
        &env.engine.store,
        &env.caller,
        Some("rates.csv"),
        CARD.as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(loaded.markets, 2);
    let ledger = costs::ledger(&env.engine.store, &env.caller, None, None)
        .await
        .unwrap();
    let row = |category: &str| {
        ledger
            .rows
            .iter()
            .find(|r| r.category.as_deref() == Some(category))
            .unwrap_or_else(|| panic!("{category} in {:?}", ledger.rows))
            .clone()
    };
    let marketing = row("marketing");
    assert_eq!(
        (marketing.billable, marketing.market.as_deref()),
        (3, Some("North America"))
    );
    let estimate = marketing.estimate.unwrap();
    assert_eq!(
        (
            estimate.currency.as_str(),
            estimate.rate_micros,
            estimate.cost_micros
        ),
        ("USD", 25_000, 75_000)
    );
    let authentication = row("authentication");
    assert_eq!(authentication.market.as_deref(), Some("India"));
    assert_eq!(authentication.estimate.unwrap().cost_micros, 230_000);
    let service = row("service");
    assert_eq!(
        (service.billable, service.free),
        (0, 2),
        "ours and the echo bot's"
    );
    assert_eq!(service.estimate.unwrap().cost_micros, 0);
    let totals: Vec<(String, i64)> = ledger
        .totals
        .iter()
        .map(|t| (t.currency.clone(), t.cost_micros))
        .collect();
    assert_eq!(
        totals,
        [("INR".to_string(), 230_000), ("USD".to_string(), 75_000)]
    );
    assert_eq!(costs::format_micros(75_000), "0.075");

    // A bad file: refused with its line; the card stays.
    let bad = "Market,Currency,Marketing\nNorth America,USD,0.03\nIndia,INR,cheap\n";
    let error = costs::load_rate_card(
        &env.engine.store,
        &env.caller,
        Some("bad.csv"),
        bad.as_bytes(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "Line 3: the marketing rate \"cheap\" is not a decimal number like 0.0250"
    );
    let after = costs::ledger(&env.engine.store, &env.caller, None, None)
        .await
        .unwrap();
    assert_eq!(after.totals, ledger.totals);
    assert_eq!(
        after.rate_card.unwrap().file_name.as_deref(),
        Some("rates.csv")
    );
    assert!(env.audited("costs.rate_card_loaded").await);
    running.stop().await;
}
