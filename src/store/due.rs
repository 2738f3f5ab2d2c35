//! How much work is due across the queues, for draining them.

use super::{with_journal_pool, with_pool, NumberStatus, Result, Store};
use super::{DeliveryState, EventState, FileState, OutboxState, RunState};

/// Work that is due and not finished, per queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DueWork {
    pub webhook_events: i64,
    pub onboarding_runs: i64,
    /// Messages of numbers that may send (a paused number's wait).
    pub outbox: i64,
    pub deliveries: i64,
    pub media: i64,
}

impl DueWork {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl Store {
    /// Claimed rows count too: their work is not finished.
    pub async fn due_work(&self, now: i64) -> Result<DueWork> {
        let events = format!(
            "SELECT COUNT(*) FROM webhook_events WHERE state = {} AND next_attempt_at <= $1",
            EventState::Pending.sql()
        );
        let webhook_events = with_journal_pool!(self, pool => {
            sqlx::query_scalar(&events).bind(now).fetch_one(pool).await?
        });
        // States as literals, so the queues' partial indexes serve the counts.
        let queues = format!(
            "SELECT
                (SELECT COUNT(*) FROM onboardings WHERE state = {ready}),
                (SELECT COUNT(*) FROM outbox o JOIN whatsapp_numbers n ON n.phone_number_id = o.phone_number_id
                  WHERE o.state = {queued} AND o.next_attempt_at <= $1 AND n.status = $2),
                (SELECT COUNT(*) FROM webhook_deliveries WHERE state = {pending_delivery} AND next_attempt_at <= $1),
                (SELECT COUNT(*) FROM inbound_media WHERE state = {pending_file} AND next_attempt_at <= $1)",
            ready = RunState::Ready.sql(),
            queued = OutboxState::Queued.sql(),
            pending_delivery = DeliveryState::Pending.sql(),
            pending_file = FileState::Pending.sql(),
        );
        let (onboarding_runs, outbox, deliveries, media) = with_pool!(self, pool => {
            sqlx::query_as::<_, (i64, i64, i64, i64)>(&queues)
                .bind(now).bind(NumberStatus::Live).fetch_one(pool).await?
        });
        Ok(DueWork {
            webhook_events,
            onboarding_runs,
            outbox,
            deliveries,
            media,
        })
    }
}
