//! SQL for onboarding runs. Each write is one statement or one
//! transaction, so a run resumes from a consistent step after a crash.

use super::{numbers::NewToken, with_pool, Claim, NumberStatus, Result, Store};
use crate::{ids::ContactScope, text_enum::text_enum, vault::Sealed};

text_enum! {
    /// The steps of an onboarding run, in order; `Live` is the end.
    pub enum OnboardingStep {
        /// Exchange the signup code for the business token.
        Exchange = "exchange",
        /// Check the token's scopes and assets.
        Verify = "verify",
        /// Subscribe the app to the WABA's webhooks.
        Subscribe = "subscribe",
        /// Verify a number Meta has not verified yet, with a code sent by
        /// SMS or voice call.
        VerifyNumber = "verify_number",
        /// Register the number with its two-step PIN.
        Register = "register",
        /// A WhatsApp Business app number: ask Meta once for the app's
        /// contacts and history (no register: the app keeps it).
        BusinessAppSync = "business_app_sync",
        /// Read the number's details and mark it live.
        Details = "details",
        Live = "live",
    }
}

text_enum! {
    /// Where a run stands at its step.
    pub enum RunState {
        /// For the person: the code, the signup data or the PIN.
        Waiting = "waiting",
        /// For a worker to run the step.
        Ready = "ready",
        /// The step failed; the problem says why.
        Failed = "failed",
        /// The number is live.
        Done = "done",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnboardingRow {
    pub id: String,
    pub workspace_id: String,
    pub attempt: String,
    pub started_by: Option<String>,
    pub step: OnboardingStep,
    pub state: RunState,
    pub problem: Option<String>,
    pub finish_event: Option<String>,
    pub waba_id: Option<String>,
    pub phone_number_id: Option<String>,
    pub business_id: Option<String>,
    /// The exchanged token until the number is known.
    pub sealed: Option<Sealed>,
    pub token_type: Option<String>,
    pub expires_at: Option<i64>,
    /// The numbers the signup could mean, when it named none (JSON).
    pub choices: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, workspace_id, attempt, started_by, step, state, problem, finish_event, waba_id, phone_number_id, business_id, key_id, nonce, ciphertext, token_type, expires_at, choices, created_at, updated_at";

fn from_row<R: sqlx::Row>(row: &R) -> std::result::Result<OnboardingRow, sqlx::Error>
where
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<Vec<u8>>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> OnboardingStep: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> RunState: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
{
    let key_id: Option<String> = row.try_get("key_id")?;
    let nonce: Option<Vec<u8>> = row.try_get("nonce")?;
    let ciphertext: Option<Vec<u8>> = row.try_get("ciphertext")?;
    let sealed = match (key_id, nonce, ciphertext) {
        (Some(key_id), Some(nonce), Some(ciphertext)) => Some(Sealed {
            key_id,
            nonce,
            ciphertext,
        }),
        _ => None,
    };
    Ok(OnboardingRow {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        attempt: row.try_get("attempt")?,
        started_by: row.try_get("started_by")?,
        step: row.try_get("step")?,
        state: row.try_get("state")?,
        problem: row.try_get("problem")?,
        finish_event: row.try_get("finish_event")?,
        waba_id: row.try_get("waba_id")?,
        phone_number_id: row.try_get("phone_number_id")?,
        business_id: row.try_get("business_id")?,
        sealed,
        token_type: row.try_get("token_type")?,
        expires_at: row.try_get("expires_at")?,
        choices: row.try_get("choices")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// A run still holding a token of its own.
#[derive(sqlx::FromRow)]
struct SealRecord {
    id: String,
    workspace_id: String,
    key_id: String,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
}

/// The number an onboarding run attaches, with its token sealed for it.
#[derive(Debug, Clone)]
pub struct Attachment<'a> {
    pub onboarding_id: &'a str,
    pub workspace_id: &'a str,
    pub phone_number_id: &'a str,
    pub waba_id: &'a str,
    /// Kept from the number's first connection, so that its contacts never
    /// split when a later one learns the portfolio.
    pub contact_scope: &'a ContactScope,
    pub display_phone_number: Option<&'a str>,
    pub verified_name: Option<&'a str>,
    pub token: NewToken<'a>,
    pub next_step: OnboardingStep,
}

/// Why a number cannot be attached.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error("the number belongs to another workspace")]
    OtherWorkspace,
    #[error(transparent)]
    Store(#[from] super::Error),
}

/// Runs whose next step is ready.
const READY_RUNS: Claim = Claim {
    table: "onboardings",
    key: "id",
    state: RunState::Ready.sql(),
    due: "1 = 1",
    order_by: "id",
    also_set: "",
    returning: "id",
};
/// Runs claimed at once (the worker claims again until none is ready).
const READY_RUNS_BATCH: i64 = 16;

impl Store {
    /// The run for (workspace, attempt), created on first sight.
    pub async fn start_onboarding(
        &self,
        workspace_id: &str,
        attempt: &str,
        started_by: Option<&str>,
        now: i64,
    ) -> Result<OnboardingRow> {
        let id = uuid::Uuid::new_v4().to_string();
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO onboardings (id, workspace_id, attempt, started_by, step, state, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $6, $7, $5, $5)
                 ON CONFLICT (workspace_id, attempt) DO NOTHING",
            )
            .bind(&id).bind(workspace_id).bind(attempt).bind(started_by).bind(now)
            .bind(OnboardingStep::Exchange).bind(RunState::Waiting)
            .execute(pool).await?;
        });
        let sql =
            format!("SELECT {COLUMNS} FROM onboardings WHERE workspace_id = $1 AND attempt = $2");
        Ok(with_pool!(self, pool => {
            let row = sqlx::query(&sql).bind(workspace_id).bind(attempt).fetch_one(pool).await?;
            from_row(&row)?
        }))
    }

    pub async fn onboarding(&self, id: &str) -> Result<Option<OnboardingRow>> {
        let sql = format!("SELECT {COLUMNS} FROM onboardings WHERE id = $1");
        Ok(with_pool!(self, pool => {
            match sqlx::query(&sql).bind(id).fetch_optional(pool).await? {
                Some(row) => Some(from_row(&row)?),
                None => None,
            }
        }))
    }

    /// The workspace's most recent run, for the page to pick up again.
    pub async fn latest_onboarding(&self, workspace_id: &str) -> Result<Option<OnboardingRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM onboardings WHERE workspace_id = $1 ORDER BY created_at DESC, id LIMIT 1"
        );
        Ok(with_pool!(self, pool => {
            match sqlx::query(&sql).bind(workspace_id).fetch_optional(pool).await? {
                Some(row) => Some(from_row(&row)?),
                None => None,
            }
        }))
    }

    /// Stores the exchanged token, still bound to the run.
    pub async fn save_onboarding_token(
        &self,
        id: &str,
        sealed: &Sealed,
        token_type: Option<&str>,
        expires_at: Option<i64>,
        now: i64,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "UPDATE onboardings SET key_id = $1, nonce = $2, ciphertext = $3, token_type = $4, expires_at = $5,
                     step = $8, state = CASE WHEN waba_id IS NULL THEN $9 ELSE $10 END,
                     problem = NULL, updated_at = $6
                 WHERE id = $7 AND step = $11",
            )
            .bind(&sealed.key_id).bind(&sealed.nonce).bind(&sealed.ciphertext).bind(token_type).bind(expires_at).bind(now).bind(id)
            .bind(OnboardingStep::Verify).bind(RunState::Waiting).bind(RunState::Ready).bind(OnboardingStep::Exchange)
            .execute(pool).await?;
        });
        Ok(())
    }

    /// Records what the signup window reported; the first report wins.
    pub async fn save_signup_data(
        &self,
        id: &str,
        finish_event: &str,
        waba_id: &str,
        phone_number_id: Option<&str>,
        business_id: Option<&str>,
        now: i64,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "UPDATE onboardings SET finish_event = $1, waba_id = $2, phone_number_id = $3, business_id = $4,
                     state = CASE WHEN step = $7 AND state = $8 THEN $9 ELSE state END,
                     updated_at = $5
                 WHERE id = $6 AND waba_id IS NULL",
            )
            .bind(finish_event).bind(waba_id).bind(phone_number_id).bind(business_id).bind(now).bind(id)
            .bind(OnboardingStep::Verify).bind(RunState::Waiting).bind(RunState::Ready)
            .execute(pool).await?;
        });
        Ok(())
    }

    /// Moves a run from step `from` to `step` in `state`, with the problem
    /// if any. A compare-and-set on the step: `false` when the run had
    /// moved on already (a concurrent retry or a second worker).
    pub async fn set_onboarding_state(
        &self,
        id: &str,
        from: OnboardingStep,
        step: OnboardingStep,
        state: RunState,
        problem: Option<&str>,
        now: i64,
    ) -> Result<bool> {
        let changed = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE onboardings SET step = $1, state = $2, problem = $3, lease_until = NULL, updated_at = $4
                 WHERE id = $5 AND step = $6",
            )
            .bind(step).bind(state).bind(problem).bind(now).bind(id).bind(from)
            .execute(pool).await?.rows_affected()
        });
        Ok(changed > 0)
    }

    /// The signup named no number and several could be meant: the run
    /// waits for the person to pick one of `choices` (JSON).
    pub async fn offer_choices(&self, id: &str, choices: &str, now: i64) -> Result<bool> {
        let changed = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE onboardings SET choices = $1, state = $2, problem = NULL, lease_until = NULL, updated_at = $3
                 WHERE id = $4 AND step = $5 AND phone_number_id IS NULL",
            )
            .bind(choices).bind(RunState::Waiting).bind(now).bind(id).bind(OnboardingStep::Verify)
            .execute(pool).await?.rows_affected()
        });
        Ok(changed > 0)
    }

    /// A run that learnt its assets from the token, not from a signup
    /// message (the redirect path), found numbers in several WABAs: it
    /// records how the signup finished and waits for the person to pick
    /// one of `choices` (JSON), as [`Store::offer_choices`] does.
    pub async fn offer_signup_choices(
        &self,
        id: &str,
        finish_event: &str,
        choices: &str,
        now: i64,
    ) -> Result<bool> {
        let changed = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE onboardings SET finish_event = $1, choices = $2, state = $3, problem = NULL, lease_until = NULL, updated_at = $4
                 WHERE id = $5 AND step = $6 AND waba_id IS NULL",
            )
            .bind(finish_event).bind(choices).bind(RunState::Waiting).bind(now).bind(id).bind(OnboardingStep::Verify)
            .execute(pool).await?.rows_affected()
        });
        Ok(changed > 0)
    }

    /// The person picked a number (and its WABA): the run goes on.
    pub async fn choose_number(
        &self,
        id: &str,
        waba_id: &str,
        phone_number_id: &str,
        now: i64,
    ) -> Result<bool> {
        let changed = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE onboardings SET waba_id = $1, phone_number_id = $2, state = $3, problem = NULL, updated_at = $4
                 WHERE id = $5 AND step = $6 AND state = $7 AND phone_number_id IS NULL AND choices IS NOT NULL",
            )
            .bind(waba_id).bind(phone_number_id).bind(RunState::Ready).bind(now).bind(id)
            .bind(OnboardingStep::Verify).bind(RunState::Waiting)
            .execute(pool).await?.rows_affected()
        });
        Ok(changed > 0)
    }

    /// Claims runs ready for a worker. The row-level condition is checked
    /// again under the row lock, so two instances never claim one run.
    pub async fn claim_ready_onboardings(&self, now: i64, lease_ms: i64) -> Result<Vec<String>> {
        let sql = READY_RUNS.sql(self.backend());
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar(&sql)
                .bind(now + lease_ms).bind(now).bind(READY_RUNS_BATCH)
                .fetch_all(pool).await?
        }))
    }

    /// Verified: the number joins the workspace (or comes back to it, with
    /// its history), its token moves from the run to the number, and the
    /// run goes on to `next_step`. One transaction.
    pub async fn attach_number(&self, a: &Attachment<'_>, now: i64) -> Result<(), AttachError> {
        let scopes = a.token.scopes.join(",");
        with_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(super::Error::from)?;
            let owner: Option<String> = sqlx::query_scalar("SELECT workspace_id FROM whatsapp_numbers WHERE phone_number_id = $1")
                .bind(a.phone_number_id).fetch_optional(&mut *tx).await.map_err(super::Error::from)?;
            if owner.as_deref().is_some_and(|w| w != a.workspace_id) {
                return Err(AttachError::OtherWorkspace);
            }
            sqlx::query(
                "INSERT INTO whatsapp_numbers (phone_number_id, workspace_id, waba_id, display_phone_number, verified_name, status, created_at, updated_at, contact_scope)
                 VALUES ($1, $2, $3, $4, $5, $7, $6, $6, $8)
                 ON CONFLICT (phone_number_id) DO UPDATE SET waba_id = excluded.waba_id, status = excluded.status, status_reason = NULL,
                     contact_scope = COALESCE(whatsapp_numbers.contact_scope, excluded.contact_scope),
                     display_phone_number = COALESCE(excluded.display_phone_number, whatsapp_numbers.display_phone_number),
                     verified_name = COALESCE(excluded.verified_name, whatsapp_numbers.verified_name),
                     updated_at = excluded.updated_at",
            )
            .bind(a.phone_number_id).bind(a.workspace_id).bind(a.waba_id).bind(a.display_phone_number).bind(a.verified_name).bind(now)
            .bind(NumberStatus::Onboarding).bind(a.contact_scope)
            .execute(&mut *tx).await.map_err(super::Error::from)?;
            sqlx::query(
                "INSERT INTO number_tokens (phone_number_id, workspace_id, key_id, nonce, ciphertext, token_type, scopes, expires_at, issued_at, stored_at, checked_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
                 ON CONFLICT (phone_number_id) DO UPDATE SET workspace_id = excluded.workspace_id, key_id = excluded.key_id,
                     nonce = excluded.nonce, ciphertext = excluded.ciphertext, token_type = excluded.token_type,
                     scopes = excluded.scopes, expires_at = excluded.expires_at, issued_at = excluded.issued_at,
                     stored_at = excluded.stored_at, checked_at = excluded.checked_at, problem = NULL,
                     expiry_checked_at = NULL, refresh_refused = NULL, refresh_refused_at = NULL, expiry_warned_days = NULL",
            )
            .bind(a.phone_number_id).bind(a.workspace_id).bind(&a.token.sealed.key_id).bind(&a.token.sealed.nonce)
            .bind(&a.token.sealed.ciphertext).bind(a.token.token_type).bind(&scopes).bind(a.token.expires_at)
            .bind(a.token.issued_at).bind(now)
            .execute(&mut *tx).await.map_err(super::Error::from)?;
            sqlx::query(
                "UPDATE onboardings SET phone_number_id = $1, key_id = NULL, nonce = NULL, ciphertext = NULL,
                     step = $2, state = $5, problem = NULL, lease_until = NULL, updated_at = $3 WHERE id = $4",
            )
            .bind(a.phone_number_id).bind(a.next_step).bind(now).bind(a.onboarding_id).bind(RunState::Ready)
            .execute(&mut *tx).await.map_err(super::Error::from)?;
            tx.commit().await.map_err(super::Error::from)?;
        });
        Ok(())
    }

    /// Runs still holding a token of their own (for key rotation).
    pub async fn onboarding_seals(&self) -> Result<Vec<(String, String, Sealed)>> {
        let rows: Vec<SealRecord> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, workspace_id, key_id, nonce, ciphertext FROM onboardings WHERE key_id IS NOT NULL",
            )
            .fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|row| {
                (
                    row.id,
                    row.workspace_id,
                    Sealed {
                        key_id: row.key_id,
                        nonce: row.nonce,
                        ciphertext: row.ciphertext,
                    },
                )
            })
            .collect())
    }

    pub async fn reseal_onboarding_token(
        &self,
        id: &str,
        old: &Sealed,
        new: &Sealed,
    ) -> Result<bool> {
        let replaced = with_pool!(self, pool => {
            sqlx::query("UPDATE onboardings SET key_id = $1, nonce = $2, ciphertext = $3 WHERE id = $4 AND nonce = $5")
                .bind(&new.key_id).bind(&new.nonce).bind(&new.ciphertext).bind(id).bind(&old.nonce)
                .execute(pool).await?.rows_affected()
        });
        Ok(replaced > 0)
    }
}
