//! The drain mode: how fast the pipeline applies a journal's backlog, in
//! this process (no server, no acknowledgements competing), so a profiler
//! sees only the processing path. The workload is the flood's: inbound
//! texts and delivery statuses for a connected number, 10% resends.
//! Usage: webhook_flood <server binary> --drain N [--batch N] [--postgres]
//! (`--batch`: events a pass claims, the pipeline's drain batch by default)

use std::time::Instant;

use switchboard::{
    config::DatabaseUrl,
    pipeline::{process_due_then, Processed, DRAIN_BATCH},
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
    let dir = tempfile::tempdir().expect("temp dir");
    println!(
        "drain mode: {count} events, {batch} a pass, load average {}",
        load_average()
    );
    let sqlite = DatabaseUrl::Sqlite(format!(
        "sqlite://{}",
        dir.path().join("drain.db").display()
    ));
    drain("SQLite", &sqlite, count, batch).await;
    if args.iter().any(|a| a == "--postgres") {
        let name = format!("bench_drain_{}", std::process::id());
        let url = postgres_database(&name, true).await;
        drain("Postgres", &url, count, batch).await;
        postgres_database(&name, false).await;
    }
    println!("load average at the end {}", load_average());
}

async fn drain(label: &str, url: &DatabaseUrl, count: usize, batch: i64) {
    let store = Store::open(url).await.expect("store");
    let workspace = workspace_with_number(&store, PHONE, WABA).await;
    seed_backlog(&store, count).await;
    let started = Instant::now();
    let mut total = Processed::default();
    // The rate of each stretch, to see whether it falls as tables grow.
    let mut stretch = (Instant::now(), 0);
    loop {
        let pass = process_due_then(&store, batch, &|_| {})
            .await
            .expect("a pass");
        if pass.events == 0 {
            break;
        }
        total.events += pass.events;
        total.failed += pass.failed;
        total.applied.duplicates += pass.applied.duplicates;
        total.applied.replies_queued += pass.applied.replies_queued;
        if total.events - stretch.1 >= STRETCH {
            println!(
                "    events {} to {}: {:.0}/s",
                stretch.1,
                total.events,
                (total.events - stretch.1) as f64 / stretch.0.elapsed().as_secs_f64()
            );
            stretch = (Instant::now(), total.events);
        }
    }
    let took = started.elapsed().as_secs_f64();
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
