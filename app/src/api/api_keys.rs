//! Integration API keys for admins: made (shown once), listed, revoked.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::errors::UiError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    pub scopes: String,
    pub prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A new key, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewKeyView {
    pub name: String,
    pub key: String,
}

#[server(prefix = "/api", endpoint = "list_api_keys")]
pub async fn list_api_keys() -> Result<Vec<ApiKeyView>, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    let keys = switchboard::api_keys::list(&engine, &caller).await?;
    Ok(keys
        .into_iter()
        .map(|k| ApiKeyView {
            id: k.id,
            name: k.name,
            scopes: k.scopes,
            prefix: k.prefix,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        })
        .collect())
}

/// `send`, `read` and `privacy` are checkboxes: present when ticked.
#[server(prefix = "/api", endpoint = "create_api_key")]
pub async fn create_api_key(
    name: String,
    send: Option<String>,
    read: Option<String>,
    privacy: Option<String>,
) -> Result<NewKeyView, UiError> {
    use switchboard::api_keys::{PRIVACY, READ, SEND};
    let (engine, caller) = crate::session::caller().await?;
    let scopes: Vec<&str> = [
        (send.is_some(), SEND),
        (read.is_some(), READ),
        (privacy.is_some(), PRIVACY),
    ]
    .into_iter()
    .filter_map(|(on, scope)| on.then_some(scope))
    .collect();
    let (row, key) = switchboard::api_keys::create(&engine, &caller, &name, &scopes).await?;
    Ok(NewKeyView {
        name: row.name,
        key,
    })
}

#[server(prefix = "/api", endpoint = "revoke_api_key")]
pub async fn revoke_api_key(id: String) -> Result<(), UiError> {
    let (engine, caller) = crate::session::caller().await?;
    Ok(switchboard::api_keys::revoke(&engine, &caller, &id).await?)
}
