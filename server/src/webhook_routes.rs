//! `GET /webhook` (the verification handshake) and `POST /webhook` (signed
//! events into the journal). The POST path only verifies and stores: it
//! answers 200 once the body is on disk, and leaves the rest to workers.

use std::{collections::HashMap, time::Instant};

use axum::{
    body::Bytes,
    extract::{DefaultBodyLimit, Query, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use switchboard::{
    webhook::{signature, Journal},
    Engine,
};

/// Meta's payloads are far smaller; anything bigger is refused unread.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

#[derive(Clone)]
struct WebhookState {
    engine: Engine,
    journal: Journal,
}

pub fn routes(engine: Engine, journal: Journal) -> Router {
    Router::new()
        .route("/webhook", get(handshake).post(receive))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // A body announced too big is refused before any of it is read.
        .layer(axum::middleware::from_fn(|request, next| {
            crate::limits::refuse_announced_oversize(MAX_BODY_BYTES, request, next)
        }))
        .with_state(WebhookState { engine, journal })
}

async fn handshake(
    State(state): State<WebhookState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let expected = state.engine.config.meta.webhook_verify_token.expose();
    let given = query
        .get("hub.verify_token")
        .map(String::as_str)
        .unwrap_or("");
    let subscribing = query.get("hub.mode").map(String::as_str) == Some("subscribe");
    match subscribing && signature::same_token(given, expected) {
        true => {
            let challenge = query.get("hub.challenge").cloned().unwrap_or_default();
            (
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                challenge,
            )
                .into_response()
        }
        _ => {
            tracing::warn!("webhook handshake refused");
            (StatusCode::FORBIDDEN, "forbidden").into_response()
        }
    }
}

async fn receive(State(state): State<WebhookState>, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let meta = &state.engine.config.meta;
    let header_value = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    if let Err(error) = signature::verify(&meta.app_secrets, header_value, &body) {
        metrics::counter!("webhook_requests_refused_total", "reason" => error.reason())
            .increment(1);
        tracing::warn!(%error, bytes = body.len(), "webhook signature refused");
        return (StatusCode::UNAUTHORIZED, "invalid signature").into_response();
    }
    metrics::counter!("webhook_requests_received_total").increment(1);
    let signature = header_value.unwrap_or_default().to_string();
    match state.journal.append(signature, body.to_vec()).await {
        Ok(_) => {
            metrics::histogram!("webhook_ack_latency_seconds")
                .record(started.elapsed().as_secs_f64());
            (StatusCode::OK, "EVENT_RECEIVED").into_response()
        }
        Err(error) => {
            // Not stored, so not acknowledged: Meta will deliver it again.
            tracing::error!(%error, "webhook not stored");
            (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response()
        }
    }
}
