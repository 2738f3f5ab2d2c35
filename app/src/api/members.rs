//! Members, roles and invites of the current workspace.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::errors::UiError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    pub user_id: String,
    pub name: String,
    pub email: String,
    pub role: String,
}

#[cfg(feature = "ssr")]
fn parse_role(role: &str) -> Result<switchboard::accounts::Role, UiError> {
    switchboard::accounts::Role::parse(role).ok_or_else(|| {
        UiError::from(switchboard::Error::invalid(
            "role",
            "choose owner, admin, agent or viewer",
        ))
    })
}

#[server(prefix = "/api", endpoint = "list_members")]
pub async fn list_members() -> Result<Vec<MemberView>, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    let members = switchboard::accounts::members(&engine.store, &caller).await?;
    Ok(members
        .into_iter()
        .map(|m| MemberView {
            user_id: m.user.id,
            name: m.user.name,
            email: m.user.email,
            role: m.role.as_str().into(),
        })
        .collect())
}

/// Returns the invite link (shown once; only its hash is stored).
#[server(prefix = "/api", endpoint = "invite_member")]
pub async fn invite_member(role: String) -> Result<String, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    let token = switchboard::accounts::invite(&engine.store, &caller, parse_role(&role)?).await?;
    let base = engine
        .config
        .public_url
        .as_str()
        .trim_end_matches('/')
        .to_string();
    Ok(format!("{base}/invite/{token}"))
}

#[server(prefix = "/api", endpoint = "change_member_role")]
pub async fn change_member_role(user_id: String, role: String) -> Result<(), UiError> {
    let (engine, caller) = crate::session::caller().await?;
    switchboard::accounts::change_role(&engine.store, &caller, &user_id, parse_role(&role)?)
        .await?;
    crate::session::tell_streams_to_recheck(&engine, vec![caller.workspace.id.to_string()]).await;
    Ok(())
}

#[server(prefix = "/api", endpoint = "remove_member")]
pub async fn remove_member(user_id: String) -> Result<(), UiError> {
    let (engine, caller) = crate::session::caller().await?;
    switchboard::accounts::remove_member(&engine.store, &caller, &user_id).await?;
    crate::session::tell_streams_to_recheck(&engine, vec![caller.workspace.id.to_string()]).await;
    Ok(())
}

/// An invitation still open, as the members page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenInviteView {
    pub id: String,
    pub role: String,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
}

#[server(prefix = "/api", endpoint = "list_invites")]
pub async fn list_invites() -> Result<Vec<OpenInviteView>, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    let open = switchboard::accounts::invites(&engine.store, &caller).await?;
    Ok(open
        .into_iter()
        .map(|i| OpenInviteView {
            id: i.id,
            role: i.role.as_str().into(),
            created_by: i.created_by_name,
            created_at: i.created_at,
            expires_at: i.expires_at,
        })
        .collect())
}

#[server(prefix = "/api", endpoint = "revoke_invite")]
pub async fn revoke_invite(id: String) -> Result<(), UiError> {
    let (engine, caller) = crate::session::caller().await?;
    switchboard::accounts::revoke_invite(&engine.store, &caller, &id).await?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteView {
    pub workspace_name: String,
    pub role: String,
}

/// Public: what an invite link offers.
#[server(prefix = "/api", endpoint = "invite_details")]
pub async fn invite_details(token: String) -> Result<InviteView, UiError> {
    let engine = crate::session::engine()?;
    let info = switchboard::accounts::invite_info(&engine.store, &token).await?;
    Ok(InviteView {
        workspace_name: info.workspace.name,
        role: info.role.as_str().into(),
    })
}

/// A signed-in person joins through an invite.
#[server(prefix = "/api", endpoint = "accept_invite")]
pub async fn accept_invite(token: String) -> Result<(), UiError> {
    let (engine, session) = crate::session::session().await?;
    switchboard::accounts::accept_invite(&engine.store, &session, &token).await?;
    Ok(())
}

/// Public: a new person signs up through an invite.
#[server(prefix = "/api", endpoint = "sign_up_with_invite")]
pub async fn sign_up_with_invite(
    token: String,
    email: String,
    name: String,
    password: String,
) -> Result<(), UiError> {
    let engine = crate::session::engine()?;
    let session =
        switchboard::accounts::sign_up_with_invite(&engine.store, &token, &email, &name, &password)
            .await?;
    crate::session::set_session_cookie(&engine, &session);
    Ok(())
}
