//! The audit log of the current workspace (owners and admins).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::errors::UiError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditView {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub detail: String,
}

#[server(prefix = "/api", endpoint = "audit_log")]
pub async fn audit_log() -> Result<Vec<AuditView>, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    let entries = switchboard::audit::entries(&engine.store, &caller, 200).await?;
    Ok(entries
        .into_iter()
        .map(|e| AuditView {
            id: e.id,
            at: e.at,
            actor: e.actor_email.unwrap_or_else(|| "system".into()),
            action: e.action,
            detail: e.detail,
        })
        .collect())
}
