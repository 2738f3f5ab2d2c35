//! The health probe: reads each connected number as Meta sees it now
//! (`GET /{number}?fields=health_status,...`), on a schedule, when a
//! webhook says something changed, and when an admin opens the Health
//! page. What Meta says clears what it no longer holds: restrictions
//! lifted early and a pause Meta has ended let the waiting messages go.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{
    graph::health::{HealthEntity, NumberHealth},
    ids::PhoneNumberId,
    live::{Notice, Topic},
    numbers::NumberStatus,
    store::{self, now_millis, NumberRow, ProbeRecord},
    tokens,
    worker::{self, Step, Stop},
    Engine,
};

/// What the probe keeps of Meta's answer, for the Health page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Findings {
    pub throughput_level: Option<String>,
    pub name_status: Option<String>,
    pub messaging_limit: Option<String>,
    pub code_verification_status: Option<String>,
    pub registered: bool,
    /// Meta's entities that are not AVAILABLE, with their errors.
    pub limited: Vec<HealthEntity>,
}

/// What one probe did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probed {
    pub can_send: Option<String>,
    /// Restriction types Meta no longer holds, lifted now.
    pub lifted: Vec<String>,
    /// The number was paused by Meta and Meta now lets it send.
    pub resumed: bool,
}

/// Reads the number from Meta and records it; returns what changed. A
/// failure is recorded on the number too (the page shows it).
pub async fn probe(engine: &Engine, number: &NumberRow) -> Result<Probed, store::Error> {
    let phone = number.phone_number_id.as_str();
    let now = now_millis();
    let health = match tokens::open_number_token(engine, phone).await {
        Ok(token) => {
            // A number Meta reconnected is subscribed again first (Meta:
            // re-check `subscribed_apps`), then read.
            let subscribed = if number.status == NumberStatus::Reconnecting {
                crate::onboarding::subscribe_app(engine, &token, &number.waba_id).await
            } else {
                Ok(())
            };
            match subscribed {
                Ok(()) => engine.graph.number_health(&token, phone).await,
                Err(error) => Err(error),
            }
            .map_err(|e| {
                // A dead token flags the number like any other call would.
                (e.to_string(), Some(e))
            })
        }
        Err(error) => Err((error.to_string(), None)),
    };
    let health = match health {
        Ok(health) => health,
        Err((reason, graph_error)) => {
            if let Some(error) = &graph_error {
                crate::numbers::note_graph_error(engine, phone, error).await?;
            }
            let record = ProbeRecord {
                can_send: None,
                findings: None,
                error: Some(&reason),
                quality_rating: None,
                verified_name: None,
                meta_status: None,
            };
            engine.store.record_probe(phone, &record, now).await?;
            return Ok(Probed::default());
        }
    };
    let findings = findings_of(&health);
    let can_send = health
        .health_status
        .as_ref()
        .and_then(|h| h.can_send_message.clone());
    let findings_json = serde_json::to_string(&findings).expect("findings serialize");
    let record = ProbeRecord {
        can_send: can_send.as_deref(),
        findings: Some(&findings_json),
        error: None,
        quality_rating: health.number.quality_rating.as_deref(),
        verified_name: health.number.verified_name.as_deref(),
        meta_status: health.number.status.as_deref(),
    };
    engine
        .store
        .record_probe(phone, &record, now_millis())
        .await?;
    let available = health
        .health_status
        .as_ref()
        .is_some_and(|h| h.is_available());
    let blocked = can_send.as_deref() == Some("BLOCKED");
    let mut probed = Probed {
        can_send,
        ..Probed::default()
    };
    if available {
        // `now` is when the read began: what a webhook announced since is
        // not covered by it.
        probed.lifted = lift(engine, number, now).await?;
        probed.resumed = resume(engine, number, now_millis()).await?;
    }
    if number.status == NumberStatus::Reconnecting && !blocked {
        probed.resumed |= reconnected(engine, number).await?;
    }
    Ok(probed)
}

/// Meta says the number sends freely: restrictions it held are over.
async fn lift(
    engine: &Engine,
    number: &NumberRow,
    read_since: i64,
) -> Result<Vec<String>, store::Error> {
    let now = now_millis();
    let lifted = engine
        .store
        .lift_restrictions(&number.waba_id, read_since, now)
        .await?;
    for restriction_type in &lifted {
        tracing::info!(waba_id = %number.waba_id, restriction = %restriction_type, "Meta's health status shows the restriction lifted");
        let detail = json!({
            "waba_id": number.waba_id,
            "restriction_type": restriction_type,
            "by": "Meta's health status reads AVAILABLE",
        });
        engine
            .store
            .insert_audit(
                Some(&number.workspace_id),
                None,
                "waba.restriction_lifted",
                &detail.to_string(),
                now,
            )
            .await?;
    }
    if !lifted.is_empty() {
        engine
            .store
            .release_held(&number.waba_id, super::gates::REFUSAL_PREFIX, now)
            .await?;
        engine.live.wake_everywhere(crate::live::Wake::Outbox).await;
    }
    Ok(lifted)
}

/// A number Meta paused (a refused send) or disabled (a webhook) sends
/// again once Meta says it can: a lost `REINSTATE` or a fixed bill never
/// leaves it waiting.
async fn resume(engine: &Engine, number: &NumberRow, now: i64) -> Result<bool, store::Error> {
    if !matches!(
        number.status,
        NumberStatus::PausedByMeta | NumberStatus::DisabledByMeta
    ) {
        return Ok(false);
    }
    let resumed = engine
        .store
        .resume_after_meta(&number.phone_number_id, now)
        .await?;
    if resumed {
        tracing::info!(phone_number_id = %number.phone_number_id, "Meta's health status lets the paused number send again");
        let detail = json!({
            "phone_number_id": number.phone_number_id,
            "after": number.status_reason,
            "by": "Meta's health status reads AVAILABLE",
        });
        engine
            .store
            .insert_audit(
                Some(&number.workspace_id),
                None,
                "number.resumed",
                &detail.to_string(),
                now,
            )
            .await?;
        engine.live.wake_everywhere(crate::live::Wake::Outbox).await;
    }
    Ok(resumed)
}

fn findings_of(health: &NumberHealth) -> Findings {
    Findings {
        throughput_level: health.throughput.as_ref().and_then(|t| t.level.clone()),
        name_status: health.name_status.clone(),
        messaging_limit: health.messaging_limit.clone(),
        code_verification_status: health.number.code_verification_status.clone(),
        registered: health.number.is_registered(),
        limited: health
            .health_status
            .as_ref()
            .map(|h| {
                h.entities
                    .iter()
                    .filter(|e| {
                        !e.can_send_message
                            .as_deref()
                            .is_some_and(|c| c.eq_ignore_ascii_case("AVAILABLE"))
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Numbers read per step; the rest wait for the next.
const BATCH: i64 = 20;
/// How often the worker looks for due numbers (webhooks ask for a probe
/// by marking a number due).
const LOOK_EVERY: Duration = Duration::from_secs(5);

/// The worker: probes numbers that are due or not read for
/// `NUMBER_HEALTH_INTERVAL_SECS`.
/// A Business app number Meta reconnected, subscribed again and read:
/// it sends again.
async fn reconnected(engine: &Engine, number: &NumberRow) -> Result<bool, store::Error> {
    let now = now_millis();
    let resumed = engine
        .store
        .set_number_status_from(
            &number.phone_number_id,
            NumberStatus::Reconnecting,
            NumberStatus::Live,
            now,
        )
        .await?;
    if resumed {
        tracing::info!(phone_number_id = %number.phone_number_id, "the Business app number is back on the Cloud API");
        let detail = json!({
            "phone_number_id": number.phone_number_id,
            "by": "ACCOUNT_RECONNECTED, then the subscription and the number checked",
        });
        engine
            .store
            .insert_audit(
                Some(&number.workspace_id),
                None,
                "number.resumed",
                &detail.to_string(),
                now,
            )
            .await?;
        engine.live.wake_everywhere(crate::live::Wake::Outbox).await;
    }
    Ok(resumed)
}

pub async fn run(engine: Engine, stop: Stop) {
    worker::run_loop(stop, None, LOOK_EVERY, Probes { engine }).await;
}

struct Probes {
    engine: Engine,
}

impl worker::Work for Probes {
    async fn step(&mut self) -> Step {
        match probe_due(&self.engine).await {
            Ok(probed) => Step::busy_if(probed as i64 == BATCH),
            Err(error) => {
                tracing::warn!(%error, "cannot probe the numbers due");
                Step::Idle
            }
        }
    }
}

/// Probes the numbers due now (a webhook asked, or not read for
/// `NUMBER_HEALTH_INTERVAL_SECS`), at most [`BATCH`]; returns how many.
pub async fn probe_due(engine: &Engine) -> Result<usize, store::Error> {
    let now = now_millis();
    let stale_before = now - engine.config.number_health_interval_secs as i64 * 1000;
    let due = engine
        .store
        .numbers_to_probe(now, stale_before, BATCH)
        .await?;
    for phone in &due {
        // Several instances: one probes each.
        if !engine.store.claim_probe(phone, stale_before, now).await? {
            continue;
        }
        let id: PhoneNumberId = phone.as_str().into();
        if let Some(number) = engine.store.number(&id).await? {
            if let Err(error) = probe(engine, &number).await {
                tracing::warn!(phone_number_id = %phone, %error, "cannot record the number's health");
            }
            let notice = Notice::to_workspace(number.workspace_id.as_str(), Topic::Numbers);
            engine.live.publish(&engine.store, [notice]).await;
        }
    }
    Ok(due.len())
}
