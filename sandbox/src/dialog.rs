//! The OAuth dialog, `GET /{version}/dialog/oauth`: Embedded Signup as a
//! full page without the JS SDK (reference meta-2026 §6, the fallback when
//! `FB.login` returns no code). It shows the signup popup's steps; on
//! finish the browser is redirected to `redirect_uri?code=…&state=…`, on
//! cancel to `redirect_uri?error=access_denied&…`. No `WA_EMBEDDED_SIGNUP`
//! message exists in this path.
//!
//! Strict Mode: `redirect_uri` must equal one of the app's Valid OAuth
//! Redirect URIs (`PUT /_sandbox/app {"redirect_uris"}`), else Meta's
//! "URL blocked" page. A wrong `client_id`, a missing or malformed
//! `config_id`, a `response_type` other than `code` or a bad PKCE
//! challenge get an error page too, never a redirect. The code is bound
//! to the `redirect_uri` and, with PKCE (Meta's "OIDC Code Flow with
//! PKCE" guide: `code_challenge`, `code_challenge_method` S256 or plain),
//! to the challenge.

use std::collections::HashMap;

use axum::{
    extract::{Query, State},
    http::{header, StatusCode},
    response::{Html, IntoResponse, Response},
    routing::get,
    Router,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::{ids, signup, State as AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dialog/oauth/continue", get(finished))
        .route("/dialog/oauth/cancel", get(cancelled))
}

/// How a PKCE challenge was made from its verifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeMethod {
    /// `BASE64URL(SHA256(verifier))`, no padding (Meta: recommended).
    S256,
    /// The verifier itself.
    Plain,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub value: String,
    pub method: ChallengeMethod,
}

impl Challenge {
    /// Whether `verifier` is the one this challenge was made from. A
    /// verifier is 43 to 128 letters, digits and `-._~` (Meta's guide,
    /// RFC 7636).
    pub fn verifies(&self, verifier: &str) -> bool {
        let well_formed = (43..=128).contains(&verifier.len())
            && verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        let made = match self.method {
            ChallengeMethod::S256 => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
            ChallengeMethod::Plain => verifier.to_string(),
        };
        well_formed && made == self.value
    }
}

/// An open dialog: what the redirect and the code will carry.
#[derive(Debug, Clone)]
pub struct Session {
    pub redirect_uri: String,
    pub state: Option<String>,
    pub challenge: Option<Challenge>,
    pub config_id: String,
    pub feature_type: String,
    pub session_info_version: String,
    /// The code, once the person finished.
    pub code: Option<String>,
}

/// Meta's error dialog: a page, never a redirect. The status Meta answers
/// it with is unconfirmed; 400 here.
fn error_page(title: &str, message: &str) -> Response {
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Error</title></head>\n<body><h1>{}</h1><p>{}</p></body></html>\n",
        escape(title),
        escape(message)
    );
    (StatusCode::BAD_REQUEST, Html(page)).into_response()
}

/// `base` with `params` appended as a query (after `?`, or `&` if it has
/// one already).
fn with_query(base: &str, params: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in params {
        query.append_pair(key, value);
    }
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}{}", query.finish())
}

fn redirect(location: &str) -> Response {
    (
        StatusCode::FOUND,
        [(header::LOCATION, location.to_string())],
    )
        .into_response()
}

/// `GET /{version}/dialog/oauth?client_id&redirect_uri&config_id&
/// response_type=code&override_default_response_type=true&state&
/// code_challenge&code_challenge_method&extras`.
pub async fn page(state: &AppState, query: Option<String>) -> Response {
    let params: HashMap<String, String> = query
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let param = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let (app_id, allowed) = {
        let config = state.config();
        (config.app_id.clone(), config.redirect_uris.clone())
    };
    if param("client_id") != Some(app_id.as_str()) {
        return error_page(
            "Invalid App ID",
            "The provided app ID does not look like a valid app ID.",
        );
    }
    let Some(redirect_uri) = param("redirect_uri").filter(|uri| allowed.iter().any(|a| a == uri))
    else {
        return error_page(
            "URL blocked",
            "This redirect failed because the redirect URI is not whitelisted in the app's Client OAuth Settings. Make sure Client and Web OAuth Login are on and add all your app domains as Valid OAuth Redirect URIs.",
        );
    };
    if param("response_type") != Some("code") {
        return error_page(
            "Invalid response_type",
            "Embedded Signup needs response_type=code (with override_default_response_type=true).",
        );
    }
    let Some(config_id) = param("config_id").filter(|c| c.bytes().all(|b| b.is_ascii_digit()))
    else {
        return error_page(
            "Invalid configuration",
            "The config_id is missing or is not a configuration of this app.",
        );
    };
    let challenge = match (param("code_challenge"), param("code_challenge_method")) {
        (None, None) => None,
        (None, Some(_)) => {
            return error_page(
                "Invalid PKCE parameters",
                "code_challenge_method was given without code_challenge.",
            )
        }
        // RFC 7636: the method defaults to plain.
        (Some(value), method) => {
            let method = match method.unwrap_or("plain") {
                "S256" => ChallengeMethod::S256,
                "plain" => ChallengeMethod::Plain,
                _ => {
                    return error_page(
                        "Invalid PKCE parameters",
                        "code_challenge_method must be S256 or plain.",
                    )
                }
            };
            Some(Challenge {
                value: value.to_string(),
                method,
            })
        }
    };
    // A page that sends extras Meta cannot read learns it here, not later.
    let extras: Value = match param("extras") {
        None => json!({}),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(value) if value.is_object() => value,
            _ => {
                return error_page(
                    "Invalid extras",
                    "extras must be a URL-encoded JSON object (for example {\"setup\":{},\"featureType\":\"\"}).",
                )
            }
        },
    };
    let text = |key: &str| {
        extras
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let session = Session {
        redirect_uri: redirect_uri.to_string(),
        state: param("state").map(str::to_string),
        challenge,
        config_id: config_id.to_string(),
        feature_type: text("featureType"),
        session_info_version: text("sessionInfoVersion"),
        code: None,
    };
    let id = ids::opaque(&mut state.rng(), 32);
    let mut data = signup::page_data(state);
    data["dialog"] = json!({
        "session": id,
        "app_id": app_id,
        "config_id": session.config_id,
        "feature_type": session.feature_type,
        "session_info_version": session.session_info_version,
        "cancel_url": format!("/dialog/oauth/cancel?session={id}"),
    });
    state.world().dialogs.insert(id, session);
    signup::render(&data).into_response()
}

/// The session a finish names, if it is open.
pub fn open_session(state: &AppState, id: &str) -> Option<Session> {
    state
        .world()
        .dialogs
        .get(id)
        .filter(|s| s.code.is_none())
        .cloned()
}

/// Records the code a finished dialog redirects with.
pub fn complete(state: &AppState, id: &str, code: String) {
    if let Some(session) = state.world().dialogs.get_mut(id) {
        session.code = Some(code);
    }
}

/// Where the page goes once the person finished.
pub fn continue_url(id: &str) -> String {
    format!("/dialog/oauth/continue?session={id}")
}

fn session_param(query: &HashMap<String, String>) -> String {
    query.get("session").cloned().unwrap_or_default()
}

/// Redirects to `redirect_uri?code=…&state=…` (once).
async fn finished(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let id = session_param(&query);
    let session = {
        let mut world = state.world();
        match world.dialogs.get(&id) {
            Some(s) if s.code.is_some() => world.dialogs.remove(&id),
            _ => None,
        }
    };
    let Some(session) = session else {
        return error_page(
            "Session expired",
            "This login dialog is not finished or was used already.",
        );
    };
    let code = session.code.unwrap_or_default();
    let mut params = vec![("code", code.as_str())];
    if let Some(s) = &session.state {
        params.push(("state", s));
    }
    redirect(&with_query(&session.redirect_uri, &params))
}

/// The person cancelled: Meta's manual-flow error redirect (the guide
/// lists `error_reason`, `error` and `error_description`; `error_code=200`
/// is what live redirects carry).
async fn cancelled(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let id = session_param(&query);
    let Some(session) = state.world().dialogs.remove(&id) else {
        return error_page(
            "Session expired",
            "This login dialog was finished or cancelled already.",
        );
    };
    let mut params = vec![
        ("error", "access_denied"),
        ("error_code", "200"),
        ("error_description", "Permissions error"),
        ("error_reason", "user_denied"),
    ];
    if let Some(s) = &session.state {
        params.push(("state", s));
    }
    redirect(&with_query(&session.redirect_uri, &params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_and_plain_challenges_check_their_verifier() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let s256 = Challenge {
            value: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
            method: ChallengeMethod::S256,
        };
        assert!(s256.verifies(verifier));
        assert!(!s256.verifies(&verifier.replace('d', "e")));
        let plain = Challenge {
            value: verifier.into(),
            method: ChallengeMethod::Plain,
        };
        assert!(plain.verifies(verifier));
        // Too short to be a verifier, even if it matches.
        let short = Challenge {
            value: "abc".into(),
            method: ChallengeMethod::Plain,
        };
        assert!(!short.verifies("abc"));
    }

    #[test]
    fn the_redirect_keeps_the_uris_own_query() {
        assert_eq!(
            with_query("https://a.example/cb", &[("code", "X"), ("state", "a b")]),
            "https://a.example/cb?code=X&state=a+b"
        );
        assert_eq!(
            with_query("https://a.example/cb?x=1", &[("code", "X")]),
            "https://a.example/cb?x=1&code=X"
        );
    }
}
