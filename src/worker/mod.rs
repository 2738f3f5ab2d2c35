//! The kit every background worker is made of: a stop signal, one loop, a
//! backoff, and (in `store::claim`) one way to claim a queue's rows.
//!
//! Adding a queue takes its policy and its step, nothing else:
//!
//! ```text
//! // store/jobs.rs: which rows, and what a claim returns
//! const JOBS: Claim = Claim { table: "jobs", key: "id",
//!     state: JobState::Pending.sql(), due: "next_attempt_at <= $2",
//!     order_by: "id", also_set: "", returning: "id, attempts" };
//!
//! // jobs.rs: how failures are retried, and one step
//! const RETRY: RetryPolicy = RetryPolicy {
//!     backoff: Backoff::growing(1_000, 2, 3_600_000).with_jitter(0.25),
//!     max_attempts: 8 };
//!
//! pub async fn run(engine: Engine, stop: Stop) {
//!     let wake = engine.wake.jobs.clone();
//!     worker::run_loop(stop, Some(wake), POLL, || step(&engine)).await;
//! }
//! async fn step(engine: &Engine) -> Step {
//!     let claimed = engine.store.claim_jobs(now_millis(), LEASE_MS, 16).await;
//!     worker::each_side_by_side("jobs", claimed, |job| do_one(engine.clone(), job)).await
//! }
//! ```
//!
//! and one line in `runtime::WORKERS` (plus a `Wakes` field if something
//! in this process queues jobs).

mod backoff;
mod workers;

use std::{future::Future, sync::Arc, time::Duration};

use tokio::sync::{watch, Notify};

pub use backoff::{Backoff, RetryPolicy};
pub use workers::Workers;

/// Handed to each worker; `stopped()` resolves when shutdown begins.
#[derive(Debug, Clone)]
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    /// Raised, or the sender is gone (which also means stop).
    pub fn is_stopped(&self) -> bool {
        self.0.has_changed().is_err() || *self.0.borrow()
    }

    pub async fn stopped(&mut self) {
        // An error means the sender is gone, which also means stop.
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

/// What one step of a worker found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// It did something: step again at once.
    Busy,
    /// Nothing was due: wait for a wake-up, the idle poll or the stop.
    Idle,
}

impl Step {
    pub fn busy_if(did_something: bool) -> Self {
        if did_something {
            Self::Busy
        } else {
            Self::Idle
        }
    }
}

/// One unit of a worker's work: claim what is due, do it, record it.
/// A closure returning a future is one; a worker with state across steps
/// implements it on its own type.
pub trait Work: Send {
    fn step(&mut self) -> impl Future<Output = Step> + Send;

    /// After the last step, once stopped: lets go of what is in hand.
    fn finish(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

impl<F, Fut> Work for F
where
    F: FnMut() -> Fut + Send,
    Fut: Future<Output = Step> + Send,
{
    fn step(&mut self) -> impl Future<Output = Step> + Send {
        self()
    }
}

/// The step of a queue whose items are independent: logs a claim that
/// failed, runs `work` on every claimed item side by side (a slow item
/// holds the batch up for its own time only), and waits for them all.
pub async fn each_side_by_side<T, E, F, Fut>(
    queue: &str,
    claimed: Result<Vec<T>, E>,
    work: F,
) -> Step
where
    E: std::fmt::Display,
    F: Fn(T) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let items = match claimed {
        Ok(items) => items,
        Err(error) => {
            tracing::error!(%error, queue, "cannot claim work");
            return Step::Idle;
        }
    };
    let busy = !items.is_empty();
    let mut running = tokio::task::JoinSet::new();
    for item in items {
        running.spawn(work(item));
    }
    while let Some(finished) = running.join_next().await {
        if let Err(error) = finished {
            // Its lease runs out and another attempt takes it up.
            tracing::error!(queue, %error, "an item's work panicked");
        }
    }
    Step::busy_if(busy)
}

/// Runs `work` until `stop`, finishing the step in hand first. When a step
/// finds nothing to do, waits for `wake` (notified when work is queued in
/// this process) or `idle_poll` (work other instances queued, retries
/// coming due), whichever comes first; then [`Work::finish`].
pub async fn run_loop(
    mut stop: Stop,
    wake: Option<Arc<Notify>>,
    idle_poll: Duration,
    mut work: impl Work,
) {
    while !stop.is_stopped() {
        if work.step().await == Step::Busy {
            continue;
        }
        let woken = async {
            match &wake {
                Some(wake) => wake.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = woken => {}
            () = tokio::time::sleep(idle_poll) => {}
            () = stop.stopped() => {}
        }
    }
    work.finish().await;
}
