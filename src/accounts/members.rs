//! Workspaces, members, roles and invites.

use serde_json::json;

use super::{
    credentials::{new_token, token_hash, Email, Password},
    is_duplicate,
    sessions::{start_session, Session, SessionToken},
    Caller, Error, Member, Membership, Role, User, Workspace,
};
use crate::{
    audit,
    store::{now_millis, OpenInvite, Store},
};

pub const INVITE_TTL_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// Makes `workspace_id` the session's current workspace, if a member.
pub async fn switch_workspace(
    store: &Store,
    session: &Session,
    workspace_id: &str,
) -> Result<Membership, Error> {
    let membership = store
        .memberships_of(&session.user.id)
        .await?
        .into_iter()
        .find(|m| m.workspace.id == workspace_id)
        .ok_or(Error::Forbidden)?;
    store
        .set_session_workspace(session.token_hash(), workspace_id)
        .await?;
    Ok(membership)
}

/// A new workspace owned by the caller, who switches to it.
pub async fn create_workspace(
    store: &Store,
    session: &Session,
    name: &str,
) -> Result<Workspace, Error> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid("name", "use 1 to 100 characters"));
    }
    let workspace = Workspace {
        id: uuid::Uuid::new_v4().to_string().into(),
        name: name.to_string(),
    };
    store
        .insert_workspace(&workspace, &session.user.id, now_millis())
        .await?;
    store
        .set_session_workspace(session.token_hash(), &workspace.id)
        .await?;
    audit::record(
        store,
        Some(&workspace.id),
        Some((&session.user.id, &session.user.email)),
        "workspace.created",
        json!({ "name": workspace.name }),
    )
    .await?;
    Ok(workspace)
}

pub async fn members(store: &Store, caller: &Caller) -> Result<Vec<Member>, Error> {
    caller.require(Role::Admin)?;
    Ok(store.members_of(&caller.workspace.id).await?)
}

/// Creates a single-use invite link token for `role`. Only an owner may
/// invite another owner.
pub async fn invite(store: &Store, caller: &Caller, role: Role) -> Result<String, Error> {
    caller.require(Role::Admin)?;
    if role == Role::Owner {
        caller.require(Role::Owner)?;
    }
    let (token, hash) = new_token();
    let now = now_millis();
    store
        .insert_invite(
            &hash,
            &caller.workspace.id,
            role,
            &caller.user.id,
            now,
            now + INVITE_TTL_MS,
        )
        .await?;
    audit::record_by(store, caller, "member.invited", json!({ "role": role })).await?;
    Ok(token)
}

/// The workspace's invitations still open. An invitation dies when its
/// creator leaves the workspace or loses the role that could make it.
pub async fn invites(store: &Store, caller: &Caller) -> Result<Vec<OpenInvite>, Error> {
    caller.require(Role::Admin)?;
    Ok(store
        .open_invites(&caller.workspace.id, now_millis())
        .await?)
}

/// Revokes an open invitation (an owner's invitation: owners only).
pub async fn revoke_invite(store: &Store, caller: &Caller, id: &str) -> Result<(), Error> {
    caller.require(Role::Admin)?;
    let open = store
        .open_invites(&caller.workspace.id, now_millis())
        .await?;
    let invite = open.iter().find(|i| i.id == id).ok_or(Error::NotFound)?;
    if invite.role == Role::Owner {
        caller.require(Role::Owner)?;
    }
    if store
        .revoke_invite(&caller.workspace.id, id)
        .await?
        .is_none()
    {
        return Err(Error::NotFound);
    }
    audit::record_by(
        store,
        caller,
        "member.invite_revoked",
        json!({ "role": invite.role }),
    )
    .await?;
    Ok(())
}

/// What an invite link offers, for the page that accepts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteInfo {
    pub workspace: Workspace,
    pub role: Role,
}

pub async fn invite_info(store: &Store, token: &str) -> Result<InviteInfo, Error> {
    let invite = store
        .invite(&token_hash(token))
        .await?
        .ok_or(Error::NotFound)?;
    if invite.used || invite.expires_at <= now_millis() {
        return Err(Error::invalid(
            "invite",
            "this invite link has expired or was already used",
        ));
    }
    Ok(InviteInfo {
        workspace: invite.workspace,
        role: invite.role,
    })
}

/// A signed-in person joins the invite's workspace.
pub async fn accept_invite(
    store: &Store,
    session: &Session,
    token: &str,
) -> Result<Membership, Error> {
    let info = invite_info(store, token).await?;
    if !store
        .redeem_invite(&token_hash(token), &session.user.id, now_millis())
        .await?
    {
        return Err(Error::invalid(
            "invite",
            "this invite link has expired or was already used",
        ));
    }
    store
        .set_session_workspace(session.token_hash(), &info.workspace.id)
        .await?;
    audit::record(
        store,
        Some(&info.workspace.id),
        Some((&session.user.id, &session.user.email)),
        "member.joined",
        json!({ "role": info.role }),
    )
    .await?;
    let role = store
        .role_in(&info.workspace.id, &session.user.id)
        .await?
        .unwrap_or(info.role);
    Ok(Membership {
        workspace: info.workspace,
        role,
    })
}

/// A new person creates an account through an invite and is signed in.
pub async fn sign_up_with_invite(
    store: &Store,
    token: &str,
    email: &str,
    name: &str,
    password: &str,
) -> Result<SessionToken, Error> {
    let info = invite_info(store, token).await?;
    let email = Email::parse(email)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::invalid("name", "use 1 to 100 characters"));
    }
    let password = Password::parse(password, "password")?;
    let user = User {
        id: uuid::Uuid::new_v4().to_string(),
        email: email.as_str().to_string(),
        name: name.to_string(),
    };
    match store
        .insert_user(&user, &password.hash().await?, now_millis())
        .await
    {
        Err(e) if is_duplicate(&e) => {
            return Err(Error::invalid(
                "email",
                "this email already has an account: sign in, then open the link again",
            ))
        }
        other => other?,
    }
    if !store
        .redeem_invite(&token_hash(token), &user.id, now_millis())
        .await?
    {
        return Err(Error::invalid(
            "invite",
            "this invite link has expired or was already used",
        ));
    }
    audit::record(
        store,
        Some(&info.workspace.id),
        Some((&user.id, &user.email)),
        "member.joined",
        json!({ "role": info.role }),
    )
    .await?;
    start_session(store, &user).await
}

/// The member `user_id` of the caller's workspace, or NotFound: ids from
/// another workspace are indistinguishable from ids that do not exist.
async fn member_of_callers_workspace(
    store: &Store,
    caller: &Caller,
    user_id: &str,
) -> Result<Role, Error> {
    store
        .role_in(&caller.workspace.id, user_id)
        .await?
        .ok_or(Error::NotFound)
}

pub async fn change_role(
    store: &Store,
    caller: &Caller,
    user_id: &str,
    role: Role,
) -> Result<(), Error> {
    caller.require(Role::Admin)?;
    let current = member_of_callers_workspace(store, caller, user_id).await?;
    // Only owners touch ownership: an admin can neither make nor unmake one.
    if current == Role::Owner || role == Role::Owner {
        caller.require(Role::Owner)?;
    }
    if current == role {
        return Ok(());
    }
    if !store.set_role(&caller.workspace.id, user_id, role).await? {
        return Err(Error::invalid(
            "role",
            "a workspace keeps at least one owner",
        ));
    }
    audit::record_by(
        store,
        caller,
        "member.role_changed",
        json!({ "user_id": user_id, "before": current, "after": role }),
    )
    .await?;
    Ok(())
}

pub async fn remove_member(store: &Store, caller: &Caller, user_id: &str) -> Result<(), Error> {
    caller.require(Role::Admin)?;
    let current = member_of_callers_workspace(store, caller, user_id).await?;
    if current == Role::Owner {
        caller.require(Role::Owner)?;
    }
    if !store
        .delete_membership(&caller.workspace.id, user_id)
        .await?
    {
        return Err(Error::invalid(
            "member",
            "a workspace keeps at least one owner",
        ));
    }
    audit::record_by(
        store,
        caller,
        "member.removed",
        json!({ "user_id": user_id, "role": current }),
    )
    .await?;
    Ok(())
}
