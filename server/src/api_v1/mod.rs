//! `/api/v1`: the integration API for a workspace's own code, called with
//! `Authorization: Bearer <key>`. Errors are JSON with a stable `code`.
//! Each key has a request budget (a token bucket in this instance).
//!
//! The router and the OpenAPI document are made from one list,
//! [`endpoints`], so neither can drift from the other.

mod error;
mod history;
mod messages;
mod numbers;
pub mod openapi;
mod templates;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Instant,
};

use axum::{
    extract::DefaultBodyLimit,
    http::{header, HeaderMap, StatusCode},
    routing::{any, get, MethodRouter},
    Json, Router,
};
use serde_json::{json, Value};
use switchboard::{
    api_keys::{self, ApiCaller},
    Engine,
};

pub use error::ApiError;
use openapi::Operation;

pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Requests a key may make in a burst, and per second after it.
const BURST: f64 = 20.0;
const PER_SECOND: f64 = 10.0;

#[derive(Clone)]
struct ApiState {
    engine: Engine,
    budgets: Arc<Mutex<HashMap<String, (f64, Instant)>>>,
}

/// An endpoint: what the document says about it and what serves it.
struct Endpoint {
    doc: &'static Operation,
    handler: MethodRouter<ApiState>,
}

fn endpoints() -> Vec<Endpoint> {
    vec![
        messages::send(),
        messages::status(),
        history::conversations(),
        history::messages(),
        numbers::list(),
        templates::list(),
    ]
}

/// The OpenAPI 3.1 document of this API.
pub fn document() -> Value {
    let operations: Vec<&Operation> = endpoints().iter().map(|e| e.doc).collect();
    openapi::document(&operations)
}

pub fn routes(engine: Engine) -> Router {
    let document = Arc::new(document());
    let mut router = Router::new();
    for endpoint in endpoints() {
        router = router.route(endpoint.doc.path, endpoint.handler);
    }
    router
        .route(
            "/api/v1/openapi.json",
            get(move || async move { Json(document.as_ref().clone()) }),
        )
        .route(
            "/api/v1/{*rest}",
            any(|| async { ApiError::not_found("endpoint; see /api/v1/openapi.json") }),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(ApiState {
            engine,
            budgets: Arc::default(),
        })
}

/// The key's caller, if the key is live, has `scope`, and has budget left.
async fn authorize(
    state: &ApiState,
    headers: &HeaderMap,
    scope: &str,
) -> Result<ApiCaller, ApiError> {
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Send Authorization: Bearer <key>.",
            )
        })?;
    let caller = api_keys::authenticate(&state.engine, key.trim())
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Unknown or revoked key.",
            )
        })?;
    if !caller.may(scope) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            format!("This key lacks the {scope} scope."),
        ));
    }
    take_budget(state, &caller.key_id)?;
    Ok(caller)
}

/// Every use of a key goes to the audit log, with what it did.
async fn audit(
    state: &ApiState,
    caller: &ApiCaller,
    action: &str,
    mut details: Value,
) -> Result<(), ApiError> {
    details["key_id"] = json!(caller.key_id);
    switchboard::audit::record(
        &state.engine.store,
        Some(&caller.workspace_id),
        None,
        action,
        details,
    )
    .await?;
    Ok(())
}

fn take_budget(state: &ApiState, key_id: &str) -> Result<(), ApiError> {
    let mut budgets = state.budgets.lock().unwrap_or_else(|p| p.into_inner());
    let now = Instant::now();
    let (tokens, at) = budgets.entry(key_id.to_string()).or_insert((BURST, now));
    *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * PER_SECOND).min(BURST);
    *at = now;
    if *tokens >= 1.0 {
        *tokens -= 1.0;
        return Ok(());
    }
    let wait = ((1.0 - *tokens) / PER_SECOND).ceil().max(1.0) as u64;
    let mut error = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("Too many requests for this key; retry after {wait} s."),
    );
    error.retry_after = Some(wait);
    Err(error)
}
