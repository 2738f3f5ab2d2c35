//! API keys: how a workspace's own code (CRM, help desk, AI agent) calls
//! Switchboard. A key is shown once when made; only its SHA-256 is kept
//! (a key is 32 random bytes, so a fast hash is enough: there is nothing
//! to guess). Each key has scopes (send, read, privacy), a last-used time, and can
//! be revoked; making and revoking are audited.

use serde_json::json;

use crate::{
    accounts::{self, Caller, Role},
    audit,
    store::{now_millis, ApiKeyRow},
    Engine, Error,
};

pub const SEND: &str = "send";
pub const READ: &str = "read";
/// Exports and erases contacts (their data rights): more than reading.
pub const PRIVACY: &str = "privacy";
const PREFIX: &str = "sbk_";
/// Requests a key may make in a burst, and per second after it.
/// The defaults of `API_KEY_BURST` and `API_KEY_PER_SECOND`.
pub const BURST: i64 = 20;
pub const PER_SECOND: i64 = 10;
const MAX_KEYS: usize = 50;

/// Who is calling the API: a workspace, through one of its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiCaller {
    pub workspace_id: String,
    pub key_id: String,
    pub key_name: String,
    pub scopes: Vec<String>,
}

impl ApiCaller {
    pub fn may(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

fn scopes_of(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Makes a key (admins). Returns it with the key itself, shown this once.
pub async fn create(
    engine: &Engine,
    caller: &Caller,
    name: &str,
    scopes: &[&str],
) -> Result<(ApiKeyRow, String), Error> {
    caller.require(Role::Admin)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid(
            "name",
            "Give the key a name of 1 to 100 characters.",
        ));
    }
    if scopes.is_empty() || scopes.iter().any(|s| ![SEND, READ, PRIVACY].contains(s)) {
        return Err(Error::invalid(
            "scopes",
            "Choose at least one of send, read and privacy.",
        ));
    }
    if engine.store.api_keys_of(&caller.workspace.id).await?.len() >= MAX_KEYS {
        return Err(Error::invalid(
            "name",
            format!("A workspace has at most {MAX_KEYS} keys."),
        ));
    }
    let (token, _) = accounts::new_token();
    let key = format!("{PREFIX}{token}");
    let row = ApiKeyRow {
        id: format!("key_{}", uuid::Uuid::new_v4().simple()),
        workspace_id: caller.workspace.id.to_string(),
        name: name.to_string(),
        scopes: scopes.join(","),
        prefix: key.chars().take(PREFIX.len() + 6).collect(),
        created_at: now_millis(),
        last_used_at: None,
        revoked_at: None,
    };
    // The hash covers the whole key, prefix included.
    engine
        .store
        .insert_api_key(&row, &accounts::token_hash(&key), &caller.user.id)
        .await?;
    audit::record_by(
        &engine.store,
        caller,
        "api_key.created",
        json!({ "key_id": row.id, "name": row.name, "scopes": row.scopes }),
    )
    .await?;
    Ok((row, key))
}

pub async fn list(engine: &Engine, caller: &Caller) -> Result<Vec<ApiKeyRow>, Error> {
    caller.require(Role::Admin)?;
    Ok(engine.store.api_keys_of(&caller.workspace.id).await?)
}

pub async fn revoke(engine: &Engine, caller: &Caller, id: &str) -> Result<(), Error> {
    caller.require(Role::Admin)?;
    if !engine
        .store
        .revoke_api_key(&caller.workspace.id, id, now_millis())
        .await?
    {
        return Err(Error::NotFound);
    }
    audit::record_by(
        &engine.store,
        caller,
        "api_key.revoked",
        json!({ "key_id": id }),
    )
    .await?;
    Ok(())
}

/// The caller behind a bearer key, or `None` for an unknown or revoked one.
pub async fn authenticate(engine: &Engine, key: &str) -> Result<Option<ApiCaller>, Error> {
    if !key.starts_with(PREFIX) || key.len() > 200 {
        return Ok(None);
    }
    let row = engine
        .store
        .use_api_key(&accounts::token_hash(key), now_millis())
        .await?;
    Ok(row.map(|row| ApiCaller {
        scopes: scopes_of(&row.scopes),
        workspace_id: row.workspace_id,
        key_id: row.id,
        key_name: row.name,
    }))
}

/// Takes one request from the key's budget (a token bucket kept in the
/// database, so every instance draws on the same one). `Err` holds the
/// seconds until a request is allowed again.
pub async fn take_budget(
    engine: &Engine,
    key_id: &str,
    now: i64,
) -> Result<Result<(), u64>, Error> {
    const ONE: i64 = 1000;
    let (burst, per_second) = (
        engine.config.api_key_budget.burst,
        engine.config.api_key_budget.per_second,
    );
    // A lost compare-and-set means another request was served, so this
    // makes progress; the bound only guards against the unforeseen.
    for _ in 0..1000 {
        let Some(seen) = engine.store.api_key_budget(key_id).await? else {
            return Ok(Err(1));
        };
        let (milli, at) = seen;
        // Thousandths of a request earned per millisecond = per second.
        let earned = (now - at).max(0).saturating_mul(per_second);
        let available = milli.saturating_add(earned).min(burst * ONE);
        if available < ONE {
            let wait_ms = (ONE - available + per_second - 1) / per_second;
            return Ok(Err(((wait_ms + 999) / 1000).max(1) as u64));
        }
        if engine
            .store
            .set_api_key_budget(key_id, seen, (available - ONE, now.max(at)))
            .await?
        {
            return Ok(Ok(()));
        }
    }
    // Contended beyond reason: ask the caller to come back shortly.
    Ok(Err(1))
}
