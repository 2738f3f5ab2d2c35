//! SQL for tokens that expire: which are due a look, the claim that gives
//! each to one instance, a refreshed token in place of the old one, Meta's
//! refusals, and the warnings given (once per threshold and token).
//!
//! Every write names the token it is about by its `stored_at`, so one
//! meant for a token a reconnect (or a refresh) has replaced lands nowhere.

use super::{with_pool, with_tx, NumberStatus, Result, Store, Tx};
use crate::vault::Sealed;

/// A refreshed token, to take the place of the one stored at
/// `replaces_stored_at`.
#[derive(Debug, Clone)]
pub struct RefreshedToken<'a> {
    pub phone_number_id: &'a str,
    pub replaces_stored_at: i64,
    pub sealed: &'a Sealed,
    pub token_type: Option<&'a str>,
    /// Meta's scopes for it; empty keeps those stored.
    pub scopes: &'a [String],
    /// Unix ms; `None` for a token that never expires.
    pub expires_at: Option<i64>,
    pub issued_at: Option<i64>,
}

/// A number whose admins were warned that its token ends soon.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ExpiringTokenRow {
    pub phone_number_id: String,
    pub display_phone_number: Option<String>,
    /// Unix ms.
    pub expires_at: i64,
    /// Why it was not refreshed, when Meta said.
    pub refresh_refused: Option<String>,
    /// The last warning given: 14, 7 or 1 days before the end.
    pub expiry_warned_days: i64,
}

/// The last warning given for the token stored at `stored_at` becomes
/// `days`, if it was none or a larger one; returns whether it changed
/// (then the caller gives the warning, in the same transaction).
pub(crate) async fn mark_expiry_warned(
    tx: &mut Tx<'_>,
    phone_number_id: &str,
    stored_at: i64,
    days: i64,
) -> Result<bool> {
    Ok(with_tx!(tx, conn => {
        sqlx::query(
            "UPDATE number_tokens SET expiry_warned_days = $1
             WHERE phone_number_id = $2 AND stored_at = $3
               AND (expiry_warned_days IS NULL OR expiry_warned_days > $1)",
        )
        .bind(days).bind(phone_number_id).bind(stored_at)
        .execute(conn).await?.rows_affected() == 1
    }))
}

/// Puts a refreshed token in place of the one it replaces, clearing what
/// was said about the old one; `false` (and nothing written) if that one
/// is no longer stored.
pub(crate) async fn replace_refreshed_token(
    tx: &mut Tx<'_>,
    token: &RefreshedToken<'_>,
    now: i64,
) -> Result<bool> {
    let scopes = token.scopes.join(",");
    Ok(with_tx!(tx, conn => {
        sqlx::query(
            "UPDATE number_tokens SET key_id = $1, nonce = $2, ciphertext = $3,
                 token_type = COALESCE($4, token_type),
                 scopes = CASE WHEN $5 = '' THEN scopes ELSE $5 END,
                 expires_at = $6, issued_at = $7, stored_at = $8, problem = NULL,
                 refresh_refused = NULL, refresh_refused_at = NULL, expiry_warned_days = NULL,
                 expiry_checked_at = $8
             WHERE phone_number_id = $9 AND stored_at = $10",
        )
        .bind(&token.sealed.key_id).bind(&token.sealed.nonce).bind(&token.sealed.ciphertext)
        .bind(token.token_type).bind(&scopes).bind(token.expires_at).bind(token.issued_at)
        .bind(now).bind(token.phone_number_id).bind(token.replaces_stored_at)
        .execute(conn).await?.rows_affected() == 1
    }))
}

impl Store {
    /// Numbers whose token ends before `horizon` (Unix ms) and has not
    /// been looked at since `stale_before`, soonest first, at most `limit`.
    /// Disconnected numbers have no token; numbers waiting for a reconnect
    /// already say so.
    pub async fn tokens_expiring(
        &self,
        horizon: i64,
        stale_before: i64,
        limit: i64,
    ) -> Result<Vec<String>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT t.phone_number_id FROM number_tokens t
                 JOIN whatsapp_numbers n ON n.phone_number_id = t.phone_number_id
                 WHERE t.expires_at IS NOT NULL AND t.expires_at <= $1
                   AND COALESCE(t.expiry_checked_at, 0) < $2
                   AND n.status NOT IN ($3, $4)
                 ORDER BY t.expires_at, t.phone_number_id LIMIT $5",
            )
            .bind(horizon).bind(stale_before)
            .bind(NumberStatus::Disconnected).bind(NumberStatus::ReconnectNeeded)
            .bind(limit).fetch_all(pool).await?
        }))
    }

    /// Takes the number's token up for a look, unless another instance (or
    /// this one) did since `stale_before`. A compare-and-set: of several
    /// instances, one gets it.
    pub async fn claim_token_expiry(
        &self,
        phone_number_id: &str,
        stale_before: i64,
        now: i64,
    ) -> Result<bool> {
        Ok(with_pool!(self, pool => {
            sqlx::query(
                "UPDATE number_tokens SET expiry_checked_at = $1
                 WHERE phone_number_id = $2 AND COALESCE(expiry_checked_at, 0) < $3",
            )
            .bind(now).bind(phone_number_id).bind(stale_before)
            .execute(pool).await?.rows_affected() == 1
        }))
    }

    /// Meta refused to refresh the token stored at `stored_at`, saying
    /// `reason`.
    pub async fn record_refresh_refused(
        &self,
        phone_number_id: &str,
        stored_at: i64,
        reason: &str,
        now: i64,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "UPDATE number_tokens SET refresh_refused = $1, refresh_refused_at = $2
                 WHERE phone_number_id = $3 AND stored_at = $4",
            )
            .bind(reason).bind(now).bind(phone_number_id).bind(stored_at)
            .execute(pool).await?;
        });
        Ok(())
    }

    /// The workspace's numbers whose admins were warned about their
    /// current token (a new token clears it), soonest first; not those
    /// disconnected or already waiting for a reconnect (their own banner
    /// says so).
    pub async fn expiring_tokens_of(&self, workspace_id: &str) -> Result<Vec<ExpiringTokenRow>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT t.phone_number_id, n.display_phone_number, t.expires_at, t.refresh_refused, t.expiry_warned_days
                 FROM number_tokens t JOIN whatsapp_numbers n ON n.phone_number_id = t.phone_number_id
                 WHERE n.workspace_id = $1 AND t.expiry_warned_days IS NOT NULL AND t.expires_at IS NOT NULL
                   AND n.status NOT IN ($2, $3)
                 ORDER BY t.expires_at, t.phone_number_id",
            )
            .bind(workspace_id).bind(NumberStatus::Disconnected).bind(NumberStatus::ReconnectNeeded)
            .fetch_all(pool).await?
        }))
    }
}
