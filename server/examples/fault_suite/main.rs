//! The fault suite: Switchboard as separate server processes against the
//! sandbox, also a separate process, with Meta misbehaving (duplicate and
//! reordered webhooks, Graph 5xx, throttling, slow answers), customers
//! writing, a business sending through the REST API, instances killed
//! with SIGKILL at random points and (on Postgres) the database restarted
//! mid-run. Then it counts, from the outside, what each side saw:
//! webhooks acknowledged, inbound messages lost or stored twice, bot
//! replies and API sends received by customers other than exactly once,
//! statuses missing, and the busiest second of sending against the
//! number's limit. Exits non-zero when any count is wrong.
//!
//! Phases: the server on a SQLite file (one instance), then two instances
//! sharing one Postgres database behind a load balancer.
//!
//! Run through `scripts/fault-suite [--short]`, which builds the programs.
//! Usage: fault_suite <server binary> <sandbox binary> [--short] [--seed N]

mod clients;
mod figures;
mod front;
mod processes;
mod run;

#[path = "../support/mod.rs"]
mod support;

use std::path::PathBuf;

use run::{Phase, Plan};
use switchboard::test_support::TestBackend;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: fault_suite <server binary> <sandbox binary> [--short] [--seed N]";
    let server = PathBuf::from(args.get(1).expect(usage));
    let sandbox = PathBuf::from(args.get(2).expect(usage));
    let short = args.iter().any(|a| a == "--short");
    let seed: u64 = args
        .iter()
        .position(|a| a == "--seed")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or_else(|| switchboard::store::now_millis() as u64);
    let plan = if short { Plan::SHORT } else { Plan::LONG };
    println!(
        "fault suite ({} form, seed {seed}): {} customers x {} messages, {} API sends each, {} kills per phase",
        if short { "short" } else { "long" },
        plan.customers,
        plan.rounds + 1,
        plan.sends_per_customer,
        plan.kills
    );
    let phases = [
        Phase {
            name: "sqlite",
            backend: TestBackend::Sqlite,
            instances: 1,
            restart_postgres: false,
        },
        Phase {
            name: "postgres",
            backend: TestBackend::Postgres,
            instances: 2,
            restart_postgres: true,
        },
    ];
    let mut failed = false;
    for (n, phase) in phases.iter().enumerate() {
        let figures = run::phase(phase, &plan, &server, &sandbox, seed + n as u64).await;
        figures.print(phase, &plan);
        failed |= !figures.problems(&plan).is_empty();
        for problem in figures.problems(&plan) {
            println!("  FAILED: {problem}");
        }
    }
    if failed {
        println!("fault suite: FAILED (logs under target/fault-suite)");
        std::process::exit(1);
    }
    println!("fault suite: every count as it must be");
}
