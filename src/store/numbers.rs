//! SQL for connected numbers and their sealed tokens.

use super::{with_pool, with_tx, Result, Store, Tx};
use crate::{
    ids::{ContactScope, PhoneNumberId, WabaId, WorkspaceId},
    text_enum::text_enum,
    vault::Sealed,
};

text_enum! {
    /// Where a connected number stands.
    pub enum NumberStatus {
        /// Its onboarding run has not finished.
        Onboarding = "onboarding",
        /// It sends and receives.
        Live = "live",
        /// Meta refused its token or the business removed the app:
        /// queued messages wait until it is connected again.
        ReconnectNeeded = "reconnect_needed",
        /// Disconnected by an admin, or by the business ending the
        /// connection (`PARTNER_REMOVED`); its history stays.
        Disconnected = "disconnected",
        /// Meta refused sends for the whole account (locked, a billing
        /// problem, blocked for policy, not registered): queued messages
        /// wait until an admin resumes it once the cause is fixed.
        PausedByMeta = "paused_by_meta",
        /// Meta disabled the WhatsApp Business Account (`DISABLED_UPDATE`):
        /// queued messages wait until Meta reinstates it.
        DisabledByMeta = "disabled_by_meta",
        /// A WhatsApp Business app number Meta took off the Cloud API for a
        /// while (`ACCOUNT_OFFBOARDED`: a new device, a reinstall): queued
        /// messages wait until Meta reconnects it.
        Offboarded = "offboarded",
        /// Meta reconnected it (`ACCOUNT_RECONNECTED`): Switchboard checks
        /// the subscription and the number before it sends again.
        Reconnecting = "reconnecting",
    }
}

impl NumberStatus {
    /// Whether messages may go out. Sending pauses (queued messages wait)
    /// until a reconnect makes the number live again.
    pub fn can_send(self) -> bool {
        self == Self::Live
    }
}

/// A connected number as the UI and the workers see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct NumberRow {
    pub phone_number_id: PhoneNumberId,
    pub workspace_id: WorkspaceId,
    pub waba_id: WabaId,
    pub display_phone_number: Option<String>,
    pub verified_name: Option<String>,
    pub quality_rating: Option<String>,
    pub status: NumberStatus,
    pub status_reason: Option<String>,
    pub meta_status: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Messages per second the outbox sends from it.
    pub send_rate: i64,
    /// Where its customers' BSUIDs mean one person (set when it first
    /// connected).
    pub contact_scope: Option<ContactScope>,
    /// When it was onboarded from the WhatsApp Business app (coexistence);
    /// `None` for a Cloud API number.
    pub business_app_since: Option<i64>,
}

text_enum! {
    /// The requests Meta counts toward a number's registration limit.
    pub enum RegisterRequest {
        Register = "register",
        Deregister = "deregister",
    }
}

/// Meta's fixed throughput for a number on the WhatsApp Business app.
pub const BUSINESS_APP_MAX_RATE: i64 = 20;

impl NumberRow {
    pub fn contact_scope(&self) -> ContactScope {
        self.contact_scope
            .clone()
            .unwrap_or_else(|| ContactScope::of(None, &self.waba_id))
    }
}

/// A number's token as stored: sealed, with what Meta said about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    pub phone_number_id: String,
    pub workspace_id: String,
    pub sealed: Sealed,
    pub token_type: Option<String>,
    pub scopes: Vec<String>,
    /// Unix ms; `None` for a token that never expires.
    pub expires_at: Option<i64>,
    pub issued_at: Option<i64>,
    /// When this token was stored (Unix ms): it names the token, so that a
    /// write meant for it never lands on a newer one.
    pub stored_at: i64,
    pub checked_at: Option<i64>,
    pub problem: Option<String>,
    /// Meta's refusal to refresh it, and when (see `token_expiry`).
    pub refresh_refused: Option<(String, i64)>,
    /// The last expiry warning given for it: 14, 7 or 1 days before.
    pub expiry_warned_days: Option<i64>,
}

/// What to store beside a new token.
#[derive(Debug, Clone)]
pub struct NewToken<'a> {
    pub sealed: &'a Sealed,
    pub token_type: Option<&'a str>,
    pub scopes: &'a [String],
    pub expires_at: Option<i64>,
    pub issued_at: Option<i64>,
}

const NUMBER_COLUMNS: &str = "phone_number_id, workspace_id, waba_id, display_phone_number, verified_name, quality_rating, status, status_reason, meta_status, created_at, updated_at, send_rate, contact_scope, business_app_since";

/// A row of `number_tokens`, before its seal and scopes are put together.
#[derive(sqlx::FromRow)]
struct TokenRecord {
    phone_number_id: String,
    workspace_id: String,
    key_id: String,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
    token_type: Option<String>,
    /// Comma-separated.
    scopes: String,
    expires_at: Option<i64>,
    issued_at: Option<i64>,
    stored_at: i64,
    checked_at: Option<i64>,
    problem: Option<String>,
    refresh_refused: Option<String>,
    refresh_refused_at: Option<i64>,
    expiry_warned_days: Option<i64>,
}

const TOKEN_COLUMNS: &str = "phone_number_id, workspace_id, key_id, nonce, ciphertext, token_type, scopes, expires_at, issued_at, stored_at, checked_at, problem, refresh_refused, refresh_refused_at, expiry_warned_days";

impl From<TokenRecord> for StoredToken {
    fn from(row: TokenRecord) -> Self {
        StoredToken {
            phone_number_id: row.phone_number_id,
            workspace_id: row.workspace_id,
            sealed: Sealed {
                key_id: row.key_id,
                nonce: row.nonce,
                ciphertext: row.ciphertext,
            },
            token_type: row.token_type,
            scopes: row
                .scopes
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            expires_at: row.expires_at,
            issued_at: row.issued_at,
            stored_at: row.stored_at,
            checked_at: row.checked_at,
            problem: row.problem,
            refresh_refused: row.refresh_refused.zip(row.refresh_refused_at),
            expiry_warned_days: row.expiry_warned_days,
        }
    }
}

/// A number that must be reconnected before it sends again.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct ReconnectNeeded {
    pub phone_number_id: String,
    pub workspace_id: String,
}

/// Records Meta's quality rating of a WABA's number, named by its display
/// number as Meta's webhook names it.
pub(crate) async fn set_quality(
    tx: &mut Tx<'_>,
    waba_id: &str,
    display_phone_number: &str,
    rating: &str,
) -> Result<()> {
    for number in numbers_shown_as(tx, waba_id, display_phone_number).await? {
        with_tx!(tx, conn => {
            sqlx::query("UPDATE whatsapp_numbers SET quality_rating = $1 WHERE phone_number_id = $2")
                .bind(rating).bind(&number.phone_number_id)
                .execute(conn).await?;
        });
    }
    Ok(())
}

/// A number whose sending rate Meta raised.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct RateRaised {
    pub workspace_id: String,
    pub phone_number_id: String,
    pub before: i64,
}

/// A connected number of a WABA.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct WabaNumber {
    pub workspace_id: String,
    pub phone_number_id: String,
}

/// The WABA's connected numbers Meta shows as `display_phone_number`
/// (digits compared: Meta writes `15550783881` in webhooks, `+1
/// 555-078-3881` elsewhere).
pub(crate) async fn numbers_shown_as(
    tx: &mut Tx<'_>,
    waba_id: &str,
    display_phone_number: &str,
) -> Result<Vec<WabaNumber>> {
    let digits = |text: &str| {
        text.chars()
            .filter(char::is_ascii_digit)
            .collect::<String>()
    };
    let wanted = digits(display_phone_number);
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let numbers: Vec<(String, String, Option<String>)> = with_tx!(tx, conn => {
        sqlx::query_as(
            "SELECT workspace_id, phone_number_id, display_phone_number FROM whatsapp_numbers
             WHERE waba_id = $1 AND status <> $2",
        )
        .bind(waba_id).bind(NumberStatus::Disconnected).fetch_all(conn).await?
    });
    Ok(numbers
        .into_iter()
        .filter(|(_, _, display)| display.as_deref().map(digits) == Some(wanted.clone()))
        .map(|(workspace_id, phone_number_id, _)| WabaNumber {
            workspace_id,
            phone_number_id,
        })
        .collect())
}

/// Raises to `rate` the sending rate of the WABA's number shown as
/// `display_phone_number`. Returns the numbers it raised: none the second
/// time, so a duplicate delivery audits nothing twice, and never a number
/// already at or above `rate`.
pub(crate) async fn raise_send_rate(
    tx: &mut Tx<'_>,
    waba_id: &str,
    display_phone_number: &str,
    rate: i64,
) -> Result<Vec<RateRaised>> {
    let mut raised = Vec::new();
    for number in numbers_shown_as(tx, waba_id, display_phone_number).await? {
        let before: Option<i64> = with_tx!(tx, conn => {
            let before = sqlx::query_scalar(
                "SELECT send_rate FROM whatsapp_numbers WHERE phone_number_id = $1 AND send_rate < $2",
            )
            .bind(&number.phone_number_id).bind(rate).fetch_optional(&mut *conn).await?;
            // The update decides, not the read: two deliveries applied at
            // once on Postgres both read the old rate, but the second
            // update waits for the first and then changes nothing.
            let changed = sqlx::query("UPDATE whatsapp_numbers SET send_rate = $1 WHERE phone_number_id = $2 AND send_rate < $1")
                .bind(rate).bind(&number.phone_number_id).execute(&mut *conn).await?
                .rows_affected();
            before.filter(|_| changed > 0)
        });
        if let Some(before) = before {
            raised.push(RateRaised {
                workspace_id: number.workspace_id,
                phone_number_id: number.phone_number_id,
                before,
            });
        }
    }
    Ok(raised)
}

/// The WABA's numbers that could send must be reconnected first; returns
/// those that changed (none the second time, so a duplicate delivery
/// audits nothing twice).
pub(crate) async fn require_reconnect(
    tx: &mut Tx<'_>,
    waba_id: &str,
    reason: &str,
    now: i64,
) -> Result<Vec<ReconnectNeeded>> {
    Ok(with_tx!(tx, conn => {
        sqlx::query_as(
            "UPDATE whatsapp_numbers SET status = $4, status_reason = $1, updated_at = $2
             WHERE waba_id = $3 AND status IN ($5, $6, $7) RETURNING phone_number_id, workspace_id",
        )
        .bind(reason).bind(now).bind(waba_id)
        .bind(NumberStatus::ReconnectNeeded).bind(NumberStatus::Live).bind(NumberStatus::Onboarding)
        .bind(NumberStatus::PausedByMeta)
        .fetch_all(conn).await?
    }))
}

/// A number changed by a coexistence event.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct ChangedNumber {
    pub phone_number_id: String,
    pub workspace_id: String,
}

/// Moves the WABA's numbers in `from` to `to` with `reason`: the one named,
/// or (`None`) every number of it onboarded from the WhatsApp Business app.
/// Returns those that changed (none the second time).
pub(crate) async fn move_business_app_numbers(
    tx: &mut Tx<'_>,
    waba_id: &str,
    phone_number_id: Option<&str>,
    from: NumberStatus,
    to: NumberStatus,
    reason: Option<&str>,
    now: i64,
) -> Result<Vec<ChangedNumber>> {
    Ok(with_tx!(tx, conn => {
        sqlx::query_as(
            "UPDATE whatsapp_numbers SET status = $1, status_reason = $2, updated_at = $3
             WHERE waba_id = $4 AND status = $5
               AND (phone_number_id = $6 OR ($6 IS NULL AND business_app_since IS NOT NULL))
             RETURNING phone_number_id, workspace_id",
        )
        .bind(to).bind(reason).bind(now).bind(waba_id).bind(from).bind(phone_number_id)
        .fetch_all(conn).await?
    }))
}

/// The business ended the connection: the WABA's numbers (the one named,
/// or all) are disconnected with `reason` and their tokens dropped.
/// Returns those that changed.
pub(crate) async fn end_connection(
    tx: &mut Tx<'_>,
    waba_id: &str,
    phone_number_id: Option<&str>,
    reason: &str,
    now: i64,
) -> Result<Vec<ChangedNumber>> {
    let ended: Vec<ChangedNumber> = with_tx!(tx, conn => {
        sqlx::query_as(
            "UPDATE whatsapp_numbers SET status = $1, status_reason = $2, updated_at = $3
             WHERE waba_id = $4 AND status <> $1 AND (phone_number_id = $5 OR $5 IS NULL)
             RETURNING phone_number_id, workspace_id",
        )
        .bind(NumberStatus::Disconnected).bind(reason).bind(now).bind(waba_id).bind(phone_number_id)
        .fetch_all(&mut *conn).await?
    });
    for number in &ended {
        with_tx!(tx, conn => {
            sqlx::query("DELETE FROM number_tokens WHERE phone_number_id = $1")
                .bind(&number.phone_number_id).execute(conn).await?;
        });
    }
    Ok(ended)
}

/// Where a connected number's webhooks go.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct NumberRoute {
    pub phone_number_id: String,
    pub workspace_id: String,
    /// Where its customers' BSUIDs mean one person.
    pub contact_scope: ContactScope,
}

impl Store {
    pub async fn number(&self, phone_number_id: &PhoneNumberId) -> Result<Option<NumberRow>> {
        let sql =
            format!("SELECT {NUMBER_COLUMNS} FROM whatsapp_numbers WHERE phone_number_id = $1");
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(phone_number_id).fetch_optional(pool).await?
        }))
    }

    pub async fn numbers_of(&self, workspace_id: &WorkspaceId) -> Result<Vec<NumberRow>> {
        let sql = format!(
            "SELECT {NUMBER_COLUMNS} FROM whatsapp_numbers WHERE workspace_id = $1 ORDER BY created_at, phone_number_id"
        );
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(workspace_id).fetch_all(pool).await?
        }))
    }

    /// Connects a number to a workspace (onboarding calls this).
    pub async fn connect_number(
        &self,
        workspace_id: &WorkspaceId,
        phone_number_id: &PhoneNumberId,
        waba_id: &WabaId,
        display: Option<&str>,
        now: i64,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO whatsapp_numbers (phone_number_id, workspace_id, waba_id, display_phone_number, created_at, contact_scope)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (phone_number_id) DO UPDATE SET workspace_id = excluded.workspace_id, waba_id = excluded.waba_id,
                     contact_scope = COALESCE(whatsapp_numbers.contact_scope, excluded.contact_scope),
                     display_phone_number = COALESCE(excluded.display_phone_number, whatsapp_numbers.display_phone_number)",
            )
            .bind(phone_number_id).bind(workspace_id).bind(waba_id).bind(display).bind(now)
            .bind(ContactScope::of(None, waba_id))
            .execute(pool).await?;
        });
        Ok(())
    }

    /// Workspace and contact scope of each connected number among
    /// `phone_number_ids`.
    /// Where events of these numbers go. A disconnected number has no
    /// route: its events wait as unrouted until it is connected again (no
    /// bot reply, no outgoing webhook meanwhile).
    pub async fn number_owners(&self, phone_number_ids: &[String]) -> Result<Vec<NumberRoute>> {
        let mut owners = Vec::new();
        for id in phone_number_ids {
            let owner: Option<NumberRoute> = with_pool!(self, pool => {
                sqlx::query_as(
                    "SELECT phone_number_id, workspace_id, COALESCE(contact_scope, 'waba:' || waba_id) AS contact_scope
                     FROM whatsapp_numbers WHERE phone_number_id = $1 AND status <> $2",
                )
                .bind(id).bind(NumberStatus::Disconnected).fetch_optional(pool).await?
            });
            owners.extend(owner);
        }
        Ok(owners)
    }

    /// The workspace of a WABA, if one of its numbers is connected.
    pub async fn waba_owner(&self, waba_id: &str) -> Result<Option<String>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar("SELECT workspace_id FROM whatsapp_numbers WHERE waba_id = $1 LIMIT 1")
                .bind(waba_id).fetch_optional(pool).await?
        }))
    }

    /// Moves a number to `status`; `false` when it already was there (so
    /// callers audit a change once).
    pub async fn set_number_status(
        &self,
        phone_number_id: &str,
        status: NumberStatus,
        reason: Option<&str>,
        now: i64,
    ) -> Result<bool> {
        let changed = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE whatsapp_numbers SET status = $1, status_reason = $2, updated_at = $3
                 WHERE phone_number_id = $4 AND status <> $1",
            )
            .bind(status).bind(reason).bind(now).bind(phone_number_id)
            .execute(pool).await?.rows_affected()
        });
        Ok(changed > 0)
    }

    /// Moves a live number to `status` and audits `action` in one
    /// transaction: the audit entry exists exactly when the change
    /// happened. Returns whether it changed (not when it was not live).
    pub async fn leave_live(
        &self,
        phone_number_id: &str,
        status: NumberStatus,
        reason: &str,
        action: &str,
        detail: &str,
        now: i64,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let (changed, workspace): (bool, Option<String>) = with_tx!(&mut tx, conn => {
            let workspace: Option<String> = sqlx::query_scalar(
                "UPDATE whatsapp_numbers SET status = $1, status_reason = $2, updated_at = $3
                 WHERE phone_number_id = $4 AND status = $5 RETURNING workspace_id",
            )
            .bind(status).bind(reason).bind(now).bind(phone_number_id).bind(NumberStatus::Live)
            .fetch_optional(&mut *conn).await?;
            (workspace.is_some(), workspace)
        });
        if let Some(workspace) = workspace {
            super::audit::insert_unattended(&mut tx, &workspace, action, detail, now).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// A number Meta paused goes live again (an admin fixed the cause);
    /// false if it is not paused (any more).
    pub async fn resume_paused(&self, phone_number_id: &str, now: i64) -> Result<bool> {
        self.go_live_from(
            phone_number_id,
            NumberStatus::PausedByMeta,
            NumberStatus::PausedByMeta,
            now,
        )
        .await
    }

    /// A number Meta paused or disabled sends again: Meta's health status
    /// says it can. False if it was neither (any more).
    pub async fn resume_after_meta(&self, phone_number_id: &str, now: i64) -> Result<bool> {
        self.go_live_from(
            phone_number_id,
            NumberStatus::PausedByMeta,
            NumberStatus::DisabledByMeta,
            now,
        )
        .await
    }

    /// Moves a number from `from` to `to` (clearing the reason); false if
    /// it was not in `from` (any more).
    pub async fn set_number_status_from(
        &self,
        phone_number_id: &str,
        from: NumberStatus,
        to: NumberStatus,
        now: i64,
    ) -> Result<bool> {
        self.go_live_from_to(phone_number_id, from, from, to, now)
            .await
    }

    /// Live again, only from one of two statuses (a number disconnected or
    /// to be reconnected meanwhile stays so).
    async fn go_live_from(
        &self,
        phone_number_id: &str,
        from: NumberStatus,
        or_from: NumberStatus,
        now: i64,
    ) -> Result<bool> {
        self.go_live_from_to(phone_number_id, from, or_from, NumberStatus::Live, now)
            .await
    }

    async fn go_live_from_to(
        &self,
        phone_number_id: &str,
        from: NumberStatus,
        or_from: NumberStatus,
        to: NumberStatus,
        now: i64,
    ) -> Result<bool> {
        let changed = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE whatsapp_numbers SET status = $1, status_reason = NULL, updated_at = $2
                 WHERE phone_number_id = $3 AND status IN ($4, $5)",
            )
            .bind(to).bind(now).bind(phone_number_id).bind(from).bind(or_from)
            .execute(pool).await?.rows_affected()
        });
        Ok(changed == 1)
    }

    /// Records what Meta says about a number and marks it live.
    pub async fn number_is_live(
        &self,
        phone_number_id: &str,
        display: Option<&str>,
        verified_name: Option<&str>,
        quality_rating: Option<&str>,
        meta_status: Option<&str>,
        now: i64,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "UPDATE whatsapp_numbers SET status = $7, status_reason = NULL, updated_at = $1,
                     display_phone_number = COALESCE($2, display_phone_number),
                     verified_name = COALESCE($3, verified_name),
                     quality_rating = COALESCE($4, quality_rating),
                     meta_status = COALESCE($5, meta_status)
                 WHERE phone_number_id = $6",
            )
            .bind(now).bind(display).bind(verified_name).bind(quality_rating).bind(meta_status).bind(phone_number_id)
            .bind(NumberStatus::Live)
            .execute(pool).await?;
        });
        Ok(())
    }

    pub async fn number_token(&self, phone_number_id: &str) -> Result<Option<StoredToken>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM number_tokens WHERE phone_number_id = $1");
        let row = with_pool!(self, pool => {
            sqlx::query_as::<_, TokenRecord>(&sql).bind(phone_number_id).fetch_optional(pool).await?
        });
        Ok(row.map(StoredToken::from))
    }

    /// Every stored token, for the health check and key rotation.
    pub async fn all_number_tokens(&self) -> Result<Vec<StoredToken>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM number_tokens ORDER BY phone_number_id");
        let rows = with_pool!(self, pool => {
            sqlx::query_as::<_, TokenRecord>(&sql).fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(StoredToken::from).collect())
    }

    /// The tokens of live numbers, for the health check (one query).
    pub async fn live_number_tokens(&self) -> Result<Vec<StoredToken>> {
        let columns = TOKEN_COLUMNS
            .split(", ")
            .map(|c| format!("t.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {columns} FROM number_tokens t JOIN whatsapp_numbers n ON n.phone_number_id = t.phone_number_id
             WHERE n.status = $1 ORDER BY t.phone_number_id"
        );
        let rows = with_pool!(self, pool => {
            sqlx::query_as::<_, TokenRecord>(&sql).bind(NumberStatus::Live).fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(StoredToken::from).collect())
    }

    /// Keeps what `debug_token` said of the token stored at `stored_at`;
    /// nothing if another has replaced it meanwhile (a refresh, a
    /// reconnect), whose expiry this check did not read.
    pub async fn record_token_check(
        &self,
        phone_number_id: &str,
        stored_at: i64,
        expires_at: Option<i64>,
        problem: Option<&str>,
        now: i64,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE number_tokens SET checked_at = $1, expires_at = $2, problem = $3 WHERE phone_number_id = $4 AND stored_at = $5")
                .bind(now).bind(expires_at).bind(problem).bind(phone_number_id).bind(stored_at)
                .execute(pool).await?;
        });
        Ok(())
    }

    /// Replaces a token's seal, if it is still the one that was read (a
    /// reconnect in between wins). Returns whether it was replaced.
    pub async fn reseal_number_token(
        &self,
        phone_number_id: &str,
        old: &Sealed,
        new: &Sealed,
    ) -> Result<bool> {
        let replaced = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE number_tokens SET key_id = $1, nonce = $2, ciphertext = $3
                 WHERE phone_number_id = $4 AND nonce = $5",
            )
            .bind(&new.key_id).bind(&new.nonce).bind(&new.ciphertext).bind(phone_number_id).bind(&old.nonce)
            .execute(pool).await?.rows_affected()
        });
        Ok(replaced > 0)
    }

    /// Disconnects a number: its token is deleted, its history kept.
    pub async fn disconnect_number(&self, phone_number_id: &str, now: i64) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM number_tokens WHERE phone_number_id = $1")
                .bind(phone_number_id).execute(&mut *tx).await?;
            sqlx::query("UPDATE whatsapp_numbers SET status = $1, status_reason = NULL, updated_at = $2 WHERE phone_number_id = $3")
                .bind(NumberStatus::Disconnected).bind(now).bind(phone_number_id).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Other numbers of this WABA still connected (so the app must stay
    /// subscribed to it).
    pub async fn connected_numbers_of_waba(&self, waba_id: &str, except: &str) -> Result<i64> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM whatsapp_numbers WHERE waba_id = $1 AND phone_number_id <> $2 AND status <> $3",
            )
            .bind(waba_id).bind(except).bind(NumberStatus::Disconnected).fetch_one(pool).await?
        }))
    }

    pub async fn register_attempts_since(&self, phone_number_id: &str, since: i64) -> Result<i64> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM register_attempts WHERE phone_number_id = $1 AND at >= $2",
            )
            .bind(phone_number_id).bind(since).fetch_one(pool).await?
        }))
    }

    /// A register or deregister request: Meta counts both toward its 10 in
    /// 72 hours.
    pub async fn record_register_attempt(
        &self,
        phone_number_id: &str,
        kind: RegisterRequest,
        now: i64,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("INSERT INTO register_attempts (phone_number_id, at, kind) VALUES ($1, $2, $3)")
                .bind(phone_number_id).bind(now).bind(kind).execute(pool).await?;
        });
        Ok(())
    }

    /// A verification code asked for the number.
    pub async fn record_code_request(
        &self,
        phone_number_id: &str,
        method: &str,
        now: i64,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("INSERT INTO code_requests (phone_number_id, method, at) VALUES ($1, $2, $3)")
                .bind(phone_number_id).bind(method).bind(now).execute(pool).await?;
        });
        Ok(())
    }

    /// The codes asked for the number since `since`: (method, when), newest
    /// first.
    pub async fn code_requests_since(
        &self,
        phone_number_id: &str,
        since: i64,
    ) -> Result<Vec<(String, i64)>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT method, at FROM code_requests WHERE phone_number_id = $1 AND at >= $2 ORDER BY at DESC",
            )
            .bind(phone_number_id).bind(since).fetch_all(pool).await?
        }))
    }
}

impl Store {
    /// The ids of the keys that sealed any stored token.
    pub async fn token_key_ids(&self) -> Result<Vec<String>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT key_id FROM number_tokens UNION SELECT key_id FROM onboardings WHERE key_id IS NOT NULL
                 UNION SELECT secret_key_id FROM webhook_endpoints
                 UNION SELECT previous_key_id FROM webhook_endpoints WHERE previous_key_id IS NOT NULL
                 UNION SELECT key_id FROM two_factor
                 UNION SELECT key_id FROM oauth_states WHERE key_id IS NOT NULL",
            )
            .fetch_all(pool).await?
        }))
    }
}
