//! The drain mode: how fast the pipeline applies a journal's backlog, in
//! this process (no server, no acknowledgements competing), so a profiler
//! sees only the processing path. The workload is the flood's: inbound
//! texts and delivery statuses for a connected number, 10% resends.
//! Usage: webhook_flood <server binary> --drain N [--batch N] [--workers N]
//! [--one-at-a-time] [--postgres]
//! (`--batch`: events a pass claims, the pipeline's drain batch by default;
//! `--workers`: workers side by side, 2 like the server by default;
//! `--one-at-a-time`: no claim ahead, as before 2026-12-07's evening)

use std::time::Instant;

use switchboard::{
    config::DatabaseUrl,
    pipeline::{Passes, Processed, DRAIN_BATCH},
    store::Store,
    test_support::workspace_with_number,
};

use super::runs::{load_average, postgres_database, seed_backlog};
use super::{PHONE, WABA};

/// Events between two progress lines.
const STRETCH: usize = 25_000;

pub async fn main(args: Vec<String>) {
    let count: usize = args
        .iter()
        .position(|a| a == "--drain")
        .and_then(|at| args.get(at + 1))
        .and_then(|n| n.parse().ok())
        .expect("--drain takes a number of events");
    let batch: i64 = args
        .iter()
        .position(|a| a == "--batch")
        .and_then(|at| args.get(at + 1))
        .map(|n| n.parse().expect("--batch takes a number of events"))
        .unwrap_or(DRAIN_BATCH);
    let workers: usize = args
        .iter()
        .position(|a| a == "--workers")
        .and_then(|at| args.get(at + 1))
        .map(|n| n.parse().expect("--workers takes a number"))
        .unwrap_or(2);
    let claim_ahead = !args.iter().any(|a| a == "--one-at-a-time");
    let way = Way {
        batch,
        workers,
        claim_ahead,
    };
    let dir = tempfile::tempdir().expect("temp dir");
    println!(
        "drain mode: {count} events, {batch} a pass, {workers} worker(s), {}, load average {}",
        if claim_ahead {
            "claiming ahead"
        } else {
            "one claim at a time"
        },
        load_average()
    );
    let sqlite = DatabaseUrl::Sqlite(format!(
        "sqlite://{}",
        dir.path().join("drain.db").display()
    ));
    drain("SQLite", &sqlite, count, way).await;
    if args.iter().any(|a| a == "--postgres") {
        let name = format!("bench_drain_{}", std::process::id());
        let url = postgres_database(&name, true).await;
        drain("Postgres", &url, count, way).await;
        postgres_database(&name, false).await;
    }
    println!("load average at the end {}", load_average());
}

/// How the drain runs.
#[derive(Clone, Copy)]
struct Way {
    batch: i64,
    workers: usize,
    claim_ahead: bool,
}

async fn drain(label: &str, url: &DatabaseUrl, count: usize, way: Way) {
    let store = Store::open(url).await.expect("store");
    let workspace = workspace_with_number(&store, PHONE, WABA).await;
    seed_backlog(&store, count).await;
    let started = Instant::now();
    // The rate of each stretch, to see whether it falls as tables grow.
    let progress = std::sync::Mutex::new((Processed::default(), Instant::now(), 0));
    let worker = async || {
        let mut passes = Passes::default();
        loop {
            let pass = passes
                .pass(&store, way.batch, way.claim_ahead, &|_| {})
                .await
                .expect("a pass");
            if pass.events == 0 {
                break;
            }
            let mut progress = progress.lock().expect("not poisoned");
            let (total, stretch_started, stretch_from) = &mut *progress;
            total.events += pass.events;
            total.failed += pass.failed;
            total.applied.duplicates += pass.applied.duplicates;
            total.applied.replies_queued += pass.applied.replies_queued;
            if total.events - *stretch_from >= STRETCH {
                println!(
                    "    events {} to {}: {:.0}/s",
                    stretch_from,
                    total.events,
                    (total.events - *stretch_from) as f64 / stretch_started.elapsed().as_secs_f64()
                );
                (*stretch_started, *stretch_from) = (Instant::now(), total.events);
            }
        }
    };
    futures_util::future::join_all((0..way.workers).map(|_| worker())).await;
    let took = started.elapsed().as_secs_f64();
    let total = progress.into_inner().expect("not poisoned").0;
    let stored = store.count_messages(&workspace).await.expect("count");
    println!(
        "  {label}: applied {} events in {took:.2} s = {:.0} events/s (target >= 10,000 on SQLite); \
         {stored} inbound messages stored, {} duplicates absorbed, {} replies queued, {} failed",
        total.events,
        total.events as f64 / took,
        total.applied.duplicates,
        total.applied.replies_queued,
        total.failed,
    );
    store.close().await;
}
