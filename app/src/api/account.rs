//! Signing up, in and out; the current person and their workspaces.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::errors::UiError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceView {
    pub id: String,
    pub name: String,
    pub role: String,
}

/// Who is signed in, and where they act.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub name: String,
    pub email: String,
    pub current: Option<WorkspaceView>,
    pub workspaces: Vec<WorkspaceView>,
    /// The current workspace needs this person to set up two-factor
    /// sign-in before they can act in it.
    pub second_factor_required: bool,
}

impl Me {
    /// Whether the current role is at least `role` (owner > admin > agent > viewer).
    pub fn at_least(&self, role: &str) -> bool {
        let rank = |r: &str| {
            ["viewer", "agent", "admin", "owner"]
                .iter()
                .position(|x| *x == r)
        };
        match (&self.current, rank(role)) {
            (Some(current), Some(needed)) => rank(&current.role).is_some_and(|have| have >= needed),
            _ => false,
        }
    }
}

/// Public: whether first-run sign-up is open, and who is signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WelcomeView {
    pub needs_owner: bool,
    pub me: Option<Me>,
    /// Numbers of the current workspace that need reconnecting (banner).
    pub reconnect_needed: Vec<super::onboarding::NumberView>,
}

#[server(prefix = "/api", endpoint = "welcome")]
pub async fn welcome() -> Result<WelcomeView, UiError> {
    use crate::session;
    use switchboard::accounts;
    let engine = session::engine()?;
    let needs_owner = !accounts::is_set_up(&engine.store).await?;
    // Nobody signed in is an answer here, not an error.
    let session = session::current_session(&engine).await?;
    let reconnect_needed = match session.as_ref().and_then(|s| s.current.as_ref()) {
        Some(current) => engine
            .store
            .numbers_of(&current.workspace.id)
            .await
            .map_err(switchboard::Error::from)?
            .into_iter()
            .filter(|n| {
                use switchboard::numbers::NumberStatus;
                matches!(
                    n.status,
                    NumberStatus::ReconnectNeeded
                        | NumberStatus::PausedByMeta
                        | NumberStatus::DisabledByMeta
                )
            })
            .map(super::onboarding::number_view)
            .collect(),
        None => Vec::new(),
    };
    Ok(WelcomeView {
        needs_owner,
        me: session.as_ref().map(me_of),
        reconnect_needed,
    })
}

#[cfg(feature = "ssr")]
fn me_of(session: &switchboard::accounts::Session) -> Me {
    let view = |m: &switchboard::accounts::Membership| WorkspaceView {
        id: m.workspace.id.to_string(),
        name: m.workspace.name.clone(),
        role: m.role.as_str().to_string(),
    };

    Me {
        name: session.user.name.clone(),
        email: session.user.email.clone(),
        current: session.current.as_ref().map(view),
        workspaces: session.memberships.iter().map(view).collect(),
        second_factor_required: matches!(
            session.caller(),
            Err(switchboard::Error::SecondFactorRequired)
        ),
    }
}

#[server(prefix = "/api", endpoint = "sign_up_owner")]
pub async fn sign_up_owner(
    email: String,
    name: String,
    password: String,
    workspace_name: String,
) -> Result<(), UiError> {
    use crate::session;
    use switchboard::accounts::{self, SignUp};
    let engine = session::engine()?;
    let sign_up = SignUp {
        email: &email,
        name: &name,
        password: &password,
        workspace_name: &workspace_name,
    };
    let token = accounts::sign_up_owner(&engine.store, &sign_up).await?;
    session::set_session_cookie(&engine, &token);
    Ok(())
}

/// Where a password sign-in got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignInStep {
    SignedIn,
    /// The password was right; a code from the app (or a recovery code)
    /// finishes it.
    CodeNeeded,
}

#[server(prefix = "/api", endpoint = "sign_in")]
pub async fn sign_in(email: String, password: String) -> Result<SignInStep, UiError> {
    use crate::session;
    use switchboard::accounts::{self, SignInOutcome};
    let engine = session::engine()?;
    match accounts::sign_in(&engine.store, &email, &password, &session::client_address()).await? {
        SignInOutcome::SignedIn(token, _) => {
            session::set_session_cookie(&engine, &token);
            Ok(SignInStep::SignedIn)
        }
        SignInOutcome::SecondFactorNeeded(challenge) => {
            session::set_challenge_cookie(&engine, &challenge);
            Ok(SignInStep::CodeNeeded)
        }
    }
}

#[server(prefix = "/api", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), UiError> {
    use crate::session;
    let (engine, signed_out) = session::session().await?;
    if let Some(token) = session::token() {
        switchboard::accounts::sign_out(&engine.store, &token).await?;
        session::tell_streams_to_recheck(&engine, session::workspaces_of(&signed_out)).await;
    }
    session::clear_session_cookie();
    Ok(())
}

#[server(prefix = "/api", endpoint = "change_password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
) -> Result<(), UiError> {
    use crate::session;
    let (engine, session) = session::session().await?;
    switchboard::accounts::change_password(
        &engine.store,
        &session,
        &current_password,
        &new_password,
    )
    .await?;
    // Its other sessions were signed out.
    session::tell_streams_to_recheck(&engine, session::workspaces_of(&session)).await;
    Ok(())
}

#[server(prefix = "/api", endpoint = "switch_workspace")]
pub async fn switch_workspace(workspace_id: String) -> Result<(), UiError> {
    use crate::session;
    let (engine, session) = session::session().await?;
    switchboard::accounts::switch_workspace(&engine.store, &session, &workspace_id).await?;
    session::tell_streams_to_recheck(&engine, session::workspaces_of(&session)).await;
    Ok(())
}

#[server(prefix = "/api", endpoint = "create_workspace")]
pub async fn create_workspace(name: String) -> Result<(), UiError> {
    use crate::session;
    let (engine, session) = session::session().await?;
    switchboard::accounts::create_workspace(&engine.store, &session, &name).await?;
    Ok(())
}
