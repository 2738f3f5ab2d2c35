//! Storage failures in server functions, logged in one place: when the
//! request they happened in is over.
//!
//! Turning an engine error into a [`UiError`](crate::errors::UiError) is a
//! conversion: it hides a storage failure from the person and notes it
//! here, without logging. The server gives every request a place for such
//! notes ([`collect`]); they are logged when its last holder lets go: the
//! layer itself, or a page that still streams after the layer returned.

use std::sync::{Arc, Mutex, PoisonError};

use axum::{extract::Request, middleware::Next, response::Response};
use http::request::Parts;
use leptos::prelude::use_context;
use switchboard::store;

/// The storage failures of one request. Cheap to clone.
#[derive(Clone)]
pub struct Failures(Arc<Noted>);

struct Noted {
    /// The request's span, so that the log lines carry its id.
    span: tracing::Span,
    errors: Mutex<Vec<store::Error>>,
}

impl Failures {
    fn in_current_span() -> Self {
        Self(Arc::new(Noted {
            span: tracing::Span::current(),
            errors: Mutex::default(),
        }))
    }
}

impl Drop for Noted {
    fn drop(&mut self) {
        let _in_request = self.span.enter();
        let errors = self
            .errors
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        for error in errors.drain(..) {
            tracing::error!(
                error = &error as &dyn std::error::Error,
                "storage error in a server function"
            );
        }
    }
}

/// The server's layer: a place for the failures of each request (inside
/// the request's span).
pub async fn collect(mut request: Request, next: Next) -> Response {
    request.extensions_mut().insert(Failures::in_current_span());
    next.run(request).await
}

/// Notes a storage failure of the current request. Outside a request that
/// went through [`collect`], it is logged at once.
pub(crate) fn note(error: store::Error) {
    let failures = use_context::<Parts>()
        .and_then(|parts| parts.extensions.get::<Failures>().cloned())
        .unwrap_or_else(Failures::in_current_span);
    failures
        .0
        .errors
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(error);
}
