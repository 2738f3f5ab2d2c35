//! SQL for each workspace's bot settings.

use super::{with_pool, Result, Store};
use crate::bot::{BotKind, BotSettings};

impl Store {
    /// The workspace's bot; off when none was ever chosen. A stored rules
    /// configuration that no longer parses reads as empty rather than
    /// stopping the pipeline.
    pub async fn bot_settings(&self, workspace_id: &str) -> Result<BotSettings> {
        let row: Option<(String, String)> = with_pool!(self, pool => {
            sqlx::query_as("SELECT kind, rules FROM bot_settings WHERE workspace_id = $1")
                .bind(workspace_id).fetch_optional(pool).await?
        });
        Ok(row
            .map(|(kind, rules)| BotSettings {
                kind: BotKind::parse(&kind).unwrap_or_default(),
                rules: serde_json::from_str(&rules).unwrap_or_default(),
            })
            .unwrap_or_default())
    }

    pub async fn save_bot_settings(
        &self,
        workspace_id: &str,
        settings: &BotSettings,
        now: i64,
    ) -> Result<()> {
        let rules = serde_json::to_string(&settings.rules).expect("rules serialize");
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO bot_settings (workspace_id, kind, rules, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (workspace_id) DO UPDATE SET kind = excluded.kind, rules = excluded.rules, updated_at = excluded.updated_at",
            )
            .bind(workspace_id).bind(settings.kind.as_str()).bind(rules).bind(now)
            .execute(pool).await?;
        });
        Ok(())
    }

    /// Chooses the echo bot for a workspace that never chose one, so a
    /// newly connected number answers out of the box.
    pub async fn default_bot_to_echo(&self, workspace_id: &str, now: i64) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO bot_settings (workspace_id, kind, rules, updated_at) VALUES ($1, 'echo', '{}', $2)
                 ON CONFLICT (workspace_id) DO NOTHING",
            )
            .bind(workspace_id).bind(now).execute(pool).await?;
        });
        Ok(())
    }
}
