//! Background workers and their orderly stop. Each worker gets a stop
//! signal to watch; on shutdown we raise it and wait for every worker to
//! finish its current unit of work.

use std::{future::Future, time::Duration};

use tokio::{sync::watch, task::JoinSet};

/// Handed to each worker; `stopped()` resolves when shutdown begins.
#[derive(Clone)]
pub struct StopSignal(watch::Receiver<bool>);

impl StopSignal {
    pub fn is_stopped(&self) -> bool {
        *self.0.borrow()
    }

    /// The underlying channel, for engine loops that watch it themselves.
    pub fn into_receiver(self) -> watch::Receiver<bool> {
        self.0
    }

    pub async fn stopped(&mut self) {
        // An error means the sender is gone, which also means stop.
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

pub struct Workers {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Default for Workers {
    fn default() -> Self {
        Self::new()
    }
}

impl Workers {
    pub fn new() -> Self {
        Self {
            stop: watch::channel(false).0,
            tasks: JoinSet::new(),
        }
    }

    pub fn spawn<F, Fut>(&mut self, name: &'static str, worker: F)
    where
        F: FnOnce(StopSignal) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let running = worker(StopSignal(self.stop.subscribe()));
        self.tasks.spawn(async move {
            running.await;
            tracing::info!(worker = name, "worker stopped");
        });
    }

    /// Raises the stop signal and waits up to `grace` for the workers;
    /// those still running after that are aborted. Returns how many were.
    pub async fn stop(mut self, grace: Duration) -> usize {
        let _ = self.stop.send(true);
        let all_done = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, all_done).await.is_ok() {
            return 0;
        }
        let aborted = self.tasks.len();
        tracing::warn!(aborted, "workers did not stop in time");
        self.tasks.shutdown().await;
        aborted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    };

    #[tokio::test]
    async fn workers_finish_their_work_when_stopped() {
        let finished = Arc::new(AtomicBool::new(false));
        let mut workers = Workers::new();
        let flag = finished.clone();
        workers.spawn("test", move |mut stop| async move {
            stop.stopped().await;
            // Simulates finishing the unit of work in hand.
            tokio::time::sleep(Duration::from_millis(50)).await;
            flag.store(true, Ordering::SeqCst);
        });
        assert_eq!(workers.stop(Duration::from_secs(5)).await, 0);
        assert!(finished.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_worker_that_ignores_the_signal_is_aborted_after_the_grace() {
        let mut workers = Workers::new();
        workers.spawn("stubborn", |_stop| std::future::pending());
        assert_eq!(workers.stop(Duration::from_millis(50)).await, 1);
    }
}
