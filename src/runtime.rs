//! Everything that runs in the background, started and stopped one way for
//! the server and the tests: the webhook journal's writer and every worker.
//! Two pipeline workers per instance (claims keep them from colliding).
//! [`drain`] runs what is due to completion, so that a test can check that
//! something did *not* happen without sleeping.

use std::{
    future::Future,
    pin::Pin,
    time::{Duration, Instant},
};

use tokio::task::JoinHandle;

pub use crate::store::DueWork;

use crate::{
    media, onboarding, outbox, outgoing_webhooks, pipeline,
    store::{self, now_millis},
    templates, tokens,
    webhook::Journal,
    worker::{self, Step, Stop, Workers},
    Engine,
};

/// A worker's entry point: every worker has the same.
type Start = fn(Engine, Stop) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// Every worker of an instance, by name.
const WORKERS: [(&str, Start); 13] = [
    ("webhook-pipeline", |e, s| Box::pin(pipeline::run(e, s))),
    ("webhook-pipeline", |e, s| Box::pin(pipeline::run(e, s))),
    ("inbound-media", |e, s| Box::pin(media::run(e, s))),
    ("outgoing-webhooks", |e, s| {
        Box::pin(outgoing_webhooks::delivery::run(e, s))
    }),
    ("outbox-sender", |e, s| Box::pin(outbox::sender::run(e, s))),
    ("onboarding", |e, s| Box::pin(onboarding::run(e, s))),
    ("template-sync", |e, s| Box::pin(templates::sync::run(e, s))),
    ("token-health", |e, s| {
        Box::pin(tokens::run_health_checks(e, s))
    }),
    ("token-refresh", |e, s| {
        Box::pin(crate::token_expiry::run(e, s))
    }),
    ("number-health", |e, s| {
        Box::pin(crate::health::probe::run(e, s))
    }),
    ("database-probe", |e, s| Box::pin(database_probe(e, s))),
    ("retention", |e, s| Box::pin(crate::retention::run(e, s))),
    ("live-relay", |e, s| {
        Box::pin(crate::live::relay::listen(e.live.clone(), s))
    }),
];
/// How often the database probe runs.
const PROBE_EVERY: Duration = Duration::from_secs(15);

pub struct Runtime {
    journal: Journal,
    journal_writer: JoinHandle<()>,
    workers: Workers,
}

impl Runtime {
    /// Releases what a previous run of this process left claimed, starts
    /// the journal's writer and every worker.
    pub async fn start(engine: &Engine) -> Result<Self, store::Error> {
        let released = pipeline::recover_after_restart(&engine.store).await?;
        if released > 0 {
            tracing::warn!(
                released,
                "resuming webhook events a previous run had claimed"
            );
        }
        let (journal, journal_writer) = Journal::start(
            engine.store.clone(),
            engine.wake.journal.clone(),
            engine.journal_pressure.clone(),
        );
        let mut workers = Workers::new();
        for (name, run) in WORKERS {
            let engine = engine.clone();
            workers.spawn(name, move |stop| run(engine, stop));
        }
        Ok(Self {
            journal,
            journal_writer,
            workers,
        })
    }

    /// Where the webhook route appends what it receives.
    pub fn journal(&self) -> Journal {
        self.journal.clone()
    }

    /// Stops in order: once the HTTP side has let go of the journal, its
    /// writer stores what is queued; then the workers finish their step
    /// (up to `grace`). Returns how many workers had to be aborted.
    pub async fn stop(self, grace: Duration) -> usize {
        drop(self.journal);
        if tokio::time::timeout(grace, self.journal_writer)
            .await
            .is_err()
        {
            tracing::warn!("the journal's writer did not finish in time");
        }
        self.workers.stop(grace).await
    }
}

/// Publishes whether the database answers, for alerting between scrapes of
/// `/readyz`.
async fn database_probe(engine: Engine, stop: Stop) {
    let engine = &engine;
    worker::run_loop(stop, None, PROBE_EVERY, || async move {
        let up = engine.store.ping().await.is_ok();
        metrics::gauge!("switchboard_database_up").set(if up { 1.0 } else { 0.0 });
        Step::Idle
    })
    .await;
}

#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    #[error("work still due after {0:?}: {1:?}")]
    TimedOut(Duration, DueWork),
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// Waits until no work is due in any queue (events to process, runs to
/// advance, messages to send, deliveries to post, files to fetch), waking
/// every worker while any is. Work scheduled for later (a retry's backoff) does
/// not count. The workers must be running; gives up after `limit`.
pub async fn drain(engine: &Engine, limit: Duration) -> Result<(), DrainError> {
    let deadline = Instant::now() + limit;
    loop {
        let due = engine.store.due_work(now_millis()).await?;
        if due.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(DrainError::TimedOut(limit, due));
        }
        let wake = &engine.wake;
        for notify in [
            &wake.journal,
            &wake.onboarding,
            &wake.outbox,
            &wake.deliveries,
            &wake.media,
        ] {
            notify.notify_one();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
