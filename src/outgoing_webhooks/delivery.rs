//! The delivery worker: posts queued events to their endpoints with the
//! Standard Webhooks headers, and retries on a widening schedule until the
//! endpoint answers 2xx or the schedule runs out.

use std::time::Duration;

use super::{active_secrets, signing};
use crate::{
    egress::{self, Refusal},
    store::{now_millis, DeliveryRow},
    worker::{self, Backoff, RetryPolicy, Step, Stop},
    Engine,
};

/// Waits before each retry (the specification's suggested schedule,
/// shortened at the start), ±20%: after the last, the delivery has failed.
const RETRY: RetryPolicy = RetryPolicy {
    backoff: Backoff::listed(&[
        5_000,
        60_000,
        5 * 60_000,
        30 * 60_000,
        2 * 3_600_000,
        5 * 3_600_000,
        10 * 3_600_000,
    ])
    .with_jitter(0.2),
    max_attempts: 8,
};
/// A claimed batch is posted side by side, so it takes at most TIMEOUT
/// (plus the outcome writes): well within the lease, so no other instance
/// delivers the same event meanwhile.
const LEASE_MS: i64 = 60_000;
const BATCH: i64 = 32;
const POLL: Duration = Duration::from_secs(1);
const TIMEOUT: Duration = Duration::from_secs(15);
const _: () = assert!(TIMEOUT.as_millis() * 2 < LEASE_MS as u128);

pub async fn run(engine: Engine, stop: Stop) {
    // Connects only where the egress policy permits; no redirects.
    let http = engine.config.outgoing_webhook_allow.client(TIMEOUT);
    let wake = engine.wake.deliveries.clone();
    worker::run_loop(stop, Some(wake), POLL, || step(&engine, &http)).await;
}

/// Posts one batch of due deliveries.
async fn step(engine: &Engine, http: &reqwest::Client) -> Step {
    let claimed = engine
        .store
        .claim_deliveries(now_millis(), LEASE_MS, BATCH)
        .await;
    // One slow endpoint holds up the batch for at most the timeout.
    worker::each_side_by_side("webhook deliveries", claimed, |row| {
        let (engine, http) = (engine.clone(), http.clone());
        async move { deliver(&engine, &http, row).await }
    })
    .await
}

async fn deliver(engine: &Engine, http: &reqwest::Client, row: DeliveryRow) {
    let now = now_millis();
    let outcome = match engine.store.endpoint(&row.endpoint_id).await {
        Ok(Some(endpoint)) => match permitted(engine, &endpoint.url) {
            Err(refusal) => Err(Failure::Refused(refusal)),
            Ok(url) => {
                let secrets: Vec<String> = match active_secrets(engine, &endpoint, now) {
                    Ok(secrets) => secrets.into_iter().map(|s| s.expose().clone()).collect(),
                    Err(error) => {
                        return unsigned(engine, &row, &error).await;
                    }
                };
                let timestamp = now / 1000;
                let body = row.payload.as_bytes();
                let signature = signing::signature_header(&secrets, &row.event_id, timestamp, body);
                let result = http
                    .post(url)
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
                    Ok(response) => Err(Failure::Retry(
                        Some(i64::from(response.status().as_u16())),
                        format!("the endpoint answered {}", response.status()),
                    )),
                    Err(error) => match egress::refusal_of(&error) {
                        Some(refusal) => Err(Failure::Refused(refusal)),
                        None => Err(Failure::Retry(None, error.without_url().to_string())),
                    },
                }
            }
        },
        Ok(None) => return, // deleted with its deliveries
        Err(error) => Err(Failure::Retry(None, format!("storage: {error}"))),
    };
    let recorded = match outcome {
        Ok(status) => {
            metrics::counter!("outgoing_webhooks_delivered_total").increment(1);
            engine
                .store
                .record_delivery(row.id, true, Some(status), None, None, now_millis())
                .await
        }
        Err(Failure::Refused(refusal)) => {
            // Not retried: the address must change, or the operator's
            // allow-list. A redelivery tries again.
            metrics::counter!("outgoing_webhooks_refused_total").increment(1);
            tracing::warn!(delivery = row.id, %refusal, "webhook delivery refused");
            engine
                .store
                .record_delivery(
                    row.id,
                    false,
                    None,
                    Some(&refusal.to_string()),
                    None,
                    now_millis(),
                )
                .await
        }
        Err(Failure::Retry(status, error)) => {
            let retry_at = RETRY.retry_at(row.attempts + 1, now_millis());
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

/// The endpoint's secret cannot be opened (its encryption key is gone from
/// `TOKEN_ENCRYPTION_KEYS`, or the stored seal is damaged): nothing is
/// sent, and the log says why. Retried on the schedule, in case the key
/// comes back; rotating the secret mends it for good.
async fn unsigned(engine: &Engine, row: &DeliveryRow, error: &crate::vault::VaultError) {
    let reason = "not sent: the endpoint's signing secret cannot be opened (its encryption key \
                  left TOKEN_ENCRYPTION_KEYS, or the stored secret was altered); rotate the secret";
    metrics::counter!("outgoing_webhooks_unsigned_total").increment(1);
    tracing::error!(delivery = row.id, %error, "webhook not sent: its signing secret cannot be opened");
    let retry_at = RETRY.retry_at(row.attempts + 1, now_millis());
    if let Err(error) = engine
        .store
        .record_delivery(row.id, false, None, Some(reason), retry_at, now_millis())
        .await
    {
        tracing::error!(delivery = row.id, %error, "cannot record a webhook delivery");
    }
}

/// Why an attempt did not deliver.
enum Failure {
    /// The endpoint or the network failed: tried again on the schedule.
    Retry(Option<i64>, String),
    /// The egress policy refused the address.
    Refused(Refusal),
}

/// The endpoint's address, if the policy lets a delivery start for it
/// (its name is checked again when the client resolves it).
fn permitted(engine: &Engine, raw: &str) -> Result<url::Url, Refusal> {
    let url = url::Url::parse(raw).map_err(|_| Refusal::Unresolvable)?;
    engine.config.outgoing_webhook_allow.check_url(&url)?;
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_widen_then_stop() {
        assert_eq!(RETRY.retry_in_ms(1, 0.5), Some(5_000));
        assert_eq!(RETRY.retry_in_ms(2, 0.5), Some(60_000));
        assert_eq!(RETRY.retry_in_ms(2, 0.0), Some(48_000));
        assert_eq!(RETRY.retry_in_ms(7, 0.5), Some(36_000_000));
        assert_eq!(RETRY.retry_in_ms(8, 0.5), None);
        assert_eq!(RETRY.retry_in_ms(0, 0.5), None);
    }
}
