//! The durable journal with group commit. Each request hands its raw body to
//! one writer task and waits; the writer stores everything queued at that
//! moment in one transaction (one fsync), then answers them all. Under load
//! the batches grow, so durability costs one disk flush per batch, not per
//! webhook.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use tokio::sync::{mpsc, oneshot, Notify};

use crate::store::{now_millis, NewWebhookEvent, Store};

/// The most events one commit takes.
const MAX_BATCH: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    #[error("the journal could not store the event: {0}")]
    Write(String),
    #[error("the journal is shutting down")]
    Closed,
}

struct Append {
    event: NewWebhookEvent,
    stored: oneshot::Sender<Result<(), JournalError>>,
}

#[derive(Clone)]
pub struct Journal {
    queue: mpsc::Sender<Append>,
    pressure: Pressure,
}

/// Whether requests are waiting for the journal: a commit is in flight or
/// more are queued, or one ended less than a moment ([`HOLD`]) ago. The
/// moment matters: a commit answers every request it held, and under a
/// flood their senders' next requests arrive a fraction of a millisecond
/// later, so "nothing queued" right after a commit does not mean the flood
/// is over. Without it the pipeline took the journal's connection between
/// every two commits, at full batch size, and acknowledgements behind a
/// backlog fell to a third in some runs. The writer alone sets it, so it
/// cannot drift; the pipeline reads it to let acknowledgements go first,
/// and waits for it to ease (not for a fixed time).
#[derive(Clone, Debug)]
pub struct Pressure(Arc<PressureState>);

/// How long the journal counts as busy after its last commit.
pub const HOLD: Duration = Duration::from_millis(5);

#[derive(Debug)]
struct PressureState {
    in_flight: AtomicBool,
    /// When the last commit ended, in microseconds since `since`, plus
    /// one (zero: no commit yet).
    last_commit_us: AtomicU64,
    since: Instant,
    hold: Duration,
    /// Told each time a commit ends with nothing queued.
    eased: Notify,
}

impl Default for Pressure {
    fn default() -> Self {
        Self::with_hold(HOLD)
    }
}

impl Pressure {
    pub fn with_hold(hold: Duration) -> Self {
        Self(Arc::new(PressureState {
            in_flight: AtomicBool::new(false),
            last_commit_us: AtomicU64::new(0),
            since: Instant::now(),
            hold,
            eased: Notify::new(),
        }))
    }

    pub fn is_high(&self) -> bool {
        self.0.in_flight.load(Ordering::SeqCst) || !self.held_for().is_zero()
    }

    /// What is left of the hold after the last commit.
    fn held_for(&self) -> Duration {
        let Some(last) = self.0.last_commit_us.load(Ordering::SeqCst).checked_sub(1) else {
            return Duration::ZERO;
        };
        let ended = self.0.since + Duration::from_micros(last);
        (ended + self.0.hold).saturating_duration_since(Instant::now())
    }

    /// Resolves once nothing has waited for the journal for the hold (at
    /// once if nothing has lately).
    pub async fn eased(&self) {
        loop {
            // Registered before the check, so a fall in between is not missed.
            let eased = self.0.eased.notified();
            if self.0.in_flight.load(Ordering::SeqCst) {
                eased.await;
                continue;
            }
            let left = self.held_for();
            if left.is_zero() {
                return;
            }
            tokio::time::sleep(left).await;
        }
    }

    fn set(&self, in_flight: bool) {
        if !in_flight {
            // Plus one: zero stands for "never".
            let now = self.0.since.elapsed().as_micros() as u64 + 1;
            self.0.last_commit_us.store(now, Ordering::SeqCst);
        }
        self.0.in_flight.store(in_flight, Ordering::SeqCst);
        if !in_flight {
            self.0.eased.notify_waiters();
        }
    }
}

impl Journal {
    /// Starts the writer; it ends once every `Journal` clone is dropped and
    /// the queue is drained. `stored` is notified after each commit, to wake
    /// the workers; `pressure` tells them when requests are waiting.
    pub fn start(
        store: Store,
        stored: Arc<Notify>,
        pressure: Pressure,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (queue, incoming) = mpsc::channel(16 * MAX_BATCH);
        let writer = tokio::spawn(write_batches(store, incoming, stored, pressure.clone()));
        (Self { queue, pressure }, writer)
    }

    /// The journal's load, for the pipeline (holds no sender, so it does
    /// not keep the writer alive at shutdown).
    pub fn pressure(&self) -> Pressure {
        self.pressure.clone()
    }

    /// Stores one event durably. Only then may the webhook be acknowledged.
    pub async fn append(&self, signature: String, body: Vec<u8>) -> Result<(), JournalError> {
        let (stored, id) = oneshot::channel();
        let event = NewWebhookEvent {
            received_at: now_millis(),
            signature,
            body,
        };
        self.queue
            .send(Append { event, stored })
            .await
            .map_err(|_| JournalError::Closed)?;
        id.await.map_err(|_| JournalError::Closed)?
    }
}

async fn write_batches(
    store: Store,
    mut incoming: mpsc::Receiver<Append>,
    stored: Arc<Notify>,
    pressure: Pressure,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while incoming.recv_many(&mut batch, MAX_BATCH).await > 0 {
        pressure.set(true);
        let (events, waiters): (Vec<_>, Vec<_>) =
            batch.drain(..).map(|a| (a.event, a.stored)).unzip();
        metrics::histogram!("webhook_journal_batch_size").record(events.len() as f64);
        match store.append_webhook_events(&events).await {
            Ok(()) => {
                metrics::counter!("webhook_events_stored_total").increment(events.len() as u64);
                for waiter in waiters {
                    let _ = waiter.send(Ok(()));
                }
                stored.notify_one();
            }
            Err(error) => {
                tracing::error!(%error, count = events.len(), "journal write failed");
                for waiter in waiters {
                    let _ = waiter.send(Err(JournalError::Write(error.to_string())));
                }
            }
        }
        pressure.set(!incoming.is_empty());
    }
    pressure.set(false);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_stays_busy_for_the_hold_after_a_commit() {
        let pressure = Pressure::with_hold(Duration::from_secs(3600));
        assert!(!pressure.is_high(), "nothing committed yet");
        pressure.set(true);
        assert!(pressure.is_high());
        pressure.set(false);
        assert!(pressure.is_high(), "the next requests are on their way");

        let no_hold = Pressure::with_hold(Duration::ZERO);
        no_hold.set(true);
        no_hold.set(false);
        assert!(!no_hold.is_high());
    }

    #[tokio::test]
    async fn easing_waits_out_the_hold() {
        let hold = Duration::from_millis(30);
        let pressure = Pressure::with_hold(hold);
        pressure.set(true);
        let waiter = {
            let pressure = pressure.clone();
            tokio::spawn(async move {
                pressure.eased().await;
                Instant::now()
            })
        };
        tokio::task::yield_now().await;
        let before_the_commit_ended = Instant::now();
        pressure.set(false);
        let eased = waiter.await.unwrap();
        assert!(
            eased >= before_the_commit_ended + hold - Duration::from_millis(1),
            "eased before the hold ended"
        );
        assert!(!pressure.is_high());
    }
}
