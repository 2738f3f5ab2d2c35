//! Cross-site protection and security headers.
//!
//! Server functions (`/api/...`) refuse requests whose `Origin` is not the
//! app's own: a session cookie alone never authorises a cross-site POST.
//! Every response carries the headers below; pages set their own CSP (with
//! a nonce), everything else gets a deny-all one.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{header, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// The origins the app is served from (`PUBLIC_URL`, and the address it
/// listens on for local use).
#[derive(Clone)]
pub struct AllowedOrigins(pub Arc<Vec<String>>);

pub async fn require_same_origin(
    State(allowed): State<AllowedOrigins>,
    request: Request,
    next: Next,
) -> Response {
    let is_server_fn = request.uri().path().starts_with("/api/");
    if is_server_fn && request.method() != Method::GET {
        let origin = request
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok());
        if !origin.is_some_and(|o| allowed.0.iter().any(|a| a == o)) {
            tracing::warn!(
                origin = origin.unwrap_or("(none)"),
                "refused a cross-origin server function call"
            );
            return (StatusCode::FORBIDDEN, "cross-origin request refused").into_response();
        }
    }
    next.run(request).await
}

pub async fn headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'",
        ));
    response
}
