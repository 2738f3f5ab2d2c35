//! The Content-Security-Policy of each page, with a fresh nonce for the
//! scripts Leptos writes inline. Only the onboarding page may load Meta's
//! SDK (the sandbox's stand-in in demo mode).

use http::{header, request::Parts, HeaderValue};
use leptos::{nonce::use_nonce, prelude::use_context};
use leptos_axum::ResponseOptions;
use switchboard::{
    config::{Mode, META_DIALOG_ORIGINS, META_SDK_ORIGIN},
    Engine,
};

/// Sets the page's CSP header. Call after `provide_nonce()`.
pub fn set_page_policy() {
    let (Some(response), Some(nonce)) = (use_context::<ResponseOptions>(), use_nonce()) else {
        return;
    };
    let path = use_context::<Parts>()
        .map(|p| p.uri.path().to_string())
        .unwrap_or_default();
    let (mut scripts, mut frames, mut connect) = (String::new(), String::new(), String::new());
    if path == "/onboarding" {
        if let Some(engine) = use_context::<Engine>() {
            match engine.config.mode {
                Mode::Live => {
                    scripts = format!(" {META_SDK_ORIGIN}");
                    frames = format!(" {}", META_DIALOG_ORIGINS.join(" "));
                    connect = format!(" {META_SDK_ORIGIN}");
                }
                Mode::Demo => {
                    let url = &engine.config.graph_base_url;
                    let origin = url.origin().ascii_serialization();
                    scripts = format!(" {origin}");
                    frames = format!(" {origin}");
                }
            }
        }
    }
    let frame_src = if frames.is_empty() {
        " 'none'".to_string()
    } else {
        frames
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'{scripts}; \
         style-src 'self'; img-src 'self' data: blob: https:; connect-src 'self'{connect}; \
         frame-src{frame_src}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}
