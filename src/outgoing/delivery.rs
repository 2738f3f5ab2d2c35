//! The delivery worker: posts queued events to their endpoints with the
//! Standard Webhooks headers, and retries on a widening schedule until the
//! endpoint answers 2xx or the schedule runs out.

use std::{sync::Arc, time::Duration};

use tokio::sync::{watch, Notify};

use super::{active_secrets, signing};
use crate::{
    store::{now_millis, DeliveryRow},
    Engine,
};

/// Waits before each retry (the specification's suggested schedule,
/// shortened at the start): after the last, the delivery has failed.
const RETRY_AFTER_SECS: [i64; 7] = [5, 60, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600];
const LEASE_MS: i64 = 60_000;
const BATCH: i64 = 32;
const POLL: Duration = Duration::from_secs(1);
const TIMEOUT: Duration = Duration::from_secs(15);

/// When to try again after `attempts` failed attempts, with ±20% jitter;
/// `None` when the schedule is used up.
pub fn retry_delay_ms(attempts: i64, jitter: f64) -> Option<i64> {
    let index = usize::try_from(attempts.checked_sub(1)?).ok()?;
    let base = RETRY_AFTER_SECS.get(index)? * 1000;
    Some((base as f64 * (0.8 + 0.4 * jitter.clamp(0.0, 1.0))) as i64)
}

pub async fn run(engine: Engine, wake: Arc<Notify>, mut stop: watch::Receiver<bool>) {
    let http = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client with a timeout builds");
    while !*stop.borrow() {
        let claimed = match engine
            .store
            .claim_deliveries(now_millis(), LEASE_MS, BATCH)
            .await
        {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::error!(%error, "cannot claim webhook deliveries");
                Vec::new()
            }
        };
        let busy = !claimed.is_empty();
        // Side by side: one slow endpoint holds up the batch for at most
        // the timeout.
        let mut sends = tokio::task::JoinSet::new();
        for row in claimed {
            let (engine, http) = (engine.clone(), http.clone());
            sends.spawn(async move { deliver(&engine, &http, row).await });
        }
        while sends.join_next().await.is_some() {}
        if !busy {
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

async fn deliver(engine: &Engine, http: &reqwest::Client, row: DeliveryRow) {
    let now = now_millis();
    let outcome = match engine.store.endpoint(&row.endpoint_id).await {
        Ok(Some(endpoint)) => {
            let secrets: Vec<String> = active_secrets(engine, &endpoint, now)
                .into_iter()
                .map(|s| s.expose().clone())
                .collect();
            let timestamp = now / 1000;
            let body = row.payload.as_bytes();
            let signature = signing::signature_header(&secrets, &row.event_id, timestamp, body);
            let result = http
                .post(&endpoint.url)
                .header("content-type", "application/json")
                .header("webhook-id", &row.event_id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", signature)
                .body(row.payload.clone())
                .send()
                .await;
            match result {
                Ok(response) if response.status().is_success() => {
                    Ok(i64::from(response.status().as_u16()))
                }
                Ok(response) => Err((
                    Some(i64::from(response.status().as_u16())),
                    format!("the endpoint answered {}", response.status()),
                )),
                Err(error) => Err((None, error.without_url().to_string())),
            }
        }
        Ok(None) => return, // deleted with its deliveries
        Err(error) => Err((None, format!("storage: {error}"))),
    };
    let recorded = match outcome {
        Ok(status) => {
            metrics::counter!("outgoing_webhooks_delivered_total").increment(1);
            engine
                .store
                .record_delivery(row.id, true, Some(status), None, None, now_millis())
                .await
        }
        Err((status, error)) => {
            let retry_at =
                retry_delay_ms(row.attempts + 1, fastrand::f64()).map(|d| now_millis() + d);
            metrics::counter!("outgoing_webhooks_failed_attempts_total").increment(1);
            tracing::warn!(delivery = row.id, %error, retry = retry_at.is_some(), "webhook delivery failed");
            engine
                .store
                .record_delivery(row.id, false, status, Some(&error), retry_at, now_millis())
                .await
        }
    };
    if let Err(error) = recorded {
        tracing::error!(delivery = row.id, %error, "cannot record a webhook delivery");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_widen_then_stop() {
        assert_eq!(retry_delay_ms(1, 0.5), Some(5_000));
        assert_eq!(retry_delay_ms(2, 0.5), Some(60_000));
        assert_eq!(retry_delay_ms(2, 0.0), Some(48_000));
        assert_eq!(retry_delay_ms(7, 0.5), Some(36_000_000));
        assert_eq!(retry_delay_ms(8, 0.5), None);
        assert_eq!(retry_delay_ms(0, 0.5), None);
    }
}
