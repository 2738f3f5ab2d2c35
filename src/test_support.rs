//! Throwaway databases for tests: a SQLite file in a temporary folder, or a
//! fresh database on the local Postgres server, dropped when the guard goes
//! out of scope (also when the test panics).

use std::sync::atomic::{AtomicU32, Ordering};

use crate::{
    accounts::{Caller, Role},
    config::DatabaseUrl,
    store::Store,
};

/// Where tests find Postgres. Only loopback, never anything else.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    Sqlite,
    Postgres,
}

/// A database that exists for one test.
pub struct TestDatabase {
    pub url: DatabaseUrl,
    _dir: Option<tempfile::TempDir>,
    postgres_name: Option<String>,
}

impl TestDatabase {
    pub async fn create(backend: TestBackend) -> Self {
        match backend {
            TestBackend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary folder");
                let path = dir.path().join("nested/switchboard.db");
                Self {
                    url: DatabaseUrl::Sqlite(format!("sqlite://{}", path.display())),
                    _dir: Some(dir),
                    postgres_name: None,
                }
            }
            TestBackend::Postgres => {
                static COUNTER: AtomicU32 = AtomicU32::new(0);
                let name = format!(
                    "sb_test_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::Relaxed),
                    crate::store::now_millis()
                );
                let admin = postgres_admin_url();
                let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
                    .await
                    .unwrap_or_else(|e| panic!("Postgres at {admin} is needed for this test: {e}"));
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let base = admin
                    .rsplit_once('/')
                    .map(|(base, _)| base)
                    .unwrap_or(&admin);
                Self {
                    url: DatabaseUrl::Postgres(format!("{base}/{name}")),
                    _dir: None,
                    postgres_name: Some(name),
                }
            }
        }
    }

    pub async fn open_store(&self) -> Store {
        Store::open(&self.url).await.expect("open test store")
    }

    /// Drops the Postgres database now, even with connections open; for
    /// tests of what happens when the database goes away.
    pub async fn drop_now(&self) {
        if let Some(name) = &self.postgres_name {
            drop_postgres_database(name).await;
        }
    }
}

async fn drop_postgres_database(name: &str) {
    if let Ok(mut conn) =
        <sqlx::PgConnection as sqlx::Connection>::connect(&postgres_admin_url()).await
    {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await;
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which cannot be blocked on:
        // clean up from a thread with a runtime of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cleanup runtime");
            runtime.block_on(drop_postgres_database(&name));
        })
        .join();
    }
}

/// Signs up the installation's owner, whose workspace is "Acme", and
/// returns them as a caller.
pub async fn acme_owner(store: &Store) -> Caller {
    let user = crate::accounts::create_admin(
        store,
        &crate::accounts::SignUp {
            email: "owner@example.com",
            name: "Owner",
            password: "a long enough password",
            workspace_name: "Acme",
        },
    )
    .await
    .expect("owner");
    let membership = store.memberships_of(&user.id).await.expect("memberships")[0].clone();
    Caller {
        user,
        workspace: membership.workspace,
        role: Role::Owner,
    }
}

/// An installation with an owner ("Acme") and one connected number, as
/// onboarding leaves it; returns the workspace id.
pub async fn workspace_with_number(store: &Store, phone_number_id: &str, waba_id: &str) -> String {
    let workspace = acme_owner(store).await.workspace.id;
    store
        .connect_number(
            &workspace,
            &phone_number_id.into(),
            &waba_id.into(),
            None,
            0,
        )
        .await
        .expect("number");
    workspace.into_string()
}

/// The whole thread of a number with `customer` (a phone, a BSUID or a
/// contact id), oldest first; empty while no message has made the
/// customer known.
pub async fn thread_with(
    store: &Store,
    workspace_id: &str,
    phone_number_id: &str,
    customer: &str,
) -> Vec<crate::store::ThreadMessage> {
    let contact = crate::conversations::contact_of(store, workspace_id, phone_number_id, customer)
        .await
        .expect("the contact is readable");
    let Some(contact) = contact else {
        return Vec::new();
    };
    // Every page, newest first, then the whole thread oldest first.
    let mut lines: Vec<crate::store::ThreadMessage> = Vec::new();
    loop {
        let before = lines.last().map(|line| crate::store::MessageKey {
            sent_at: line.sent_at,
            id: line.id,
        });
        let page = store
            .thread_page(workspace_id, phone_number_id, &contact.id, 100, before)
            .await
            .expect("the thread is readable");
        let done = page.len() < 100;
        lines.extend(page);
        if done {
            lines.reverse();
            return lines;
        }
    }
}

/// Counts a status's `pricing` for `wamid` as the pipeline does, in a
/// transaction of its own (for upgrade tests, without Meta's webhook).
pub async fn apply_status_with_pricing(
    store: &Store,
    workspace_id: &str,
    phone_number_id: &str,
    wamid: &str,
    phone: &str,
    pricing: &serde_json::Value,
) {
    let status = serde_json::json!({ "statuses": [{ "id": wamid, "status": "delivered", "timestamp": "1767225600", "recipient_id": phone, "pricing": pricing }] });
    let update = crate::webhook::payload::Messages::read(status)
        .statuses
        .remove(0)
        .received(0);
    let pricing = update.pricing.as_ref().expect("pricing");
    let mut tx = store.begin().await.expect("a transaction");
    let mut counts = crate::store::costs::LedgerCounts::default();
    let message = crate::costs::PricedMessage {
        workspace_id,
        phone_number_id,
        wamid,
        at: update.at,
        phone: Some(phone),
    };
    crate::costs::record_all(&mut tx, &[(message, pricing)], &mut counts)
        .await
        .expect("recorded");
    crate::store::costs::add_to_ledger(&mut tx, &counts)
        .await
        .expect("counted");
    tx.commit().await.expect("committed");
}
