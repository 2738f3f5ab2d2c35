//! SQL for the webhook journal, its processing, and connected numbers.

use super::{with_journal_pool, with_pool, with_relaxed_journal, Claim, Result, Store};
use crate::{
    pipeline::plan::{Applied, Op},
    webhook::journal::Received,
};

/// A journal event claimed for processing.
#[derive(Debug, Clone)]
pub struct ClaimedEvent {
    pub id: i64,
    pub received_at: i64,
    pub body: Vec<u8>,
    /// Including this one.
    pub attempts: i64,
}

/// An event that needs an admin's eye: rejected or dead-lettered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EventSummary {
    pub id: i64,
    pub received_at: i64,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UnroutedSummary {
    pub event_id: i64,
    pub phone_number_id: Option<String>,
    pub waba_id: String,
    pub field: String,
    pub received_at: i64,
}

/// Queues an event `(id, type, payload)` for each endpoint in the open
/// transaction `$tx`; evaluates to how many were new. A macro, because the
/// transaction's type differs per backend.
macro_rules! queue_deliveries {
    ($tx:ident, $endpoints:expr, $workspace_id:expr, $event:expr, $now:expr) => {{
        let (event_id, event_type, payload) = &$event;
        let payload = payload.to_string();
        let mut queued = 0_u64;
        for endpoint in $endpoints {
            queued += sqlx::query(super::outgoing_webhooks::INSERT_DELIVERY)
                .bind(endpoint)
                .bind($workspace_id)
                .bind(event_id)
                .bind(event_type)
                .bind(&payload)
                .bind($now)
                .execute(&mut *$tx)
                .await?
                .rows_affected();
        }
        queued
    }};
}

/// Applies the furthest status that arrived before its message ($1 wamid,
/// $2 number).
pub(crate) const APPLY_EARLY_STATUS: &str =
    "UPDATE messages SET status = s.status, status_rank = s.rank, error_code = s.error_code,
         error_title = s.error_title, error_details = s.error_details
     FROM (SELECT status, rank, error_code, error_title, error_details FROM message_statuses
           WHERE wamid = $1 ORDER BY rank DESC LIMIT 1) AS s
     WHERE messages.phone_number_id = $2 AND messages.wamid = $1";

/// Due events, oldest first; each claim counts as an attempt.
const EVENTS: Claim = Claim {
    table: "webhook_events",
    key: "id",
    due: "state = 'pending' AND next_attempt_at <= $2",
    order_by: "id",
    also_set: ", attempts = attempts + 1",
    returning: "id, received_at, body, attempts",
};

impl Store {
    /// Appends a batch with one statement in one transaction (one disk
    /// flush). The ids are not needed to acknowledge, so none are returned.
    pub async fn append_webhook_events(&self, events: &[Received]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        with_journal_pool!(self, pool => {
            let mut insert = sqlx::QueryBuilder::new("INSERT INTO webhook_events (received_at, signature, body, next_attempt_at) ");
            insert.push_values(events, |mut row, event| {
                row.push_bind(event.received_at)
                    .push_bind(&event.signature)
                    .push_bind(&event.body)
                    .push_bind(event.received_at);
            });
            insert.build().execute(pool).await?;
        });
        Ok(())
    }

    /// Claims up to `limit` due events for `lease_ms`.
    pub async fn claim_webhook_events(
        &self,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<ClaimedEvent>> {
        let sql = EVENTS.sql(self.backend());
        let mut rows = with_relaxed_journal!(self, tx => {
            sqlx::query_as::<_, (i64, i64, Vec<u8>, i64)>(&sql)
                .bind(now + lease_ms)
                .bind(now)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?
        });
        rows.sort_by_key(|row| row.0);
        Ok(rows
            .into_iter()
            .map(|(id, received_at, body, attempts)| ClaimedEvent {
                id,
                received_at,
                body,
                attempts,
            })
            .collect())
    }

    pub async fn release_webhook_leases(&self) -> Result<u64> {
        Ok(with_journal_pool!(self, pool => {
            sqlx::query("UPDATE webhook_events SET lease_until = NULL WHERE state = 'pending' AND lease_until IS NOT NULL")
                .execute(pool).await?.rows_affected()
        }))
    }

    /// Applies the effects of a batch of events in one transaction (one disk
    /// flush for the batch), then marks them done (or rejected) in the
    /// journal. Every effect is idempotent by its unique key, so an event
    /// whose mark was lost to a crash is applied again without harm.
    pub async fn apply_webhook_batch(
        &self,
        events: &[(i64, Vec<Op>)],
        rejected: &[(i64, String)],
        now: i64,
    ) -> Result<Applied> {
        let applied = with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut applied = Applied::default();
            for (event_id, ops) in events {
            for op in ops {
                match op {
                    Op::Inbound { workspace_id, phone_number_id, message, replies, endpoints } => {
                        let inserted = sqlx::query(
                            "INSERT INTO messages (workspace_id, phone_number_id, wamid, direction, customer_wa_id, customer_name, kind, summary, payload, sent_at)
                             VALUES ($1, $2, $3, 'inbound', $4, $5, $6, $7, $8, $9)
                             ON CONFLICT (phone_number_id, wamid) DO NOTHING",
                        )
                        .bind(workspace_id).bind(phone_number_id).bind(&message.wamid).bind(&message.customer)
                        .bind(&message.customer_name).bind(&message.kind).bind(&message.summary)
                        .bind(message.payload.to_string()).bind(message.sent_at)
                        .execute(&mut *tx).await?
                        .rows_affected() == 1;
                        if inserted {
                            // A status that came first is applied now.
                            sqlx::query(APPLY_EARLY_STATUS)
                            .bind(&message.wamid).bind(phone_number_id)
                            .execute(&mut *tx).await?;
                            applied.new_inbound.push((workspace_id.clone(), phone_number_id.clone(), message.wamid.clone()));
                            // The bot's answer, with the message: once, or
                            // not at all if this transaction fails.
                            for (index, reply) in replies.iter().enumerate() {
                                let queued = sqlx::query(super::outbox::INSERT_OUTBOX)
                                    .bind(workspace_id).bind(phone_number_id).bind(&message.customer)
                                    .bind(reply.kind()).bind(serde_json::to_string(reply).expect("content serializes"))
                                    .bind("bot").bind(format!("bot:{}:{index}", message.wamid))
                                    .bind(reply.is_message().then_some(&message.wamid)).bind(now)
                                    .execute(&mut *tx).await?
                                    .rows_affected();
                                applied.replies_queued += queued;
                            }
                            if let Some((media_id, mime_type)) = crate::media::media_of(&message.kind, &message.payload) {
                                applied.media_queued += sqlx::query(super::media::INSERT_MEDIA)
                                    .bind(phone_number_id).bind(media_id).bind(workspace_id).bind(&message.wamid)
                                    .bind(mime_type).bind(now)
                                    .execute(&mut *tx).await?
                                    .rows_affected();
                            }
                            let event = crate::outgoing_webhooks::message_received(phone_number_id, message);
                            applied.deliveries_queued += queue_deliveries!(tx, endpoints, workspace_id, event, now);
                        } else {
                            applied.duplicates += 1;
                        }
                    }
                    Op::Status { workspace_id, phone_number_id, update, rank, endpoints } => {
                        let inserted = sqlx::query(
                            "INSERT INTO message_statuses (wamid, status, rank, phone_number_id, recipient, at, error_code, error_title, error_details)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (wamid, status) DO NOTHING",
                        )
                        .bind(&update.wamid).bind(&update.status).bind(rank).bind(phone_number_id).bind(&update.recipient)
                        .bind(update.at).bind(update.error_code).bind(&update.error_title).bind(&update.error_details)
                        .execute(&mut *tx).await?
                        .rows_affected() == 1;
                        if inserted {
                            let event = crate::outgoing_webhooks::status_changed(phone_number_id, update);
                            applied.deliveries_queued += queue_deliveries!(tx, endpoints, workspace_id, event, now);
                        } else {
                            applied.duplicates += 1;
                        }
                        // Forward only: a late "delivered" never undoes "read".
                        sqlx::query(
                            "UPDATE messages SET status = $1, status_rank = $2, error_code = $3, error_title = $4, error_details = $5
                             WHERE phone_number_id = $6 AND wamid = $7 AND status_rank < $2",
                        )
                        .bind(&update.status).bind(rank).bind(update.error_code).bind(&update.error_title)
                        .bind(&update.error_details).bind(phone_number_id).bind(&update.wamid)
                        .execute(&mut *tx).await?;
                    }
                    Op::Unrouted { change_index, phone_number_id, waba_id, field, value, received_at } => {
                        sqlx::query(
                            "INSERT INTO unrouted_changes (event_id, change_index, phone_number_id, waba_id, field, value, received_at)
                             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id, change_index) DO NOTHING",
                        )
                        .bind(event_id).bind(change_index).bind(phone_number_id).bind(waba_id).bind(field).bind(value).bind(received_at)
                        .execute(&mut *tx).await?;
                        applied.unrouted += 1;
                    }
                    Op::Account { change_index, workspace_id, waba_id, field, value, at } => {
                        sqlx::query(
                            "INSERT INTO account_events (event_id, change_index, workspace_id, waba_id, field, value, at)
                             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id, change_index) DO NOTHING",
                        )
                        .bind(event_id).bind(change_index).bind(workspace_id).bind(waba_id).bind(field).bind(value).bind(at)
                        .execute(&mut *tx).await?;
                    }
                    Op::Quality { waba_id, display_phone_number, rating } => {
                        sqlx::query("UPDATE whatsapp_numbers SET quality_rating = $1 WHERE waba_id = $2 AND display_phone_number = $3")
                            .bind(rating).bind(waba_id).bind(display_phone_number)
                            .execute(&mut *tx).await?;
                    }
                    Op::TemplateStatus { waba_id, template_id, name, language, status, reason } => {
                        if let Some(status) = status {
                            let reason = (status == "REJECTED").then_some(reason.as_deref()).flatten();
                            sqlx::query(
                                "UPDATE message_templates SET status = $1, rejected_reason = $2, updated_at = $3
                                 WHERE waba_id = $4 AND (template_id = $5 OR (name = $6 AND language = $7))",
                            )
                            .bind(status).bind(reason).bind(now).bind(waba_id)
                            .bind(template_id).bind(name).bind(language)
                            .execute(&mut *tx).await?;
                        }
                        sqlx::query(super::templates::WANT_SYNC)
                            .bind(waba_id).bind(now)
                            .execute(&mut *tx).await?;
                    }
                    Op::AppRemoved { waba_id, reason } => {
                        // Only numbers that could send change, so a
                        // duplicate delivery audits nothing twice.
                        let flagged: Vec<(String, String)> = sqlx::query_as(
                            "UPDATE whatsapp_numbers SET status = 'reconnect_needed', status_reason = $1, updated_at = $2
                             WHERE waba_id = $3 AND status IN ('live', 'onboarding') RETURNING phone_number_id, workspace_id",
                        )
                        .bind(reason).bind(now).bind(waba_id)
                        .fetch_all(&mut *tx).await?;
                        for (phone_number_id, workspace_id) in flagged {
                            let detail = serde_json::json!({ "phone_number_id": phone_number_id, "reason": reason }).to_string();
                            sqlx::query("INSERT INTO audit_log (workspace_id, action, detail, at) VALUES ($1, 'number.reconnect_needed', $2, $3)")
                                .bind(workspace_id).bind(detail).bind(now)
                                .execute(&mut *tx).await?;
                        }
                    }
                }
            }
            }
            tx.commit().await?;
            applied
        });
        // Then the journal's marks. A crash in between leaves the events
        // pending; applying them again changes nothing (unique keys).
        with_relaxed_journal!(self, tx => {
            for (event_id, reason) in rejected {
                sqlx::query(
                    "UPDATE webhook_events SET state = 'rejected', lease_until = NULL, last_error = $1, processed_at = $2 WHERE id = $3",
                )
                .bind(reason).bind(now).bind(event_id)
                .execute(&mut *tx).await?;
            }
            for (event_id, _) in events {
                sqlx::query(
                    "UPDATE webhook_events SET state = 'done', processed_at = $1, lease_until = NULL, last_error = NULL WHERE id = $2",
                )
                .bind(now).bind(event_id)
                .execute(&mut *tx).await?;
            }
        });
        Ok(applied)
    }

    /// Records a failed attempt: retry at `retry_at`, or dead-letter.
    pub async fn fail_webhook_event(
        &self,
        event_id: i64,
        error: &str,
        retry_at: Option<i64>,
    ) -> Result<()> {
        with_relaxed_journal!(self, tx => {
            match retry_at {
                Some(at) => sqlx::query(
                    "UPDATE webhook_events SET next_attempt_at = $1, lease_until = NULL, last_error = $2 WHERE id = $3",
                )
                .bind(at).bind(error).bind(event_id)
                .execute(&mut *tx).await?,
                None => sqlx::query(
                    "UPDATE webhook_events SET state = 'dead', lease_until = NULL, last_error = $1 WHERE id = $2",
                )
                .bind(error).bind(event_id)
                .execute(&mut *tx).await?,
            };
        });
        Ok(())
    }

    /// Puts dead-lettered events (one, or all) back in the queue.
    pub async fn replay_webhook_events(&self, event_id: Option<i64>, now: i64) -> Result<u64> {
        let replayed = with_journal_pool!(self, pool => {
            sqlx::query(
                "UPDATE webhook_events SET state = 'pending', attempts = 0, next_attempt_at = $1, lease_until = NULL
                 WHERE state = 'dead' AND ($2 IS NULL OR id = $2)",
            )
            .bind(now).bind(event_id)
            .execute(pool).await?
            .rows_affected()
        });
        Ok(replayed)
    }

    /// The raw body of a journaled event (to find whose it is).
    pub async fn webhook_event_body(&self, id: i64) -> Result<Option<Vec<u8>>> {
        Ok(with_journal_pool!(self, pool => {
            sqlx::query_scalar("SELECT body FROM webhook_events WHERE id = $1")
                .bind(id).fetch_optional(pool).await?
        }))
    }

    pub async fn webhook_events_in(&self, state: &str, limit: i64) -> Result<Vec<EventSummary>> {
        let rows = with_journal_pool!(self, pool => {
            sqlx::query_as::<_, (i64, i64, String, i64, Option<String>)>(
                "SELECT id, received_at, state, attempts, last_error FROM webhook_events WHERE state = $1 ORDER BY id DESC LIMIT $2",
            )
            .bind(state).bind(limit)
            .fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(id, received_at, state, attempts, last_error)| EventSummary {
                    id,
                    received_at,
                    state,
                    attempts,
                    last_error,
                },
            )
            .collect())
    }

    /// Every event ever journaled, whatever its state.
    pub async fn webhook_event_count(&self) -> Result<i64> {
        Ok(with_journal_pool!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM webhook_events").fetch_one(pool).await?
        }))
    }

    /// Events received but not yet processed (the journal's lag).
    pub async fn pending_webhook_events(&self) -> Result<i64> {
        Ok(with_journal_pool!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM webhook_events WHERE state = 'pending'").fetch_one(pool).await?
        }))
    }

    /// Connects a number to a workspace (onboarding calls this).
    pub async fn connect_number(
        &self,
        workspace_id: &str,
        phone_number_id: &str,
        waba_id: &str,
        display: Option<&str>,
        now: i64,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO whatsapp_numbers (phone_number_id, workspace_id, waba_id, display_phone_number, created_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (phone_number_id) DO UPDATE SET workspace_id = excluded.workspace_id, waba_id = excluded.waba_id,
                     display_phone_number = COALESCE(excluded.display_phone_number, whatsapp_numbers.display_phone_number)",
            )
            .bind(phone_number_id).bind(workspace_id).bind(waba_id).bind(display).bind(now)
            .execute(pool).await?;
        });
        Ok(())
    }

    /// Workspace of each connected number among `phone_number_ids`.
    pub async fn number_owners(
        &self,
        phone_number_ids: &[String],
    ) -> Result<Vec<(String, String)>> {
        let mut owners = Vec::new();
        for id in phone_number_ids {
            let owner: Option<String> = with_pool!(self, pool => {
                sqlx::query_scalar("SELECT workspace_id FROM whatsapp_numbers WHERE phone_number_id = $1")
                    .bind(id).fetch_optional(pool).await?
            });
            if let Some(workspace) = owner {
                owners.push((id.clone(), workspace));
            }
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

    pub async fn unrouted_changes(&self, limit: i64) -> Result<Vec<UnroutedSummary>> {
        let rows = with_pool!(self, pool => {
            sqlx::query_as::<_, (i64, Option<String>, String, String, i64)>(
                "SELECT event_id, phone_number_id, waba_id, field, received_at FROM unrouted_changes ORDER BY event_id DESC LIMIT $1",
            )
            .bind(limit).fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(event_id, phone_number_id, waba_id, field, received_at)| UnroutedSummary {
                    event_id,
                    phone_number_id,
                    waba_id,
                    field,
                    received_at,
                },
            )
            .collect())
    }

    /// Once a number is connected: its unrouted changes' events go back in
    /// the queue (processing is idempotent, so re-running a whole event is
    /// safe), and only then leave the unrouted list, so nothing is lost.
    pub async fn requeue_unrouted_for(&self, phone_number_id: &str, now: i64) -> Result<u64> {
        let events: Vec<i64> = with_pool!(self, pool => {
            sqlx::query_scalar("SELECT DISTINCT event_id FROM unrouted_changes WHERE phone_number_id = $1")
                .bind(phone_number_id).fetch_all(pool).await?
        });
        let mut requeued = 0;
        for event_id in &events {
            requeued += with_journal_pool!(self, pool => {
                sqlx::query(
                    "UPDATE webhook_events SET state = 'pending', attempts = 0, next_attempt_at = $1, lease_until = NULL WHERE id = $2",
                )
                .bind(now).bind(event_id)
                .execute(pool).await?
                .rows_affected()
            });
        }
        // Only once the events are queued again; a crash before this leaves
        // them listed, and queueing them twice is harmless.
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM unrouted_changes WHERE phone_number_id = $1")
                .bind(phone_number_id).execute(pool).await?;
        });
        Ok(requeued)
    }

    pub async fn count_messages(&self, workspace_id: &str) -> Result<i64> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE workspace_id = $1").bind(workspace_id).fetch_one(pool).await?
        }))
    }
}
