//! Server side of sessions for server functions: the engine from context,
//! the session cookie, the caller, and the client's address.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use http::{header, request::Parts, HeaderValue};
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;
use switchboard::{
    accounts::{
        self, two_factor::CHALLENGE_TTL_MS, Caller, ChallengeToken, Session, SessionToken,
        SESSION_TTL_MS,
    },
    Engine,
};

use crate::errors::UiError;

pub const COOKIE: &str = "sb_session";
/// A sign-in waiting for its second factor (a few minutes at most).
pub const CHALLENGE_COOKIE: &str = "sb_sign_in";

pub fn engine() -> Result<Engine, UiError> {
    use_context::<Engine>().ok_or(UiError::Internal)
}

/// The session token from the request's cookie, if any.
pub fn token() -> Option<String> {
    token_from(&use_context::<Parts>()?.headers)
}

/// The session token from a request's headers (for plain routes).
pub fn token_from(headers: &http::HeaderMap) -> Option<String> {
    cookie_from(headers, COOKIE)
}

/// The half-done sign-in's token from the request's cookie, if any.
pub fn challenge_token() -> Option<String> {
    cookie_from(&use_context::<Parts>()?.headers, CHALLENGE_COOKIE)
}

fn cookie_from(headers: &http::HeaderMap, cookie: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == cookie)
        .map(|(_, value)| value.to_string())
}

/// The signed-in session, or 401.
pub async fn session() -> Result<(Engine, Session), UiError> {
    let engine = engine()?;
    let session = current_session(&engine)
        .await?
        .ok_or(switchboard::Error::Unauthenticated)?;
    Ok((engine, session))
}

/// The request's session, `None` when nobody is signed in (no cookie, or
/// one that ended). Read once per page render: the page's reads, the
/// layout's and the session state all run in one render and share it
/// ([`PageSession`]); a server function called from the browser reads its
/// own.
pub async fn current_session(engine: &Engine) -> Result<Option<Session>, switchboard::Error> {
    let Some(token) = token() else {
        return Ok(None);
    };
    let read = || async {
        match accounts::authenticate(&engine.store, &token, engine.config.two_factor).await {
            Ok(session) => Ok(Some(session)),
            Err(switchboard::Error::Unauthenticated) => Ok(None),
            Err(other) => Err(other),
        }
    };
    match use_context::<PageSession>() {
        Some(page) => page.0.get_or_try_init(read).await.cloned(),
        None => read().await,
    }
}

/// One page render's session, read by the first read that asks for it
/// while the others wait (a render's reads start together). Provided by
/// the shell, which only page renders draw: nothing a render does changes
/// the session, while a server function (sign in, switch workspace) may.
#[derive(Clone, Default)]
pub struct PageSession(std::sync::Arc<tokio::sync::OnceCell<Option<Session>>>);

/// Tells the open live streams of these workspaces that a membership or
/// session changed: each checks its own, and a stream that is no longer
/// allowed ends.
pub async fn tell_streams_to_recheck(engine: &Engine, workspace_ids: Vec<String>) {
    use switchboard::live::{Notice, Topic};
    let notices: Vec<Notice> = workspace_ids
        .into_iter()
        .map(|id| Notice::to_workspace(id, Topic::Members))
        .collect();
    engine.live.publish(&engine.store, notices).await;
}

/// Every workspace of a session's person.
pub fn workspaces_of(session: &accounts::Session) -> Vec<String> {
    session
        .memberships
        .iter()
        .map(|m| m.workspace.id.to_string())
        .collect()
}

/// The caller in their current workspace: 401 without a session, 403
/// without a workspace.
pub async fn caller() -> Result<(Engine, Caller), UiError> {
    let (engine, session) = session().await?;
    let caller = session.caller()?;
    Ok((engine, caller))
}

/// The caller behind a plain route's cookie (not a server function), with
/// at least `role`: 401 without a live session, 403 below the role.
pub async fn caller_of_request(
    engine: &Engine,
    headers: &http::HeaderMap,
    role: accounts::Role,
) -> Result<Caller, http::StatusCode> {
    let token = token_from(headers).ok_or(http::StatusCode::UNAUTHORIZED)?;
    let caller = accounts::authenticate(&engine.store, &token, engine.config.two_factor)
        .await
        .and_then(|session| session.caller())
        .map_err(|_| http::StatusCode::UNAUTHORIZED)?;
    caller
        .require(role)
        .map_err(|_| http::StatusCode::FORBIDDEN)?;
    Ok(caller)
}

/// Where the request came from: the direct peer, or the client a trusted
/// proxy (`TRUSTED_PROXIES`) names in `X-Forwarded-For`.
pub fn client_address() -> String {
    let Some(parts) = use_context::<Parts>() else {
        return "unknown".into();
    };
    let Some(peer) = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
    else {
        return "unknown".into();
    };
    let forwarded = parts
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    match use_context::<Engine>() {
        Some(engine) => engine.config.http.client_of(peer, forwarded).to_string(),
        None => peer.to_string(),
    }
}

fn set_cookie(value: String) {
    if let (Some(response), Ok(value)) = (
        use_context::<ResponseOptions>(),
        HeaderValue::from_str(&value),
    ) {
        response.append_header(header::SET_COOKIE, value);
    }
}

fn secure(engine: &Engine) -> &'static str {
    if engine.config.public_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    }
}

/// `HttpOnly`, `SameSite=Lax`, `Secure` when served over https, expiring
/// with the session.
pub fn set_session_cookie(engine: &Engine, token: &SessionToken) {
    set_cookie(format!(
        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        token.0,
        SESSION_TTL_MS / 1000,
        secure(engine)
    ));
}

/// Holds the half-done sign-in between the password and the code: only
/// the sign-in's own server function reads it (`SameSite=Strict`).
pub fn set_challenge_cookie(engine: &Engine, token: &ChallengeToken) {
    set_cookie(format!(
        "{CHALLENGE_COOKIE}={}; Path=/api; HttpOnly; SameSite=Strict; Max-Age={}{}",
        token.0,
        CHALLENGE_TTL_MS / 1000,
        secure(engine)
    ));
}

pub fn clear_challenge_cookie() {
    set_cookie(format!(
        "{CHALLENGE_COOKIE}=; Path=/api; HttpOnly; SameSite=Strict; Max-Age=0"
    ));
}

pub fn clear_session_cookie() {
    set_cookie(format!(
        "{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
    ));
}
