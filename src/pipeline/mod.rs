//! The workers that apply journaled webhooks: claim due events, parse them,
//! route every change, apply the effects idempotently, and retry failures
//! with exponential backoff and jitter until they are dead-lettered.
//!
//! Effects happen once however often an event arrives or is processed:
//! each one is keyed in the schema (messages by number and wamid, statuses
//! by wamid and status), and an event is marked `done` only once its
//! effects are committed ([`apply`]).

mod apply;
mod business_app;
mod customers;
mod inbound;
pub mod plan;
mod receipts;

use std::{collections::HashMap, time::Duration};

use crate::{
    bot::BotSettings,
    live,
    outbox::Content,
    store::{self, now_millis, ClaimedEvent, Store},
    webhook::payload,
    worker::{self, Backoff, RetryPolicy, Step, Stop},
    Engine,
};
pub use apply::{apply, apply_then, Applied};
use plan::Routes;

/// Attempts before an event is dead-lettered, and the waits between them:
/// doubling from one second up to an hour, ±25%.
pub const RETRY: RetryPolicy = RetryPolicy {
    backoff: Backoff::growing(1_000, 2, 3_600_000).with_jitter(0.25),
    max_attempts: 8,
};
pub const MAX_ATTEMPTS: i64 = RETRY.max_attempts;
/// How long a claim lasts; a crashed instance's events are taken over
/// after it. A batch takes milliseconds, so this is generous.
const LEASE_MS: i64 = 10_000;
/// Events a pass claims while requests wait for the journal: a claim and
/// its done-marks hold the journal's connection, which acknowledgements
/// wait for, so they stay short...
const BATCH: i64 = 64;
/// ...and while nobody waits: fewer transactions (each one disk flush of
/// the main database) to drain a backlog.
pub const DRAIN_BATCH: i64 = 256;
const LAG_REPORT_EVERY: Duration = Duration::from_secs(1);
/// How often an idle worker looks for work other instances journaled.
const IDLE_POLL: Duration = Duration::from_millis(250);
/// While requests wait for the journal, a worker pauses after each batch
/// for up to this many times as long as the batch took...
const ACK_SHARE: u32 = 3;
/// ...but never longer than this.
const MAX_PAUSE: Duration = Duration::from_millis(250);

/// How long a worker may let acknowledgements go first after a batch that
/// took `batch_took`. While requests wait for the journal, processing gets
/// at least a quarter of a worker's time (at most a 250 ms pause per
/// batch), however far behind it is: acknowledgements never collapse
/// behind a backlog (the normal state after an outage, Meta retrying for
/// days), and the backlog still drains during a flood, at full speed once
/// it ends. The pause ends early once no request has waited for the
/// journal for a moment (`journal::HOLD`), so a light load's replies are
/// not held back.
pub fn pause_after(batch_took: Duration, journal_busy: bool) -> Duration {
    if journal_busy {
        (batch_took * ACK_SHARE).min(MAX_PAUSE)
    } else {
        Duration::ZERO
    }
}

struct LoadedRoutes {
    numbers: HashMap<String, store::NumberRoute>,
    wabas: HashMap<String, Option<String>>,
    bots: HashMap<String, BotSettings>,
    endpoints: HashMap<String, Vec<String>>,
}

impl Routes for LoadedRoutes {
    fn route_of_number(&self, id: &str) -> Option<store::NumberRoute> {
        self.numbers.get(id).cloned()
    }
    fn workspace_of_waba(&self, id: &str) -> Option<String> {
        self.wabas.get(id).cloned().flatten()
    }
    fn replies(&self, workspace_id: &str, message: &payload::InboundMessage) -> Vec<Content> {
        self.bots
            .get(workspace_id)
            .map(|bot| bot.replies(message))
            .unwrap_or_default()
    }
    fn endpoints(&self, workspace_id: &str) -> Vec<String> {
        self.endpoints
            .get(workspace_id)
            .cloned()
            .unwrap_or_default()
    }
    fn quiet_after_app_ms(&self, workspace_id: &str) -> i64 {
        self.bots
            .get(workspace_id)
            .map_or(crate::bot::DEFAULT_QUIET_AFTER_APP_MINUTES, |bot| {
                bot.quiet_after_app_minutes
            })
            * 60_000
    }
}

impl LoadedRoutes {
    /// Looks up every number and WABA the envelopes mention, once each.
    async fn load(store: &Store, envelopes: &[&payload::Envelope]) -> Result<Self, store::Error> {
        let mut numbers: Vec<String> = envelopes
            .iter()
            .flat_map(|e| plan::mentioned_numbers(e))
            .collect();
        numbers.sort();
        numbers.dedup();
        let numbers: HashMap<String, store::NumberRoute> = store
            .number_owners(&numbers)
            .await?
            .into_iter()
            .map(|route| (route.phone_number_id.clone(), route))
            .collect();
        let mut wabas = HashMap::new();
        for entry in envelopes.iter().flat_map(|e| &e.entry) {
            if !wabas.contains_key(&entry.id) {
                wabas.insert(entry.id.clone(), store.waba_owner(&entry.id).await?);
            }
        }
        let (mut bots, mut endpoints) = (HashMap::new(), HashMap::new());
        for workspace in numbers.values().map(|route| &route.workspace_id) {
            if !bots.contains_key(workspace) {
                bots.insert(
                    workspace.clone(),
                    crate::bot::stored(store, workspace).await?,
                );
                endpoints.insert(workspace.clone(), store.endpoint_ids_of(workspace).await?);
            }
        }
        Ok(Self {
            numbers,
            wabas,
            bots,
            endpoints,
        })
    }
}

/// What one pass did, for metrics and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Processed {
    pub events: usize,
    /// When the oldest event of the batch arrived (Unix ms).
    pub oldest_received_at: Option<i64>,
    pub applied: Applied,
    pub rejected: usize,
    pub failed: usize,
}

/// Processes up to one batch of due events, applied together in one
/// transaction. If the batch fails, each event is tried on its own, so one
/// bad event cannot hold the others back.
pub async fn process_due(store: &Store) -> Result<Processed, store::Error> {
    process_due_then(store, BATCH, &|_| {}).await
}

/// [`process_due`] with up to `limit` events, telling `committed` what
/// each transaction applied as soon as it is committed (see
/// [`apply_then`]).
pub async fn process_due_then(
    store: &Store,
    limit: i64,
    committed: &(dyn Fn(&Applied) + Sync),
) -> Result<Processed, store::Error> {
    let claimed = claim(store, limit).await?;
    process_claimed(store, &claimed, committed).await
}

async fn claim(store: &Store, limit: i64) -> Result<Vec<ClaimedEvent>, store::Error> {
    store
        .claim_webhook_events(now_millis(), LEASE_MS, limit)
        .await
}

/// A worker's passes, one after another. While nobody waits for the
/// journal, the next batch is claimed while this one is applied: the
/// claim runs on the journal's connection and the apply on the main
/// database's, so neither waits for the other (a claim was about a sixth
/// of a pass).
#[derive(Default)]
pub struct Passes {
    next: Option<Vec<ClaimedEvent>>,
}

impl Passes {
    /// Processes the batch claimed ahead, or claims one of up to `limit`
    /// events; if `claim_ahead`, claims the next meanwhile.
    pub async fn pass(
        &mut self,
        store: &Store,
        limit: i64,
        claim_ahead: bool,
        committed: &(dyn Fn(&Applied) + Sync),
    ) -> Result<Processed, store::Error> {
        let claimed = match self.next.take() {
            Some(ahead) if lease_left(&ahead) > LEASE_MS / 2 => ahead,
            // A long pass (a large history import) used up much of the
            // lease: give the batch back rather than apply it while its
            // lease may lapse under another claim.
            Some(ahead) => {
                give_back(store, &ahead).await?;
                claim(store, limit).await?
            }
            None => claim(store, limit).await?,
        };
        if claimed.is_empty() {
            return Ok(Processed::default());
        }
        if !claim_ahead {
            return process_claimed(store, &claimed, committed).await;
        }
        let (processed, next) = tokio::join!(
            process_claimed(store, &claimed, committed),
            claim(store, limit)
        );
        match next {
            // An empty claim is not kept: the next pass claims afresh.
            Ok(next) if !next.is_empty() => self.next = Some(next),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "claiming ahead failed; the next pass claims"),
        }
        processed
    }

    /// Gives back a batch claimed ahead (when the worker stops), so other
    /// instances need not wait for its lease; its claim counts no attempt.
    pub async fn release(&mut self, store: &Store) -> Result<(), store::Error> {
        match self.next.take() {
            Some(ahead) => give_back(store, &ahead).await,
            None => Ok(()),
        }
    }
}

/// What is left of a batch's lease (all its events share one), in ms.
fn lease_left(batch: &[ClaimedEvent]) -> i64 {
    batch
        .first()
        .map_or(0, |event| event.lease_until - now_millis())
}

async fn give_back(store: &Store, batch: &[ClaimedEvent]) -> Result<(), store::Error> {
    let Some(first) = batch.first() else {
        return Ok(());
    };
    let ids: Vec<i64> = batch.iter().map(|event| event.id).collect();
    store.unclaim_webhook_events(&ids, first.lease_until).await
}

/// Applies events already claimed (see [`process_due_then`]).
async fn process_claimed(
    store: &Store,
    claimed: &[ClaimedEvent],
    committed: &(dyn Fn(&Applied) + Sync),
) -> Result<Processed, store::Error> {
    let mut processed = Processed {
        events: claimed.len(),
        oldest_received_at: claimed.iter().map(|e| e.received_at).min(),
        ..Processed::default()
    };
    if claimed.is_empty() {
        return Ok(processed);
    }
    let mut parsed = Vec::new();
    let mut rejected = Vec::new();
    for event in claimed {
        match payload::parse(&event.body) {
            Ok(envelope) => parsed.push((event, envelope)),
            Err(rejection) => {
                let reason = match rejection {
                    payload::Rejection::NotJson(_) => "not_json",
                    payload::Rejection::WrongObject(_) => "wrong_object",
                };
                metrics::counter!("webhook_events_rejected_total", "reason" => reason).increment(1);
                rejected.push((event.id, rejection.to_string()));
            }
        }
    }
    processed.rejected = rejected.len();
    let envelopes: Vec<&payload::Envelope> = parsed.iter().map(|(_, e)| e).collect();
    let routes = LoadedRoutes::load(store, &envelopes).await?;
    let planned: Vec<(&ClaimedEvent, Vec<plan::Op>)> = parsed
        .iter()
        .map(|(event, envelope)| (*event, plan::plan(envelope, &routes, event.received_at)))
        .collect();

    // The rejected events are marked with the first transaction.
    let mut rejected = Some(rejected);
    if planned.is_empty() {
        apply(
            store,
            &[],
            &rejected.take().unwrap_or_default(),
            now_millis(),
        )
        .await?;
    }
    for group in by_weight(planned, MAX_WRITES_PER_TRANSACTION) {
        let rejected = rejected.take().unwrap_or_default();
        let batch: Vec<(i64, Vec<plan::Op>)> =
            group.iter().map(|(e, ops)| (e.id, ops.clone())).collect();
        match apply_then(store, &batch, &rejected, now_millis(), committed).await {
            Ok(applied) => {
                for (event, _) in &group {
                    record_processed(event);
                }
                merge(&mut processed.applied, applied);
            }
            Err(error) => {
                tracing::warn!(%error, events = group.len(), "batch failed; applying events one by one");
                apply(store, &[], &rejected, now_millis()).await?;
                for (event, ops) in group {
                    match apply_then(store, &[(event.id, ops)], &[], now_millis(), committed).await
                    {
                        Ok(applied) => {
                            record_processed(event);
                            merge(&mut processed.applied, applied);
                        }
                        Err(error) => {
                            processed.failed += 1;
                            retry_or_dead_letter(store, event, &error).await?;
                        }
                    }
                }
            }
        }
    }
    Ok(processed)
}

/// About how many rows one transaction writes at most: a batch of history
/// chunks (thousands of messages each) is split, so no transaction holds
/// SQLite's write lock long enough to keep acknowledgements waiting.
const MAX_WRITES_PER_TRANSACTION: usize = 2_000;

/// Events in order, grouped so that each group's planned writes stay under
/// `limit` (an event heavier than that is a group of its own).
fn by_weight<T>(events: Vec<(T, Vec<plan::Op>)>, limit: usize) -> Vec<Vec<(T, Vec<plan::Op>)>> {
    let mut groups: Vec<Vec<(T, Vec<plan::Op>)>> = Vec::new();
    let mut weight = 0;
    for (event, ops) in events {
        let own: usize = ops.iter().map(plan::Op::writes).sum();
        if groups.is_empty() || weight + own > limit {
            groups.push(Vec::new());
            weight = 0;
        }
        weight += own;
        groups.last_mut().expect("a group").push((event, ops));
    }
    groups
}

fn merge(total: &mut Applied, applied: Applied) {
    metrics::counter!("webhook_duplicates_absorbed_total").increment(applied.duplicates);
    metrics::counter!("webhook_erased_contacts_dropped_total").increment(applied.erased);
    total.new_inbound.extend(applied.new_inbound);
    total.replies_queued += applied.replies_queued;
    total.deliveries_queued += applied.deliveries_queued;
    total.media_queued += applied.media_queued;
    total.duplicates += applied.duplicates;
    total.unrouted += applied.unrouted;
    total.erased += applied.erased;
    total.imported += applied.imported;
    total.echoes += applied.echoes;
    for notice in applied.notices {
        if !total.notices.contains(&notice) {
            total.notices.push(notice);
        }
    }
}

fn record_processed(event: &ClaimedEvent) {
    metrics::counter!("webhook_events_processed_total").increment(1);
    metrics::histogram!("webhook_processing_latency_seconds")
        .record((now_millis() - event.received_at).max(0) as f64 / 1000.0);
}

async fn retry_or_dead_letter(
    store: &Store,
    event: &ClaimedEvent,
    error: &store::Error,
) -> Result<(), store::Error> {
    let retry_at = RETRY.retry_at(event.attempts, now_millis());
    if retry_at.is_some() {
        metrics::counter!("webhook_events_retried_total").increment(1);
        tracing::warn!(event = event.id, attempts = event.attempts, %error, "webhook processing failed; will retry");
    } else {
        metrics::counter!("webhook_events_dead_lettered_total").increment(1);
        tracing::error!(event = event.id, attempts = event.attempts, %error, "webhook dead-lettered");
    }
    store
        .fail_webhook_event(event.id, &error.to_string(), retry_at)
        .await
}

/// A worker: processes batches until `stop`, finishing the batch in hand
/// first. Woken when events are journaled; tells the outbox, the outgoing
/// webhooks and the media fetcher of the work it queued; lets
/// acknowledgements go first while requests wait for the journal (see
/// [`pause_after`]).
pub async fn run(engine: Engine, stop: Stop) {
    let worker = PipelineWorker {
        engine: engine.clone(),
        passes: Passes::default(),
        lag_reported: std::time::Instant::now() - LAG_REPORT_EVERY,
    };
    let wake = engine.wake.journal.clone();
    worker::run_loop(stop, Some(wake), IDLE_POLL, worker).await;
}

struct PipelineWorker {
    engine: Engine,
    passes: Passes,
    lag_reported: std::time::Instant,
}

impl worker::Work for PipelineWorker {
    async fn step(&mut self) -> Step {
        let engine = &self.engine;
        // While requests wait for the journal, its connection is theirs
        // between passes: short claims, none ahead.
        let pressed = engine.journal_pressure.is_high();
        let limit = if pressed { BATCH } else { DRAIN_BATCH };
        let started = std::time::Instant::now();
        // This process's workers start on what a transaction queued the
        // moment it is committed; other instances' are told below.
        let start_workers = |applied: &Applied| {
            if applied.replies_queued > 0 {
                engine.live.wake_here(live::Wake::Outbox);
            }
            if applied.deliveries_queued > 0 {
                engine.live.wake_here(live::Wake::Deliveries);
            }
            if applied.media_queued > 0 {
                engine.wake.media.notify_one();
            }
        };
        let pass = self
            .passes
            .pass(&engine.store, limit, !pressed, &start_workers)
            .await;
        let busy = match pass {
            Ok(mut processed) => {
                let applied = &processed.applied;
                if applied.replies_queued > 0 {
                    engine.live.wake_elsewhere(live::Wake::Outbox).await;
                }
                if applied.deliveries_queued > 0 {
                    engine.live.wake_elsewhere(live::Wake::Deliveries).await;
                }
                let mut notices = std::mem::take(&mut processed.applied.notices);
                if processed.failed > 0 {
                    notices.push(live::Notice {
                        audience: live::Audience::Operator,
                        topic: live::Topic::Failures,
                        phone_number_id: None,
                    });
                }
                engine.live.publish(&engine.store, notices).await;
                processed.events > 0
            }
            Err(error) => {
                tracing::error!(%error, "webhook worker could not reach the store");
                false
            }
        };
        // The lag gauges, also while busy (that is when it matters), at most
        // once a second, from two index lookups: a count of a large backlog
        // would hold the journal's connection for tens of milliseconds.
        if self.lag_reported.elapsed() >= LAG_REPORT_EVERY {
            self.lag_reported = std::time::Instant::now();
            if let Ok(lag) = engine.store.webhook_journal_lag().await {
                metrics::gauge!("webhook_journal_lag_events").set(lag.events as f64);
                metrics::gauge!("webhook_journal_lag_seconds").set(
                    lag.oldest_received_at
                        .map_or(0, |at| (now_millis() - at).max(0)) as f64
                        / 1000.0,
                );
            }
        }
        if busy {
            let pause = pause_after(started.elapsed(), engine.journal_pressure.is_high());
            if !pause.is_zero() {
                let _ = tokio::time::timeout(pause, engine.journal_pressure.eased()).await;
            }
        }
        Step::busy_if(busy)
    }

    async fn finish(&mut self) {
        if let Err(error) = self.passes.release(&self.engine.store).await {
            tracing::warn!(%error, "could not give back the events claimed ahead; their lease will lapse");
        }
    }
}

/// At start-up on SQLite (one process per file), claims left by a crash
/// are released at once instead of waiting for their leases to run out.
pub async fn recover_after_restart(store: &Store) -> Result<u64, store::Error> {
    match store.backend() {
        store::Backend::Sqlite => store.release_webhook_leases().await,
        // Other instances may hold live claims: their leases decide.
        store::Backend::Postgres => Ok(0),
    }
}

/// Once a number is connected, its unrouted events are processed again.
pub async fn route_waiting_events(
    store: &Store,
    phone_number_id: &str,
) -> Result<u64, store::Error> {
    store
        .requeue_unrouted_for(phone_number_id, now_millis())
        .await
}

/// Dead letters back into the queue: one, or all of them.
pub async fn replay(store: &Store, event_id: Option<i64>) -> Result<u64, store::Error> {
    store.replay_webhook_events(event_id, now_millis()).await
}

/// What admins see of the journal: events that need attention.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attention {
    pub dead: Vec<store::EventSummary>,
    pub rejected: Vec<store::EventSummary>,
    pub unrouted: Vec<store::UnroutedSummary>,
    pub pending: i64,
    /// Whether the caller runs the installation (and so sees everything).
    pub operator: bool,
}

/// The installation's operator: the owner who set it up. They see every
/// journal problem; other admins see only what concerns their workspace.
pub async fn is_operator(
    store: &Store,
    caller: &crate::accounts::Caller,
) -> Result<bool, store::Error> {
    Ok(store.setting("first_owner").await?.as_deref() == Some(caller.user.id.as_str()))
}

/// Whether a journaled event mentions a number or WABA of `workspace_id`.
async fn concerns(store: &Store, event_id: i64, workspace_id: &str) -> Result<bool, store::Error> {
    let Some(body) = store.webhook_event_body(event_id).await? else {
        return Ok(false);
    };
    let Ok(envelope) = payload::parse(&body) else {
        return Ok(false);
    };
    let numbers = plan::mentioned_numbers(&envelope);
    if store
        .number_owners(&numbers)
        .await?
        .iter()
        .any(|route| route.workspace_id == workspace_id)
    {
        return Ok(true);
    }
    for entry in &envelope.entry {
        if store.waba_owner(&entry.id).await?.as_deref() == Some(workspace_id) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Dead letters, rejected bodies and unrouted changes (admins only; ids,
/// times and reasons, never bodies). The operator sees all of them; a
/// workspace's admins see the dead letters about their own numbers (the
/// rest cannot be tied to a workspace, or belong to another).
pub async fn attention(
    store: &Store,
    caller: &crate::accounts::Caller,
) -> Result<Attention, crate::Error> {
    caller.require(crate::accounts::Role::Admin)?;
    let pending = store.pending_webhook_events().await?;
    if is_operator(store, caller).await? {
        return Ok(Attention {
            dead: store
                .webhook_events_in(store::EventState::Dead, 100)
                .await?,
            rejected: store
                .webhook_events_in(store::EventState::Rejected, 100)
                .await?,
            unrouted: store.unrouted_changes(100).await?,
            pending,
            operator: true,
        });
    }
    let mut dead = Vec::new();
    for event in store
        .webhook_events_in(store::EventState::Dead, 100)
        .await?
    {
        if concerns(store, event.id, &caller.workspace.id).await? {
            dead.push(event);
        }
    }
    Ok(Attention {
        dead,
        rejected: Vec::new(),
        unrouted: Vec::new(),
        pending,
        operator: false,
    })
}

/// Replays dead letters (one or all) for an admin, and audits it.
pub async fn replay_for(
    store: &Store,
    caller: &crate::accounts::Caller,
    event_id: Option<i64>,
) -> Result<u64, crate::Error> {
    caller.require(crate::accounts::Role::Admin)?;
    let replayed = if is_operator(store, caller).await? {
        replay(store, event_id).await?
    } else {
        // Only the dead letters about the workspace's own numbers.
        let mine: Vec<i64> = match event_id {
            Some(id) => vec![id],
            None => store
                .webhook_events_in(store::EventState::Dead, 1000)
                .await?
                .into_iter()
                .map(|e| e.id)
                .collect(),
        };
        let mut replayed = 0;
        for id in mine {
            if concerns(store, id, &caller.workspace.id).await? {
                replayed += replay(store, Some(id)).await?;
            }
        }
        replayed
    };
    crate::audit::record_by(
        store,
        caller,
        "webhooks.replayed",
        serde_json::json!({ "event_id": event_id, "replayed": replayed }),
    )
    .await?;
    Ok(replayed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heavy_history_chunks_get_transactions_of_their_own() {
        let number = store::NumberRoute {
            phone_number_id: "111".into(),
            workspace_id: "ws".into(),
            contact_scope: crate::ids::ContactScope::of(None, "waba"),
        };
        let message = payload::History::read(serde_json::json!({ "history": [{
            "metadata": { "phase": 0, "chunk_order": 1 },
            "threads": [{ "id": "16505551234", "messages": [
                { "from": "16505551234", "id": "wamid.A", "type": "text", "text": { "body": "a" } }
            ]}]
        }]}))
        .chunks[0]
            .messages[0]
            .clone();
        let chunk = |size: usize| plan::Op::HistoryChunk {
            number: number.clone(),
            phase: 0,
            chunk_order: 0,
            progress: None,
            messages: vec![message.clone(); size],
            received_at: 0,
        };
        let light = || plan::Op::HistoryDeclined {
            number: number.clone(),
        };
        let events = vec![
            (1, vec![light(), light()]),
            (2, vec![chunk(1_500)]),
            (3, vec![chunk(3_000)]),
            (4, vec![light()]),
            (5, vec![light()]),
        ];
        let groups: Vec<Vec<i32>> = by_weight(events, 2_000)
            .into_iter()
            .map(|g| g.into_iter().map(|(id, _)| id).collect())
            .collect();
        assert_eq!(groups, [vec![1, 2], vec![3], vec![4, 5]]);
    }

    #[test]
    fn acknowledgements_go_first_however_far_behind_and_processing_still_moves() {
        let batch = Duration::from_millis(20);
        assert_eq!(pause_after(batch, false), Duration::ZERO, "nobody waiting");
        assert_eq!(pause_after(batch, true), batch * ACK_SHARE);
        assert_eq!(
            pause_after(Duration::from_secs(1), true),
            MAX_PAUSE,
            "always moves on"
        );
    }
}
