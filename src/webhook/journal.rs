//! The durable journal with group commit. Each request hands its raw body to
//! one writer task and waits; the writer stores everything queued at that
//! moment in one transaction (one fsync), then answers them all. Under load
//! the batches grow, so durability costs one disk flush per batch, not per
//! webhook.

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
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

/// Whether requests are waiting for the journal right now: a commit is in
/// flight or more are queued. The writer alone sets it, so it cannot drift;
/// the pipeline reads it to let acknowledgements go first, and waits for
/// it to ease (not for a fixed time).
#[derive(Clone, Debug, Default)]
pub struct Pressure(Arc<PressureState>);

#[derive(Debug, Default)]
struct PressureState {
    high: AtomicBool,
    /// Told each time it falls.
    eased: Notify,
}

impl Pressure {
    pub fn is_high(&self) -> bool {
        self.0.high.load(Ordering::SeqCst)
    }

    /// Resolves once nothing waits for the journal (at once if nothing
    /// does now).
    pub async fn eased(&self) {
        // Registered before the check, so a fall in between is not missed.
        let eased = self.0.eased.notified();
        if self.is_high() {
            eased.await;
        }
    }

    fn set(&self, high: bool) {
        self.0.high.store(high, Ordering::SeqCst);
        if !high {
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
