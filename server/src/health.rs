//! Liveness and readiness for load balancers and orchestrators.

use std::time::Duration;

use axum::{extract::State, http::StatusCode};
use switchboard::Engine;

/// The process is up and serving HTTP.
pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers within a short time.
pub async fn readyz(State(engine): State<Engine>) -> (StatusCode, &'static str) {
    match tokio::time::timeout(Duration::from_secs(2), engine.store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready"),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
        Err(_) => {
            tracing::warn!("readiness: database timed out");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}
