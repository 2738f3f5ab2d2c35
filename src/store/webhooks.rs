//! SQL for the webhook journal and its processing.

use super::{with_journal_pool, with_relaxed_journal, with_tx, Backend, Claim, Result, Store, Tx};
use crate::text_enum::text_enum;

text_enum! {
    /// Where a journaled webhook stands.
    pub enum EventState {
        /// To be processed (again, after a failed attempt).
        Pending = "pending",
        /// Applied.
        Done = "done",
        /// Signed, but not JSON or not a WhatsApp Business Account body:
        /// kept, never processed.
        Rejected = "rejected",
        /// Failed every attempt; an admin may replay it.
        Dead = "dead",
    }
}

/// One webhook as received, to journal.
#[derive(Debug, Clone)]
pub struct NewWebhookEvent {
    pub received_at: i64,
    pub signature: String,
    pub body: Vec<u8>,
}

/// A journal event claimed for processing.
#[derive(Debug, Clone)]
pub struct ClaimedEvent {
    pub id: i64,
    pub received_at: i64,
    pub body: Vec<u8>,
    /// Including this one.
    pub attempts: i64,
    /// When this claim's lease ends (Unix ms): what giving the event back
    /// checks, so a lease that lapsed and was taken by another claim is
    /// left alone.
    pub lease_until: i64,
}

/// An event that needs an admin's eye: rejected or dead-lettered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct EventSummary {
    pub id: i64,
    pub received_at: i64,
    pub state: EventState,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// How far behind the pipeline is, for the lag gauges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JournalLag {
    /// Events not yet processed: exact up to [`EXACT_LAG_UP_TO`]; beyond,
    /// the span of ids from the oldest pending event to the newest event
    /// (exact while events are processed in order, as a backlog is).
    pub events: i64,
    /// When the oldest pending event arrived (Unix ms).
    pub oldest_received_at: Option<i64>,
}

/// Counting more would hold the journal's connection, which
/// acknowledgements wait for, for tens of milliseconds.
pub const EXACT_LAG_UP_TO: i64 = 10_000;

/// Due events, oldest first; each claim counts as an attempt.
const EVENTS: Claim = Claim {
    table: "webhook_events",
    key: "id",
    state: EventState::Pending.sql(),
    due: "next_attempt_at <= $2",
    order_by: "id",
    also_set: ", attempts = attempts + 1",
    returning: "id, received_at, body, attempts",
};

/// The ids of a JSON array bound as `param`, as a subquery.
fn ids_in(backend: Backend, param: &str) -> String {
    match backend {
        Backend::Sqlite => format!("SELECT value FROM json_each({param})"),
        Backend::Postgres => format!("SELECT jsonb_array_elements_text({param}::jsonb)::bigint"),
    }
}

/// Marks processed events done, inside a relaxed journal transaction.
pub(crate) async fn mark_done(journal: &mut Tx<'_>, event_ids: &[i64], now: i64) -> Result<()> {
    if event_ids.is_empty() {
        return Ok(());
    }
    // One statement for the batch: the journal's one connection is what
    // acknowledgements wait for, so a batch's marks hold it once, briefly.
    let ids = serde_json::to_string(event_ids).expect("numbers serialise");
    let listed = ids_in(journal.backend(), "$2");
    let sql = format!(
        "UPDATE webhook_events SET state = $3, processed_at = $1, lease_until = NULL, last_error = NULL
         WHERE id IN ({listed})"
    );
    with_tx!(journal, conn => {
        sqlx::query(&sql).bind(now).bind(&ids).bind(EventState::Done).execute(conn).await?;
    });
    Ok(())
}

/// Keeps an event that can never be processed, and why, for admins.
pub(crate) async fn mark_rejected(
    journal: &mut Tx<'_>,
    event_id: i64,
    reason: &str,
    now: i64,
) -> Result<()> {
    with_tx!(journal, conn => {
        sqlx::query(
            "UPDATE webhook_events SET state = $4, lease_until = NULL, last_error = $1, processed_at = $2 WHERE id = $3",
        )
        .bind(reason).bind(now).bind(event_id).bind(EventState::Rejected)
        .execute(conn).await?;
    });
    Ok(())
}

impl Store {
    /// Appends a batch with one statement in one transaction (one disk
    /// flush). The ids are not needed to acknowledge, so none are returned.
    pub async fn append_webhook_events(&self, events: &[NewWebhookEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        const INSERT: &str =
            "INSERT INTO webhook_events (received_at, signature, body, next_attempt_at) ";
        match self {
            Store::Sqlite(s) => {
                let mut conn = s.journal_pool().acquire().await?;
                // An acknowledgement states its own durability on the
                // connection it commits on, whatever the connection's last
                // user left (the pipeline's relaxed marks share it): so an
                // acknowledged event is on disk by construction.
                sqlx::query("PRAGMA synchronous = FULL")
                    .execute(&mut *conn)
                    .await?;
                let mut insert = sqlx::QueryBuilder::new(INSERT);
                insert.push_values(events, |mut row, event| {
                    row.push_bind(event.received_at)
                        .push_bind(&event.signature)
                        .push_bind(&event.body)
                        .push_bind(event.received_at);
                });
                insert.build().execute(&mut *conn).await?;
            }
            Store::Postgres(s) => {
                // A plain commit: `synchronous_commit` is relaxed only by
                // `SET LOCAL` inside the pipeline's own transactions.
                let mut insert = sqlx::QueryBuilder::new(INSERT);
                insert.push_values(events, |mut row, event| {
                    row.push_bind(event.received_at)
                        .push_bind(&event.signature)
                        .push_bind(&event.body)
                        .push_bind(event.received_at);
                });
                insert.build().execute(s.journal_pool()).await?;
            }
        }
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
        let lease_until = now + lease_ms;
        let mut rows = with_relaxed_journal!(self, tx => {
            sqlx::query_as::<_, (i64, i64, Vec<u8>, i64)>(&sql)
                .bind(lease_until)
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
                lease_until,
            })
            .collect())
    }

    /// Gives back events claimed but not tried: their lease ends and their
    /// claim's attempt is taken back. Only while the claim that leased them
    /// until `lease_until` still holds them: one that lapsed and was
    /// claimed again is the new claimant's.
    pub async fn unclaim_webhook_events(&self, event_ids: &[i64], lease_until: i64) -> Result<()> {
        if event_ids.is_empty() {
            return Ok(());
        }
        let ids = serde_json::to_string(event_ids).expect("numbers serialise");
        let listed = ids_in(self.backend(), "$1");
        let sql = format!(
            "UPDATE webhook_events SET lease_until = NULL, attempts = attempts - 1
             WHERE state = {} AND lease_until = $2 AND id IN ({listed})",
            EventState::Pending.sql()
        );
        with_relaxed_journal!(self, tx => {
            sqlx::query(&sql).bind(&ids).bind(lease_until).execute(&mut *tx).await?;
        });
        Ok(())
    }

    pub async fn release_webhook_leases(&self) -> Result<u64> {
        let sql = format!(
            "UPDATE webhook_events SET lease_until = NULL WHERE state = {} AND lease_until IS NOT NULL",
            EventState::Pending.sql()
        );
        Ok(with_journal_pool!(self, pool => {
            sqlx::query(&sql).execute(pool).await?.rows_affected()
        }))
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
                    "UPDATE webhook_events SET state = $3, lease_until = NULL, last_error = $1 WHERE id = $2",
                )
                .bind(error).bind(event_id).bind(EventState::Dead)
                .execute(&mut *tx).await?,
            };
        });
        Ok(())
    }

    /// Puts dead-lettered events (one, or all) back in the queue.
    pub async fn replay_webhook_events(&self, event_id: Option<i64>, now: i64) -> Result<u64> {
        let replayed = with_journal_pool!(self, pool => {
            sqlx::query(
                "UPDATE webhook_events SET state = $3, attempts = 0, next_attempt_at = $1, lease_until = NULL
                 WHERE state = $4 AND ($2 IS NULL OR id = $2)",
            )
            .bind(now).bind(event_id).bind(EventState::Pending).bind(EventState::Dead)
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

    pub async fn webhook_events_in(
        &self,
        state: EventState,
        limit: i64,
    ) -> Result<Vec<EventSummary>> {
        Ok(with_journal_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, received_at, state, attempts, last_error FROM webhook_events WHERE state = $1 ORDER BY id DESC LIMIT $2",
            )
            .bind(state).bind(limit)
            .fetch_all(pool).await?
        }))
    }

    /// Every event ever journaled, whatever its state.
    pub async fn webhook_event_count(&self) -> Result<i64> {
        Ok(with_journal_pool!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM webhook_events").fetch_one(pool).await?
        }))
    }

    /// The journal's lag in a few index lookups, whatever its size (see
    /// [`JournalLag`]).
    pub async fn webhook_journal_lag(&self) -> Result<JournalLag> {
        let pending = EventState::Pending.sql();
        let oldest = format!(
            "SELECT id, received_at FROM webhook_events WHERE state = {pending} ORDER BY id LIMIT 1"
        );
        let capped = format!(
            "SELECT COUNT(*) FROM (SELECT id FROM webhook_events WHERE state = {pending} ORDER BY id LIMIT $1) AS head"
        );
        Ok(with_journal_pool!(self, pool => {
            let oldest: Option<(i64, i64)> = sqlx::query_as(&oldest).fetch_optional(pool).await?;
            let Some((oldest_id, oldest_received_at)) = oldest else {
                return Ok(JournalLag::default());
            };
            let counted: i64 = sqlx::query_scalar(&capped)
                .bind(EXACT_LAG_UP_TO + 1)
                .fetch_one(pool)
                .await?;
            let events = if counted <= EXACT_LAG_UP_TO {
                counted
            } else {
                let newest: i64 = sqlx::query_scalar("SELECT MAX(id) FROM webhook_events")
                    .fetch_one(pool)
                    .await?;
                (newest - oldest_id + 1).max(counted)
            };
            JournalLag {
                events,
                oldest_received_at: Some(oldest_received_at),
            }
        }))
    }

    /// Events received but not yet processed (the journal's lag).
    pub async fn pending_webhook_events(&self) -> Result<i64> {
        let sql = format!(
            "SELECT COUNT(*) FROM webhook_events WHERE state = {}",
            EventState::Pending.sql()
        );
        Ok(with_journal_pool!(self, pool => {
            sqlx::query_scalar(&sql).fetch_one(pool).await?
        }))
    }
}
