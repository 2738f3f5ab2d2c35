//! SQL for the audit log.

use super::{with_pool, with_tx, Result, Store, Tx};

/// An entry of the audit log as owners and admins read it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub actor_email: Option<String>,
    pub action: String,
    /// What changed, as JSON (before and after values where they matter).
    pub detail: String,
}

const INSERT: &str = "INSERT INTO audit_log (workspace_id, actor_user_id, actor_email, action, detail, at) VALUES ($1, $2, $3, $4, $5, $6)";

/// Records what the engine did by itself (no one acted), inside a flow's
/// transaction, so the entry exists exactly when the change does.
pub(crate) async fn insert_unattended(
    tx: &mut Tx<'_>,
    workspace_id: &str,
    action: &str,
    detail: &str,
    now: i64,
) -> Result<()> {
    with_tx!(tx, conn => {
        sqlx::query(INSERT)
            .bind(workspace_id).bind(None::<&str>).bind(None::<&str>).bind(action).bind(detail).bind(now)
            .execute(conn).await?;
    });
    Ok(())
}

impl Store {
    pub async fn insert_audit(
        &self,
        workspace_id: Option<&str>,
        actor: Option<(&str, &str)>,
        action: &str,
        detail: &str,
        now: i64,
    ) -> Result<()> {
        let (actor_id, actor_email) = actor.unzip();
        with_pool!(self, pool => {
            sqlx::query(INSERT)
            .bind(workspace_id).bind(actor_id).bind(actor_email).bind(action).bind(detail).bind(now)
            .execute(pool).await?;
        });
        Ok(())
    }

    /// The newest entries of a workspace first.
    pub async fn audit_entries(&self, workspace_id: &str, limit: i64) -> Result<Vec<AuditEntry>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, at, actor_email, action, detail FROM audit_log WHERE workspace_id = $1 ORDER BY id DESC LIMIT $2",
            )
            .bind(workspace_id).bind(limit).fetch_all(pool).await?
        }))
    }
}
