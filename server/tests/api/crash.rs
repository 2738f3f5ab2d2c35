//! `kill -9` during a flood of webhooks: after a restart, every event that
//! was acknowledged is processed, once.

use std::{
    collections::HashSet,
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use hmac::{Hmac, Mac};
use serde_json::json;
use switchboard::test_support::{workspace_with_number, TestBackend, TestDatabase};

const PHONE: &str = "106540352242922";

fn start(db: &TestDatabase) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .env("DATABASE_URL", db.url.as_str())
        // Fixed, so the restarted server opens what the first one sealed.
        .env(
            "TOKEN_ENCRYPTION_KEYS",
            "test:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        )
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let addr = lines
        .by_ref()
        .map(Result::unwrap)
        .find_map(|line| {
            let event: serde_json::Value = serde_json::from_str(&line).ok()?;
            (event["message"] == "listening").then(|| event["addr"].as_str().unwrap().to_string())
        })
        .expect("the server says where it listens");
    // Keep reading so the pipe never fills and blocks the server.
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

fn signed(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(b"sandbox-app-secret").unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}
use sha2::Sha256;

fn webhook(wamid: &str) -> Vec<u8> {
    json!({ "object": "whatsapp_business_account", "entry": [{ "id": "524126980791429", "changes": [{ "field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "15550783881", "phone_number_id": PHONE },
        "contacts": [{ "profile": { "name": "Sheena" }, "wa_id": "16505551234" }],
        "messages": [{ "from": "16505551234", "id": wamid, "timestamp": "1700000000", "type": "text", "text": { "body": wamid } }],
    }}]}]})
    .to_string()
    .into_bytes()
}

async fn kill_9_during_a_flood_loses_nothing(backend: TestBackend) {
    let db = TestDatabase::create(backend).await;
    let workspace = {
        let store = db.open_store().await;
        let workspace = workspace_with_number(&store, PHONE, "524126980791429").await;
        store.close().await;
        workspace
    };

    let (mut child, addr) = start(&db);
    let acknowledged = Arc::new(Mutex::new(HashSet::new()));
    let client = reqwest::Client::new();
    let senders: Vec<_> = (0..8)
        .map(|sender| {
            let (client, addr, acknowledged) = (client.clone(), addr.clone(), acknowledged.clone());
            tokio::spawn(async move {
                for i in 0.. {
                    let wamid = format!("wamid.s{sender}-{i}");
                    let body = webhook(&wamid);
                    let sent = client
                        .post(format!("http://{addr}/webhook"))
                        .header("x-hub-signature-256", signed(&body))
                        .body(body)
                        .send()
                        .await;
                    match sent {
                        Ok(response) if response.status() == 200 => {
                            acknowledged.lock().unwrap().insert(wamid);
                        }
                        _ => return,
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    for sender in senders {
        let _ = sender.await;
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 20,
        "the flood got going ({} acknowledged)",
        acknowledged.len()
    );

    let (mut child, _addr) = start(&db);
    let store = db.open_store().await;
    // SQLite resumes at once; on Postgres a dead instance's claims wait
    // for their 10-second leases.
    for _ in 0..1000 {
        if store.pending_webhook_events().await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let thread =
        switchboard::test_support::thread_with(&store, &workspace, PHONE, "16505551234").await;
    let stored: HashSet<String> = thread.iter().map(|line| line.wamid.clone()).collect();
    assert_eq!(stored.len(), thread.len(), "no message twice");
    let lost: Vec<_> = acknowledged.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged but lost: {lost:?}",
        lost.len()
    );
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn kill_9_during_a_flood_loses_nothing_on_sqlite() {
    kill_9_during_a_flood_loses_nothing(TestBackend::Sqlite).await;
}

#[tokio::test]
async fn kill_9_during_a_flood_loses_nothing_on_postgres() {
    kill_9_during_a_flood_loses_nothing(TestBackend::Postgres).await;
}
