//! Access tokens on Graph calls: `Authorization: Bearer`, `Authorization:
//! OAuth` (resumable uploads) or the `access_token` query parameter.

use axum::http::HeaderMap;

use crate::{
    error::{GraphError, GraphResult},
    world::{Millis, Token, World},
};

pub fn presented_token(headers: &HeaderMap, query: &[(String, String)]) -> Option<String> {
    let from_header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("OAuth "))
        })
        .map(|t| t.trim().to_string());
    from_header.or_else(|| {
        query
            .iter()
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v.clone())
    })
}

/// The valid token behind a request, or Meta's 190 error for it.
pub fn require(world: &World, token: Option<&str>, now: Millis) -> GraphResult<Token> {
    let token = token.ok_or_else(GraphError::missing_token)?;
    let found = world
        .tokens
        .get(token)
        .ok_or_else(GraphError::unparsable_token)?;
    if found.revoked {
        return Err(GraphError::token_revoked());
    }
    if let Some(expires_at) = found.expires_at {
        if expires_at <= now {
            return Err(GraphError::token_expired(
                &describe(expires_at),
                &describe(now),
            ));
        }
    }
    Ok(found.clone())
}

/// A token check for debug_token: `is_valid` and the reason if not.
pub fn validity(token: &Token, now: Millis) -> Result<(), GraphError> {
    if token.revoked {
        return Err(GraphError::token_revoked());
    }
    match token.expires_at {
        Some(at) if at <= now => Err(GraphError::token_expired(&describe(at), &describe(now))),
        _ => Ok(()),
    }
}

fn describe(ms: Millis) -> String {
    format!("unix time {}", ms / 1000)
}
