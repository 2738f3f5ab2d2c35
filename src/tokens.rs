//! Numbers' access tokens: sealing them for their row, opening them for a
//! call, watching their health, and moving them to a new key. Refreshing
//! those that expire is `token_expiry`'s.

use std::time::{Duration, Instant};

use crate::{
    graph::GraphError,
    numbers,
    secret::Secret,
    store::{self, now_millis, StoredToken},
    vault::{binding, KeyRing, Sealed, VaultError},
    worker::{self, Step, Stop},
    Engine,
};

pub fn number_binding(workspace_id: &str, phone_number_id: &str) -> Vec<u8> {
    binding(workspace_id, &format!("number:{phone_number_id}"))
}

pub fn onboarding_binding(workspace_id: &str, onboarding_id: &str) -> Vec<u8> {
    binding(workspace_id, &format!("onboarding:{onboarding_id}"))
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the number has no stored token; connect it again")]
    Missing,
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// The number's token in clear, for one Graph call.
pub async fn open_number_token(
    engine: &Engine,
    phone_number_id: &str,
) -> Result<Secret<String>, TokenError> {
    let stored = engine
        .store
        .number_token(phone_number_id)
        .await?
        .ok_or(TokenError::Missing)?;
    Ok(engine.vault.open(
        &stored.sealed,
        &number_binding(&stored.workspace_id, phone_number_id),
    )?)
}

/// What one health check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthReport {
    pub checked: usize,
    pub healthy: usize,
    /// Numbers newly flagged "reconnect needed".
    pub flagged: Vec<String>,
    /// Checks that could not run (Meta unreachable): tried again next time.
    pub skipped: usize,
}

/// Why a token needs the business to reconnect, or `None` if it is fine.
/// A token that still works is fine however soon it ends: the expiry
/// worker (`token_expiry`) refreshes it, or warns the admins.
pub fn token_problem(info: &crate::graph::TokenInfo, now: i64) -> Option<String> {
    if !info.is_valid {
        return Some(match &info.error {
            Some(error) => format!("Meta says the access token is no longer valid: {error}"),
            None => "Meta says the access token is no longer valid".into(),
        });
    }
    let missing = info.missing_scopes();
    if !missing.is_empty() {
        return Some(format!(
            "the access token lost the permission {}",
            missing.join(", ")
        ));
    }
    match info.expires_at {
        Some(at) if at.saturating_mul(1000) <= now => Some(format!(
            "the access token expired on {} UTC; reconnect to get a new one",
            rules::time::format_time(at.saturating_mul(1000))
        )),
        _ => None,
    }
}

/// The token health worker: checks every token each
/// `TOKEN_HEALTH_INTERVAL_SECS`, the first time a minute after start-up so
/// that a restart loop does not hammer Meta.
pub async fn run_health_checks(engine: Engine, stop: Stop) {
    let every = Duration::from_secs(engine.config.token_health_interval_secs);
    let first_wait = Duration::from_secs(60).min(every);
    let checks = HealthChecks {
        engine,
        every,
        next: Instant::now() + first_wait,
    };
    worker::run_loop(stop, None, first_wait, checks).await;
}

struct HealthChecks {
    engine: Engine,
    every: Duration,
    next: Instant,
}

impl worker::Work for HealthChecks {
    async fn step(&mut self) -> Step {
        if Instant::now() < self.next {
            return Step::Idle;
        }
        match check_health(&self.engine).await {
            Ok(report) => tracing::info!(
                checked = report.checked,
                healthy = report.healthy,
                flagged = report.flagged.len(),
                skipped = report.skipped,
                "token health checked"
            ),
            Err(error) => tracing::warn!(%error, "token health check failed"),
        }
        self.next = Instant::now() + self.every;
        Step::Idle
    }
}

/// Checks every live number's token with `debug_token` and flags those
/// that are invalid, revoked, lost a permission or expired.
pub async fn check_health(engine: &Engine) -> Result<HealthReport, store::Error> {
    let mut report = HealthReport::default();
    for stored in engine.store.live_number_tokens().await? {
        report.checked += 1;
        let now = now_millis();
        let problem = match check_one(engine, &stored).await {
            Ok(Ok(info)) => {
                let problem = token_problem(&info, now);
                engine
                    .store
                    .record_token_check(
                        &stored.phone_number_id,
                        stored.stored_at,
                        info.expires_at.map(|s| s * 1000),
                        problem.as_deref(),
                        now,
                    )
                    .await?;
                problem
            }
            Ok(Err(vault_error)) => Some(vault_error.to_string()),
            Err(error) if error.is_token_problem() => {
                Some(format!("Meta refused the token: {error}"))
            }
            Err(error) => {
                tracing::warn!(phone_number_id = %stored.phone_number_id, %error, "token check skipped");
                report.skipped += 1;
                continue;
            }
        };
        match problem {
            None => report.healthy += 1,
            Some(reason) => {
                if numbers::flag_reconnect(engine, &stored.phone_number_id.as_str().into(), &reason)
                    .await?
                {
                    report.flagged.push(stored.phone_number_id.clone());
                }
            }
        }
    }
    Ok(report)
}

async fn check_one(
    engine: &Engine,
    stored: &StoredToken,
) -> Result<Result<crate::graph::TokenInfo, VaultError>, GraphError> {
    let token = match engine.vault.open(
        &stored.sealed,
        &number_binding(&stored.workspace_id, &stored.phone_number_id),
    ) {
        Ok(token) => token,
        Err(error) => return Ok(Err(error)),
    };
    engine.graph.debug_token(&token).await.map(Ok)
}

/// What a key rotation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotationReport {
    pub resealed: usize,
    pub already_current: usize,
}

/// Seals every stored token again under the ring's active key. Safe while
/// the server runs: each row is replaced only if it is still the one read.
pub async fn rotate_keys(
    store: &store::Store,
    ring: &KeyRing,
) -> Result<RotationReport, TokenError> {
    let mut report = RotationReport::default();
    for stored in store.all_number_tokens().await? {
        let bound = number_binding(&stored.workspace_id, &stored.phone_number_id);
        match ring.reseal(&stored.sealed, &bound)? {
            None => report.already_current += 1,
            Some(new) => {
                if store
                    .reseal_number_token(&stored.phone_number_id, &stored.sealed, &new)
                    .await?
                {
                    report.resealed += 1;
                }
            }
        }
    }
    for (id, workspace_id, sealed) in store.onboarding_seals().await? {
        let bound = onboarding_binding(&workspace_id, &id);
        match ring.reseal(&sealed, &bound)? {
            None => report.already_current += 1,
            Some(new) => {
                if store.reseal_onboarding_token(&id, &sealed, &new).await? {
                    report.resealed += 1;
                }
            }
        }
    }
    // Outgoing webhooks' signing secrets, current and previous.
    for endpoint in store.all_endpoints().await? {
        let bound =
            crate::outgoing_webhooks::endpoint_binding(&endpoint.workspace_id, &endpoint.id);
        let sealed = std::iter::once((false, &endpoint.secret))
            .chain(endpoint.previous.as_ref().map(|(sealed, _)| (true, sealed)));
        for (previous, sealed) in sealed {
            match ring.reseal(sealed, &bound)? {
                None => report.already_current += 1,
                Some(new) => {
                    if store
                        .reseal_endpoint_secret(&endpoint.id, previous, sealed, &new)
                        .await?
                    {
                        report.resealed += 1;
                    }
                }
            }
        }
    }
    // Two-factor secrets of people.
    for (user_id, sealed) in store.second_factor_seals().await? {
        let bound = crate::accounts::two_factor::secret_binding(&user_id);
        match ring.reseal(&sealed, &bound)? {
            None => report.already_current += 1,
            Some(new) => {
                if store.reseal_second_factor(&user_id, &sealed, &new).await? {
                    report.resealed += 1;
                }
            }
        }
    }
    // PKCE verifiers of OAuth redirects still under way.
    for (state_hash, workspace_id, sealed) in store.oauth_state_seals().await? {
        let bound = crate::onboarding::redirect::verifier_binding(&workspace_id, &state_hash);
        match ring.reseal(&sealed, &bound)? {
            None => report.already_current += 1,
            Some(new) => {
                if store
                    .reseal_oauth_verifier(&state_hash, &sealed, &new)
                    .await?
                {
                    report.resealed += 1;
                }
            }
        }
    }
    Ok(report)
}

/// Refuses a key ring that lacks a key some stored token was sealed with:
/// better a clear start-up error than tokens that fail one by one later.
pub async fn check_key_ring(store: &store::Store, ring: &KeyRing) -> Result<(), TokenError> {
    for key_id in store.token_key_ids().await? {
        if !ring.has_key(&key_id) {
            return Err(VaultError::UnknownKey(key_id).into());
        }
    }
    Ok(())
}

/// Seals a token for a number's row.
pub fn seal_for_number(
    ring: &KeyRing,
    workspace_id: &str,
    phone_number_id: &str,
    token: &Secret<String>,
) -> Sealed {
    ring.seal(
        token.expose(),
        &number_binding(workspace_id, phone_number_id),
    )
}
