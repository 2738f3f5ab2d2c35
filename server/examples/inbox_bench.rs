//! Benchmark of the inbox's reads on a large workspace, on both backends:
//! one workspace with 1,000,000 messages in 20,000 conversations (one of
//! them 20,000 messages long), on a SQLite file under `target/` and on a
//! fresh Postgres database on 127.0.0.1:5432 (created and dropped here).
//!
//! Seeding is bulk: multi-row INSERTs in large transactions, then the
//! conversations' summaries built by migration 0025's own backfill
//! statement; then a sample of customer messages goes through the real
//! path (journal, pipeline, store) to check that it keeps them.
//!
//! Prints p50/p99 of: the conversation list (the page's 200 rows, the
//! API's first page and a page 19,000 conversations deep), the newest page
//! of a thread, and searches by name, phone and username.
//!
//! Run through `scripts/bench-inbox` (release build).
//! Usage: inbox_bench [sqlite|postgres|both] [conversations] [messages]
//! (`INBOX_BENCH_KEEP=1` keeps the Postgres database for a look; drop it
//! afterwards.)

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use switchboard::{
    accounts::Caller,
    config::DatabaseUrl,
    conversations,
    store::{ConversationSummary, Store},
    test_support::acme_owner,
    webhook::Journal,
};
use tokio::sync::Notify;

const PHONE_NUMBER_ID: &str = "106540352242922";
const WABA: &str = "524126980791429";
const POSTGRES_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Rows per INSERT statement, and per transaction.
const ROWS_PER_STATEMENT: usize = 1_000;
const ROWS_PER_TRANSACTION: usize = 100_000;
/// Samples per measured operation.
const SAMPLES: usize = 300;
/// 2026-01-01 in Unix ms: the seeded messages span the 90 days after it.
const START_MS: i64 = 1_767_225_600_000;
const SPAN_MS: i64 = 90 * 24 * 60 * 60 * 1000;

const FIRST: &[&str] = &[
    "Ana", "Ben", "Chloé", "Dev", "Emeka", "Fatima", "Goran", "Hana", "Ivan", "Jia", "Kofi",
    "Lena", "Mateo", "Noor", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Vera",
    "Wei", "Ximena", "Yusuf", "Zoë",
];
const LAST: &[&str] = &[
    "Silva",
    "Okafor",
    "Müller",
    "Nguyen",
    "Kowalski",
    "Haddad",
    "Tanaka",
    "Petrov",
    "Garcia",
    "Johansson",
    "Mensah",
    "Rossi",
    "Dubois",
    "Kaur",
    "Novak",
    "Yilmaz",
    "Costa",
    "Lindqvist",
];

/// A small deterministic generator (the same data on every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The text searched for in the `n`th sample.
type SearchTerm<'a> = Box<dyn Fn(usize) -> String + 'a>;

/// A seeded customer.
struct Customer {
    contact_id: String,
    name: String,
    phone: String,
    username: Option<String>,
}

fn customers(count: usize) -> Vec<Customer> {
    let mut rng = Lcg(7);
    (0..count)
        .map(|i| {
            let first = FIRST[rng.below(FIRST.len() as u64) as usize];
            let last = LAST[rng.below(LAST.len() as u64) as usize];
            Customer {
                contact_id: format!("ct_{:032x}", i + 1),
                name: format!("{first} {last} {i}"),
                phone: format!("1650{:07}", 1_000_000 + i),
                username: (i % 3 == 0).then(|| format!("@{}.{i}", first.to_lowercase())),
            }
        })
        .collect()
}

/// Runs statements in transactions, on whichever backend.
enum Seeder {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Seeder {
    async fn in_transaction(&self, statements: &[String]) {
        match self {
            Seeder::Sqlite(pool) => {
                let mut tx = pool.begin().await.unwrap();
                for sql in statements {
                    sqlx::raw_sql(sql).execute(&mut *tx).await.unwrap();
                }
                tx.commit().await.unwrap();
            }
            Seeder::Postgres(pool) => {
                let mut tx = pool.begin().await.unwrap();
                for sql in statements {
                    sqlx::raw_sql(sql).execute(&mut *tx).await.unwrap();
                }
                tx.commit().await.unwrap();
            }
        }
    }

    async fn close(self) {
        match self {
            Seeder::Sqlite(pool) => pool.close().await,
            Seeder::Postgres(pool) => pool.close().await,
        }
    }
}

/// `INSERT INTO table (columns) VALUES ...` in statements of
/// [`ROWS_PER_STATEMENT`] rows, committed every [`ROWS_PER_TRANSACTION`].
async fn insert_rows(
    seeder: &Seeder,
    table: &str,
    columns: &str,
    rows: impl Iterator<Item = String>,
) {
    let mut statements = Vec::new();
    let mut values: Vec<String> = Vec::with_capacity(ROWS_PER_STATEMENT);
    let mut in_transaction = 0;
    for row in rows {
        values.push(row);
        if values.len() == ROWS_PER_STATEMENT {
            statements.push(format!(
                "INSERT INTO {table} ({columns}) VALUES {}",
                values.join(",")
            ));
            in_transaction += values.len();
            values.clear();
            if in_transaction >= ROWS_PER_TRANSACTION {
                seeder.in_transaction(&statements).await;
                statements.clear();
                in_transaction = 0;
            }
        }
    }
    if !values.is_empty() {
        statements.push(format!(
            "INSERT INTO {table} ({columns}) VALUES {}",
            values.join(",")
        ));
    }
    if !statements.is_empty() {
        seeder.in_transaction(&statements).await;
    }
}

fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Migration 0025's backfill statement, as the migration runs it on an
/// upgrade (only that statement: the rest of the migration is in place).
fn backfill_sql() -> &'static str {
    let migration = include_str!("../../migrations/sqlite/0025_conversation_summaries.sql");
    let start = migration
        .find("INSERT INTO conversation_summaries")
        .expect("the migration's backfill");
    let length = migration[start..]
        .find(';')
        .expect("the backfill ends with a semicolon");
    &migration[start..=start + length]
}

/// Seeds the workspace: contacts, their aliases, the messages, then the
/// summaries. Returns how long it took.
async fn seed(
    seeder: &Seeder,
    workspace_id: &str,
    customers: &[Customer],
    messages: usize,
) -> Duration {
    let started = Instant::now();
    insert_rows(
        seeder,
        "contacts",
        "id, workspace_id, scope, phone, username, profile_name, created_at, updated_at",
        customers.iter().map(|c| {
            format!(
                "({}, {}, {}, {}, {}, {}, 1, 1)",
                quoted(&c.contact_id),
                quoted(workspace_id),
                quoted(&format!("waba:{WABA}")),
                quoted(&c.phone),
                c.username.as_deref().map_or("NULL".into(), quoted),
                quoted(&c.name),
            )
        }),
    )
    .await;
    insert_rows(
        seeder,
        "contact_aliases",
        "workspace_id, scope, kind, value, contact_id",
        customers.iter().map(|c| {
            format!(
                "({}, {}, 'phone', {}, {})",
                quoted(workspace_id),
                quoted(&format!("waba:{WABA}")),
                quoted(&c.phone),
                quoted(&c.contact_id),
            )
        }),
    )
    .await;
    // The first conversation is long (20,000 messages); the rest share
    // what remains. Times rise through each conversation, spread over
    // the 90 days, interleaved across conversations.
    let long = 20_000.min(messages / 2);
    let others = customers.len() - 1;
    let mut rng = Lcg(42);
    let rows = (0..messages).map(move |i| {
        let conversation = if i < long { 0 } else { 1 + (i - long) % others };
        let customer = &customers[conversation];
        let at = START_MS + (i as i64 * SPAN_MS) / messages as i64 + rng.below(1_000) as i64;
        let inbound = rng.below(2) == 0;
        let summary = format!("Message {i} about order {}", rng.below(100_000));
        format!(
            "({}, {}, {}, {}, {}, 'text', {}, '{{}}', {at}, {})",
            quoted(workspace_id),
            quoted(PHONE_NUMBER_ID),
            quoted(&format!("wamid.bench.{i}")),
            if inbound { "'inbound'" } else { "'outbound'" },
            quoted(&customer.phone),
            quoted(&summary),
            quoted(&customer.contact_id),
        )
    });
    insert_rows(
        seeder,
        "messages",
        "workspace_id, phone_number_id, wamid, direction, customer_wa_id, kind, summary, payload, sent_at, contact_id",
        rows,
    )
    .await;
    seeder.in_transaction(&[backfill_sql().to_string()]).await;
    if let Seeder::Postgres(_) = seeder {
        // What autovacuum does shortly after a bulk load.
        seeder.in_transaction(&["ANALYZE".to_string()]).await;
    }
    started.elapsed()
}

/// p50 and p99 of `SAMPLES` runs of `run(i)`, in milliseconds.
async fn measure<F, Fut>(mut run: F) -> (f64, f64)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    // Warm the caches the way a running server has them warm.
    for i in 0..10 {
        run(i).await;
    }
    let mut times: Vec<Duration> = Vec::with_capacity(SAMPLES);
    for i in 0..SAMPLES {
        let started = Instant::now();
        run(i).await;
        times.push(started.elapsed());
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (
        ms(times[SAMPLES / 2]),
        ms(times[(SAMPLES * 99).div_ceil(100) - 1]),
    )
}

fn report(what: &str, (p50, p99): (f64, f64), target_ms: f64) {
    let verdict = if p99 < target_ms { "ok" } else { "MISSED" };
    println!("  {what:<50} p50 {p50:>7.2} ms   p99 {p99:>7.2} ms   (target p99 < {target_ms} ms: {verdict})");
}

/// A customer's text, as Meta sends it, through the real path.
async fn sample_through_the_pipeline(store: &Store, customers: &[Customer]) {
    let (journal, writer) =
        Journal::start(store.clone(), Arc::new(Notify::new()), Default::default());
    let started = Instant::now();
    let sample = 100;
    for (n, customer) in customers.iter().rev().take(sample).enumerate() {
        let body = serde_json::json!({ "object": "whatsapp_business_account", "entry": [{ "id": WABA, "changes": [
            { "field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": { "display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID },
                "contacts": [{ "profile": { "name": customer.name }, "wa_id": customer.phone }],
                "messages": [{ "from": customer.phone, "id": format!("wamid.sample.{n}"),
                    "timestamp": ((START_MS + SPAN_MS) / 1000 + 60 + n as i64).to_string(),
                    "type": "text", "text": { "body": "Is my order on its way?" } }],
            }}
        ]}]});
        journal
            .append("sha256=bench".into(), body.to_string().into_bytes())
            .await
            .unwrap();
    }
    while switchboard::pipeline::process_due(store)
        .await
        .unwrap()
        .events
        > 0
    {}
    let took = started.elapsed();
    drop(journal);
    writer.abort();
    // Each conversation now leads the list, unread, with its new message.
    let list = store
        .conversations(&workspace_of(store).await, sample as i64, None, None)
        .await
        .unwrap();
    let fresh = list
        .iter()
        .filter(|c| c.unread == 1 && c.last_summary == "Is my order on its way?")
        .count();
    assert_eq!(fresh, sample, "the store path keeps the summaries");
    println!(
        "  {sample} customer messages through journal, pipeline and store: {:.0} ms ({:.2} ms each); all {fresh} lead the list, unread",
        took.as_secs_f64() * 1000.0,
        took.as_secs_f64() * 1000.0 / sample as f64
    );
}

async fn workspace_of(store: &Store) -> String {
    store
        .number(&PHONE_NUMBER_ID.into())
        .await
        .unwrap()
        .expect("the number")
        .workspace_id
        .to_string()
}

async fn run(backend: &str, conversation_count: usize, message_count: usize) {
    let (url, admin_db) = match backend {
        "sqlite" => {
            let dir =
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/inbox-bench");
            std::fs::create_dir_all(&dir).unwrap();
            for name in [
                "inbox.db",
                "inbox.db-wal",
                "inbox.db-shm",
                "inbox-journal.db",
                "inbox-journal.db-wal",
                "inbox-journal.db-shm",
            ] {
                let _ = std::fs::remove_file(dir.join(name));
            }
            let file = dir.canonicalize().unwrap().join("inbox.db");
            (
                DatabaseUrl::Sqlite(format!("sqlite://{}", file.display())),
                None,
            )
        }
        _ => {
            let name = format!("sb_inbox_bench_{}", std::process::id());
            let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(POSTGRES_ADMIN)
                .await
                .expect("Postgres on 127.0.0.1:5432");
            sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await
                .unwrap();
            (
                DatabaseUrl::Postgres(format!("postgres://postgres@127.0.0.1:5432/{name}")),
                Some(name),
            )
        }
    };
    println!("{backend}: {message_count} messages in {conversation_count} conversations");
    let store = Store::open(&url).await.unwrap();
    let caller: Caller = acme_owner(&store).await;
    let workspace_id = caller.workspace.id.to_string();
    store
        .connect_number(
            &caller.workspace.id,
            &PHONE_NUMBER_ID.into(),
            &WABA.into(),
            None,
            0,
        )
        .await
        .unwrap();
    store.close().await;

    let customers = customers(conversation_count);
    let seeder = match &url {
        DatabaseUrl::Sqlite(url) => {
            use std::str::FromStr;
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
                .unwrap()
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Off);
            Seeder::Sqlite(
                sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await
                    .unwrap(),
            )
        }
        DatabaseUrl::Postgres(url) => Seeder::Postgres(sqlx::PgPool::connect(url).await.unwrap()),
    };
    let took = seed(&seeder, &workspace_id, &customers, message_count).await;
    seeder.close().await;
    println!(
        "  seeded in {:.1} s (bulk INSERTs, then migration 0025's backfill)",
        took.as_secs_f64()
    );

    let store = Store::open(&url).await.unwrap();
    assert_eq!(
        store.count_messages(&workspace_id).await.unwrap(),
        message_count as i64
    );
    sample_through_the_pipeline(&store, &customers).await;

    let mut rng = Lcg(99);
    // The page's list: the 200 most recent conversations.
    report(
        "list, first 200 (the Conversations page)",
        measure(|_| async {
            let list = conversations::list(&store, &caller, None).await.unwrap();
            assert_eq!(list.len(), 200);
        })
        .await,
        20.0,
    );
    report(
        "list, first page of 50 (API)",
        measure(|_| async {
            let page = conversations::conversations_page(&store, &workspace_id, 50, None)
                .await
                .unwrap();
            assert_eq!(page.items.len(), 50);
        })
        .await,
        20.0,
    );
    // A cursor 95% deep (19,000 of 20,000), found by paging there once.
    let deep = conversation_count * 19 / 20;
    let mut cursor: Option<String> = None;
    let mut passed = 0;
    while passed < deep {
        let page = conversations::conversations_page(&store, &workspace_id, 100, cursor.as_deref())
            .await
            .unwrap();
        passed += page.items.len();
        cursor = page.next_cursor;
    }
    report(
        &format!("list, page of 50 after {passed} (API)"),
        measure(|_| {
            let cursor = cursor.clone();
            let store = &store;
            let workspace_id = &workspace_id;
            async move {
                let page =
                    conversations::conversations_page(store, workspace_id, 50, cursor.as_deref())
                        .await
                        .unwrap();
                assert_eq!(page.items.len(), 50);
            }
        })
        .await,
        20.0,
    );
    // Newest page of a thread: random conversations, every tenth the
    // 20,000-message one.
    let targets: Vec<&Customer> = (0..SAMPLES + 10)
        .map(|i| {
            if i % 10 == 0 {
                &customers[0]
            } else {
                &customers[rng.below(customers.len() as u64) as usize]
            }
        })
        .collect();
    report(
        "thread, newest page of 50 (server function's read)",
        measure(|i| {
            let customer = targets[i].contact_id.clone();
            let (store, caller) = (&store, &caller);
            async move {
                let thread = conversations::thread(store, caller, PHONE_NUMBER_ID, &customer, None)
                    .await
                    .unwrap();
                assert!(!thread.lines.is_empty());
            }
        })
        .await,
        10.0,
    );
    // Searches for one customer (the whole table is looked through).
    let picks: Vec<&Customer> = (0..SAMPLES + 10)
        .map(|_| &customers[rng.below(customers.len() as u64) as usize])
        .collect();
    let with_username: Vec<&Customer> = customers.iter().filter(|c| c.username.is_some()).collect();
    let searches: [(&str, SearchTerm); 3] = [
        (
            "search by name (the page)",
            Box::new(|i| picks[i].name.to_uppercase()),
        ),
        (
            "search by phone as written (the page)",
            Box::new(|i| {
                let p = &picks[i].phone;
                format!("+{} ({}) {}-{}", &p[..1], &p[1..4], &p[4..7], &p[7..])
            }),
        ),
        (
            "search by username (the page)",
            Box::new(|i| {
                with_username[i * 7 % with_username.len()]
                    .username
                    .clone()
                    .unwrap()
            }),
        ),
    ];
    for (what, term) in searches {
        report(
            what,
            measure(|i| {
                let term = term(i);
                let (store, caller) = (&store, &caller);
                async move {
                    let found: Vec<ConversationSummary> =
                        conversations::list(store, caller, Some(&term))
                            .await
                            .unwrap();
                    assert!(!found.is_empty(), "{term}");
                }
            })
            .await,
            50.0,
        );
    }
    store.close().await;
    if std::env::var_os("INBOX_BENCH_KEEP").is_some() {
        println!("  kept for a look: {url:?}");
        return;
    }
    if let Some(name) = admin_db {
        let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(POSTGRES_ADMIN)
            .await
            .unwrap();
        sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut admin)
            .await
            .unwrap();
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = args.first().map(String::as_str).unwrap_or("both");
    let conversations: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let messages: usize = args
        .get(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!("load average before: {}", load.trim());
    }
    for backend in ["sqlite", "postgres"] {
        if which == "both" || which == backend {
            run(backend, conversations, messages).await;
        }
    }
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!("load average after: {}", load.trim());
    }
}
