//! A number's sender lease while it is held. It is renewed in the
//! background every third of its length, so neither a slow Graph call nor
//! a long batch outlives it, and the sender asks it before every send
//! whether it still holds. A holder that cannot renew stops sending a
//! third of a lease before another instance may take over: that margin
//! also absorbs clocks that disagree between instances by less than it.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use tokio::task::JoinHandle;

use crate::store::{now_millis, SenderLease, Store};

pub struct HeldLease {
    pub lease: SenderLease,
    state: Arc<LeaseState>,
    renewer: JoinHandle<()>,
}

struct LeaseState {
    /// Another holder took the number: nothing more may be sent or written.
    lost: AtomicBool,
    /// Sends may start until this instant.
    sendable_until: Mutex<Instant>,
}

impl HeldLease {
    /// Holds `lease`, taken at `taken_at` for `lease_ms`, renewing it until
    /// dropped.
    pub fn hold(
        store: Store,
        phone_number_id: String,
        lease: SenderLease,
        lease_ms: i64,
        taken_at: Instant,
    ) -> Self {
        let length = Duration::from_millis(lease_ms.max(3) as u64);
        let margin = length / 3;
        let state = Arc::new(LeaseState {
            lost: AtomicBool::new(false),
            sendable_until: Mutex::new(taken_at + length - margin),
        });
        let renewing = state.clone();
        let renewer = tokio::spawn(async move {
            loop {
                tokio::time::sleep(length / 3).await;
                let started = Instant::now();
                match store
                    .renew_sender_lease(&phone_number_id, lease, now_millis() + lease_ms)
                    .await
                {
                    Ok(true) => {
                        *renewing.sendable_until.lock().expect("lease state") =
                            started + length - margin;
                    }
                    Ok(false) => {
                        metrics::counter!("outbox_leases_lost_total").increment(1);
                        tracing::warn!(
                            phone_number_id,
                            epoch = lease.epoch,
                            "another instance took the number's sender lease"
                        );
                        renewing.lost.store(true, Ordering::SeqCst);
                        return;
                    }
                    Err(error) => {
                        tracing::warn!(phone_number_id, %error, "cannot renew the number's sender lease");
                    }
                }
            }
        });
        Self {
            lease,
            state,
            renewer,
        }
    }

    /// Whether a send may start now.
    pub fn may_send(&self) -> bool {
        !self.is_lost() && Instant::now() < *self.state.sendable_until.lock().expect("lease state")
    }

    pub fn is_lost(&self) -> bool {
        self.state.lost.load(Ordering::SeqCst)
    }
}

impl Drop for HeldLease {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}
