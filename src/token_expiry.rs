//! Tokens that expire. Embedded Signup can issue business tokens that last
//! 60 days (meta-2026 §6). From [`WINDOW_DAYS`] days before its end, each
//! such token is refreshed with Meta (`fb_exchange_token`). Whether Meta
//! refreshes business tokens is unconfirmed, so when it refuses, or the
//! token has expired already (Meta cannot extend those), the workspace's
//! admins are warned at 14, 7 and 1 days before the end, each once per
//! token: an audit entry, a `number.token_expiring` event for the
//! workspace's endpoints, and a banner. Connecting the number again
//! (Embedded Signup) stores a new token, which clears them.
//!
//! One instance looks at each token per `TOKEN_REFRESH_INTERVAL_SECS` (a
//! claim in the schema), and each warning is a compare-and-set on the
//! token's row, so neither several instances nor a restart warn twice.
//! Never logs a token, nor keeps Meta's words if they repeat one.

use std::time::Duration;

use serde_json::json;

use crate::{
    accounts::{Caller, Role},
    graph::{GraphError, TokenGrant},
    outgoing_webhooks::{self, TokenExpiring},
    secret::Secret,
    store::{self, now_millis, token_expiry, ExpiringTokenRow, RefreshedToken, StoredToken},
    tokens::{number_binding, seal_for_number},
    worker::{self, Step, Stop},
    Engine, Error,
};

/// A token is looked at from this many days before its end.
pub const WINDOW_DAYS: i64 = 14;
/// The warnings, in days before the end: each is given once per token.
pub const WARN_AT_DAYS: [i64; 3] = [14, 7, 1];

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// After Meta refused a refresh, it is asked again after this long (the
/// warnings do not wait for it).
const ASK_AGAIN_AFTER_MS: i64 = DAY_MS;
/// Tokens looked at per step; the rest wait for the next.
const BATCH: i64 = 20;
/// How often the worker looks for tokens due a look, at most.
const LOOK_EVERY: Duration = Duration::from_secs(60);

/// The warning due for a token ending at `expires_at` (Unix ms) at `now`:
/// the smallest of [`WARN_AT_DAYS`] that is at least the time left (an
/// expired token gets the last). `None` while more than 14 days are left.
pub fn warning_due(expires_at: i64, now: i64) -> Option<i64> {
    let left = expires_at.saturating_sub(now);
    WARN_AT_DAYS
        .iter()
        .rev()
        .copied()
        .find(|days| left <= days * DAY_MS)
}

/// Whole days left until `expires_at`; 0 when less than one, or none.
pub fn days_left(expires_at: i64, now: i64) -> i64 {
    expires_at.saturating_sub(now).max(0) / DAY_MS
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpiryReport {
    /// Tokens this instance took up.
    pub checked: usize,
    /// Numbers whose token was refreshed.
    pub refreshed: Vec<String>,
    /// Warnings given: the number and the warning (14, 7 or 1).
    pub warned: Vec<(String, i64)>,
    /// Tokens Meta could not be asked about (unreachable, its 5xx): looked
    /// at again next time; nothing is lost meanwhile.
    pub skipped: usize,
}

/// The worker: every minute (at most), the tokens due a look.
pub async fn run(engine: Engine, stop: Stop) {
    let every = Duration::from_secs(engine.config.token_refresh_interval_secs).min(LOOK_EVERY);
    worker::run_loop(stop, None, every, Looks { engine }).await;
}

struct Looks {
    engine: Engine,
}

impl worker::Work for Looks {
    async fn step(&mut self) -> Step {
        match check_due(&self.engine, now_millis()).await {
            Ok(report) => {
                if !report.refreshed.is_empty() || !report.warned.is_empty() {
                    tracing::info!(
                        checked = report.checked,
                        refreshed = report.refreshed.len(),
                        warned = report.warned.len(),
                        skipped = report.skipped,
                        "expiring tokens looked at"
                    );
                }
                Step::busy_if(report.checked as i64 == BATCH)
            }
            Err(error) => {
                tracing::warn!(%error, "cannot look at the expiring tokens");
                Step::Idle
            }
        }
    }
}

/// Looks at the tokens that end within [`WINDOW_DAYS`] of `now` (Unix ms)
/// and were not looked at for `TOKEN_REFRESH_INTERVAL_SECS`: each is
/// refreshed, or its admins are warned. `now` is a parameter so that a
/// test can run it days ahead.
pub async fn check_due(engine: &Engine, now: i64) -> Result<ExpiryReport, store::Error> {
    let interval_ms = (engine.config.token_refresh_interval_secs as i64).saturating_mul(1000);
    let stale_before = now.saturating_sub(interval_ms);
    let horizon = now.saturating_add(WINDOW_DAYS * DAY_MS);
    let mut report = ExpiryReport::default();
    for phone in engine
        .store
        .tokens_expiring(horizon, stale_before, BATCH)
        .await?
    {
        // Several instances: one takes each token up.
        if !engine
            .store
            .claim_token_expiry(&phone, stale_before, now)
            .await?
        {
            continue;
        }
        // Read after the claim: a reconnect before it brought a new token.
        let Some(stored) = engine.store.number_token(&phone).await? else {
            continue;
        };
        let Some(expires_at) = stored.expires_at.filter(|at| *at <= horizon) else {
            continue;
        };
        report.checked += 1;
        match look_at(engine, &stored, expires_at, now).await? {
            Look::Refreshed => report.refreshed.push(phone),
            Look::Skipped => report.skipped += 1,
            Look::NotRefreshed(reason) => {
                if let Some(days) = warn(engine, &stored, expires_at, &reason, now).await? {
                    report.warned.push((phone, days));
                }
            }
        }
    }
    Ok(report)
}

/// What looking at one token came to.
enum Look {
    Refreshed,
    /// Meta was not asked (or did not answer): next time.
    Skipped,
    /// It could not be refreshed, for this reason.
    NotRefreshed(String),
}

async fn look_at(
    engine: &Engine,
    stored: &StoredToken,
    expires_at: i64,
    now: i64,
) -> Result<Look, store::Error> {
    let phone = stored.phone_number_id.as_str();
    if expires_at <= now {
        return Ok(Look::NotRefreshed(format!(
            "the token expired on {} UTC, and Meta cannot extend an expired token",
            rules::time::format_time(expires_at)
        )));
    }
    if let Some((reason, at)) = &stored.refresh_refused {
        if now < at.saturating_add(ASK_AGAIN_AFTER_MS) {
            return Ok(Look::NotRefreshed(reason.clone()));
        }
    }
    let token = match engine
        .vault
        .open(&stored.sealed, &number_binding(&stored.workspace_id, phone))
    {
        Ok(token) => token,
        Err(error) => return Ok(Look::NotRefreshed(error.to_string())),
    };
    let refreshed = match refresh(engine, &token, now).await {
        Ok(refreshed) => refreshed,
        Err(Refusal::Transient(error)) => {
            tracing::warn!(phone_number_id = %phone, %error, "token refresh skipped: Meta did not answer");
            return Ok(Look::Skipped);
        }
        Err(Refusal::Refused(reason)) => {
            let reason = without(&reason, &token);
            tracing::warn!(phone_number_id = %phone, reason, "Meta would not refresh the token");
            engine
                .store
                .record_refresh_refused(phone, stored.stored_at, &reason, now)
                .await?;
            return Ok(Look::NotRefreshed(reason));
        }
    };
    let sealed = seal_for_number(
        &engine.vault,
        &stored.workspace_id,
        phone,
        &refreshed.grant.access_token,
    );
    let new = RefreshedToken {
        phone_number_id: phone,
        replaces_stored_at: stored.stored_at,
        sealed: &sealed,
        token_type: refreshed.token_type.as_deref(),
        scopes: &refreshed.scopes,
        expires_at: refreshed.expires_at,
        issued_at: refreshed.issued_at,
    };
    let detail = json!({
        "phone_number_id": phone,
        "previous_expires_at": expires_at,
        "expires_at": refreshed.expires_at,
    });
    let mut tx = engine.store.begin().await?;
    if !token_expiry::replace_refreshed_token(&mut tx, &new, now).await? {
        // A reconnect stored another token meanwhile: it wins.
        return Ok(Look::Skipped);
    }
    store::audit::insert_unattended(
        &mut tx,
        &stored.workspace_id,
        "number.token_refreshed",
        &detail.to_string(),
        now,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(phone_number_id = %phone, "access token refreshed with Meta");
    Ok(Look::Refreshed)
}

/// A fresh token from Meta, with what `debug_token` says of it.
struct Refreshed {
    grant: TokenGrant,
    token_type: Option<String>,
    scopes: Vec<String>,
    expires_at: Option<i64>,
    issued_at: Option<i64>,
}

enum Refusal {
    /// Meta said no, or answered with a token no better than the old.
    Refused(String),
    /// No answer worth acting on: try again next time.
    Transient(GraphError),
}

/// Asks Meta for a fresh token, and what `debug_token` says of it (its
/// `expires_at` is the word; the exchange's `expires_in` stands in when
/// Meta cannot be asked). A token that would end within the window again
/// is no refresh.
async fn refresh(engine: &Engine, token: &Secret<String>, now: i64) -> Result<Refreshed, Refusal> {
    let grant = match engine.graph.refresh_token(token).await {
        Ok(grant) => grant,
        Err(error) if error.is_transient() => return Err(Refusal::Transient(error)),
        Err(error) => {
            return Err(Refusal::Refused(format!(
                "Meta refused to refresh it: {error}"
            )))
        }
    };
    let by_answer = grant
        .expires_in
        .map(|secs| now.saturating_add(secs.saturating_mul(1000)));
    let mut refreshed = Refreshed {
        token_type: grant.token_type.clone(),
        scopes: Vec::new(),
        expires_at: by_answer,
        issued_at: Some(now),
        grant,
    };
    match engine
        .graph
        .debug_token(&refreshed.grant.access_token)
        .await
    {
        Ok(info) if info.is_valid => {
            refreshed.expires_at = info.expires_at.map(|secs| secs.saturating_mul(1000));
            refreshed.issued_at = info.issued_at.map(|secs| secs.saturating_mul(1000));
            refreshed.token_type = info.token_type.or(refreshed.token_type);
            refreshed.scopes = info.scopes;
        }
        Ok(info) => {
            return Err(Refusal::Refused(format!(
                "Meta's new token is not valid: {}",
                info.error.unwrap_or_else(|| "no reason given".into())
            )))
        }
        Err(error) => {
            tracing::warn!(%error, "cannot check the refreshed token; keeping the answer's expiry");
        }
    }
    if let Some(at) = refreshed.expires_at {
        if at <= now.saturating_add(WINDOW_DAYS * DAY_MS) {
            return Err(Refusal::Refused(format!(
                "Meta's new token would end on {} UTC, within {WINDOW_DAYS} days as well",
                rules::time::format_time(at)
            )));
        }
    }
    Ok(refreshed)
}

/// `text` with every occurrence of the token masked: Meta's words are
/// kept and shown, and must never carry it.
fn without(text: &str, token: &Secret<String>) -> String {
    let token = token.expose();
    if token.is_empty() {
        return text.to_string();
    }
    text.replace(token.as_str(), "[token]")
}

/// Gives the warning due now for the token, unless it was given already
/// (by this instance or another): the audit entry and the endpoints'
/// events in one transaction with its record. Returns the warning given.
async fn warn(
    engine: &Engine,
    stored: &StoredToken,
    expires_at: i64,
    reason: &str,
    now: i64,
) -> Result<Option<i64>, store::Error> {
    let Some(days) = warning_due(expires_at, now) else {
        return Ok(None);
    };
    // Cheap to check first, and a warning given needs no more reads.
    if stored.expiry_warned_days.is_some_and(|given| given <= days) {
        return Ok(None);
    }
    let phone = stored.phone_number_id.as_str();
    let display = engine
        .store
        .number(&phone.into())
        .await?
        .and_then(|n| n.display_phone_number);
    let endpoints = engine.store.endpoint_ids_of(&stored.workspace_id).await?;
    let data = TokenExpiring {
        phone_number_id: phone.to_string(),
        display_phone_number: display,
        expires_at,
        days_left: days_left(expires_at, now),
        warning_days: days,
        refresh_refused: reason.to_string(),
    };
    let detail = json!({
        "phone_number_id": phone,
        "expires_at": expires_at,
        "days_left": data.days_left,
        "warning_days": days,
        "refresh_refused": reason,
    });
    let (event_id, event_type, payload) =
        outgoing_webhooks::token_expiring(stored.stored_at, data, now);
    let payload = payload.to_string();

    let mut tx = engine.store.begin().await?;
    if !token_expiry::mark_expiry_warned(&mut tx, phone, stored.stored_at, days).await? {
        return Ok(None);
    }
    store::audit::insert_unattended(
        &mut tx,
        &stored.workspace_id,
        "number.token_expiring",
        &detail.to_string(),
        now,
    )
    .await?;
    // Due at once by the clock the delivery worker reads (`now` may be a
    // test's, days ahead).
    let due = now_millis().min(now);
    for endpoint_id in &endpoints {
        let delivery = store::outgoing_webhooks::NewDelivery {
            endpoint_id,
            workspace_id: &stored.workspace_id,
            event_id: &event_id,
            event_type,
            payload: &payload,
        };
        store::outgoing_webhooks::enqueue_delivery(&mut tx, &delivery, due).await?;
    }
    tx.commit().await?;
    engine
        .live
        .wake_everywhere(crate::live::Wake::Deliveries)
        .await;
    // The admins' banner.
    let notice =
        crate::live::Notice::to_workspace(&stored.workspace_id, crate::live::Topic::Numbers);
    engine.live.publish(&engine.store, [notice]).await;
    tracing::warn!(
        phone_number_id = %phone,
        days_left = days_left(expires_at, now),
        warning_days = days,
        "the number's access token ends soon and could not be refreshed"
    );
    Ok(Some(days))
}

/// The workspace's numbers its admins were warned about, for the banner
/// (never the token). Admins only: they are the ones who can connect a
/// number again.
pub async fn warnings(engine: &Engine, caller: &Caller) -> Result<Vec<ExpiringTokenRow>, Error> {
    caller.require(Role::Admin)?;
    Ok(engine
        .store
        .expiring_tokens_of(&caller.workspace.id)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn each_warning_is_due_from_its_day_until_the_next() {
        let at = |days: f64| NOW + (days * DAY_MS as f64) as i64;
        assert_eq!(warning_due(at(60.0), NOW), None);
        assert_eq!(warning_due(at(14.01), NOW), None);
        assert_eq!(warning_due(at(14.0), NOW), Some(14));
        assert_eq!(warning_due(at(7.5), NOW), Some(14));
        assert_eq!(warning_due(at(7.0), NOW), Some(7));
        assert_eq!(warning_due(at(1.5), NOW), Some(7));
        assert_eq!(warning_due(at(1.0), NOW), Some(1));
        assert_eq!(warning_due(at(0.1), NOW), Some(1));
        assert_eq!(warning_due(at(-3.0), NOW), Some(1), "expired: the last");
    }

    #[test]
    fn days_left_are_whole_days_never_negative() {
        assert_eq!(days_left(NOW + 13 * DAY_MS + 5, NOW), 13);
        assert_eq!(days_left(NOW + DAY_MS - 1, NOW), 0);
        assert_eq!(days_left(NOW - 5 * DAY_MS, NOW), 0);
        assert_eq!(days_left(i64::MAX, i64::MIN), i64::MAX / DAY_MS);
    }

    #[test]
    fn a_token_in_meta_s_words_is_masked() {
        let token = Secret::new("EAAGsecret123".to_string());
        assert_eq!(
            without("Invalid token EAAGsecret123 (code 190)", &token),
            "Invalid token [token] (code 190)"
        );
        assert_eq!(
            without("no token here", &Secret::new(String::new())),
            "no token here"
        );
    }
}
