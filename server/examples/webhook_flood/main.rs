//! Benchmark: floods a release server with signed, realistic webhooks over
//! loopback and prints acknowledged requests/s, acknowledgement latency,
//! events processed, duplicates absorbed and events lost (must be 0); then
//! the acknowledgement latency again while a sign-in flood (every attempt
//! an argon2 hash) runs beside the webhooks.
//!
//! Run through `scripts/bench-webhooks`, which builds the release server.
//! Usage: webhook_flood <server binary> [total] [concurrency] [paced rate/s]
//!
//! The flood mode (`--flood`, see [`runs`]) measures the way issue #21
//! states its targets: keep-alive connections for a fixed time, against a
//! reference receiver, from a fresh start, behind a backlog, and on
//! Postgres with one and two instances.
//! Usage: webhook_flood <server binary> --flood [--seconds 10]
//!        [--connections 32] [--backlog N] [--postgres] [--streams 20]
//!
//! The drain mode (`--drain N`, see [`drain`]) applies a backlog of N
//! events in this process, for the processing rate and a profile.

/// The server's allocator, so that the drain mode measures what the
/// server does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod drain;
mod keep_alive;
mod reference;
mod runs;
mod streams;

use std::{
    path::PathBuf,
    process::{Command, Stdio},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use switchboard::{config::DatabaseUrl, store::Store, test_support::workspace_with_number};

const PHONE: &str = "106540352242922";
const WABA: &str = "524126980791429";
const SECRET: &[u8] = b"sandbox-app-secret";

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).expect("any key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A realistic delivery: an inbound text every other time, else a status.
fn webhook(i: usize) -> Vec<u8> {
    let value = if i.is_multiple_of(2) {
        json!({ "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550783881", "phone_number_id": PHONE },
            "contacts": [{ "profile": { "name": format!("Customer {}", i % 500) }, "wa_id": format!("1650555{:04}", i % 500) }],
            "messages": [{ "from": format!("1650555{:04}", i % 500), "id": format!("wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRB{i:012}"),
                "timestamp": "1700000000", "type": "text", "text": { "body": format!("Hello, is order {i} ready? Thanks!") } }] })
    } else {
        json!({ "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550783881", "phone_number_id": PHONE },
            "statuses": [{ "id": format!("wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI{i:012}"), "status": "delivered", "timestamp": "1700000001",
                "recipient_id": format!("1650555{:04}", i % 500),
                "conversation": { "id": "7270432eae", "origin": { "type": "service" } },
                "pricing": { "billable": false, "pricing_model": "PMP", "type": "free_customer_service", "category": "service" } }] })
    };
    json!({ "object": "whatsapp_business_account", "entry": [{ "id": WABA, "changes": [{ "field": "messages", "value": value }] }] })
        .to_string()
        .into_bytes()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

struct Flood {
    acked: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

/// Sends `total` webhooks (10% byte-identical resends) with `concurrency`
/// requests in flight, or paced at `rate` per second when given.
async fn flood(
    url: &str,
    total: usize,
    concurrency: usize,
    rate: Option<u64>,
    offset: usize,
) -> Flood {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("client");
    let next = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(total)));
    let acked = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, next, latencies, acked, url) = (
                client.clone(),
                next.clone(),
                latencies.clone(),
                acked.clone(),
                url.to_string(),
            );
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        return;
                    }
                    if let Some(rate) = rate {
                        let due = started + Duration::from_secs_f64(n as f64 / rate as f64);
                        tokio::time::sleep_until(due.into()).await;
                    }
                    // Every tenth request resends an earlier body, byte for byte.
                    let i = if n % 10 == 9 {
                        offset + n - 5
                    } else {
                        offset + n
                    };
                    let body = webhook(i);
                    let signature = sign(&body);
                    let sent = Instant::now();
                    let response = client
                        .post(&url)
                        .header("x-hub-signature-256", signature)
                        .body(body)
                        .send()
                        .await;
                    if matches!(response, Ok(r) if r.status() == 200) {
                        latencies.lock().expect("lock").push(sent.elapsed());
                        acked.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    let mut latencies = std::mem::take(&mut *latencies.lock().expect("lock"));
    latencies.sort();
    Flood {
        acked: acked.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
        latencies,
    }
}

fn report(label: &str, flood: &Flood) {
    println!(
        "{label}: {} acknowledged in {:.2} s = {:.0} webhooks/s; ack latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        flood.acked,
        flood.elapsed.as_secs_f64(),
        flood.acked as f64 / flood.elapsed.as_secs_f64(),
        percentile(&flood.latencies, 0.50).as_secs_f64() * 1000.0,
        percentile(&flood.latencies, 0.99).as_secs_f64() * 1000.0,
        flood.latencies.last().map_or(0.0, |max| max.as_secs_f64() * 1000.0),
    );
}

async fn metric(client: &reqwest::Client, base: &str, name: &str) -> f64 {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("--reference") => {
            let port = args[2].parse().expect("port");
            let secret = std::str::from_utf8(SECRET).expect("ASCII");
            reference::serve(port, &args[3], secret).await
        }
        _ if args.iter().any(|a| a == "--flood") => runs::main(args).await,
        _ if args.iter().any(|a| a == "--drain") => drain::main(args).await,
        _ => paced_and_sign_in(args).await,
    }
}

/// The original benchmark: a fixed number of webhooks, then paced loads,
/// alone and beside a sign-in flood.
async fn paced_and_sign_in(args: Vec<String>) {
    let server = PathBuf::from(
        args.get(1)
            .expect("usage: webhook_flood <server binary> [total] [concurrency] [rate]"),
    );
    let total: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(50_000);
    let concurrency: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(64);
    let paced_rate: u64 = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(5_000);

    let dir = tempfile::tempdir().expect("temp dir");
    let url = DatabaseUrl::Sqlite(format!(
        "sqlite://{}",
        dir.path().join("bench.db").display()
    ));
    let store = Store::open(&url).await.expect("store");
    let workspace = workspace_with_number(&store, PHONE, WABA).await;

    let port = 3950;
    let mut child = Command::new(&server)
        .env("DATABASE_URL", url.as_str())
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        // The sign-in flood names made-up clients, so each attempt hashes.
        .env("TRUSTED_PROXIES", "127.0.0.1")
        .stdout(Stdio::null())
        .spawn()
        .expect("start the server");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let webhook_url = format!("{base}/webhook");

    let burst = flood(&webhook_url, total, concurrency, None, 0).await;
    report(&format!("flood ({concurrency} in flight)"), &burst);
    let drained = Instant::now();
    while store.pending_webhook_events().await.expect("lag") > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "journal lag back to zero {:.2} s after the flood",
        drained.elapsed().as_secs_f64()
    );
    // The paced run starts from a drained journal: a steady state.
    let paced = flood(
        &webhook_url,
        (paced_rate * 5) as usize,
        256,
        Some(paced_rate),
        total + 100,
    )
    .await;
    report(&format!("paced at {paced_rate}/s"), &paced);

    let drained = Instant::now();
    loop {
        if store.pending_webhook_events().await.expect("lag") == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "journal lag back to zero {:.2} s after the last request",
        drained.elapsed().as_secs_f64()
    );

    // Paced webhooks again, while 32 clients flood the sign-in with wrong
    // passwords for made-up accounts from made-up addresses (none is
    // refused early, so every attempt costs a hash).
    let stop = Arc::new(AtomicBool::new(false));
    let attempts = Arc::new(AtomicUsize::new(0));
    let flooders: Vec<_> = (0..32)
        .map(|t| {
            let (client, base, stop, attempts) =
                (client.clone(), base.clone(), stop.clone(), attempts.clone());
            tokio::spawn(async move {
                let mut n = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let _ = client
                        .post(format!("{base}/api/sign_in"))
                        .header("origin", &base)
                        .header("x-forwarded-for", format!("198.51.{}.{}", t, n % 250))
                        .form(&[
                            ("email", format!("guess{t}-{n}@example.com")),
                            ("password", "not the password".into()),
                        ])
                        .send()
                        .await;
                    attempts.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let third_offset = total + 100 + (paced_rate * 5) as usize + 100;
    let sign_ins_started = Instant::now();
    let during = flood(
        &webhook_url,
        (paced_rate * 5) as usize,
        256,
        Some(paced_rate),
        third_offset,
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    for flooder in flooders {
        let _ = flooder.await;
    }
    let tried = attempts.load(Ordering::Relaxed);
    report(
        &format!(
            "paced at {paced_rate}/s during a sign-in flood ({tried} attempts, {:.0}/s)",
            tried as f64 / sign_ins_started.elapsed().as_secs_f64()
        ),
        &during,
    );
    while store.pending_webhook_events().await.expect("lag") > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let processed = metric(&client, &base, "webhook_events_processed_total").await;
    let duplicates = metric(&client, &base, "webhook_duplicates_absorbed_total").await;
    let stored = store.count_messages(&workspace).await.expect("count");
    // Even-numbered deliveries carry a new inbound message; resends do not.
    let expected: usize = [
        (0, total),
        (total + 100, (paced_rate * 5) as usize),
        (third_offset, (paced_rate * 5) as usize),
    ]
    .iter()
    .map(|(offset, count)| {
        (0..*count)
            .filter(|n| n % 10 != 9 && (offset + n).is_multiple_of(2))
            .count()
    })
    .sum();
    println!("events processed: {processed}; duplicates absorbed: {duplicates}");
    println!(
        "inbound messages stored: {stored} of {expected} sent; lost: {}",
        expected as i64 - stored
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}
