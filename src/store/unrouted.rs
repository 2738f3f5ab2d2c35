//! SQL for changes about numbers no workspace has connected (yet): kept
//! until the number is connected, then processed again.

use super::{with_journal_pool, with_pool, with_tx, Result, Store, Tx};

/// A change for an unknown number, kept as received, keyed by its event
/// and its place in the event.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewUnrouted<'a> {
    pub event_id: i64,
    pub change_index: i64,
    pub phone_number_id: Option<&'a str>,
    pub waba_id: &'a str,
    pub field: &'a str,
    /// The change's value (JSON).
    pub value: &'a str,
    pub received_at: i64,
}

/// An unrouted change as admins see it (never its value).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct UnroutedSummary {
    pub event_id: i64,
    pub phone_number_id: Option<String>,
    pub waba_id: String,
    pub field: String,
    pub received_at: i64,
}

/// Keeps an unrouted change; once per event and change.
pub(crate) async fn insert(tx: &mut Tx<'_>, change: &NewUnrouted<'_>) -> Result<()> {
    with_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO unrouted_changes (event_id, change_index, phone_number_id, waba_id, field, value, received_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id, change_index) DO NOTHING",
        )
        .bind(change.event_id).bind(change.change_index).bind(change.phone_number_id).bind(change.waba_id)
        .bind(change.field).bind(change.value).bind(change.received_at)
        .execute(conn).await?;
    });
    Ok(())
}

impl Store {
    pub async fn unrouted_changes(&self, limit: i64) -> Result<Vec<UnroutedSummary>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT event_id, phone_number_id, waba_id, field, received_at FROM unrouted_changes ORDER BY event_id DESC LIMIT $1",
            )
            .bind(limit).fetch_all(pool).await?
        }))
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
                    "UPDATE webhook_events SET state = $3, attempts = 0, next_attempt_at = $1, lease_until = NULL WHERE id = $2",
                )
                .bind(now).bind(event_id).bind(super::EventState::Pending)
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
}
