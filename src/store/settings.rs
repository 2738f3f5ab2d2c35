//! Installation-wide key/value settings.

use super::{now_millis, with_pool, Result, Store};

impl Store {
    pub async fn setting(&self, key: &str) -> Result<Option<String>> {
        let value = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_optional(pool)
                .await?
        });
        Ok(value)
    }

    pub async fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(key)
            .bind(value)
            .bind(now_millis())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Stores `value` unless the key already has one; returns what is stored.
    /// Safe when several instances race: the first writer wins for all.
    pub async fn setting_or_insert(&self, key: &str, value: &str) -> Result<String> {
        let stored = with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING",
            )
            .bind(key)
            .bind(value)
            .bind(now_millis())
            .execute(pool)
            .await?;
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_one(pool)
                .await?
        });
        Ok(stored)
    }

    /// This installation's stable id, created on first start.
    pub async fn installation_id(&self) -> Result<String> {
        let fresh = uuid::Uuid::new_v4().to_string();
        self.setting_or_insert("installation_id", &fresh).await
    }
}
