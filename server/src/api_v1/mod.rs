//! `/api/v1`: the integration API for a workspace's own code, called with
//! `Authorization: Bearer <key>`. Errors are JSON with a stable `code`.
//! Each key has a request budget, shared by every instance.
//!
//! The router and the OpenAPI document are made from one list,
//! [`endpoints`], so neither can drift from the other.

mod contacts;
mod error;
mod history;
mod messages;
mod numbers;
pub mod openapi;
mod templates;
mod usage;

use std::sync::OnceLock;

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
use openapi::{Event, Operation};

pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Clone)]
struct ApiState {
    engine: Engine,
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
        history::mark_read(),
        numbers::list(),
        templates::list(),
        contacts::export(),
        contacts::erase(),
        usage::usage(),
    ]
}

/// The events a workspace's endpoints receive whose payload has its own
/// type, so that its schema is derived from it.
fn events() -> Vec<Event> {
    vec![Event {
        name: switchboard::outgoing_webhooks::TOKEN_EXPIRING,
        summary: "A number's access token ends soon and could not be refreshed",
        description: "Sent at 14, 7 and 1 days before a number's access token ends, each once per token, \
            when Meta would not refresh it (or it has expired: Meta cannot extend an expired token). \
            Connect the number again (Onboarding, Embedded Signup) before then, or it stops sending. \
            A refreshed or new token starts the warnings afresh. (`message.received` and `message.status` \
            are described in the README.)",
        payload: openapi::schema::<switchboard::outgoing_webhooks::TokenExpiringEvent>,
    }]
}

/// The OpenAPI 3.1 document of this API, made once per process (the API
/// route and the reference page both serve it).
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let operations: Vec<&Operation> = endpoints().iter().map(|e| e.doc).collect();
        openapi::document(&operations, &events())
    })
}

pub fn routes(engine: Engine) -> Router {
    let mut router = Router::new();
    for endpoint in endpoints() {
        router = router.route(endpoint.doc.path, endpoint.handler);
    }
    router
        .route("/api/v1/openapi.json", get(|| async { Json(document()) }))
        .route(
            "/api/v1/{*rest}",
            any(|| async { ApiError::not_found("endpoint; see /api/v1/openapi.json") }),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(ApiState { engine })
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
    if let Err(wait) = api_keys::take_budget(
        &state.engine,
        &caller.key_id,
        switchboard::store::now_millis(),
    )
    .await?
    {
        let mut error = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("Too many requests for this key; retry after {wait} s."),
        );
        error.retry_after = Some(wait);
        return Err(error);
    }
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
