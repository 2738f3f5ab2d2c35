//! `/api/v1`: the integration API for a workspace's own code, called with
//! `Authorization: Bearer <key>`. Errors are JSON with a stable `code`.
//! Each key has a request budget (a token bucket in this instance).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Instant,
};

use axum::{
    extract::{DefaultBodyLimit, Path, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde::Deserialize;
use serde_json::{json, Value};
use switchboard::{
    accounts,
    api_keys::{self, ApiCaller, READ, SEND},
    outbox::{self, Content, Origin, Outgoing},
    Engine,
};

pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Requests a key may make in a burst, and per second after it.
const BURST: f64 = 20.0;
const PER_SECOND: f64 = 10.0;

#[derive(Clone)]
struct ApiState {
    engine: Engine,
    budgets: Arc<Mutex<HashMap<String, (f64, Instant)>>>,
}

pub fn routes(engine: Engine) -> Router {
    Router::new()
        .route("/api/v1/messages", post(send_message))
        .route("/api/v1/messages/{id}", get(message_status))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(ApiState {
            engine,
            budgets: Arc::default(),
        })
}

/// An error as the API answers it.
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
}

impl From<accounts::Error> for ApiError {
    fn from(error: accounts::Error) -> Self {
        use accounts::Error as E;
        match error {
            E::NotFound => Self::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "No such object in this workspace.",
            ),
            E::Invalid { field, message } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                format!("{field}: {message}"),
            ),
            E::Meta(message) => Self::new(StatusCode::BAD_GATEWAY, "meta_error", message),
            E::Forbidden => Self::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "This key may not do that.",
            ),
            other => {
                tracing::error!(error = %other, "integration API request failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Something went wrong; try again.",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(json!({ "error": { "code": self.code, "message": self.message } }));
        let mut response = (self.status, body).into_response();
        if let Some(seconds) = self.retry_after {
            if let Ok(value) = seconds.to_string().parse() {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendRequest {
    phone_number_id: String,
    to: String,
    message: Content,
    #[serde(default)]
    reply_to: Option<String>,
}

async fn send_message(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let caller = authorize(&state, &headers, SEND).await?;
    let request: SendRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", e.to_string()))?;
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => match value.to_str() {
            Ok(key) if !key.is_empty() && key.len() <= 255 => Some(format!("api:{key}")),
            _ => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_idempotency_key",
                    "Idempotency-Key is 1 to 255 visible characters.",
                ))
            }
        },
    };
    let outgoing = Outgoing {
        phone_number_id: request.phone_number_id,
        recipient: request.to,
        content: request.message,
        context_wamid: request.reply_to,
    };
    let (id, fresh) = outbox::queue(
        &state.engine,
        &caller.workspace_id,
        None,
        &outgoing,
        Origin::Api,
        idempotency_key.as_deref(),
    )
    .await?;
    if !fresh {
        // The same key again: the same request gets the same answer;
        // another request under it is refused.
        let entry = state
            .engine
            .store
            .outbox_entry(&caller.workspace_id, id)
            .await
            .map_err(accounts::Error::from)?
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::CONFLICT,
                    "idempotency_conflict",
                    "The earlier request is gone.",
                )
            })?;
        let same = entry.phone_number_id == outgoing.phone_number_id
            && entry.recipient == outgoing.recipient
            && serde_json::from_str::<Content>(&entry.content)
                .ok()
                .as_ref()
                == Some(&outgoing.content);
        if !same {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "This Idempotency-Key was used for another request.",
            ));
        }
    }
    switchboard::audit::record(
        &state.engine.store,
        Some(&caller.workspace_id),
        None,
        "api.message_queued",
        json!({ "key_id": caller.key_id, "outbox_id": id, "replayed": !fresh }),
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "id": id, "state": "queued", "replayed": !fresh })),
    )
        .into_response())
}

async fn message_status(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let caller = authorize(&state, &headers, READ).await?;
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such message."))?;
    let store = &state.engine.store;
    let entry = store
        .outbox_entry(&caller.workspace_id, id)
        .await
        .map_err(accounts::Error::from)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such message."))?;
    let status = match &entry.wamid {
        Some(wamid) => store
            .delivery_status(&entry.phone_number_id, wamid)
            .await
            .map_err(accounts::Error::from)?,
        None => None,
    };
    Ok(Json(json!({
        "id": entry.id,
        "state": entry.state,
        "wamid": entry.wamid,
        "status": status,
        "attempts": entry.attempts,
        "error": entry.error_code.map(|code| json!({ "meta_code": code, "title": entry.error_title })),
    })))
}
