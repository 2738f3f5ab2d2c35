//! SQL for users, sessions, workspaces, memberships, invites and sign-in
//! failures. The rules live in `crate::accounts`; this is storage only.

use super::{with_pool, with_tx, Result, Store, Tx};
use crate::ids::WorkspaceId;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Membership {
    pub workspace: Workspace,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Member {
    pub user: User,
    pub role: Role,
    pub joined_at: i64,
}

/// Roles in increasing power; each can do what the ones below it can.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything in the workspace.
    Viewer,
    /// Reads and answers conversations.
    Agent,
    /// Profile, bot, replay, members.
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Agent => "agent",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "viewer" => Some(Self::Viewer),
            "agent" => Some(Self::Agent),
            "admin" => Some(Self::Admin),
            "owner" => Some(Self::Owner),
            _ => None,
        }
    }
}

/// A user row with the password hash, for verification only.
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

/// A live session: who, and in which workspace (if they have one).
pub struct SessionRow {
    pub user: User,
    pub workspace_id: Option<String>,
    /// The user has two-factor sign-in on.
    pub second_factor: bool,
}

pub struct InviteRow {
    pub workspace: Workspace,
    pub role: Role,
    pub expires_at: i64,
    pub used: bool,
}

/// A member as `members_of` reads them.
#[derive(sqlx::FromRow)]
struct MemberRecord {
    id: String,
    email: String,
    name: String,
    role: String,
    created_at: i64,
}

/// An invitation lives only while its creator may still make it: a member
/// of the workspace who is an owner, or an admin for a role below owner
/// (SQL over `invites i`).
const CREATOR_MAY_STILL_INVITE: &str = "EXISTS (SELECT 1 FROM memberships m
     WHERE m.workspace_id = i.workspace_id AND m.user_id = i.created_by
     AND (m.role = 'owner' OR (m.role = 'admin' AND i.role <> 'owner')))";

/// An invitation still open, as admins see it (never its token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenInvite {
    /// The token's hash: names the invitation without being able to use it.
    pub id: String,
    pub role: Role,
    pub created_by_name: String,
    pub created_by_email: String,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(sqlx::FromRow)]
struct OpenInviteRecord {
    id: String,
    role: String,
    created_by_name: String,
    created_by_email: String,
    created_at: i64,
    expires_at: i64,
}

/// An invite with its workspace, as `invite` reads it.
#[derive(sqlx::FromRow)]
struct InviteRecord {
    workspace_id: String,
    workspace_name: String,
    role: String,
    expires_at: i64,
    used_at: Option<i64>,
}

fn role(raw: &str) -> Role {
    // The CHECK constraint only admits the four roles; viewer is the safe
    // reading of anything else.
    Role::parse(raw).unwrap_or(Role::Viewer)
}

impl Store {
    pub async fn count_users(&self) -> Result<i64> {
        Ok(
            with_pool!(self, pool => sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(pool).await?),
        )
    }

    /// Creates a user, a workspace and the user's owner membership at once.
    pub async fn insert_owner(
        &self,
        user: &User,
        password_hash: &str,
        workspace: &Workspace,
        now: i64,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("INSERT INTO users (id, email, name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(&user.id).bind(&user.email).bind(&user.name).bind(password_hash).bind(now)
                .execute(&mut *tx).await?;
            sqlx::query("INSERT INTO workspaces (id, name, created_at) VALUES ($1, $2, $3)")
                .bind(&workspace.id).bind(&workspace.name).bind(now)
                .execute(&mut *tx).await?;
            sqlx::query("INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, 'owner', $3)")
                .bind(&workspace.id).bind(&user.id).bind(now)
                .execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn insert_user(&self, user: &User, password_hash: &str, now: i64) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("INSERT INTO users (id, email, name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(&user.id).bind(&user.email).bind(&user.name).bind(password_hash).bind(now)
                .execute(pool).await?;
        });
        Ok(())
    }

    pub async fn insert_workspace(
        &self,
        workspace: &Workspace,
        owner_id: &str,
        now: i64,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("INSERT INTO workspaces (id, name, created_at) VALUES ($1, $2, $3)")
                .bind(&workspace.id).bind(&workspace.name).bind(now)
                .execute(&mut *tx).await?;
            sqlx::query("INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, 'owner', $3)")
                .bind(&workspace.id).bind(owner_id).bind(now)
                .execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn credentials(&self, email: &str) -> Result<Option<Credentials>> {
        let row = with_pool!(self, pool => {
            sqlx::query_as::<_, (String, String, String, String)>(
                "SELECT id, email, name, password_hash FROM users WHERE email = $1",
            )
            .bind(email)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|(id, email, name, password_hash)| Credentials {
            user: User { id, email, name },
            password_hash,
        }))
    }

    pub async fn password_hash(&self, user_id: &str) -> Result<Option<String>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1").bind(user_id).fetch_optional(pool).await?
        }))
    }

    pub async fn set_password_hash(&self, user_id: &str, hash: &str) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2").bind(hash).bind(user_id).execute(pool).await?;
        });
        Ok(())
    }

    pub async fn insert_session(
        &self,
        token_hash: &str,
        user_id: &str,
        workspace_id: Option<&str>,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("INSERT INTO sessions (token_hash, user_id, workspace_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(token_hash).bind(user_id).bind(workspace_id).bind(now).bind(expires_at)
                .execute(pool).await?;
        });
        Ok(())
    }

    /// The session behind a token hash, if it is neither revoked nor expired.
    pub async fn live_session(&self, token_hash: &str, now: i64) -> Result<Option<SessionRow>> {
        let row = with_pool!(self, pool => {
            sqlx::query_as::<_, (String, String, String, Option<String>, bool)>(
                "SELECT u.id, u.email, u.name, s.workspace_id,
                        EXISTS (SELECT 1 FROM two_factor t WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL)
                 FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2",
            )
            .bind(token_hash)
            .bind(now)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(
            |(id, email, name, workspace_id, second_factor)| SessionRow {
                user: User { id, email, name },
                workspace_id,
                second_factor,
            },
        ))
    }

    pub async fn revoke_session(&self, token_hash: &str, now: i64) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL")
                .bind(now).bind(token_hash).execute(pool).await?;
        });
        Ok(())
    }

    /// Revokes every session of a user but `keep` (after a password change).
    pub async fn revoke_other_sessions(&self, user_id: &str, keep: &str, now: i64) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND token_hash <> $3 AND revoked_at IS NULL")
                .bind(now).bind(user_id).bind(keep).execute(pool).await?;
        });
        Ok(())
    }

    pub async fn set_session_workspace(&self, token_hash: &str, workspace_id: &str) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE sessions SET workspace_id = $1 WHERE token_hash = $2")
                .bind(workspace_id).bind(token_hash).execute(pool).await?;
        });
        Ok(())
    }

    pub async fn memberships_of(&self, user_id: &str) -> Result<Vec<Membership>> {
        let rows = with_pool!(self, pool => {
            sqlx::query_as::<_, (String, String, String)>(
                "SELECT w.id, w.name, m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
                 WHERE m.user_id = $1 ORDER BY w.name, w.id",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(id, name, r)| Membership {
                workspace: Workspace {
                    id: WorkspaceId::new(id),
                    name,
                },
                role: role(&r),
            })
            .collect())
    }

    pub async fn role_in(&self, workspace_id: &str, user_id: &str) -> Result<Option<Role>> {
        let raw: Option<String> = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2")
                .bind(workspace_id).bind(user_id).fetch_optional(pool).await?
        });
        Ok(raw.as_deref().map(role))
    }

    pub async fn members_of(&self, workspace_id: &str) -> Result<Vec<Member>> {
        let rows: Vec<MemberRecord> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT u.id, u.email, u.name, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id
                 WHERE m.workspace_id = $1 ORDER BY m.created_at, u.email",
            )
            .bind(workspace_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|row| Member {
                user: User {
                    id: row.id,
                    email: row.email,
                    name: row.name,
                },
                role: role(&row.role),
                joined_at: row.created_at,
            })
            .collect())
    }

    pub async fn count_owners(&self, workspace_id: &str) -> Result<i64> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM memberships WHERE workspace_id = $1 AND role = 'owner'")
                .bind(workspace_id).fetch_one(pool).await?
        }))
    }

    /// Gives a member `new_role`, unless that would leave the workspace
    /// without an owner (false). Decided under the workspace's lock, so two
    /// owners demoting each other at once cannot both succeed.
    pub async fn set_role(
        &self,
        workspace_id: &str,
        user_id: &str,
        new_role: Role,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        if new_role != Role::Owner && !another_owner_remains(&mut tx, workspace_id, user_id).await?
        {
            return Ok(false);
        }
        with_tx!(&mut tx, conn => {
            sqlx::query("UPDATE memberships SET role = $1 WHERE workspace_id = $2 AND user_id = $3")
                .bind(new_role.as_str()).bind(workspace_id).bind(user_id).execute(&mut *conn).await?;
        });
        tx.commit().await?;
        Ok(true)
    }

    /// Removes a member, unless they are the workspace's last owner (false);
    /// their sessions leave the workspace with them.
    pub async fn delete_membership(&self, workspace_id: &str, user_id: &str) -> Result<bool> {
        let mut tx = self.begin().await?;
        if !another_owner_remains(&mut tx, workspace_id, user_id).await? {
            return Ok(false);
        }
        with_tx!(&mut tx, conn => {
            sqlx::query("DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2")
                .bind(workspace_id).bind(user_id).execute(&mut *conn).await?;
            sqlx::query("UPDATE sessions SET workspace_id = NULL WHERE user_id = $1 AND workspace_id = $2")
                .bind(user_id).bind(workspace_id).execute(&mut *conn).await?;
        });
        tx.commit().await?;
        Ok(true)
    }

    /// A workspace's invitations still open (unused, unexpired, and their
    /// creator still entitled to them), newest first.
    pub async fn open_invites(&self, workspace_id: &str, now: i64) -> Result<Vec<OpenInvite>> {
        let sql = format!(
            "SELECT i.token_hash AS id, i.role, u.name AS created_by_name, u.email AS created_by_email,
                    i.created_at, i.expires_at
             FROM invites i JOIN users u ON u.id = i.created_by
             WHERE i.workspace_id = $1 AND i.used_at IS NULL AND i.expires_at > $2 AND {CREATOR_MAY_STILL_INVITE}
             ORDER BY i.created_at DESC"
        );
        let rows: Vec<OpenInviteRecord> = with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(workspace_id).bind(now).fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|r| OpenInvite {
                id: r.id,
                role: role(&r.role),
                created_by_name: r.created_by_name,
                created_by_email: r.created_by_email,
                created_at: r.created_at,
                expires_at: r.expires_at,
            })
            .collect())
    }

    /// Ends an open invitation of the workspace; returns its role, or
    /// `None` when the workspace has no such invitation.
    pub async fn revoke_invite(&self, workspace_id: &str, id: &str) -> Result<Option<Role>> {
        let revoked: Option<String> = with_pool!(self, pool => {
            sqlx::query_scalar(
                // Expired rather than deleted: its link then says so.
                "UPDATE invites SET expires_at = 0 WHERE workspace_id = $1 AND token_hash = $2 AND used_at IS NULL AND expires_at > 0 RETURNING role",
            )
            .bind(workspace_id).bind(id).fetch_optional(pool).await?
        });
        Ok(revoked.map(|r| role(&r)))
    }

    pub async fn insert_invite(
        &self,
        token_hash: &str,
        workspace_id: &str,
        invited_role: Role,
        created_by: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO invites (token_hash, workspace_id, role, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(token_hash).bind(workspace_id).bind(invited_role.as_str()).bind(created_by).bind(now).bind(expires_at)
            .execute(pool).await?;
        });
        Ok(())
    }

    pub async fn invite(&self, token_hash: &str) -> Result<Option<InviteRow>> {
        let row: Option<InviteRecord> = with_pool!(self, pool => {
            sqlx::query_as(
                &format!("SELECT w.id AS workspace_id, w.name AS workspace_name, i.role, i.expires_at,
                     CASE WHEN {CREATOR_MAY_STILL_INVITE} THEN i.used_at ELSE i.expires_at END AS used_at
                 FROM invites i JOIN workspaces w ON w.id = i.workspace_id
                 WHERE i.token_hash = $1"),
            )
            .bind(token_hash)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|row| InviteRow {
            workspace: Workspace {
                id: WorkspaceId::new(row.workspace_id),
                name: row.workspace_name,
            },
            role: role(&row.role),
            expires_at: row.expires_at,
            used: row.used_at.is_some(),
        }))
    }

    /// Uses an invite for `user_id`: marks it used and adds the membership,
    /// only if it was still unused and unexpired. Returns whether it was.
    pub async fn redeem_invite(&self, token_hash: &str, user_id: &str, now: i64) -> Result<bool> {
        let redeemed = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let claimed = sqlx::query(
                &format!("UPDATE invites SET used_at = $1, used_by = $2
                 WHERE token_hash = $3 AND used_at IS NULL AND expires_at > $1
                 AND EXISTS (SELECT 1 FROM invites i WHERE i.token_hash = $3 AND {CREATOR_MAY_STILL_INVITE})"),
            )
            .bind(now).bind(user_id).bind(token_hash)
            .execute(&mut *tx).await?
            .rows_affected() == 1;
            if claimed {
                sqlx::query(
                    "INSERT INTO memberships (workspace_id, user_id, role, created_at)
                     SELECT workspace_id, $1, role, $2 FROM invites WHERE token_hash = $3
                     ON CONFLICT (workspace_id, user_id) DO NOTHING",
                )
                .bind(user_id).bind(now).bind(token_hash)
                .execute(&mut *tx).await?;
            }
            tx.commit().await?;
            claimed
        });
        Ok(redeemed)
    }

    /// Counts a sign-in attempt against `key`, unless `limit` attempts in
    /// the window since `since` were counted already: then the oldest of
    /// them (its time) says when to come back. Counted before the password
    /// is checked, one at a time per key (`BEGIN IMMEDIATE`, an advisory
    /// lock on Postgres), so a parallel burst cannot slip past the limit;
    /// a successful sign-in takes its attempt back ([`Self::forget_sign_in_attempt`]).
    pub async fn take_sign_in_attempt(
        &self,
        key: &str,
        limit: i64,
        since: i64,
        now: i64,
    ) -> Result<std::result::Result<(), i64>> {
        let mut tx = self.begin().await?;
        if let Tx::Postgres(conn) = &mut tx {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 1))")
                .bind(key)
                .execute(&mut **conn)
                .await?;
        }
        let taken = with_tx!(&mut tx, conn => {
            let (count, oldest): (i64, Option<i64>) =
                sqlx::query_as("SELECT COUNT(*), MIN(at) FROM sign_in_failures WHERE key = $1 AND at > $2")
                    .bind(key).bind(since).fetch_one(&mut *conn).await?;
            if count >= limit {
                Err(oldest.unwrap_or(now))
            } else {
                sqlx::query("INSERT INTO sign_in_failures (key, at) VALUES ($1, $2)")
                    .bind(key).bind(now).execute(&mut *conn).await?;
                Ok(())
            }
        });
        tx.commit().await?;
        Ok(taken)
    }

    /// Takes back one attempt counted at `at` (it succeeded).
    pub async fn forget_sign_in_attempt(&self, key: &str, at: i64) -> Result<()> {
        with_pool!(self, pool => {
            // Attempts of one key in the same millisecond go back together:
            // lenient, and only for someone who knew the password.
            sqlx::query("DELETE FROM sign_in_failures WHERE key = $1 AND at = $2")
                .bind(key).bind(at).execute(pool).await?;
        });
        Ok(())
    }

    /// Attempts counted against `key` since `since`, and the oldest's time.
    pub async fn sign_in_failures(&self, key: &str, since: i64) -> Result<(i64, Option<i64>)> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as::<_, (i64, Option<i64>)>("SELECT COUNT(*), MIN(at) FROM sign_in_failures WHERE key = $1 AND at > $2")
                .bind(key).bind(since).fetch_one(pool).await?
        }))
    }

    pub async fn clear_sign_in_failures(&self, key: &str) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM sign_in_failures WHERE key = $1").bind(key).execute(pool).await?;
        });
        Ok(())
    }
}

impl Store {
    pub async fn user(&self, user_id: &str) -> Result<Option<User>> {
        let row = with_pool!(self, pool => {
            sqlx::query_as::<_, (String, String, String)>("SELECT id, email, name FROM users WHERE id = $1")
                .bind(user_id).fetch_optional(pool).await?
        });
        Ok(row.map(|(id, email, name)| User { id, email, name }))
    }

    /// A user's email, for audit entries written on their behalf later.
    pub async fn user_email(&self, user_id: &str) -> Result<Option<String>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
                .bind(user_id).fetch_optional(pool).await?
        }))
    }
}

/// Whether the workspace keeps an owner other than `user_id` (true also
/// when `user_id` is no owner). Takes the workspace row's lock first: on
/// Postgres a concurrent change of the same workspace's owners waits for
/// this transaction, then counts what it left (SQLite's `BEGIN IMMEDIATE`
/// already serialises writers).
async fn another_owner_remains(tx: &mut Tx<'_>, workspace_id: &str, user_id: &str) -> Result<bool> {
    Ok(with_tx!(tx, conn => {
        sqlx::query("UPDATE workspaces SET name = name WHERE id = $1")
            .bind(workspace_id).execute(&mut *conn).await?;
        let (is_owner, others): (i64, i64) = sqlx::query_as(
            "SELECT
                 COUNT(*) FILTER (WHERE user_id = $2),
                 COUNT(*) FILTER (WHERE user_id <> $2)
             FROM memberships WHERE workspace_id = $1 AND role = 'owner'",
        )
        .bind(workspace_id).bind(user_id).fetch_one(&mut *conn).await?;
        is_owner == 0 || others > 0
    }))
}
