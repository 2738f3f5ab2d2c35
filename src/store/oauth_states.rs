//! SQL for the OAuth redirect path's `state` values: made at the start,
//! taken once by the callback. The rules live in
//! `crate::onboarding::redirect`; here the single use is one conditional
//! UPDATE whose row count decides, so two instances cannot both take one.

use super::{with_pool, Result, Store};
use crate::vault::Sealed;

/// A state as the start stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OauthState {
    pub user_id: String,
    pub workspace_id: String,
    pub business_app: bool,
    pub redirect_uri: String,
    /// The PKCE verifier, sealed; `None` once forgotten.
    pub verifier: Option<Sealed>,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// A new state to store.
#[derive(Debug, Clone)]
pub struct NewOauthState<'a> {
    pub state_hash: &'a str,
    pub user_id: &'a str,
    pub workspace_id: &'a str,
    pub business_app: bool,
    pub redirect_uri: &'a str,
    pub verifier: &'a Sealed,
    pub created_at: i64,
    pub expires_at: i64,
}

const COLUMNS: &str = "user_id, workspace_id, business_app, redirect_uri, key_id, nonce, ciphertext, created_at, expires_at, used_at";

/// A row as read, before its sealed columns become one value.
#[derive(sqlx::FromRow)]
struct Record {
    user_id: String,
    workspace_id: String,
    business_app: bool,
    redirect_uri: String,
    key_id: Option<String>,
    nonce: Option<Vec<u8>>,
    ciphertext: Option<Vec<u8>>,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
}

impl From<Record> for OauthState {
    fn from(r: Record) -> Self {
        let verifier = match (r.key_id, r.nonce, r.ciphertext) {
            (Some(key_id), Some(nonce), Some(ciphertext)) => Some(Sealed {
                key_id,
                nonce,
                ciphertext,
            }),
            _ => None,
        };
        Self {
            user_id: r.user_id,
            workspace_id: r.workspace_id,
            business_app: r.business_app,
            redirect_uri: r.redirect_uri,
            verifier,
            created_at: r.created_at,
            expires_at: r.expires_at,
            used_at: r.used_at,
        }
    }
}

/// A state still holding its sealed verifier.
#[derive(sqlx::FromRow)]
struct SealRow {
    state_hash: String,
    workspace_id: String,
    key_id: String,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
}

impl Store {
    pub async fn insert_oauth_state(&self, new: &NewOauthState<'_>) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO oauth_states (state_hash, user_id, workspace_id, business_app, redirect_uri, key_id, nonce, ciphertext, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(new.state_hash).bind(new.user_id).bind(new.workspace_id).bind(new.business_app)
            .bind(new.redirect_uri).bind(&new.verifier.key_id).bind(&new.verifier.nonce)
            .bind(&new.verifier.ciphertext).bind(new.created_at).bind(new.expires_at)
            .execute(pool).await?;
        });
        Ok(())
    }

    /// Takes the state for `user_id` in `workspace_id` if it is unused and
    /// not expired at `now`: the one statement that decides, so of two
    /// callbacks racing (on two instances) one gets the row and the other
    /// `None`. A state of someone else is left as it was.
    pub async fn take_oauth_state(
        &self,
        state_hash: &str,
        user_id: &str,
        workspace_id: &str,
        now: i64,
    ) -> Result<Option<OauthState>> {
        let sql = format!(
            "UPDATE oauth_states SET used_at = $1
             WHERE state_hash = $2 AND user_id = $3 AND workspace_id = $4 AND used_at IS NULL AND expires_at > $1
             RETURNING {COLUMNS}"
        );
        let record: Option<Record> = with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(now).bind(state_hash).bind(user_id).bind(workspace_id)
                .fetch_optional(pool).await?
        });
        Ok(record.map(OauthState::from))
    }

    /// The state as stored, to say why it could not be taken.
    pub async fn oauth_state(&self, state_hash: &str) -> Result<Option<OauthState>> {
        let sql = format!("SELECT {COLUMNS} FROM oauth_states WHERE state_hash = $1");
        let record: Option<Record> = with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(state_hash).fetch_optional(pool).await?
        });
        Ok(record.map(OauthState::from))
    }

    /// Drops the sealed verifier of a state once it has been read: a code
    /// exchange needs it once.
    pub async fn forget_oauth_verifier(&self, state_hash: &str) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE oauth_states SET key_id = NULL, nonce = NULL, ciphertext = NULL WHERE state_hash = $1")
                .bind(state_hash).execute(pool).await?;
        });
        Ok(())
    }

    /// States still holding a sealed verifier, with their workspace (for
    /// key rotation).
    pub async fn oauth_state_seals(&self) -> Result<Vec<(String, String, Sealed)>> {
        let rows: Vec<SealRow> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT state_hash, workspace_id, key_id, nonce, ciphertext FROM oauth_states
                 WHERE key_id IS NOT NULL AND nonce IS NOT NULL AND ciphertext IS NOT NULL",
            )
            .fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|row| {
                let sealed = Sealed {
                    key_id: row.key_id,
                    nonce: row.nonce,
                    ciphertext: row.ciphertext,
                };
                (row.state_hash, row.workspace_id, sealed)
            })
            .collect())
    }

    pub async fn reseal_oauth_verifier(
        &self,
        state_hash: &str,
        old: &Sealed,
        new: &Sealed,
    ) -> Result<bool> {
        let replaced = with_pool!(self, pool => {
            sqlx::query("UPDATE oauth_states SET key_id = $1, nonce = $2, ciphertext = $3 WHERE state_hash = $4 AND nonce = $5")
                .bind(&new.key_id).bind(&new.nonce).bind(&new.ciphertext).bind(state_hash).bind(&old.nonce)
                .execute(pool).await?.rows_affected()
        });
        Ok(replaced > 0)
    }
}
