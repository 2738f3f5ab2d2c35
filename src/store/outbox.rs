//! SQL for the outbox: queueing, claiming per number, and recording what
//! Meta answered. A sent message moves into `messages`, where status
//! webhooks find it.

use super::{
    messages::APPLY_EARLY_STATUS,
    summaries::{self, StoredLine},
    with_pool, with_tx, Backend, Claim, NumberStatus, Result, Store, Tx,
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
    /// The sender lease epoch it was claimed under: its outcome is written
    /// only while the row still carries it.
    pub claim_epoch: Option<i64>,
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

const ROW_COLUMNS: &str = "id, workspace_id, phone_number_id, contact_id, recipient, kind, content, origin, context_wamid, attempts, created_at, claim_epoch";
const ENTRY_COLUMNS: &str = "id, phone_number_id, contact_id, recipient, kind, content, origin, state, attempts, next_attempt_at, wamid, error_code, error_title, created_at";

/// A number's due messages, oldest first (`$4`: the number, `$5`: the
/// claiming holder's epoch).
const MESSAGES: Claim = Claim {
    table: "outbox",
    key: "id",
    state: OutboxState::Queued.sql(),
    due: "phone_number_id = $4 AND next_attempt_at <= $2",
    order_by: "id",
    also_set: ", claim_epoch = $5",
    returning: ROW_COLUMNS,
};

/// [`MESSAGES`], passing over the customers (`$6`: a JSON array of their
/// contact ids, or addresses for rows without one) whose earlier messages
/// are being sent right now: their next ones are claimed once those are
/// settled, so a customer's messages keep their order while others' go at
/// once.
const MESSAGES_EXCEPT_SQLITE: Claim = Claim {
    due: "phone_number_id = $4 AND next_attempt_at <= $2
          AND COALESCE(contact_id, recipient) NOT IN (SELECT value FROM json_each($6))",
    ..MESSAGES
};
const MESSAGES_EXCEPT_POSTGRES: Claim = Claim {
    due: "phone_number_id = $4 AND next_attempt_at <= $2
          AND COALESCE(contact_id, recipient) NOT IN (SELECT jsonb_array_elements_text($6::jsonb))",
    ..MESSAGES
};

/// Claimed messages whose send may have reached Meta unrecorded, set
/// aside until `$1` (`$2` the number, `$3` the claiming holder's epoch,
/// `$4` now, `$5` the customers it has in hand, as `$6` of the claim):
/// another holder's whose lease lapsed (it died between Meta's answer and
/// its record), and the claiming holder's own whose customer it no longer
/// has in hand. Those its customer's task did not give back: a record or
/// a release the database failed to write.
fn unsure_claims(backend: Backend) -> String {
    let customers = match backend {
        Backend::Sqlite => "SELECT value FROM json_each($5)",
        Backend::Postgres => "SELECT jsonb_array_elements_text($5::jsonb)",
    };
    format!(
        "UPDATE outbox SET next_attempt_at = CASE WHEN next_attempt_at < $1 THEN $1 ELSE next_attempt_at END,
             lease_until = NULL, claim_epoch = NULL
         WHERE phone_number_id = $2 AND state = {queued} AND claim_epoch IS NOT NULL AND lease_until IS NOT NULL
             AND CASE WHEN claim_epoch = $3 THEN COALESCE(contact_id, recipient) NOT IN ({customers})
                      ELSE lease_until < $4 END
         RETURNING id, contact_id",
        queued = OutboxState::Queued.sql()
    )
}

/// A message Meta accepted, as its thread keeps it.
#[derive(Clone, Copy)]
struct NewSent<'a> {
    workspace_id: &'a str,
    phone_number_id: &'a str,
    wamid: &'a str,
    /// The address it went to.
    recipient: &'a str,
    kind: &'a str,
    summary: &'a str,
    /// The message as queued (JSON).
    content: &'a str,
    at: i64,
    contact_id: Option<&'a ContactId>,
}

/// A sent message enters its thread, with any status that overtook it,
/// and its conversation's summary. Whether it is new (false: a status's
/// callback data recorded it first).
async fn insert_sent(tx: &mut Tx<'_>, sent: &NewSent<'_>) -> Result<bool> {
    let NewSent {
        workspace_id,
        phone_number_id,
        wamid,
        recipient,
        kind,
        summary,
        content,
        at,
        contact_id,
    } = *sent;
    let id: Option<i64> = with_tx!(tx, conn => {
        sqlx::query_scalar(
            "INSERT INTO messages (workspace_id, phone_number_id, wamid, direction, customer_wa_id, kind, summary, payload, sent_at, contact_id)
             VALUES ($1, $2, $3, 'outbound', $4, $5, $6, $7, $8, $9)
             ON CONFLICT (phone_number_id, wamid) DO NOTHING RETURNING id",
        )
        .bind(workspace_id).bind(phone_number_id).bind(wamid).bind(recipient)
        .bind(kind).bind(summary).bind(content).bind(at).bind(contact_id)
        .fetch_optional(&mut *conn).await?
    });
    let Some(id) = id else {
        return Ok(false);
    };
    with_tx!(tx, conn => {
        sqlx::query(APPLY_EARLY_STATUS).bind(wamid).bind(phone_number_id).execute(conn).await?;
    });
    // Rows queued before contacts (migration 0013) all have one; a
    // message without a contact has no conversation to list.
    if let Some(contact_id) = contact_id {
        let line = StoredLine {
            workspace_id,
            phone_number_id,
            contact_id,
            message_id: id,
            sent_at: at,
            inbound: false,
            summary,
            unread: false,
        };
        summaries::record(tx, &line).await?;
    }
    Ok(true)
}

/// How a sent message's outcome write went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SentRecord {
    /// Recorded now.
    Recorded,
    /// A status carrying the message's callback data recorded it first,
    /// with the same wamid.
    AlreadyKnown,
    /// It was recorded as sent with another wamid: it reached the customer
    /// twice (counted, so that it never goes unnoticed).
    SentTwice { first_wamid: String },
}

/// A number's sender lease as taken: its epoch fences every write of the
/// holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderLease {
    pub epoch: i64,
}

/// What a status's callback data found in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct Adopted {
    pub workspace_id: String,
    pub contact_id: Option<ContactId>,
    pub recipient: String,
    pub kind: String,
    pub content: String,
}

/// A message whose send the status proves Meta accepted, though our record
/// of that was lost (a crash between Meta's answer and our write): it is
/// recorded as sent under the status's wamid and will not go again.
/// Returns whether it was still queued.
pub(crate) async fn adopt_sent(
    tx: &mut Tx<'_>,
    phone_number_id: &str,
    outbox_id: i64,
    wamid: &str,
    summary_of: impl Fn(&str) -> String,
    now: i64,
) -> Result<bool> {
    let adopted: Option<Adopted> = with_tx!(tx, conn => {
        sqlx::query_as(
            "UPDATE outbox SET state = $1, wamid = $2, lease_until = NULL, claim_epoch = NULL, updated_at = $3
             WHERE id = $4 AND phone_number_id = $5 AND state = 'queued'
             RETURNING workspace_id, contact_id, recipient, kind, content",
        )
        .bind(OutboxState::Sent).bind(wamid).bind(now).bind(outbox_id).bind(phone_number_id)
        .fetch_optional(&mut *conn).await?
    });
    let Some(row) = adopted else {
        return Ok(false);
    };
    let summary = summary_of(&row.content);
    let sent = NewSent {
        workspace_id: &row.workspace_id,
        phone_number_id,
        wamid,
        recipient: &row.recipient,
        kind: &row.kind,
        summary: &summary,
        content: &row.content,
        at: now,
        contact_id: row.contact_id.as_ref(),
    };
    insert_sent(tx, &sent).await?;
    Ok(true)
}

/// An outcome write's guard (fencing): the row is still queued and still
/// carries the epoch it was claimed under, bound as parameter `$epoch`.
fn still_held(epoch: u8) -> String {
    format!(
        "state = {queued} AND claim_epoch = ${epoch}",
        queued = OutboxState::Queued.sql()
    )
}

/// Makes a customer's later queued messages wait until $1 behind the one
/// that waits ($2 number, $3 contact, $4 the waiting message).
fn later_messages_wait() -> String {
    format!(
        "UPDATE outbox SET next_attempt_at = $1, lease_until = NULL, claim_epoch = NULL
         WHERE phone_number_id = $2 AND contact_id = $3 AND state = {queued} AND id > $4 AND next_attempt_at < $1",
        queued = OutboxState::Queued.sql()
    )
}

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

    /// The message a workspace queued under `dedupe_key`, if any.
    pub async fn outbox_by_dedupe(
        &self,
        workspace_id: &str,
        dedupe_key: &str,
    ) -> Result<Option<i64>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar("SELECT id FROM outbox WHERE workspace_id = $1 AND dedupe_key = $2")
                .bind(workspace_id).bind(dedupe_key)
                .fetch_optional(pool).await?
        }))
    }

    /// Live numbers with queued messages due now, and their send rate. A
    /// number Meta throttled waits out its pause.
    pub async fn numbers_with_due_outbox(&self, now: i64) -> Result<Vec<(String, i64)>> {
        // The state as a literal: the queue's partial index serves it.
        let sql = format!(
            "SELECT n.phone_number_id, n.send_rate FROM whatsapp_numbers n
             WHERE n.status = $2 AND EXISTS (
                 SELECT 1 FROM outbox o WHERE o.phone_number_id = n.phone_number_id AND o.state = {queued}
                 AND o.next_attempt_at <= $1 AND (o.lease_until IS NULL OR o.lease_until < $1))
             AND NOT EXISTS (
                 SELECT 1 FROM number_senders s WHERE s.phone_number_id = n.phone_number_id AND s.paused_until > $1)",
            queued = OutboxState::Queued.sql()
        );
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(now).bind(NumberStatus::Live).fetch_all(pool).await?
        }))
    }

    /// Takes the right to send for a number until `until`, when nobody
    /// holds it and Meta has not paused it: one instance at a time paces a
    /// number. Each taking gets the next epoch.
    pub async fn take_sender_lease(
        &self,
        phone_number_id: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<Option<SenderLease>> {
        let epoch: Option<i64> = with_pool!(self, pool => {
            sqlx::query_scalar(
                "INSERT INTO number_senders (phone_number_id, owner, lease_until, epoch) VALUES ($1, $2, $3, 1)
                 ON CONFLICT (phone_number_id) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until,
                     epoch = number_senders.epoch + 1
                 WHERE number_senders.lease_until < $4 AND number_senders.paused_until <= $4
                 RETURNING epoch",
            )
            .bind(phone_number_id).bind(owner).bind(until).bind(now)
            .fetch_optional(pool).await?
        });
        Ok(epoch.map(|epoch| SenderLease { epoch }))
    }

    /// Extends a held lease, and the leases of the messages claimed under
    /// it, to `until`. False: the lease was taken by another holder since
    /// (its epoch moved on), and nothing of it may be written any more.
    pub async fn renew_sender_lease(
        &self,
        phone_number_id: &str,
        lease: SenderLease,
        until: i64,
    ) -> Result<bool> {
        let messages = format!(
            "UPDATE outbox SET lease_until = $1 WHERE phone_number_id = $2 AND state = {queued} AND claim_epoch = $3 AND lease_until IS NOT NULL",
            queued = OutboxState::Queued.sql()
        );
        Ok(with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let held = sqlx::query("UPDATE number_senders SET lease_until = $1 WHERE phone_number_id = $2 AND epoch = $3")
                .bind(until).bind(phone_number_id).bind(lease.epoch)
                .execute(&mut *tx).await?.rows_affected() == 1;
            if held {
                sqlx::query(&messages).bind(until).bind(phone_number_id).bind(lease.epoch)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await?;
            held
        }))
    }

    /// Meta said the number sends too fast: no instance sends for it
    /// before `until` (a later pause is never shortened).
    pub async fn pause_sender(&self, phone_number_id: &str, until: i64) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "UPDATE number_senders SET paused_until = CASE WHEN paused_until < $1 THEN $1 ELSE paused_until END
                 WHERE phone_number_id = $2",
            )
            .bind(until).bind(phone_number_id).execute(pool).await?;
        });
        Ok(())
    }

    /// Gives the lease up (its epoch stays, so the next holder's is new).
    pub async fn release_sender_lease(
        &self,
        phone_number_id: &str,
        lease: SenderLease,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE number_senders SET lease_until = 0 WHERE phone_number_id = $1 AND epoch = $2")
                .bind(phone_number_id).bind(lease.epoch).execute(pool).await?;
        });
        Ok(())
    }

    /// Claims up to `limit` due messages of one number, oldest first, for
    /// the holder of `lease`.
    ///
    /// First, messages a lapsed holder left claimed, or this holder's own
    /// that no task of it holds, are set aside (see [`unsure_claims`]):
    /// their send may have reached Meta unrecorded, so they wait `status_wait_ms` for a status that
    /// proves it (see [`adopt_sent`]) before they go again, and their
    /// customer's later messages wait behind them. Returns how many.
    pub async fn claim_outbox(
        &self,
        phone_number_id: &str,
        lease: SenderLease,
        now: i64,
        lease_ms: i64,
        status_wait_ms: i64,
        limit: i64,
    ) -> Result<(Vec<OutboxRow>, u64)> {
        let timing = (now, lease_ms, status_wait_ms, limit);
        self.claim_outbox_except(phone_number_id, lease, timing, &[])
            .await
    }

    /// [`Self::claim_outbox`] (`timing`: now, lease, status wait, limit),
    /// passing over the customers in `sending` (contact ids, or addresses
    /// for rows without one): their earlier messages are still being sent.
    pub async fn claim_outbox_except(
        &self,
        phone_number_id: &str,
        lease: SenderLease,
        timing: (i64, i64, i64, i64),
        sending: &[String],
    ) -> Result<(Vec<OutboxRow>, u64)> {
        let (now, lease_ms, status_wait_ms, limit) = timing;
        // Both statements write: in this process's turn (see `begin`).
        let _turn = self.write_turn().await;
        let unsure = unsure_claims(self.backend());
        let sending = serde_json::to_string(sending).expect("strings serialise");
        let wait_until = now + status_wait_ms;
        let set_aside: Vec<(i64, Option<ContactId>)> = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let rows: Vec<(i64, Option<ContactId>)> = sqlx::query_as(&unsure)
                .bind(wait_until).bind(phone_number_id).bind(lease.epoch).bind(now).bind(&sending)
                .fetch_all(&mut *tx).await?;
            for (id, contact_id) in &rows {
                sqlx::query(&later_messages_wait())
                    .bind(wait_until).bind(phone_number_id).bind(contact_id).bind(id)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await?;
            rows
        });
        let claim = match self.backend() {
            Backend::Sqlite => MESSAGES_EXCEPT_SQLITE,
            Backend::Postgres => MESSAGES_EXCEPT_POSTGRES,
        };
        let sql = claim.sql(self.backend());
        let mut rows: Vec<OutboxRow> = with_pool!(self, pool => {
            sqlx::query_as(&sql)
                .bind(now + lease_ms).bind(now).bind(limit).bind(phone_number_id)
                .bind(lease.epoch).bind(&sending)
                .fetch_all(pool).await?
        });
        rows.sort_by_key(|row| row.id);
        Ok((rows, set_aside.len() as u64))
    }

    /// Meta accepted the message: it leaves the outbox for the thread, and
    /// any status that overtook this write is applied at once.
    /// `recipient`: the address it went to.
    ///
    /// Written whoever holds the number now: Meta has the message, and the
    /// record is what keeps the current holder from sending it again.
    pub async fn outbox_sent(
        &self,
        row: &OutboxRow,
        recipient: &str,
        wamid: &str,
        summary: &str,
        now: i64,
    ) -> Result<SentRecord> {
        let sql = format!(
            "UPDATE outbox SET state = $4, wamid = $1, attempts = attempts + 1, lease_until = NULL, claim_epoch = NULL, updated_at = $2
             WHERE id = $3 AND state = {queued}
             RETURNING contact_id",
            queued = OutboxState::Queued.sql()
        );
        // Relaxed: lost to a power cut, the message is still claimed on
        // disk (claims are durable), so it waits for its status instead of
        // going again.
        let first: Option<Option<String>> = self
            .in_relaxed_main(async |tx| {
                // The contact as the row names it now, not as claimed: the
                // customer may have been merged into another while the
                // message was on its way, and the thread is theirs.
                let (first, contact_id): (Option<Option<String>>, Option<ContactId>) = with_tx!(tx, conn => {
                    let updated: Option<Option<ContactId>> = sqlx::query_scalar(&sql)
                        .bind(wamid).bind(now).bind(row.id).bind(OutboxState::Sent)
                        .fetch_optional(&mut *conn).await?;
                    match updated {
                        Some(contact_id) => (None, contact_id),
                        None => {
                            let (first, contact_id) = sqlx::query_as("SELECT wamid, contact_id FROM outbox WHERE id = $1")
                                .bind(row.id).fetch_one(&mut *conn).await?;
                            (Some(first), contact_id)
                        }
                    }
                });
                let sent = NewSent {
                    workspace_id: &row.workspace_id,
                    phone_number_id: &row.phone_number_id,
                    wamid,
                    recipient,
                    kind: &row.kind,
                    summary,
                    content: &row.content,
                    at: now,
                    contact_id: contact_id.as_ref(),
                };
                insert_sent(tx, &sent).await?;
                Ok(first)
            })
            .await?;
        let record = match first {
            None => SentRecord::Recorded,
            Some(Some(first)) if first != wamid => SentRecord::SentTwice { first_wamid: first },
            Some(_) => SentRecord::AlreadyKnown,
        };
        Ok(record)
    }

    /// Done without a message id (marking read). False: fenced (the row
    /// is no longer this holder's).
    pub async fn outbox_done(&self, row: &OutboxRow, now: i64) -> Result<bool> {
        let sql = format!(
            "UPDATE outbox SET state = $3, attempts = attempts + 1, lease_until = NULL, claim_epoch = NULL, updated_at = $1
             WHERE id = $2 AND {}",
            still_held(4)
        );
        // Relaxed, as `outbox_sent`: lost, the receipt goes again, which
        // changes nothing.
        self.in_relaxed_main(async |tx| {
            Ok(with_tx!(tx, conn => {
                sqlx::query(&sql).bind(now).bind(row.id).bind(OutboxState::Sent).bind(row.claim_epoch)
                    .execute(&mut *conn).await?.rows_affected() == 1
            }))
        })
        .await
    }

    /// Holds a message until `until` with the reason (a restriction of its
    /// kind): no attempt counted, and unlike [`Self::outbox_retry`] the
    /// customer's later messages do not wait behind it (they may be of a
    /// kind that goes). False: fenced, nothing written.
    pub async fn outbox_hold(
        &self,
        row: &OutboxRow,
        until: i64,
        reason: &str,
        now: i64,
    ) -> Result<bool> {
        let sql = format!(
            "UPDATE outbox SET next_attempt_at = $1, lease_until = NULL, claim_epoch = NULL,
                 error_title = $2, updated_at = $3
             WHERE id = $4 AND {}",
            still_held(5)
        );
        Ok(with_pool!(self, pool => {
            sqlx::query(&sql).bind(until).bind(reason).bind(now).bind(row.id).bind(row.claim_epoch)
                .execute(pool).await?.rows_affected() == 1
        }))
    }

    /// Tries again at `retry_at`, keeping the error for the agent to see.
    /// The customer's later messages wait behind it, so they keep their
    /// order. `count` false: no attempt was made (the number paused, or the
    /// customer's pacing said wait). False: fenced, nothing written.
    pub async fn outbox_retry(
        &self,
        row: &OutboxRow,
        retry_at: i64,
        error: Option<(Option<i64>, &str)>,
        count: bool,
        now: i64,
    ) -> Result<bool> {
        let counted = i64::from(count);
        let this_message = format!(
            "UPDATE outbox SET next_attempt_at = $1, lease_until = NULL, claim_epoch = NULL, attempts = attempts + $2,
                 error_code = COALESCE($3, error_code), error_title = COALESCE($4, error_title), updated_at = $5
             WHERE id = $6 AND {}",
            still_held(7)
        );
        Ok(with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let held = sqlx::query(&this_message)
                .bind(retry_at).bind(counted).bind(error.and_then(|e| e.0)).bind(error.map(|e| e.1)).bind(now).bind(row.id)
                .bind(row.claim_epoch)
                .execute(&mut *tx).await?
                .rows_affected() == 1;
            if held {
                sqlx::query(&later_messages_wait())
                    .bind(retry_at).bind(&row.phone_number_id).bind(&row.contact_id).bind(row.id)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await?;
            held
        }))
    }

    /// Gives up on a message: `needs_template` or `failed`, with Meta's
    /// error for the agent. False: fenced, nothing written.
    pub async fn outbox_give_up(
        &self,
        row: &OutboxRow,
        state: OutboxState,
        error_code: Option<i64>,
        error_title: &str,
        now: i64,
    ) -> Result<bool> {
        let sql = format!(
            "UPDATE outbox SET state = $1, error_code = $2, error_title = $3, attempts = attempts + 1, lease_until = NULL,
                 claim_epoch = NULL, updated_at = $4
             WHERE id = $5 AND {}",
            still_held(6)
        );
        Ok(with_pool!(self, pool => {
            sqlx::query(&sql)
                .bind(state).bind(error_code).bind(error_title).bind(now).bind(row.id).bind(row.claim_epoch)
                .execute(pool).await?.rows_affected() == 1
        }))
    }

    /// Releases messages the holder of `lease` claimed and will not send
    /// now (their customer's sending stopped): they go at the next claim.
    pub async fn release_outbox_rows(&self, ids: &[i64], lease: SenderLease) -> Result<()> {
        let sql = format!(
            "UPDATE outbox SET lease_until = NULL, claim_epoch = NULL
             WHERE id = $1 AND state = {queued} AND claim_epoch = $2",
            queued = OutboxState::Queued.sql()
        );
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for id in ids {
                sqlx::query(&sql).bind(id).bind(lease.epoch).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// After a restart of the only instance (SQLite): every lease it held
    /// has lapsed. What it had claimed stays marked, so the next claim
    /// sets it aside for its status.
    pub async fn lapse_outbox_leases(&self) -> Result<()> {
        let sql = format!(
            "UPDATE outbox SET lease_until = 0 WHERE state = {queued} AND claim_epoch IS NOT NULL AND lease_until IS NOT NULL",
            queued = OutboxState::Queued.sql()
        );
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(&sql).execute(&mut *tx).await?;
            sqlx::query("UPDATE number_senders SET lease_until = 0").execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
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
