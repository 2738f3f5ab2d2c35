//! Accounts: users, sessions, workspaces, roles and invites. Every engine
//! function that reads or changes workspace data takes a [`Caller`], which
//! can only be made from a live session and a membership: the check is not
//! something a server function can forget.

mod credentials;
mod members;
mod sessions;

pub use credentials::{new_token, token_hash, Email, Password};
pub use members::{
    accept_invite, change_role, create_workspace, invite, invite_info, members, remove_member,
    sign_up_with_invite, switch_workspace, InviteInfo, INVITE_TTL_MS,
};
pub use sessions::{
    authenticate, change_password, create_admin, is_set_up, sign_in, sign_out, sign_up_owner,
    Session, SessionToken, SignUp, SESSION_TTL_MS,
};

pub use crate::store::{Member, Membership, Role, User, Workspace};

use crate::store;

/// Someone signed in, acting in one workspace with one role.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub workspace: Workspace,
    pub role: Role,
}

impl Caller {
    /// Refuses unless the caller's role is at least `role`.
    pub fn require(&self, role: Role) -> Result<(), Error> {
        if self.role >= role {
            Ok(())
        } else {
            Err(Error::Forbidden)
        }
    }

    pub fn actor(&self) -> Option<(&str, &str)> {
        Some((self.user.id.as_str(), self.user.email.as_str()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("sign in to continue")]
    Unauthenticated,
    #[error("you do not have access to this")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// Deliberately the same for an unknown email and a wrong password.
    #[error("the email or the password is incorrect")]
    InvalidCredentials,
    #[error("too many sign-in attempts; try again in {} minutes", (retry_after_secs + 59) / 60)]
    RateLimited { retry_after_secs: i64 },
    #[error("this installation already has an owner; ask for an invite")]
    AlreadySetUp,
    /// Meta refused or could not be reached; the message says which.
    #[error("{0}")]
    Meta(String),
    #[error("storage error")]
    Store(#[from] store::Error),
}

impl Error {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        Self::Store(store::Error::Database(error))
    }
}

/// Whether a storage error is a unique-key violation (a duplicate).
pub(crate) fn is_duplicate(error: &store::Error) -> bool {
    matches!(error, store::Error::Database(sqlx::Error::Database(e)) if e.is_unique_violation())
}
