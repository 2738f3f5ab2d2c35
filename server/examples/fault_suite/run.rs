//! One phase: set up a connected number, start the instances behind the
//! front, turn the faults on, run the load and the kills together, drain,
//! and count.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use serde_json::json;
use switchboard::{
    api_keys,
    bot::{self, BotKind, BotSettings},
    config::Settings,
    store::{OutboxState, Store},
    test_support::{TestBackend, TestDatabase},
    vault::generate_key_entry,
};
use tokio::task::JoinSet;

use crate::{
    clients::{Api, Sandbox},
    front::Front,
    processes::{self, Instance, SandboxProcess},
    support,
};

pub use crate::figures::Figures;

pub struct Plan {
    pub customers: usize,
    /// Messages each customer writes after the first.
    pub rounds: usize,
    pub sends_per_customer: usize,
    pub kills: usize,
    /// Customers' messages per second, all customers together.
    pub inbound_rate: u64,
    /// How long everything may take to settle after the load.
    pub drain_limit: Duration,
}

impl Plan {
    /// Kept to what a customer's pair limit allows without waiting: each
    /// customer gets at most 1 + rounds replies and the sends.
    pub const SHORT: Plan = Plan {
        customers: 40,
        rounds: 2,
        sends_per_customer: 2,
        kills: 3,
        inbound_rate: 60,
        drain_limit: Duration::from_secs(180),
    };
    pub const LONG: Plan = Plan {
        customers: 200,
        rounds: 4,
        sends_per_customer: 3,
        kills: 10,
        inbound_rate: 60,
        drain_limit: Duration::from_secs(600),
    };
}

pub struct Phase {
    pub name: &'static str,
    pub backend: TestBackend,
    pub instances: usize,
    pub restart_postgres: bool,
}

/// Our number's sending rate: Meta's default. The sandbox is given far
/// more, so the busiest second measures our pacing, not Meta's refusals.
pub const SEND_RATE: i64 = 80;

/// A small seeded generator, so a run's kill points can be replayed.
pub struct Dice(u64);

impl Dice {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }

    pub fn millis(&mut self, from: u64, to: u64) -> Duration {
        Duration::from_millis(from + self.below(to - from))
    }
}

fn customer(i: usize) -> String {
    format!("1650777{i:04}")
}

/// What the run did, for the counts afterwards.
#[derive(Default)]
pub struct Record {
    /// Per customer: the texts they wrote and their wamids.
    pub written: HashMap<String, Vec<(String, String)>>,
    /// Per customer: the texts sent to them through the API.
    pub sent: HashMap<String, Vec<String>>,
    pub refused_sends: Vec<String>,
    /// What the chaos did and when.
    pub chaos: Vec<String>,
    pub kills: usize,
    pub postgres_restarts: usize,
}

fn settings_for(env: &[(String, String)]) -> Settings {
    let vars: HashMap<&str, &str> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Settings::from_lookup(|name| match name {
        "LEPTOS_SITE_ADDR" => Some("127.0.0.1:0".into()),
        _ => vars.get(name).map(|v| v.to_string()),
    })
    .expect("the suite's settings are valid")
}

/// An owner, the sandbox's number connected through Embedded Signup, the
/// echo bot, an API key and the number's rate, made by a short-lived
/// instance in this process (as a person would in the browser).
async fn prepare(env: &[(String, String)], sandbox: &Sandbox) -> (String, String) {
    let app = server::Application::build(settings_for(env))
        .await
        .expect("the setup instance starts");
    let engine = app.engine().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let (caller, phone) = support::connect_demo_number(&engine, &sandbox.http, &sandbox.url).await;
    bot::save(
        &engine,
        &caller,
        &BotSettings {
            kind: BotKind::Echo,
            ..BotSettings::default()
        },
    )
    .await
    .expect("echo bot");
    let (_, key) = api_keys::create(
        &engine,
        &caller,
        "fault suite",
        &[api_keys::SEND, api_keys::READ],
    )
    .await
    .expect("API key");
    engine
        .store
        .set_send_rate(&phone, SEND_RATE)
        .await
        .expect("rate");
    let _ = stop.send(());
    let _ = running.await;
    (phone, key)
}

/// Until webhooks, the journal and the outbox are all quiet twice in a row.
async fn drain(sandbox: &Sandbox, store: &Store, phone: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut quiet = 0;
    while Instant::now() < deadline {
        let webhooks = sandbox.in_flight(Duration::from_secs(2)).await;
        let journal = store.pending_webhook_events().await.unwrap_or(i64::MAX);
        let queued = store
            .outbox_count(phone, OutboxState::Queued)
            .await
            .unwrap_or(i64::MAX);
        if webhooks == 0 && journal == 0 && queued == 0 {
            quiet += 1;
            if quiet == 2 {
                return true;
            }
        } else {
            quiet = 0;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    false
}

/// Meta at its worst that still works: 30% of webhooks twice, 20%
/// overtaken, and of Graph calls 5% of sends throttled, 20% answered 503,
/// 5% slower than an outbox lease.
fn faults() -> serde_json::Value {
    json!({
        "duplicate_webhooks": 0.3,
        "reorder_webhooks": 0.2,
        "graph": [
            { "path_contains": "/messages", "method": "POST", "chance": 0.05,
              "effect": { "kind": "throttle", "code": 130429 } },
            { "chance": 0.2, "effect": { "kind": "server_error", "status": 503 } },
            { "chance": 0.05, "effect": { "kind": "slow", "millis": 1500 } },
        ],
    })
}

pub async fn phase(
    phase: &Phase,
    plan: &Plan,
    server_binary: &Path,
    sandbox_binary: &Path,
    seed: u64,
) -> Figures {
    let logs = PathBuf::from("target/fault-suite").join(phase.name);
    let _ = std::fs::remove_dir_all(&logs);
    std::fs::create_dir_all(&logs).expect("log folder");
    let http = reqwest::Client::new();
    let db = TestDatabase::create(phase.backend).await;
    let sandbox_process =
        SandboxProcess::start(sandbox_binary, seed, &logs.join("sandbox.log"), &http).await;
    let sandbox = Sandbox {
        url: sandbox_process.url.clone(),
        http: http.clone(),
    };
    let meta = sandbox::SandboxConfig::default();
    let env: Vec<(String, String)> = [
        ("DATABASE_URL", db.url.as_str().to_string()),
        ("TOKEN_ENCRYPTION_KEYS", generate_key_entry("fault")),
        ("META_APP_ID", meta.app_id.clone()),
        ("META_APP_SECRET", meta.app_secret.clone()),
        ("META_CONFIG_ID", "1".into()),
        ("WEBHOOK_VERIFY_TOKEN", meta.verify_token.clone()),
        ("META_GRAPH_BASE_URL", sandbox.url.clone()),
        // Short leases: a killed instance's number is taken over quickly,
        // and a slow Graph answer outlives its lease.
        ("OUTBOX_LEASE_MS", "1000".into()),
        // A message a killed instance may have sent waits this long for
        // its status before it goes again: the window for a double send,
        // narrowed from 60 s so that a late status would show here.
        ("OUTBOX_STATUS_WAIT_MS", "10000".into()),
        ("API_KEY_BURST", "100000".into()),
        ("API_KEY_PER_SECOND", "100000".into()),
        ("RUST_LOG", "warn".into()),
        ("LOG_FORMAT", "json".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();

    let (phone, key) = prepare(&env, &sandbox).await;
    sandbox
        .call(
            reqwest::Method::POST,
            &format!("/_sandbox/phones/{phone}"),
            Some(json!({ "throughput": 1000 })),
        )
        .await;

    let mut instances: Vec<Instance> = (0..phase.instances)
        .map(|i| Instance::new(&format!("instance-{}", i + 1), server_binary, &env, &logs))
        .collect();
    for instance in &mut instances {
        instance.start(&http).await;
    }
    let urls: Vec<String> = instances.iter().map(Instance::url).collect();
    let front = Front::start(urls.clone()).await;
    sandbox
        .call(
            reqwest::Method::PUT,
            "/_sandbox/webhook",
            Some(json!({ "url": format!("{}/webhook", front.url) })),
        )
        .await;
    let api = Arc::new(Api::new(urls, key));
    let store = Store::open(&db.url)
        .await
        .expect("the suite reads the store");
    let mut record = Record::default();

    // Every customer writes once, faults off, so that each one's service
    // window is open before the business sends them texts.
    for i in 0..plan.customers {
        let text = format!("hello from {i}");
        let wamid = sandbox.customer_writes(&phone, &customer(i), &text).await;
        record
            .written
            .entry(customer(i))
            .or_default()
            .push((text, wamid));
    }
    let warmed = drain(&sandbox, &store, &phone, plan.drain_limit).await;
    assert!(
        warmed,
        "the warm-up did not settle (logs: {})",
        logs.display()
    );

    sandbox
        .call(reqwest::Method::PUT, "/_sandbox/faults", Some(faults()))
        .await;
    let started = Instant::now();
    let chaos = tokio::spawn(chaos(
        instances,
        plan.kills,
        phase.restart_postgres,
        seed,
        http.clone(),
    ));
    let (written, sent) = tokio::join!(
        customers_write(&sandbox, &phone, plan),
        business_sends(api.clone(), &phone, plan),
    );
    for (who, line) in written {
        record.written.entry(who).or_default().push(line);
    }
    for (who, result) in sent {
        match result {
            Ok(text) => record.sent.entry(who).or_default().push(text),
            Err(refusal) => record.refused_sends.push(refusal),
        }
    }
    let (mut instances, chaos) = chaos.await.expect("the chaos task");
    record.chaos = chaos.log;
    record.kills = chaos.kills;
    record.postgres_restarts = chaos.postgres_restarts;
    let loaded = started.elapsed();
    let drained = drain(&sandbox, &store, &phone, plan.drain_limit).await;
    let settled = started.elapsed();

    let mut figures = Figures::count(&sandbox, &api, &phone, &record).await;
    figures.drained = drained;
    figures.load_time = loaded;
    figures.settle_time = settled;
    for instance in &mut instances {
        if let Some(status) = instance.exited() {
            figures
                .died
                .push(format!("{} exited by itself: {status}", instance.name));
        }
        instance.stop();
        figures.read_log(instance.log());
    }
    front.stop().await;
    drop(sandbox_process);
    figures
}

/// Customers write in rounds, at the plan's rate, each text unique.
async fn customers_write(
    sandbox: &Sandbox,
    phone: &str,
    plan: &Plan,
) -> Vec<(String, (String, String))> {
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / plan.inbound_rate as f64));
    let mut written = Vec::new();
    for round in 1..=plan.rounds {
        for i in 0..plan.customers {
            ticker.tick().await;
            let text = format!("round {round} from {i}");
            let wamid = sandbox.customer_writes(phone, &customer(i), &text).await;
            written.push((customer(i), (text, wamid)));
        }
    }
    written
}

/// The business's program sends texts through the API, eight at a time,
/// each retried under its own Idempotency-Key until an instance takes it.
async fn business_sends(
    api: Arc<Api>,
    phone: &str,
    plan: &Plan,
) -> Vec<(String, Result<String, String>)> {
    let mut jobs: Vec<(String, String)> = Vec::new();
    for k in 0..plan.sends_per_customer {
        for i in 0..plan.customers {
            jobs.push((customer(i), format!("order {k} for {i} is ready")));
        }
    }
    let mut results = Vec::new();
    let mut running = JoinSet::new();
    for (n, (who, text)) in jobs.into_iter().enumerate() {
        if running.len() >= 8 {
            if let Some(done) = running.join_next().await {
                results.push(done.unwrap_or_else(lost_task));
            }
        }
        let (api, phone) = (api.clone(), phone.to_string());
        running.spawn(async move {
            let key = format!("fault-suite-{n}");
            let outcome = api.send_text(&phone, &who, &text, &key).await;
            (who, outcome.map(|_| text))
        });
    }
    while let Some(done) = running.join_next().await {
        results.push(done.unwrap_or_else(lost_task));
    }
    results
}

/// A send task that died counts as a refused send, never as nothing.
fn lost_task(error: tokio::task::JoinError) -> (String, Result<String, String>) {
    (String::new(), Err(format!("the send task died: {error}")))
}

/// What the chaos task did.
struct Chaos {
    log: Vec<String>,
    kills: usize,
    postgres_restarts: usize,
}

/// Kills an instance with SIGKILL at random points, starts it again after
/// a random pause, and restarts Postgres once half-way when asked.
async fn chaos(
    mut instances: Vec<Instance>,
    kills: usize,
    restart_postgres: bool,
    seed: u64,
    http: reqwest::Client,
) -> (Vec<Instance>, Chaos) {
    let mut dice = Dice::new(seed);
    let started = Instant::now();
    let mut done = Chaos {
        log: Vec::new(),
        kills: 0,
        postgres_restarts: 0,
    };
    let at = || format!("{:.1} s", started.elapsed().as_secs_f64());
    for kill in 0..kills {
        tokio::time::sleep(dice.millis(300, 1500)).await;
        let victim = dice.below(instances.len() as u64) as usize;
        instances[victim].kill();
        done.kills += 1;
        done.log
            .push(format!("{}: kill -9 {}", at(), instances[victim].name));
        tokio::time::sleep(dice.millis(0, 500)).await;
        if restart_postgres && kill == kills / 2 {
            match processes::restart_postgres() {
                Ok(()) => {
                    done.postgres_restarts += 1;
                    done.log.push(format!("{}: PostgreSQL restarted", at()));
                }
                Err(error) => done.log.push(format!("PostgreSQL restart failed: {error}")),
            }
        }
        instances[victim].start(&http).await;
    }
    (instances, done)
}
