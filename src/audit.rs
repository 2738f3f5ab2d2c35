//! The audit log: who did what, and when, per workspace. Written by the
//! engine functions that change something; read by owners and admins.

use crate::{
    accounts::{Caller, Role},
    store::{now_millis, Store},
    Error,
};

pub use crate::store::AuditEntry;

/// Records an action. A failure to write the log is an error for the caller:
/// an action that cannot be accounted for should not quietly succeed.
pub async fn record(
    store: &Store,
    workspace_id: Option<&str>,
    actor: Option<(&str, &str)>,
    action: &str,
    detail: serde_json::Value,
) -> Result<(), Error> {
    store
        .insert_audit(
            workspace_id,
            actor,
            action,
            &detail.to_string(),
            now_millis(),
        )
        .await?;
    Ok(())
}

/// Records an action a signed-in person took in their workspace: the usual
/// case, which names the workspace and the actor the same way every time.
pub async fn record_by(
    store: &Store,
    caller: &Caller,
    action: &str,
    detail: serde_json::Value,
) -> Result<(), Error> {
    record(
        store,
        Some(&caller.workspace.id),
        caller.actor(),
        action,
        detail,
    )
    .await
}

pub async fn entries(store: &Store, caller: &Caller, limit: i64) -> Result<Vec<AuditEntry>, Error> {
    caller.require(Role::Admin)?;
    Ok(store
        .audit_entries(&caller.workspace.id, limit.clamp(1, 500))
        .await?)
}
