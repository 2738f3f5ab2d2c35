//! Benchmark of the outbox and the bot, against the sandbox over loopback,
//! with the whole server running in demo mode on a SQLite file.
//!
//! 1. Pacing: 1,000 queued messages to one number limited to 80/s; prints
//!    the rate measured at the sandbox and the most sends in any one
//!    second (must never exceed the limit).
//! 2. Latency: customers write at 100/s and at 1,000/s (the number's limit
//!    raised to Meta's upgraded 1,000/s); prints p50 and p99 from the
//!    customer's message to the bot's reply arriving at the sandbox.
//!
//! Run through `scripts/bench-outbox` (release build).
//! Usage: outbox_bench [messages for pacing] [seconds per latency run]

use std::{collections::HashMap, time::Duration};

use serde_json::{json, Value};
use switchboard::{
    accounts::Caller,
    config::Settings,
    outbox::{self, Content, Origin, OutboundMessage},
    Engine,
};

#[path = "support/mod.rs"]
mod support;

struct Bench {
    engine: Engine,
    caller: Caller,
    http: reqwest::Client,
    sandbox: String,
    phone: String,
}

impl Bench {
    async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.sandbox));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("sandbox answers");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.expect("json")
    }

    /// The sandbox-clock times of the lines a customer's chat holds.
    async fn chat_times(&self, customer: &str) -> (Vec<i64>, Vec<i64>) {
        let chat = self
            .control(
                reqwest::Method::GET,
                &format!("/_sandbox/chats/{}/{customer}", self.phone),
                None,
            )
            .await;
        let (mut inbound, mut outbound) = (Vec::new(), Vec::new());
        for line in chat["messages"].as_array().into_iter().flatten() {
            let at = line["timestamp"].as_i64().unwrap_or_default();
            if line["direction"] == "inbound" {
                inbound.push(at);
            } else {
                outbound.push(at);
            }
        }
        (inbound, outbound)
    }

    async fn set_rate(&self, rate: i64) {
        self.engine
            .store
            .set_send_rate(&self.phone, rate)
            .await
            .unwrap();
        self.control(
            reqwest::Method::POST,
            &format!("/_sandbox/phones/{}", self.phone),
            Some(json!({ "throughput": rate })),
        )
        .await;
        // A number's sender reads its rate when it starts; let the running
        // one finish.
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }

    async fn wait_sent(&self, total: i64, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            if self
                .engine
                .store
                .outbox_count(&self.phone, switchboard::store::OutboxState::Sent)
                .await
                .unwrap()
                >= total
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }
}

/// 1,000 template messages (no window needed) to distinct customers.
async fn pacing(bench: &Bench, total: usize) {
    bench.set_rate(80).await;
    let customers: Vec<String> = (0..total).map(|i| format!("1555100{i:04}")).collect();
    let started = std::time::Instant::now();
    for customer in &customers {
        let message = OutboundMessage {
            phone_number_id: bench.phone.clone(),
            recipient: customer.clone(),
            content: Content::Template {
                name: "hello_world".into(),
                language: "en_US".into(),
                components: vec![],
            },
            context_wamid: None,
        };
        outbox::send(&bench.engine, &bench.caller, &message, Origin::Api, None)
            .await
            .expect("queued");
    }
    let queued = started.elapsed();
    let all = bench
        .wait_sent(total as i64, Duration::from_secs(total as u64 / 40 + 60))
        .await;
    let mut times = Vec::with_capacity(total);
    for customer in &customers {
        times.extend(bench.chat_times(customer).await.1);
    }
    times.sort_unstable();
    let span = (times.last().unwrap_or(&0) - times.first().unwrap_or(&0)) as f64 / 1000.0;
    let rate = (times.len().saturating_sub(1)) as f64 / span.max(0.001);
    let busiest = times
        .iter()
        .enumerate()
        .map(|(i, start)| times[i..].iter().take_while(|t| **t - start < 1000).count())
        .max()
        .unwrap_or(0);
    println!("pacing: limit 80/s, {total} queued in {queued:.2?}");
    println!(
        "  received by the sandbox: {} (all sent: {all})",
        times.len()
    );
    println!(
        "  measured rate: {rate:.1}/s ({:+.1}% of the limit) over {span:.2} s",
        (rate / 80.0 - 1.0) * 100.0
    );
    println!("  most sends in any one second: {busiest} (limit 80)");
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Customers write at `rate` per second for `seconds`; the echo bot
/// answers each. Latency: customer's message to the reply at the sandbox.
async fn latency(bench: &Bench, rate: u64, seconds: u64, run: usize) {
    bench.set_rate(rate.max(80) as i64).await;
    let before = bench
        .engine
        .store
        .outbox_count(&bench.phone, switchboard::store::OutboxState::Sent)
        .await
        .unwrap();
    let total = (rate * seconds) as usize;
    let customers: Vec<String> = (0..total).map(|i| format!("1666{run}{i:06}")).collect();
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut writes = tokio::task::JoinSet::new();
    let started = std::time::Instant::now();
    for customer in &customers {
        ticker.tick().await;
        let (http, url) = (
            bench.http.clone(),
            format!("{}/_sandbox/customers/{customer}/messages", bench.sandbox),
        );
        let body =
            json!({ "phone_number_id": bench.phone, "type": "text", "text": { "body": "hello" } });
        writes.spawn(async move { http.post(url).json(&body).send().await.map(|r| r.status()) });
    }
    let offered = started.elapsed();
    let mut refused = 0;
    while let Some(result) = writes.join_next().await {
        if !matches!(result, Ok(Ok(status)) if status.is_success()) {
            refused += 1;
        }
    }
    // Each answer is a read receipt and a text.
    let all = bench
        .wait_sent(
            before + 2 * total as i64,
            Duration::from_secs(seconds * 10 + 60),
        )
        .await;
    let mut latencies = Vec::with_capacity(total);
    let mut answered: HashMap<usize, usize> = HashMap::new();
    for customer in &customers {
        let (inbound, outbound) = bench.chat_times(customer).await;
        *answered.entry(outbound.len()).or_default() += 1;
        if let (Some(asked), Some(replied)) = (inbound.first(), outbound.first()) {
            latencies.push(replied - asked);
        }
    }
    latencies.sort_unstable();
    println!(
        "latency at {rate} inbound/s: {total} messages offered in {offered:.2?} ({refused} refused), all answered: {all}"
    );
    println!(
        "  replies per customer: {:?} (each must get exactly one)",
        answered
    );
    println!(
        "  customer message -> bot reply at the sandbox: p50 {} ms, p99 {} ms, max {} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().unwrap_or(&0)
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let pacing_total: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let seconds: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(5);
    let dir = tempfile::tempdir().expect("temp dir");
    let vars: HashMap<&str, String> = HashMap::from([
        (
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("bench.db").display()),
        ),
        ("LEPTOS_SITE_ADDR", "127.0.0.1:0".to_string()),
        (
            "TOKEN_ENCRYPTION_KEYS",
            switchboard::vault::generate_key_entry("bench"),
        ),
    ]);
    let config = Settings::from_lookup(|name| vars.get(name).cloned()).expect("config");
    let app = server::Application::build(config).await.expect("server");
    let engine = app.engine().clone();
    let sandbox = engine
        .config
        .graph_base_url
        .as_str()
        .trim_end_matches('/')
        .to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    let (caller, phone) = support::connect_demo_number(&engine, &http, &sandbox).await;
    let bench = Bench {
        engine,
        caller,
        http,
        sandbox,
        phone,
    };
    println!("outbox benchmark (release build, SQLite, sandbox over loopback)");
    pacing(&bench, pacing_total).await;
    latency(&bench, 100, seconds, 1).await;
    latency(&bench, 1000, seconds, 2).await;
    let _ = stop.send(());
    let _ = running.await;
}
