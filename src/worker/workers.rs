//! The running workers and their orderly stop: on shutdown the stop signal
//! is raised and every worker finishes its current unit of work.

use std::{future::Future, time::Duration};

use tokio::{sync::watch, task::JoinSet};

use super::Stop;

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

    /// A stop signal tied to these workers, for tasks started elsewhere.
    pub fn stop_signal(&self) -> Stop {
        Stop(self.stop.subscribe())
    }

    pub fn spawn<F, Fut>(&mut self, name: &'static str, worker: F)
    where
        F: FnOnce(Stop) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let running = worker(self.stop_signal());
        self.tasks.spawn(async move {
            running.await;
            tracing::info!(worker = name, "worker stopped");
        });
    }

    /// Raises the stop signal and waits up to `grace` for the workers;
    /// those still running after that are aborted. Returns how many were.
    pub async fn stop(mut self, grace: Duration) -> usize {
        let _ = self.stop.send(true);
        let all_done = async {
            while let Some(finished) = self.tasks.join_next().await {
                if let Err(error) = finished {
                    tracing::error!(%error, "a worker had panicked");
                }
            }
        };
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

    #[tokio::test]
    async fn the_loop_steps_until_idle_then_stops_when_told() {
        use std::sync::atomic::AtomicUsize;
        let steps = Arc::new(AtomicUsize::new(0));
        let wake = Arc::new(tokio::sync::Notify::new());
        let mut workers = Workers::new();
        let (counted, woken) = (steps.clone(), wake.clone());
        workers.spawn("counter", move |stop| {
            super::super::run_loop(stop, Some(woken), Duration::from_secs(3600), move || {
                let counted = counted.clone();
                async move {
                    // Busy for three steps, then idle.
                    let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
                    super::super::Step::busy_if(n < 3)
                }
            })
        });
        while steps.load(Ordering::SeqCst) < 3 {
            tokio::task::yield_now().await;
        }
        // Idle now: only a wake-up makes it step again.
        wake.notify_one();
        while steps.load(Ordering::SeqCst) < 4 {
            tokio::task::yield_now().await;
        }
        assert_eq!(workers.stop(Duration::from_secs(5)).await, 0);
        assert_eq!(steps.load(Ordering::SeqCst), 4);
    }
}
