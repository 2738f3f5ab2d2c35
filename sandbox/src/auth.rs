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

/// How long a time-stamped proof holds (Meta: 5 minutes).
const PROOF_LIFETIME_SECS: i64 = 300;

/// What a call presented of `appsecret_proof`.
pub struct Proof<'a> {
    pub proof: Option<&'a str>,
    /// `appsecret_time` (Unix seconds), for the time-stamped form.
    pub time: Option<&'a str>,
}

/// `hex(HMAC-SHA256(app secret, message))`.
fn hmac_hex(secret: &str, message: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Meta's check of `appsecret_proof` on a call made with `token`: a proof
/// that is given must be right (classic: over the token; time-stamped: over
/// `token|time`, within 5 minutes), whether or not the app requires one;
/// with *Require App Secret* on, a call without one is refused. The time
/// is checked against the real clock, not the sandbox's (which tests move
/// on to expire windows and tokens, while the client's clock stays put).
pub fn check_proof(
    secret: &str,
    token: &str,
    presented: &Proof<'_>,
    required: bool,
    now_secs: i64,
) -> GraphResult<()> {
    let Some(proof) = presented.proof else {
        return if required {
            Err(GraphError::proof_required())
        } else {
            Ok(())
        };
    };
    let expected = match presented.time {
        None => hmac_hex(secret, token),
        Some(time) => {
            let at: i64 = time.parse().map_err(|_| GraphError::proof_invalid())?;
            if now_secs.abs_diff(at) > PROOF_LIFETIME_SECS as u64 {
                return Err(GraphError::proof_invalid());
            }
            hmac_hex(secret, &format!("{token}|{time}"))
        }
    };
    if proof.eq_ignore_ascii_case(&expected) {
        Ok(())
    } else {
        Err(GraphError::proof_invalid())
    }
}
