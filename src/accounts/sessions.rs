//! Signing up, in and out; sessions; password changes; sign-in rate limits.

use serde_json::json;

use super::{
    credentials::{
        new_token, token_hash, verify_against_nothing, verify_password, Email, Password,
    },
    two_factor::{self, SignInOutcome},
    Caller, Error, Membership, Role, User, Workspace,
};
use crate::{
    audit,
    config::TwoFactorPolicy,
    store::{now_millis, Store},
};

pub const SESSION_TTL_MS: i64 = 14 * 24 * 60 * 60 * 1000;
const FAILURE_WINDOW_MS: i64 = 15 * 60 * 1000;
const MAX_FAILURES_PER_ACCOUNT: i64 = 5;
const MAX_FAILURES_PER_ADDRESS: i64 = 20;
/// The wait before each attempt on an account that failed
/// `MAX_FAILURES_PER_ACCOUNT` times lately, from whatever addresses.
const ACCOUNT_UNDER_ATTACK_DELAY: std::time::Duration = std::time::Duration::from_secs(2);

/// The session token for the cookie; only its hash is stored.
#[derive(Clone)]
pub struct SessionToken(pub String);

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken([redacted])")
    }
}

/// A live session: the user, and where they act now.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub current: Option<Membership>,
    /// Every workspace the user belongs to, as read with the session.
    pub memberships: Vec<Membership>,
    /// The operator requires a second factor of owners and this person
    /// has none: they may act nowhere they are an owner until they enrol.
    pub owner_lacks_second_factor: bool,
    token_hash: String,
}

impl Session {
    /// The caller in the current workspace, or Forbidden without one, or
    /// SecondFactorRequired where the role needs a second factor first.
    pub fn caller(&self) -> Result<Caller, Error> {
        let membership = self.current.clone().ok_or(Error::Forbidden)?;
        if self.owner_lacks_second_factor && membership.role == Role::Owner {
            return Err(Error::SecondFactorRequired);
        }
        Ok(Caller {
            user: self.user.clone(),
            workspace: membership.workspace,
            role: membership.role,
        })
    }

    pub(crate) fn token_hash(&self) -> &str {
        &self.token_hash
    }
}

pub struct SignUp<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub password: &'a str,
    pub workspace_name: &'a str,
}

/// Whether the installation has its owner yet (first-run sign-up is open
/// only until then).
pub async fn is_set_up(store: &Store) -> Result<bool, Error> {
    Ok(store.count_users().await? > 0)
}

fn required(field: &'static str, value: &str, max: usize) -> Result<String, Error> {
    let value = value.trim();
    if value.is_empty() {
        return Err(Error::invalid(field, "this is required"));
    }
    if value.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("use at most {max} characters"),
        ));
    }
    Ok(value.to_string())
}

/// Creates the installation's owner and first workspace; refuses once
/// anyone exists. Two racing first sign-ups: one wins, by a unique claim.
pub async fn create_admin(store: &Store, sign_up: &SignUp<'_>) -> Result<User, Error> {
    let email = Email::parse(sign_up.email)?;
    let name = required("name", sign_up.name, 100)?;
    let workspace_name = required("workspace_name", sign_up.workspace_name, 100)?;
    let password = Password::parse(sign_up.password, "password")?;
    if is_set_up(store).await? {
        return Err(Error::AlreadySetUp);
    }
    let user = User {
        id: uuid::Uuid::new_v4().to_string(),
        email: email.as_str().to_string(),
        name,
    };
    if store.setting_or_insert("first_owner", &user.id).await? != user.id {
        return Err(Error::AlreadySetUp);
    }
    let workspace = Workspace {
        id: uuid::Uuid::new_v4().to_string().into(),
        name: workspace_name,
    };
    store
        .insert_owner(&user, &password.hash().await?, &workspace, now_millis())
        .await?;
    audit::record(
        store,
        Some(&workspace.id),
        Some((&user.id, &user.email)),
        "owner.created",
        json!({ "email": user.email, "workspace": workspace.name }),
    )
    .await?;
    Ok(user)
}

/// First-run sign-up in the browser: creates the owner and signs in.
pub async fn sign_up_owner(store: &Store, sign_up: &SignUp<'_>) -> Result<SessionToken, Error> {
    let user = create_admin(store, sign_up).await?;
    start_session(store, &user).await
}

pub(super) async fn start_session(store: &Store, user: &User) -> Result<SessionToken, Error> {
    let workspace = store.memberships_of(&user.id).await?.into_iter().next();
    let (token, hash) = new_token();
    let now = now_millis();
    store
        .insert_session(
            &hash,
            &user.id,
            workspace.as_ref().map(|m| m.workspace.id.as_str()),
            now,
            now + SESSION_TTL_MS,
        )
        .await?;
    Ok(SessionToken(token))
}

/// Counts this attempt against `key`, or refuses while the key has used
/// up its attempts lately.
pub(super) async fn take_attempt(
    store: &Store,
    key: &str,
    limit: i64,
    now: i64,
) -> Result<(), Error> {
    match store
        .take_sign_in_attempt(key, limit, now - FAILURE_WINDOW_MS, now)
        .await?
    {
        Ok(()) => Ok(()),
        Err(oldest) => {
            let retry_after_secs = (oldest + FAILURE_WINDOW_MS - now).max(1000) / 1000;
            Err(Error::RateLimited { retry_after_secs })
        }
    }
}

/// Signs in with a password. Unknown email and wrong password get the
/// same error after the same work; both count against the account and the
/// address. An attempt is counted before the password is checked, so a
/// parallel burst cannot try more passwords than the limit; a successful
/// one is taken back. With two-factor on, a right password only opens the
/// second step ([`two_factor::complete_sign_in`]).
pub async fn sign_in(
    store: &Store,
    email: &str,
    password: &str,
    address: &str,
) -> Result<SignInOutcome, Error> {
    let now = now_millis();
    let email = Email::parse(email).map_err(|_| Error::InvalidCredentials)?;
    let account_key = format!("account:{}", email.as_str());
    let address_key = format!("address:{address}");
    // The account's lock is per address: guessing from one address locks
    // that address out of the account, never the owner at another.
    let pair_key = format!("{account_key}|{address_key}");
    take_attempt(store, &address_key, MAX_FAILURES_PER_ADDRESS, now).await?;
    if let Err(refused) = take_attempt(store, &pair_key, MAX_FAILURES_PER_ACCOUNT, now).await {
        store.forget_sign_in_attempt(&address_key, now).await?;
        return Err(refused);
    }
    // Guessed at from many addresses: every attempt on the account waits
    // a little first, the owner's from a fresh address included.
    let (account_failures, _) = store
        .sign_in_failures(&account_key, now - FAILURE_WINDOW_MS)
        .await?;
    if account_failures >= MAX_FAILURES_PER_ACCOUNT {
        tokio::time::sleep(ACCOUNT_UNDER_ATTACK_DELAY).await;
    }

    let found = store.credentials(email.as_str()).await?;
    let verified = match &found {
        Some(credentials) => verify_password(password, &credentials.password_hash).await,
        None => {
            verify_against_nothing(password).await;
            false
        }
    };
    let Some(credentials) = found.filter(|_| verified) else {
        // The attempts counted above stay counted: they failed.
        count_failure_against(store, &account_key, now).await?;
        audit::record(
            store,
            None,
            None,
            "sign_in.failed",
            json!({ "email": email.as_str(), "address": address }),
        )
        .await?;
        return Err(Error::InvalidCredentials);
    };
    store.clear_sign_in_failures(&account_key).await?;
    store.clear_sign_in_failures(&pair_key).await?;
    store.forget_sign_in_attempt(&address_key, now).await?;
    if let Some(challenge) = two_factor::challenge_if_enrolled(store, &credentials.user).await? {
        return Ok(SignInOutcome::SecondFactorNeeded(challenge));
    }
    let token = start_session(store, &credentials.user).await?;
    audit_for_user(
        store,
        &credentials.user,
        "sign_in",
        json!({ "address": address }),
    )
    .await?;
    Ok(SignInOutcome::SignedIn(token, credentials.user))
}

/// Counts a failed sign-in against `key` (an account, a pair, an address).
async fn count_failure_against(store: &Store, account_key: &str, now: i64) -> Result<(), Error> {
    store
        .take_sign_in_attempt(account_key, i64::MAX, 0, now)
        .await?
        .ok();
    Ok(())
}

/// Counts a failed second step like a wrong password: against the
/// account, and against the account from this address (so its limit
/// also bounds how many codes one address can try).
pub(super) async fn count_failure(
    store: &Store,
    email: &str,
    address: &str,
    now: i64,
) -> Result<(), Error> {
    let account_key = format!("account:{email}");
    let pair_key = format!("{account_key}|address:{address}");
    for key in [account_key, pair_key] {
        count_failure_against(store, &key, now).await?;
    }
    Ok(())
}

/// Records `action` in the audit log of every workspace the user is in
/// (what a person does to their own account concerns each of them).
pub(super) async fn audit_for_user(
    store: &Store,
    user: &User,
    action: &str,
    detail: serde_json::Value,
) -> Result<(), Error> {
    for membership in store.memberships_of(&user.id).await? {
        audit::record(
            store,
            Some(&membership.workspace.id),
            Some((&user.id, &user.email)),
            action,
            detail.clone(),
        )
        .await?;
    }
    Ok(())
}

/// The session behind a cookie's token, with the current membership
/// re-read each time (a removed member loses access at once), under the
/// operator's two-factor `policy`.
pub async fn authenticate(
    store: &Store,
    token: &str,
    policy: TwoFactorPolicy,
) -> Result<Session, Error> {
    let hash = token_hash(token);
    let row = store
        .live_session(&hash, now_millis())
        .await?
        .ok_or(Error::Unauthenticated)?;
    // One read of the memberships serves the current workspace and the
    // switcher; a session whose workspace went away falls back to another.
    let memberships = store.memberships_of(&row.user.id).await?;
    let current = row
        .workspace_id
        .as_ref()
        .and_then(|id| memberships.iter().find(|m| &m.workspace.id == id))
        .or_else(|| memberships.first())
        .cloned();
    let owner_lacks_second_factor = !row.second_factor
        && memberships
            .iter()
            .any(|m| two_factor::required_for(policy, m.role));
    Ok(Session {
        user: row.user,
        current,
        memberships,
        owner_lacks_second_factor,
        token_hash: hash,
    })
}

pub async fn sign_out(store: &Store, token: &str) -> Result<(), Error> {
    store
        .revoke_session(&token_hash(token), now_millis())
        .await?;
    Ok(())
}

/// Changes the password and signs out every other session.
pub async fn change_password(
    store: &Store,
    session: &Session,
    current: &str,
    new: &str,
) -> Result<(), Error> {
    let stored = store
        .password_hash(&session.user.id)
        .await?
        .ok_or(Error::Unauthenticated)?;
    if !verify_password(current, &stored).await {
        return Err(Error::invalid(
            "current_password",
            "the current password is incorrect",
        ));
    }
    let new = Password::parse(new, "new_password")?;
    store
        .set_password_hash(&session.user.id, &new.hash().await?)
        .await?;
    store
        .revoke_other_sessions(&session.user.id, session.token_hash(), now_millis())
        .await?;
    let workspace = session.current.as_ref().map(|m| m.workspace.id.as_str());
    audit::record(
        store,
        workspace,
        Some((&session.user.id, &session.user.email)),
        "password.changed",
        json!({}),
    )
    .await?;
    Ok(())
}
