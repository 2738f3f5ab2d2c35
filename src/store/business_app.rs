//! SQL for numbers that stay on the WhatsApp Business app (coexistence):
//! the app's history and echoes in threads, the one sync request of each
//! kind, the bot's silence after a person answered from the app, and the
//! names the business saved.

use super::{
    summaries::{self, StoredLine},
    with_pool, with_tx, Result, Store, Tx,
};
use crate::{ids::ContactId, text_enum::text_enum};

text_enum! {
    /// Where a message came from besides the Cloud API.
    pub enum MessageOrigin {
        /// Imported from the app's chat history.
        History = "history",
        /// Typed by the business in the app (an echo).
        BusinessApp = "business_app",
    }
}

text_enum! {
    /// The two requests Meta allows once each within 24 hours of onboarding.
    pub enum SyncType {
        /// The app's contacts.
        Contacts = "smb_app_state_sync",
        /// The app's chat history.
        History = "history",
    }
}

/// A message from the app, keyed by its number and wamid.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewAppMessage<'a> {
    pub workspace_id: &'a str,
    pub phone_number_id: &'a str,
    pub contact_id: &'a ContactId,
    pub wamid: &'a str,
    pub inbound: bool,
    pub customer: &'a str,
    pub kind: &'a str,
    pub summary: &'a str,
    pub payload: &'a str,
    pub sent_at: i64,
    pub status: Option<&'a str>,
    pub status_rank: i64,
    pub origin: MessageOrigin,
}

/// Stores a message of the app once, with its conversation's summary;
/// whether it is new. History never counts as unread, and an older
/// message imported late never becomes the conversation's last.
pub(crate) async fn insert_message(tx: &mut Tx<'_>, message: &NewAppMessage<'_>) -> Result<bool> {
    let direction = if message.inbound {
        "inbound"
    } else {
        "outbound"
    };
    let id: Option<i64> = with_tx!(tx, conn => {
        sqlx::query_scalar(
            "INSERT INTO messages (workspace_id, phone_number_id, wamid, direction, customer_wa_id, kind, summary, payload, sent_at, contact_id, status, status_rank, origin)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
             ON CONFLICT (phone_number_id, wamid) DO NOTHING RETURNING id",
        )
        .bind(message.workspace_id).bind(message.phone_number_id).bind(message.wamid).bind(direction)
        .bind(message.customer).bind(message.kind).bind(message.summary).bind(message.payload)
        .bind(message.sent_at).bind(message.contact_id).bind(message.status).bind(message.status_rank)
        .bind(message.origin)
        .fetch_optional(conn).await?
    });
    let Some(id) = id else {
        return Ok(false);
    };
    let line = StoredLine {
        workspace_id: message.workspace_id,
        phone_number_id: message.phone_number_id,
        contact_id: message.contact_id,
        message_id: id,
        sent_at: message.sent_at,
        inbound: message.inbound,
        summary: message.summary,
        unread: message.inbound && message.origin != MessageOrigin::History,
    };
    summaries::record(tx, &line).await?;
    Ok(true)
}

/// Records a history chunk; false when it was recorded before.
pub(crate) async fn record_chunk(
    tx: &mut Tx<'_>,
    phone_number_id: &str,
    phase: i64,
    chunk_order: i64,
    progress: Option<i64>,
    messages: i64,
    now: i64,
) -> Result<bool> {
    Ok(with_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO history_chunks (phone_number_id, phase, chunk_order, progress, messages, received_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (phone_number_id, phase, chunk_order) DO NOTHING",
        )
        .bind(phone_number_id).bind(phase).bind(chunk_order).bind(progress).bind(messages).bind(now)
        .execute(conn).await?
        .rows_affected() == 1
    }))
}

/// Notes that the business declined to share its history; true the first
/// time only (so it is shown and audited once).
pub(crate) async fn mark_history_declined(
    tx: &mut Tx<'_>,
    phone_number_id: &str,
    now: i64,
) -> Result<bool> {
    let updated = with_tx!(tx, conn => {
        sqlx::query(
            "UPDATE business_app_syncs SET declined_at = $1
             WHERE phone_number_id = $2 AND sync_type = $3 AND declined_at IS NULL",
        )
        .bind(now).bind(phone_number_id).bind(SyncType::History)
        .execute(&mut *conn).await?.rows_affected()
    });
    if updated == 1 {
        return Ok(true);
    }
    // Before Switchboard's own record of the request (another instance's
    // onboarding): the refusal makes the row.
    Ok(with_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO business_app_syncs (phone_number_id, sync_type, requested_at, declined_at)
             VALUES ($1, $2, $3, $3) ON CONFLICT (phone_number_id, sync_type) DO NOTHING",
        )
        .bind(phone_number_id).bind(SyncType::History).bind(now)
        .execute(conn).await?.rows_affected() == 1
    }))
}

/// The bot keeps quiet for the customer until `until` (the later of two
/// answers wins).
pub(crate) async fn quiet_bot(
    tx: &mut Tx<'_>,
    phone_number_id: &str,
    contact_id: &ContactId,
    until: i64,
) -> Result<()> {
    with_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO bot_quiet (phone_number_id, contact_id, quiet_until) VALUES ($1, $2, $3)
             ON CONFLICT (phone_number_id, contact_id) DO UPDATE
             SET quiet_until = CASE WHEN excluded.quiet_until > bot_quiet.quiet_until
                                    THEN excluded.quiet_until ELSE bot_quiet.quiet_until END",
        )
        .bind(phone_number_id).bind(contact_id).bind(until)
        .execute(conn).await?;
    });
    Ok(())
}

/// Whether the bot keeps quiet for the customer at `at`.
pub(crate) async fn bot_is_quiet(
    tx: &mut Tx<'_>,
    phone_number_id: &str,
    contact_id: &ContactId,
    at: i64,
) -> Result<bool> {
    let until: Option<i64> = with_tx!(tx, conn => {
        sqlx::query_scalar(
            "SELECT quiet_until FROM bot_quiet WHERE phone_number_id = $1 AND contact_id = $2",
        )
        .bind(phone_number_id).bind(contact_id)
        .fetch_optional(conn).await?
    });
    Ok(until.is_some_and(|until| at < until))
}

/// The name the business saved for a contact in the app (`None` clears
/// it).
pub(crate) async fn save_contact_name(
    tx: &mut Tx<'_>,
    contact_id: &ContactId,
    name: Option<&str>,
    now: i64,
) -> Result<()> {
    with_tx!(tx, conn => {
        sqlx::query("UPDATE contacts SET saved_name = $1, updated_at = $2 WHERE id = $3")
            .bind(name).bind(now).bind(contact_id)
            .execute(conn).await?;
    });
    Ok(())
}

/// A sync request as recorded.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct AppSyncRow {
    pub sync_type: SyncType,
    pub requested_at: i64,
    pub request_id: Option<String>,
    pub problem: Option<String>,
    pub declined_at: Option<i64>,
}

/// How far the history import went.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HistoryProgress {
    pub chunks: i64,
    pub messages: i64,
    /// The furthest `progress` Meta reported (0 to 100).
    pub progress: Option<i64>,
}

impl Store {
    /// Claims the one request of its kind for the number: true for the
    /// first caller ever, who alone may make it.
    pub async fn claim_app_sync(
        &self,
        phone_number_id: &str,
        sync_type: SyncType,
        now: i64,
    ) -> Result<bool> {
        Ok(with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO business_app_syncs (phone_number_id, sync_type, requested_at) VALUES ($1, $2, $3)
                 ON CONFLICT (phone_number_id, sync_type) DO NOTHING",
            )
            .bind(phone_number_id).bind(sync_type).bind(now)
            .execute(pool).await?.rows_affected() == 1
        }))
    }

    /// What became of a claimed request: Meta's request id, or why not.
    pub async fn finish_app_sync(
        &self,
        phone_number_id: &str,
        sync_type: SyncType,
        request_id: Option<&str>,
        problem: Option<&str>,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "UPDATE business_app_syncs SET request_id = $1, problem = $2
                 WHERE phone_number_id = $3 AND sync_type = $4",
            )
            .bind(request_id).bind(problem).bind(phone_number_id).bind(sync_type)
            .execute(pool).await?;
        });
        Ok(())
    }

    pub async fn app_syncs(&self, phone_number_id: &str) -> Result<Vec<AppSyncRow>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT sync_type, requested_at, request_id, problem, declined_at FROM business_app_syncs
                 WHERE phone_number_id = $1 ORDER BY sync_type",
            )
            .bind(phone_number_id).fetch_all(pool).await?
        }))
    }

    pub async fn history_progress(&self, phone_number_id: &str) -> Result<HistoryProgress> {
        let (chunks, messages, progress): (i64, Option<i64>, Option<i64>) = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT COUNT(*), CAST(SUM(messages) AS BIGINT), CAST(MAX(progress) AS BIGINT) FROM history_chunks WHERE phone_number_id = $1",
            )
            .bind(phone_number_id).fetch_one(pool).await?
        });
        Ok(HistoryProgress {
            chunks,
            messages: messages.unwrap_or(0),
            progress,
        })
    }

    /// Marks the number as one onboarded from the WhatsApp Business app
    /// (kept from the first time) and caps its rate at Meta's level.
    pub async fn mark_business_app(
        &self,
        phone_number_id: &str,
        since: i64,
        max_rate: i64,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "UPDATE whatsapp_numbers SET business_app_since = COALESCE(business_app_since, $1),
                     send_rate = CASE WHEN send_rate > $2 THEN $2 ELSE send_rate END
                 WHERE phone_number_id = $3",
            )
            .bind(since).bind(max_rate).bind(phone_number_id)
            .execute(pool).await?;
        });
        Ok(())
    }
}
