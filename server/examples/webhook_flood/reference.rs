//! The reference receiver: the least a webhook receiver built from the
//! same crates can do. It checks the signature with Switchboard's own
//! check and inserts the body into a SQLite file with no fsync at all
//! (`synchronous = OFF`), one statement per request on one connection.
//! The benchmark runs it as a separate process (this program with
//! `--reference <port> <file>`), so the machine's speed cancels out of
//! the ratio.

use std::str::FromStr;

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
    Router,
};
use sqlx::{
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    SqlitePool,
};
use switchboard::{secret::Secret, webhook::signature};

#[derive(Clone)]
struct Receiver {
    db: SqlitePool,
    secrets: std::sync::Arc<Vec<Secret<String>>>,
}

pub async fn serve(port: u16, file: &str, secret: &str) {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{file}"))
        .expect("SQLite URL")
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Off);
    let db = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .expect("reference database");
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, received_at INTEGER NOT NULL, signature TEXT NOT NULL, body BLOB NOT NULL)",
    )
    .execute(&db)
    .await
    .expect("table");
    let state = Receiver {
        db,
        secrets: std::sync::Arc::new(vec![Secret::new(secret.to_string())]),
    };
    let app = Router::new()
        .route("/webhook", post(receive))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("reference port");
    axum::serve(listener, app).await.expect("reference server");
}

async fn receive(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let header = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    if signature::verify(&receiver.secrets, header, &body).is_err() {
        return (StatusCode::UNAUTHORIZED, "invalid signature");
    }
    let stored =
        sqlx::query("INSERT INTO events (received_at, signature, body) VALUES ($1, $2, $3)")
            .bind(switchboard::store::now_millis())
            .bind(header.unwrap_or_default())
            .bind(&body[..])
            .execute(&receiver.db)
            .await;
    match stored {
        Ok(_) => (StatusCode::OK, "EVENT_RECEIVED"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "try again"),
    }
}

/// How many rows the reference stored (every acknowledged one must be).
pub async fn stored(file: &str) -> i64 {
    let db = SqlitePool::connect(&format!("sqlite://{file}"))
        .await
        .expect("reference database");
    let count = sqlx::query_scalar("SELECT COUNT(*) FROM events")
        .fetch_one(&db)
        .await
        .expect("count");
    db.close().await;
    count
}
