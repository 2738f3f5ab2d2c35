//! SQL for each workspace's bot settings.

use super::{with_pool, Result, Store};

/// The bot a workspace chose, as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BotKind {
    #[default]
    Off,
    Echo,
    Rules,
}

impl BotKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Echo => "echo",
            Self::Rules => "rules",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "off" => Some(Self::Off),
            "echo" => Some(Self::Echo),
            "rules" => Some(Self::Rules),
            _ => None,
        }
    }
}

/// A workspace's bot as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBot {
    pub kind: BotKind,
    /// The rules bot's configuration (JSON), kept while another kind is in
    /// use.
    pub rules: String,
    pub quiet_after_app_minutes: i64,
}

impl Store {
    /// The workspace's bot, if one was ever chosen; an unknown kind reads
    /// as off.
    pub async fn bot_settings(&self, workspace_id: &str) -> Result<Option<StoredBot>> {
        let row: Option<(String, String, i64)> = with_pool!(self, pool => {
            // Postgres's column is an INTEGER (migration 0022): read as the
            // i64 SQLite's is.
            sqlx::query_as("SELECT kind, rules, CAST(quiet_after_app_minutes AS BIGINT) FROM bot_settings WHERE workspace_id = $1")
                .bind(workspace_id).fetch_optional(pool).await?
        });
        Ok(row.map(|(kind, rules, quiet_after_app_minutes)| StoredBot {
            kind: BotKind::parse(&kind).unwrap_or_default(),
            rules,
            quiet_after_app_minutes,
        }))
    }

    /// Saves the workspace's bot: its kind and the rules (JSON).
    pub async fn save_bot_settings(
        &self,
        workspace_id: &str,
        kind: &BotKind,
        rules: &str,
        quiet_after_app_minutes: i64,
        now: i64,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO bot_settings (workspace_id, kind, rules, quiet_after_app_minutes, updated_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (workspace_id) DO UPDATE SET kind = excluded.kind, rules = excluded.rules,
                     quiet_after_app_minutes = excluded.quiet_after_app_minutes, updated_at = excluded.updated_at",
            )
            .bind(workspace_id).bind(kind.as_str()).bind(rules).bind(quiet_after_app_minutes).bind(now)
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
