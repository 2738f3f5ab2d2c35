//! The API's errors: a status, a stable `code`, a message for people, and
//! Meta's own words when Meta refused.

use axum::{
    extract::rejection::{BytesRejection, PathRejection, QueryRejection},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use schemars::JsonSchema;
use serde::Serialize;

/// Every error answer has this body.
#[derive(Serialize, JsonSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, JsonSchema)]
pub struct ErrorDetail {
    /// Stable, for code to branch on: `unauthorized`, `insufficient_scope`,
    /// `rate_limited`, `malformed_json`, `payload_too_large`,
    /// `invalid_request`, `invalid_idempotency_key`,
    /// `idempotency_key_reused`, `not_found`, `meta_error`, `internal`.
    pub code: String,
    /// For people; may change.
    pub message: String,
    /// What Meta answered, when the error is Meta's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta_error: Option<String>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub meta_error: Option<String>,
    pub retry_after: Option<u64>,
    /// What went wrong inside, for the log only: the caller just learns
    /// that something did.
    pub internal: Option<switchboard::Error>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            meta_error: None,
            retry_after: None,
            internal: None,
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("No such {what}."),
        )
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message)
    }
}

impl From<switchboard::Error> for ApiError {
    fn from(error: switchboard::Error) -> Self {
        use switchboard::Error as E;
        match error {
            E::NotFound => Self::not_found("object in this workspace"),
            E::Invalid { field, message } => Self::invalid(format!("{field}: {message}")),
            // Meta's refusal in its own words, or why it could not be asked.
            e @ (E::Meta(_) | E::NotConnected(_)) => Self {
                meta_error: Some(e.to_string()),
                ..Self::new(
                    StatusCode::BAD_GATEWAY,
                    "meta_error",
                    "Meta refused the request.",
                )
            },
            E::Forbidden => Self::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "This key may not do that.",
            ),
            other => Self {
                internal: Some(other),
                ..Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Something went wrong; try again.",
                )
            },
        }
    }
}

impl From<switchboard::store::Error> for ApiError {
    fn from(error: switchboard::store::Error) -> Self {
        switchboard::Error::from(error).into()
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::invalid(rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::invalid(rejection.body_text())
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("A request body is at most {} bytes.", super::MAX_BODY_BYTES),
            )
        } else {
            Self::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                rejection.body_text(),
            )
        }
    }
}

/// Where every error of the API ends: the one place its internal errors
/// are logged.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(error) = &self.internal {
            tracing::error!(
                error = error as &dyn std::error::Error,
                "integration API request failed"
            );
        }
        let body = Json(ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
                meta_error: self.meta_error,
            },
        });
        let mut response = (self.status, body).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, seconds.into());
        }
        response
    }
}
