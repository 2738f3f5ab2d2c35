//! SQL for workspaces' API keys (hashes only).

use super::{with_pool, Result, Store};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub scopes: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

const COLUMNS: &str =
    "id, workspace_id, name, scopes, prefix, created_at, last_used_at, revoked_at";

impl Store {
    pub async fn insert_api_key(
        &self,
        row: &ApiKeyRow,
        hash: &str,
        created_by: &str,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO api_keys (id, workspace_id, name, scopes, prefix, hash, created_by, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&row.id).bind(&row.workspace_id).bind(&row.name).bind(&row.scopes)
            .bind(&row.prefix).bind(hash).bind(created_by).bind(row.created_at)
            .execute(pool).await?;
        });
        Ok(())
    }

    pub async fn api_keys_of(&self, workspace_id: &str) -> Result<Vec<ApiKeyRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM api_keys WHERE workspace_id = $1 ORDER BY created_at, id"
        );
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(workspace_id).fetch_all(pool).await?
        }))
    }

    /// The live key with this hash, marked used now.
    pub async fn use_api_key(&self, hash: &str, now: i64) -> Result<Option<ApiKeyRow>> {
        let sql = format!(
            "UPDATE api_keys SET last_used_at = $1 WHERE hash = $2 AND revoked_at IS NULL RETURNING {COLUMNS}"
        );
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(now).bind(hash).fetch_optional(pool).await?
        }))
    }

    pub async fn revoke_api_key(&self, workspace_id: &str, id: &str, now: i64) -> Result<bool> {
        Ok(with_pool!(self, pool => {
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE workspace_id = $2 AND id = $3 AND revoked_at IS NULL")
                .bind(now).bind(workspace_id).bind(id)
                .execute(pool).await?.rows_affected() == 1
        }))
    }

    /// A key's budget: (thousandths of a request left, as of when).
    pub async fn api_key_budget(&self, key_id: &str) -> Result<Option<(i64, i64)>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as("SELECT budget_milli, budget_at FROM api_keys WHERE id = $1")
                .bind(key_id).fetch_optional(pool).await?
        }))
    }

    /// Sets a key's budget if nobody changed it since `seen` was read.
    pub async fn set_api_key_budget(
        &self,
        key_id: &str,
        seen: (i64, i64),
        new: (i64, i64),
    ) -> Result<bool> {
        Ok(with_pool!(self, pool => {
            sqlx::query("UPDATE api_keys SET budget_milli = $1, budget_at = $2 WHERE id = $3 AND budget_milli = $4 AND budget_at = $5")
                .bind(new.0).bind(new.1).bind(key_id).bind(seen.0).bind(seen.1)
                .execute(pool).await?.rows_affected() == 1
        }))
    }
}
