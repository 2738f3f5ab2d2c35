//! SQL for the outbox: queueing, claiming per number, and recording what
//! Meta answered. A sent message moves into `messages`, where status
//! webhooks find it.

use super::{
    messages::APPLY_EARLY_STATUS, with_pool, with_tx, Claim, NumberStatus, Result, Store, Tx,
};
use crate::{ids::ContactId, text_enum::text_enum};

text_enum! {
    /// Where a message in the outbox stands.
    pub enum OutboxState {
        /// Waiting for its turn (or for its number to be reconnected).
        Queued = "queued",
        /// Meta accepted it.
        Sent = "sent",
        /// Meta refused it for good.
        Failed = "failed",
        /// Outside the customer's 24-hour window: only a template may go.
        NeedsTemplate = "needs_template",
    }
}

/// Queues one message. A repeated `dedupe_key` in the workspace queues
/// nothing.
const INSERT_OUTBOX: &str =
    "INSERT INTO outbox (workspace_id, phone_number_id, recipient, kind, content, origin, dedupe_key, context_wamid, next_attempt_at, created_at, updated_at, contact_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $9, $10)
     ON CONFLICT (workspace_id, dedupe_key) DO NOTHING RETURNING id";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutboxRow {
    pub workspace_id: String,
    pub phone_number_id: String,
    /// The customer; where the message goes is read from the contact when
    /// it is sent (a phone shared meanwhile is used).
    pub contact_id: ContactId,
    /// The contact's address when it was queued.
    pub recipient: String,
    pub kind: String,
    /// `Content` as JSON.
    pub content: String,
    /// "bot", "agent" or "api".
    pub origin: String,
    pub dedupe_key: Option<String>,
    /// The inbound message this one answers (shown quoted by WhatsApp).
    pub context_wamid: Option<String>,
}

/// A queued message claimed for sending.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: i64,
    pub workspace_id: String,
    pub phone_number_id: String,
    pub contact_id: Option<ContactId>,
    pub recipient: String,
    pub kind: String,
    pub content: String,
    pub origin: String,
    pub context_wamid: Option<String>,
    /// Attempts made before this one.
    pub attempts: i64,
    pub created_at: i64,
}

/// An outbox row as an agent sees it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OutboxEntry {
    pub id: i64,
    pub phone_number_id: String,
    pub contact_id: Option<ContactId>,
    pub recipient: String,
    pub kind: String,
    pub content: String,
    pub origin: String,
    pub state: OutboxState,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub wamid: Option<String>,
    pub error_code: Option<i64>,
    pub error_title: Option<String>,
    pub created_at: i64,
}

/// Queues a message inside a flow's transaction (the pipeline's bot
/// replies). Returns whether it is new (false: its dedupe key was used).
pub(crate) async fn enqueue(tx: &mut Tx<'_>, message: &NewOutboxRow, now: i64) -> Result<bool> {
    Ok(with_tx!(tx, conn => {
        sqlx::query(INSERT_OUTBOX)
            .bind(&message.workspace_id).bind(&message.phone_number_id).bind(&message.recipient)
            .bind(&message.kind).bind(&message.content).bind(&message.origin)
            .bind(&message.dedupe_key).bind(&message.context_wamid).bind(now).bind(&message.contact_id)
            .execute(conn).await?
            .rows_affected() == 1
    }))
}

const ROW_COLUMNS: &str = "id, workspace_id, phone_number_id, contact_id, recipient, kind, content, origin, context_wamid, attempts, created_at";
const ENTRY_COLUMNS: &str = "id, phone_number_id, contact_id, recipient, kind, content, origin, state, attempts, next_attempt_at, wamid, error_code, error_title, created_at";

/// A number's due messages, oldest first (`$4`: the number).
const MESSAGES: Claim = Claim {
    table: "outbox",
    key: "id",
    state: OutboxState::Queued.sql(),
    due: "phone_number_id = $4 AND next_attempt_at <= $2",
    order_by: "id",
    also_set: "",
    returning: ROW_COLUMNS,
};

impl Store {
    /// Queues a message. Returns its id and whether it is new (false: the
    /// dedupe key was used before, and that message's id is returned).
    pub async fn enqueue_message(&self, message: &NewOutboxRow, now: i64) -> Result<(i64, bool)> {
        let inserted: Option<i64> = with_pool!(self, pool => {
            sqlx::query_scalar(INSERT_OUTBOX)
                .bind(&message.workspace_id).bind(&message.phone_number_id).bind(&message.recipient)
                .bind(&message.kind).bind(&message.content).bind(&message.origin)
                .bind(&message.dedupe_key).bind(&message.context_wamid).bind(now).bind(&message.contact_id)
                .fetch_optional(pool).await?
        });
        if let Some(id) = inserted {
            return Ok((id, true));
        }
        let existing: i64 = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT id FROM outbox WHERE workspace_id = $1 AND dedupe_key = $2")
                .bind(&message.workspace_id).bind(&message.dedupe_key)
                .fetch_one(pool).await?
        });
        Ok((existing, false))
    }

    /// Live numbers with queued messages due now, and their send rate.
    pub async fn numbers_with_due_outbox(&self, now: i64) -> Result<Vec<(String, i64)>> {
        // The state as a literal: the queue's partial index serves it.
        let sql = format!(
            "SELECT n.phone_number_id, n.send_rate FROM whatsapp_numbers n
             WHERE n.status = $2 AND EXISTS (
                 SELECT 1 FROM outbox o WHERE o.phone_number_id = n.phone_number_id AND o.state = {queued}
                 AND o.next_attempt_at <= $1 AND (o.lease_until IS NULL OR o.lease_until < $1))",
            queued = OutboxState::Queued.sql()
        );
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(now).bind(NumberStatus::Live).fetch_all(pool).await?
        }))
    }

    /// Takes (or renews) the right to send for a number until `until`.
    /// One instance at a time paces a number.
    pub async fn take_sender_lease(
        &self,
        phone_number_id: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<bool> {
        let taken: Option<String> = with_pool!(self, pool => {
            sqlx::query_scalar(
                "INSERT INTO number_senders (phone_number_id, owner, lease_until) VALUES ($1, $2, $3)
                 ON CONFLICT (phone_number_id) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until
                 WHERE number_senders.owner = excluded.owner OR number_senders.lease_until < $4
                 RETURNING owner",
            )
            .bind(phone_number_id).bind(owner).bind(until).bind(now)
            .fetch_optional(pool).await?
        });
        Ok(taken.is_some())
    }

    pub async fn release_sender_lease(&self, phone_number_id: &str, owner: &str) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM number_senders WHERE phone_number_id = $1 AND owner = $2")
                .bind(phone_number_id).bind(owner).execute(pool).await?;
        });
        Ok(())
    }

    /// Claims up to `limit` due messages of one number, oldest first.
    pub async fn claim_outbox(
        &self,
        phone_number_id: &str,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<OutboxRow>> {
        let sql = MESSAGES.sql(self.backend());
        let mut rows: Vec<OutboxRow> = with_pool!(self, pool => {
            sqlx::query_as(&sql)
                .bind(now + lease_ms).bind(now).bind(limit).bind(phone_number_id)
                .fetch_all(pool).await?
        });
        rows.sort_by_key(|row| row.id);
        Ok(rows)
    }

    /// Meta accepted the message: it leaves the outbox for the thread, and
    /// any status that overtook this write is applied at once.
    /// `recipient`: the address it went to.
    pub async fn outbox_sent(
        &self,
        row: &OutboxRow,
        recipient: &str,
        wamid: &str,
        summary: &str,
        now: i64,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE outbox SET state = $4, wamid = $1, attempts = attempts + 1, lease_until = NULL, updated_at = $2 WHERE id = $3")
                .bind(wamid).bind(now).bind(row.id).bind(OutboxState::Sent)
                .execute(&mut *tx).await?;
            let inserted = sqlx::query(
                "INSERT INTO messages (workspace_id, phone_number_id, wamid, direction, customer_wa_id, kind, summary, payload, sent_at, contact_id)
                 VALUES ($1, $2, $3, 'outbound', $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (phone_number_id, wamid) DO NOTHING",
            )
            .bind(&row.workspace_id).bind(&row.phone_number_id).bind(wamid).bind(recipient)
            .bind(&row.kind).bind(summary).bind(&row.content).bind(now).bind(&row.contact_id)
            .execute(&mut *tx).await?
            .rows_affected() == 1;
            if inserted {
                sqlx::query(APPLY_EARLY_STATUS)
                    .bind(wamid).bind(&row.phone_number_id)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Done without a message id (marking read).
    pub async fn outbox_done(&self, id: i64, now: i64) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE outbox SET state = $3, attempts = attempts + 1, lease_until = NULL, updated_at = $1 WHERE id = $2")
                .bind(now).bind(id).bind(OutboxState::Sent).execute(pool).await?;
        });
        Ok(())
    }

    /// Tries again at `retry_at`, keeping the error for the agent to see.
    /// The customer's later messages wait behind it, so they keep their
    /// order. `count` false: no attempt was made (the number paused, or the
    /// customer's pacing said wait).
    pub async fn outbox_retry(
        &self,
        row: &OutboxRow,
        retry_at: i64,
        error: Option<(i64, &str)>,
        count: bool,
        now: i64,
    ) -> Result<()> {
        let counted = i64::from(count);
        let later_messages = format!(
            "UPDATE outbox SET next_attempt_at = $1, lease_until = NULL
             WHERE phone_number_id = $2 AND contact_id = $3 AND state = {queued} AND id > $4 AND next_attempt_at < $1",
            queued = OutboxState::Queued.sql()
        );
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE outbox SET next_attempt_at = $1, lease_until = NULL, attempts = attempts + $2,
                     error_code = COALESCE($3, error_code), error_title = COALESCE($4, error_title), updated_at = $5
                 WHERE id = $6",
            )
            .bind(retry_at).bind(counted).bind(error.map(|e| e.0)).bind(error.map(|e| e.1)).bind(now).bind(row.id)
            .execute(&mut *tx).await?;
            sqlx::query(&later_messages)
            .bind(retry_at).bind(&row.phone_number_id).bind(&row.contact_id).bind(row.id)
            .execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Gives up on a message: `needs_template` or `failed`, with Meta's
    /// error for the agent.
    pub async fn outbox_give_up(
        &self,
        id: i64,
        state: OutboxState,
        error_code: Option<i64>,
        error_title: &str,
        now: i64,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "UPDATE outbox SET state = $1, error_code = $2, error_title = $3, attempts = attempts + 1, lease_until = NULL, updated_at = $4 WHERE id = $5",
            )
            .bind(state).bind(error_code).bind(error_title).bind(now).bind(id)
            .execute(pool).await?;
        });
        Ok(())
    }

    /// Releases claimed messages of a number (its sender stopped), or of
    /// every number after a restart.
    pub async fn release_outbox_leases(&self, phone_number_id: Option<&str>) -> Result<u64> {
        let sql = format!(
            "UPDATE outbox SET lease_until = NULL WHERE state = {queued} AND lease_until IS NOT NULL AND ($1 IS NULL OR phone_number_id = $1)",
            queued = OutboxState::Queued.sql()
        );
        Ok(with_pool!(self, pool => {
            sqlx::query(&sql).bind(phone_number_id).execute(pool).await?.rows_affected()
        }))
    }

    /// A message of a workspace, by id.
    pub async fn outbox_entry(&self, workspace_id: &str, id: i64) -> Result<Option<OutboxEntry>> {
        let sql = format!("SELECT {ENTRY_COLUMNS} FROM outbox WHERE workspace_id = $1 AND id = $2");
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(workspace_id).bind(id).fetch_optional(pool).await?
        }))
    }

    /// Messages of a conversation not (yet) sent: queued, or given up on.
    pub async fn unsent_for(
        &self,
        workspace_id: &str,
        phone_number_id: &str,
        contact_id: &ContactId,
    ) -> Result<Vec<OutboxEntry>> {
        let sql = format!(
            "SELECT {ENTRY_COLUMNS} FROM outbox
             WHERE workspace_id = $1 AND phone_number_id = $2 AND contact_id = $3 AND state <> $4 AND kind <> 'mark_read'
             ORDER BY id"
        );
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(workspace_id).bind(phone_number_id).bind(contact_id).bind(OutboxState::Sent)
                .fetch_all(pool).await?
        }))
    }

    /// Meta's latest status of a sent message.
    pub async fn delivery_status(
        &self,
        phone_number_id: &str,
        wamid: &str,
    ) -> Result<Option<String>> {
        let status: Option<Option<String>> = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT status FROM messages WHERE phone_number_id = $1 AND wamid = $2")
                .bind(phone_number_id).bind(wamid).fetch_optional(pool).await?
        });
        Ok(status.flatten())
    }

    /// Counts by state, for tests and metrics.
    pub async fn outbox_count(&self, phone_number_id: &str, state: OutboxState) -> Result<i64> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE phone_number_id = $1 AND state = $2")
                .bind(phone_number_id).bind(state).fetch_one(pool).await?
        }))
    }

    /// When the customer last wrote to the number (Unix ms).
    pub async fn last_inbound_at(
        &self,
        workspace_id: &str,
        phone_number_id: &str,
        contact_id: &ContactId,
    ) -> Result<Option<i64>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT MAX(sent_at) FROM messages
                 WHERE workspace_id = $1 AND phone_number_id = $2 AND contact_id = $3 AND direction = 'inbound'",
            )
            .bind(workspace_id).bind(phone_number_id).bind(contact_id)
            .fetch_one(pool).await?
        }))
    }

    pub async fn set_send_rate(&self, phone_number_id: &str, rate: i64) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE whatsapp_numbers SET send_rate = $1 WHERE phone_number_id = $2")
                .bind(rate).bind(phone_number_id).execute(pool).await?;
        });
        Ok(())
    }
}
