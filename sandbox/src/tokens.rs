//! Token lifetimes (reference meta-2026 §6, meta-platform §3): a business
//! token from Embedded Signup never expires, unless the login
//! configuration's token expiration setting says 60 days; and the
//! exchange of a token for a fresh 60-day one,
//! `GET /oauth/access_token?grant_type=fb_exchange_token`. Whether Meta
//! refreshes business integration tokens this way is unconfirmed, so the
//! sandbox can be told to refuse it. Everything runs on the sandbox clock.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::{
    auth,
    error::{GraphError, GraphResult},
    graph::GraphRequest,
    ids,
    world::{Millis, Token, DAY_MS},
    State,
};

/// Sixty days, the lifetime of an expiring token.
pub const SIXTY_DAYS_MS: Millis = 60 * DAY_MS;

/// The login configuration's token expiration setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenExpiry {
    #[default]
    #[serde(rename = "never")]
    Never,
    #[serde(rename = "60_days")]
    SixtyDays,
}

impl TokenExpiry {
    /// When a token issued at `now` expires.
    pub fn expires_at(self, now: Millis) -> Option<Millis> {
        match self {
            Self::Never => None,
            Self::SixtyDays => Some(now + SIXTY_DAYS_MS),
        }
    }
}

/// Whether `fb_exchange_token` refreshes business tokens (unconfirmed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenRefresh {
    #[default]
    Allowed,
    Refused,
}

/// The answer to an exchange: `expires_in` (seconds) only for a token
/// that expires.
pub fn answer(token: &str, expires_at: Option<Millis>, now: Millis) -> Value {
    let mut body = json!({ "access_token": token, "token_type": "bearer" });
    if let Some(at) = expires_at {
        body["expires_in"] = json!((at - now) / 1000);
    }
    body
}

/// `grant_type=fb_exchange_token`: a new token for the same business and
/// WABAs, good for 60 days (with or without
/// `set_token_expires_in_60_days=true`). The old token stays valid until
/// its own expiry (unconfirmed for business tokens). An expired or revoked
/// token cannot be exchanged (190).
pub fn refresh(state: &State, request: &GraphRequest) -> GraphResult<Value> {
    let (app_id, app_secret, refresh) = {
        let config = state.config();
        (
            config.app_id.clone(),
            config.app_secret.clone(),
            config.token_refresh,
        )
    };
    if request.param("client_id").as_deref() != Some(app_id.as_str()) {
        return Err(GraphError::oauth(
            101,
            "Error validating application. Invalid application ID.",
        ));
    }
    if request.param("client_secret").as_deref() != Some(app_secret.as_str()) {
        return Err(GraphError::oauth(1, "Error validating client secret."));
    }
    let presented = request
        .param("fb_exchange_token")
        .ok_or_else(|| GraphError::oauth(100, "Missing required parameter: fb_exchange_token"))?;
    let now = state.clock.now();
    let mut world = state.world();
    let old = world
        .tokens
        .get(&presented)
        .cloned()
        .ok_or_else(GraphError::unparsable_token)?;
    auth::validity(&old, now)?;
    if refresh == TokenRefresh::Refused {
        // Meta's answer for a token it will not exchange is unconfirmed.
        return Err(GraphError::invalid_parameter(
            "fb_exchange_token cannot be exchanged: business integration system user tokens are not refreshable",
        ));
    }
    let token = ids::token(&mut state.rng());
    let expires_at = Some(now + SIXTY_DAYS_MS);
    world.tokens.insert(
        token.clone(),
        Token {
            issued_at: now,
            expires_at,
            revoked: false,
            ..old
        },
    );
    Ok(answer(&token, expires_at, now))
}
