//! Accounts: users, sessions, workspaces, roles and invites. Every engine
//! function that reads or changes workspace data takes a [`Caller`], which
//! can only be made from a live session and a membership: the check is not
//! something a server function can forget.

mod credentials;
mod members;
mod sessions;
pub mod totp;
pub mod two_factor;

pub use credentials::{new_token, token_hash, Email, Password};
pub use members::{
    accept_invite, change_role, create_workspace, invite, invite_info, invites, members,
    remove_member, revoke_invite, sign_up_with_invite, switch_workspace, InviteInfo, INVITE_TTL_MS,
};
pub use sessions::{
    authenticate, change_password, create_admin, is_set_up, sign_in, sign_out, sign_up_owner,
    Session, SessionToken, SignUp, SESSION_TTL_MS,
};
pub use two_factor::{complete_sign_in, ChallengeToken, SignInOutcome};

pub use crate::store::{Member, Membership, OpenInvite, Role, User, Workspace};

use crate::{store, Error};

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

/// Whether a storage error is a unique-key violation (a duplicate).
pub(crate) fn is_duplicate(error: &store::Error) -> bool {
    matches!(error, store::Error::Database(sqlx::Error::Database(e)) if e.is_unique_violation())
}
