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
}
