//! The flood mode: wrk-like keep-alive connections for a fixed time
//! against the reference receiver, then the release server (live mode) on
//! SQLite from a fresh start, on a journal already holding a backlog, and
//! on Postgres with one and two instances; each run prints acknowledged
//! webhooks/s, latency, processing, lag and losses, and the ratios the
//! targets are stated in.

use std::{
    collections::HashSet,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use switchboard::{
    config::DatabaseUrl,
    store::{now_millis, NewWebhookEvent, Store},
    test_support::workspace_with_number,
};

use super::keep_alive::{self, Outcome, Requests};
use super::streams::OpenStreams;
use super::{reference, sign, webhook, PHONE, SECRET, WABA};

struct Options {
    server: PathBuf,
    seconds: u64,
    connections: usize,
    backlog: usize,
    postgres: bool,
    /// Live streams (browser tabs) held open through a second fresh run.
    streams: usize,
}

fn options(args: &[String]) -> Options {
    let mut options = Options {
        server: PathBuf::from(&args[1]),
        seconds: 10,
        connections: 32,
        backlog: 0,
        postgres: false,
        streams: 0,
    };
    let mut rest = args[2..].iter();
    while let Some(flag) = rest.next() {
        let mut value = || -> u64 {
            rest.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{flag} takes a number"))
        };
        match flag.as_str() {
            "--flood" => {}
            "--seconds" => options.seconds = value(),
            "--connections" => options.connections = value() as usize,
            "--backlog" => options.backlog = value() as usize,
            "--postgres" => options.postgres = true,
            "--streams" => options.streams = value() as usize,
            other => panic!("unknown option {other}"),
        }
    }
    options
}

pub(super) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

async fn wait_for_port(port: u16, path: &str) {
    let client = reqwest::Client::new();
    for _ in 0..600 {
        let answered = match path {
            "" => tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok(),
            path => client
                .get(format!("http://127.0.0.1:{port}{path}"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200),
        };
        if answered {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nothing answered on port {port} after 30 s");
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

/// The release server in live mode (Meta's side pointed at a closed
/// loopback port: nothing leaves the machine).
fn start_server(binary: &Path, url: &DatabaseUrl, port: u16, log: &Path) -> Child {
    let log = std::fs::File::create(log).expect("log file");
    Command::new(binary)
        .env("DATABASE_URL", url.as_str())
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .env("META_APP_ID", "1234567890")
        .env(
            "META_APP_SECRET",
            std::str::from_utf8(SECRET).expect("ASCII"),
        )
        .env("META_CONFIG_ID", "1234")
        .env("WEBHOOK_VERIFY_TOKEN", "bench-verify-token")
        .env(
            "TOKEN_ENCRYPTION_KEYS",
            "bench:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=",
        )
        .env("META_GRAPH_BASE_URL", "http://127.0.0.1:9")
        .env("PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start the server")
}

fn report_flood(label: &str, outcome: &Outcome) {
    println!(
        "{label}: {} acknowledged in {:.2} s = {:.0} webhooks/s; p50 {:.2} ms, p99 {:.2} ms; {} failed",
        outcome.acked.len(),
        outcome.elapsed.as_secs_f64(),
        outcome.rate(),
        outcome.percentile(0.50).as_secs_f64() * 1000.0,
        outcome.percentile(0.99).as_secs_f64() * 1000.0,
        outcome.failed,
    );
}

/// The generator indexes of a backlog of `count` deliveries (with the
/// same resends as a flood).
fn backlog_indexes(count: usize) -> impl Iterator<Item = usize> {
    (0..count).map(|n| if n % 10 == 9 { n - 5 } else { n })
}

pub(super) async fn seed_backlog(store: &Store, count: usize) {
    let started = Instant::now();
    let indexes: Vec<usize> = backlog_indexes(count).collect();
    for chunk in indexes.chunks(2_000) {
        let events: Vec<NewWebhookEvent> = chunk
            .iter()
            .map(|&i| {
                let body = webhook(i);
                NewWebhookEvent {
                    received_at: now_millis(),
                    signature: sign(&body),
                    body,
                }
            })
            .collect();
        store
            .append_webhook_events(&events)
            .await
            .expect("seed the journal");
    }
    println!(
        "  seeded {count} unprocessed events in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// One server run's figures.
struct Figures {
    rate: f64,
    p99_ms: f64,
    lost: i64,
}

struct Target<'a> {
    label: &'a str,
    url: DatabaseUrl,
    instances: usize,
    backlog: usize,
    streams: usize,
}

async fn run_server(
    options: &Options,
    target: Target<'_>,
    requests: &Arc<Requests>,
    logs: &Path,
) -> Figures {
    let Target {
        label,
        url,
        instances,
        backlog,
        streams,
    } = target;
    let store = Store::open(&url).await.expect("store");
    let workspace = workspace_with_number(&store, PHONE, WABA).await;
    if backlog > 0 {
        seed_backlog(&store, backlog).await;
    }
    let journal_before = store.webhook_event_count().await.expect("count");
    let ports: Vec<u16> = (0..instances).map(|_| free_port()).collect();
    let children: Vec<Child> = ports
        .iter()
        .enumerate()
        .map(|(k, port)| {
            let log = logs.join(format!("{}-{k}.log", label.replace(' ', "-")));
            start_server(&options.server, &url, *port, &log)
        })
        .collect();
    for port in &ports {
        wait_for_port(*port, "/readyz").await;
    }
    let open_streams = match streams {
        0 => None,
        count => Some(OpenStreams::open(ports[0], count).await),
    };
    let pending_at_start = store.pending_webhook_events().await.expect("lag");
    let load = load_average();
    let outcome = keep_alive::flood(
        &ports,
        options.connections,
        Duration::from_secs(options.seconds),
        requests.clone(),
    )
    .await;
    let pending_at_end = store.pending_webhook_events().await.expect("lag");
    if let Some(open) = open_streams {
        println!(
            "  {streams} live streams open through the flood received {} notices",
            open.close()
        );
    }
    let journaled = store.webhook_event_count().await.expect("count") - journal_before;
    report_flood(
        &format!("{label} ({} connections, load {load})", options.connections),
        &outcome,
    );
    let processed_during = pending_at_start + journaled - pending_at_end;
    let drain_started = Instant::now();
    let mut pending = pending_at_end;
    while pending > 0 && drain_started.elapsed() < Duration::from_secs(1_800) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        pending = store.pending_webhook_events().await.expect("lag");
    }
    let drain = drain_started.elapsed().as_secs_f64();
    let mut inbound: HashSet<usize> = backlog_indexes(backlog).collect();
    inbound.extend(outcome.acked.iter().map(|&n| requests.index[n]));
    inbound.retain(|i| i.is_multiple_of(2));
    let stored = store.count_messages(&workspace).await.expect("count");
    let lost = inbound.len() as i64 - stored;
    println!(
        "  processed {processed_during} events during the flood ({:.0}/s), lag {pending_at_end} events at its end, back to zero {drain:.1} s later ({:.0} events/s){}",
        processed_during as f64 / outcome.elapsed.as_secs_f64(),
        pending_at_end as f64 / drain.max(0.001),
        if pending > 0 { " (gave up waiting)" } else { "" },
    );
    println!(
        "  journaled {journaled} of {} acknowledged; inbound messages stored {stored} of {}; lost {}",
        outcome.acked.len(),
        inbound.len(),
        lost.max(0),
    );
    for child in children {
        stop(child);
    }
    store.close().await;
    Figures {
        rate: outcome.rate(),
        p99_ms: outcome.percentile(0.99).as_secs_f64() * 1000.0,
        lost: lost.max(0) + (outcome.acked.len() as i64 - journaled).max(0),
    }
}

async fn reference_run(options: &Options, requests: &Arc<Requests>, dir: &Path) -> Figures {
    let port = free_port();
    let file = dir.join("reference.db");
    let child = Command::new(std::env::current_exe().expect("own path"))
        .args(["--reference", &port.to_string()])
        .arg(&file)
        .stdout(Stdio::null())
        .spawn()
        .expect("start the reference receiver");
    wait_for_port(port, "").await;
    let load = load_average();
    let outcome = keep_alive::flood(
        &[port],
        options.connections,
        Duration::from_secs(options.seconds),
        requests.clone(),
    )
    .await;
    report_flood(
        &format!(
            "reference receiver, no fsync ({} connections, load {load})",
            options.connections
        ),
        &outcome,
    );
    stop(child);
    let stored = reference::stored(&file.to_string_lossy()).await;
    let lost = outcome.acked.len() as i64 - stored;
    println!(
        "  stored {stored} of {} acknowledged; lost {}",
        outcome.acked.len(),
        lost.max(0)
    );
    Figures {
        rate: outcome.rate(),
        p99_ms: outcome.percentile(0.99).as_secs_f64() * 1000.0,
        lost: lost.max(0),
    }
}

/// A database of its own on the Postgres server `TEST_POSTGRES_URL` names.
/// Dropped again when not `create`.
pub(super) async fn postgres_database(name: &str, create: bool) -> DatabaseUrl {
    use sqlx::Connection;
    let admin = std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("Postgres (TEST_POSTGRES_URL)");
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .expect("drop");
    if create {
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create");
    }
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    DatabaseUrl::Postgres(format!("{base}/{name}"))
}

pub async fn main(args: Vec<String>) {
    let options = options(&args);
    let dir = tempfile::tempdir().expect("temp dir");
    let logs = std::env::temp_dir().join(format!("bench-webhooks-{}", std::process::id()));
    std::fs::create_dir_all(&logs).expect("log folder");
    println!(
        "flood mode: {} keep-alive connections for {} s each run; load average {}; server logs in {}",
        options.connections,
        options.seconds,
        load_average(),
        logs.display()
    );
    // Enough for 50,000/s; built before any clock starts.
    let requests = Arc::new(Requests::build(
        options.seconds as usize * 50_000,
        options.backlog + 100,
        webhook,
        sign,
    ));
    let mut lost = 0;
    let reference = reference_run(&options, &requests, dir.path()).await;
    lost += reference.lost;
    let sqlite = |name: &str| {
        DatabaseUrl::Sqlite(format!(
            "sqlite://{}",
            dir.path().join(format!("{name}.db")).display()
        ))
    };
    let fresh = run_server(
        &options,
        Target {
            label: "SQLite, fresh start",
            url: sqlite("fresh"),
            instances: 1,
            backlog: 0,
            streams: 0,
        },
        &requests,
        &logs,
    )
    .await;
    lost += fresh.lost;
    println!(
        "  fresh start = {:.0}% of the reference receiver (target >= 75%, p99 < 20 ms)",
        100.0 * fresh.rate / reference.rate
    );
    if options.streams > 0 {
        let watched = run_server(
            &options,
            Target {
                label: &format!("SQLite, fresh start, {} live streams open", options.streams),
                url: sqlite("streams"),
                instances: 1,
                backlog: 0,
                streams: options.streams,
            },
            &requests,
            &logs,
        )
        .await;
        lost += watched.lost;
        println!(
            "  with the streams open = {:.0}% of the fresh start (target >= 90%)",
            100.0 * watched.rate / fresh.rate
        );
    }
    if options.backlog > 0 {
        let behind = run_server(
            &options,
            Target {
                label: &format!("SQLite, {} events behind", options.backlog),
                url: sqlite("backlog"),
                instances: 1,
                backlog: options.backlog,
                streams: 0,
            },
            &requests,
            &logs,
        )
        .await;
        lost += behind.lost;
        println!(
            "  with the backlog = {:.0}% of the fresh start (target >= 80%, p99 < 30 ms: {:.1} ms)",
            100.0 * behind.rate / fresh.rate,
            behind.p99_ms
        );
    }
    if options.postgres {
        for instances in [1, 2] {
            let name = format!("bench_webhooks_{}_{instances}", std::process::id());
            let url = postgres_database(&name, true).await;
            let figures = run_server(
                &options,
                Target {
                    label: &format!("Postgres, {instances} instance(s)"),
                    url,
                    instances,
                    backlog: 0,
                    streams: 0,
                },
                &requests,
                &logs,
            )
            .await;
            postgres_database(&name, false).await;
            lost += figures.lost;
            println!(
                "  = {:.0}% of the reference receiver",
                100.0 * figures.rate / reference.rate
            );
        }
    }
    println!(
        "load average at the end {}; lost in all runs: {lost}",
        load_average()
    );
    if lost > 0 {
        std::process::exit(1);
    }
}
