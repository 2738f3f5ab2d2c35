//! The pruner: data that only grows is deleted once it is older than its
//! retention (configurable per kind), in small batches, every hour.

use std::time::Duration;

use crate::{
    config::Retention,
    store::{now_millis, Prunable},
    worker::{self, Step, Stop},
    Engine,
};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// Rows per delete: short transactions, so nothing waits long behind one.
const BATCH: i64 = 500;
const EVERY: Duration = Duration::from_secs(60 * 60);

/// How long each kind is kept, in days.
pub fn days_kept(retention: &Retention, kind: Prunable) -> i64 {
    match kind {
        Prunable::ProcessedWebhooks => retention.processed_webhooks_days,
        // Kept as long as the receipts they came with: a status retried
        // within that time still counts its message once.
        Prunable::Statuses | Prunable::MessagePricing => retention.statuses_days,
        Prunable::Deliveries => retention.deliveries_days,
        // Expired sessions and stale sign-in attempts serve nothing.
        Prunable::Sessions | Prunable::SignInAttempts | Prunable::OauthStates => 1,
        Prunable::Audit => retention.audit_days,
        Prunable::SentOutbox => retention.sent_outbox_days,
        Prunable::InboundMedia => retention.media_days,
    }
}

/// Prunes everything due as of `now`; returns the rows deleted per kind.
pub async fn prune_once(engine: &Engine, now: i64) -> Vec<(Prunable, u64)> {
    let mut pruned = Vec::new();
    for kind in Prunable::ALL {
        let cutoff = now - days_kept(&engine.config.retention, kind) * DAY_MS;
        let mut total = 0;
        loop {
            match engine.store.prune(kind, cutoff, BATCH).await {
                Ok(deleted) => {
                    total += deleted;
                    if deleted < BATCH as u64 {
                        break;
                    }
                    // Let other writers in between batches.
                    tokio::task::yield_now().await;
                }
                Err(error) => {
                    tracing::warn!(kind = kind.name(), %error, "cannot prune");
                    break;
                }
            }
        }
        if total > 0 {
            metrics::counter!("retention_pruned_total", "kind" => kind.name()).increment(total);
            tracing::info!(kind = kind.name(), rows = total, "pruned");
        }
        pruned.push((kind, total));
    }
    pruned
}

pub async fn run(engine: Engine, stop: Stop) {
    worker::run_loop(stop, None, EVERY, || {
        let engine = engine.clone();
        async move {
            prune_once(&engine, now_millis()).await;
            Step::Idle
        }
    })
    .await;
}
