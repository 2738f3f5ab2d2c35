//! The error server functions return: what the person can act on, and for
//! form errors, the field it concerns. Internal details stay in the logs.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum UiError {
    #[error("Sign in to continue.")]
    Unauthenticated,
    #[error("You do not have access to this.")]
    Forbidden,
    #[error("Not found.")]
    NotFound,
    /// A problem with one form field, shown next to it.
    #[error("{message}")]
    Field { field: String, message: String },
    #[error("{0}")]
    Message(String),
    #[error("Something went wrong; try again.")]
    Internal,
    #[error("The request could not be completed: {0}")]
    Request(String),
}

impl UiError {
    /// The message for `field`, if this error concerns it.
    pub fn for_field(&self, field: &str) -> Option<String> {
        match self {
            Self::Field { field: f, message } if f == field => Some(message.clone()),
            _ => None,
        }
    }

    /// The message for the form as a whole (anything not tied to a field).
    pub fn general(&self) -> Option<String> {
        match self {
            Self::Field { .. } => None,
            other => Some(other.to_string()),
        }
    }
}

impl FromServerFnError for UiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        Self::Request(value.to_string())
    }
}

#[cfg(feature = "ssr")]
impl From<switchboard::Error> for UiError {
    /// Maps engine errors, and sets the HTTP status to match. A storage
    /// failure is noted for the log, which is written when the request
    /// ends (`crate::failures`).
    fn from(error: switchboard::Error) -> Self {
        use http::StatusCode;
        use switchboard::Error as E;
        let (status, ui) = match error {
            E::Unauthenticated => (StatusCode::UNAUTHORIZED, Self::Unauthenticated),
            E::Forbidden => (StatusCode::FORBIDDEN, Self::Forbidden),
            e @ E::SecondFactorRequired => (StatusCode::FORBIDDEN, Self::Message(e.to_string())),
            E::NotFound => (StatusCode::NOT_FOUND, Self::NotFound),
            E::Invalid { field, message } => (
                StatusCode::BAD_REQUEST,
                Self::Field {
                    field: field.to_string(),
                    message,
                },
            ),
            e @ (E::InvalidCredentials | E::AlreadySetUp) => {
                (StatusCode::BAD_REQUEST, Self::Message(e.to_string()))
            }
            // Meta's refusal in its own words, or why it could not be asked.
            e @ (E::Meta(_) | E::NotConnected(_)) => {
                (StatusCode::BAD_GATEWAY, Self::Message(e.to_string()))
            }
            e @ E::RateLimited { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, Self::Message(e.to_string()))
            }
            E::Store(e) => {
                crate::failures::note(e);
                (StatusCode::INTERNAL_SERVER_ERROR, Self::Internal)
            }
        };
        if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(status);
        }
        ui
    }
}
