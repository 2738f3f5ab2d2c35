//! The sender: one task per number with queued messages, holding that
//! number's lease (so one instance paces it), spacing its sends to the
//! number's rate, pacing each customer, and sorting Meta's refusals by
//! what can be done about them.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use tokio::{
    sync::{Mutex, Notify},
    task::JoinHandle,
};

use super::{
    callback::OutboxCallback,
    classify::{classify, Disposition},
    content::Content,
    lease::HeldLease,
    pacing::{PairPacer, Spacing},
};
use crate::{
    contacts::{self, Address},
    health::{self, SendKind},
    live::Notice,
    numbers,
    secret::Secret,
    store::{
        now_millis, Backend, OutboxRow, OutboxState, RestrictionRow, SenderLease, SentRecord, Store,
    },
    tokens::{self, TokenError},
    worker::{self, Step, Stop},
    Engine,
};

/// How often the dispatcher looks for due messages without being woken
/// (retries coming due, other instances' work).
const POLL: Duration = Duration::from_millis(500);
/// A number's task waits this long for more work before it ends.
const IDLE: Duration = Duration::from_secs(1);

/// Runs until `stop`: starts a task for each live number with due
/// messages. Woken when something is queued.
pub async fn run(engine: Engine, stop: Stop) {
    if engine.store.backend() == Backend::Sqlite {
        // One process: whatever is leased was leased by a previous run.
        if let Err(error) = engine.store.lapse_outbox_leases().await {
            tracing::error!(%error, "cannot lapse the outbox's leases");
        }
    }
    let dispatcher = Dispatcher {
        owner: uuid::Uuid::new_v4().to_string(),
        running: HashMap::new(),
        stop: stop.clone(),
        engine: engine.clone(),
    };
    let wake = engine.wake.outbox.clone();
    worker::run_loop(stop, Some(wake), POLL, dispatcher).await;
}

/// Hands each number with due messages to a task of its own.
struct Dispatcher {
    engine: Engine,
    /// This instance, as the holder of number leases.
    owner: String,
    running: HashMap<String, (JoinHandle<()>, Arc<Notify>)>,
    stop: Stop,
}

impl worker::Work for Dispatcher {
    async fn step(&mut self) -> Step {
        let engine = &self.engine;
        self.running.retain(|_, (task, _)| !task.is_finished());
        let due = match engine.store.numbers_with_due_outbox(now_millis()).await {
            Ok(due) => due,
            Err(error) => {
                tracing::error!(%error, "sender cannot read the outbox");
                return Step::Idle;
            }
        };
        let lease_ms = engine.config.outbox.lease_ms;
        for (phone, rate) in due {
            if let Some((_, more)) = self.running.get(&phone) {
                more.notify_one();
                continue;
            }
            let (now, taken_at) = (now_millis(), Instant::now());
            match engine
                .store
                .take_sender_lease(&phone, &self.owner, now, now + lease_ms)
                .await
            {
                Ok(Some(lease)) => {
                    let more = Arc::new(Notify::new());
                    let held = HeldLease::hold(
                        engine.store.clone(),
                        phone.clone(),
                        lease,
                        lease_ms,
                        taken_at,
                    );
                    let task = tokio::spawn(send_for_number(NumberSender {
                        engine: engine.clone(),
                        phone: phone.clone(),
                        rate,
                        held,
                        stop: self.stop.clone(),
                        finished: engine.wake.outbox.clone(),
                        more: more.clone(),
                    }));
                    self.running.insert(phone, (task, more));
                }
                Ok(None) => {} // another instance sends for it, or Meta paused it
                Err(error) => tracing::error!(%error, "cannot take a sender lease"),
            }
        }
        // Number tasks do the sending; the dispatcher waits to be woken.
        Step::Idle
    }

    /// Number tasks see the stop too, and end after the send in hand.
    async fn finish(&mut self) {
        for (_, (task, _)) in self.running.drain() {
            let _ = task.await;
        }
    }
}

struct NumberSender {
    engine: Engine,
    phone: String,
    rate: i64,
    held: HeldLease,
    stop: Stop,
    /// Notified when this task ends, so the dispatcher looks again.
    finished: Arc<Notify>,
    /// Notified when the dispatcher sees more due messages for this number.
    more: Arc<Notify>,
}

/// What a number's sends share.
struct Shared {
    engine: Engine,
    phone: String,
    token: Secret<String>,
    held: Arc<HeldLease>,
    spacing: Mutex<Spacing>,
    /// Set when the token turned out dead or Meta throttled the number:
    /// nothing more is sent, and what is claimed goes back to the queue.
    halted: AtomicBool,
    /// The number's WABA, and the restrictions Meta has in force on it
    /// (read again for every batch): the kinds of message they name wait.
    waba_id: String,
    restrictions: std::sync::Mutex<Arc<Vec<RestrictionRow>>>,
}

impl Shared {
    fn may_send(&self) -> bool {
        !self.halted.load(Ordering::SeqCst) && self.held.may_send()
    }
}

async fn send_for_number(task: NumberSender) {
    let NumberSender {
        engine,
        phone,
        mut rate,
        held,
        stop,
        finished,
        more,
    } = task;
    let lease = held.lease;
    let held = Arc::new(held);
    let timing = engine.config.outbox;
    let mut shared: Option<Arc<Shared>> = None;
    let mut pairs = PairPacer::default();
    let mut batch = batch_size(rate);
    // The customers whose messages are being sent right now, each by a
    // task of its own; their next messages wait until it is done, while
    // other customers' are claimed and sent at once.
    let sending = Sending::default();
    let mut batches: Vec<JoinHandle<()>> = Vec::new();
    loop {
        batches.retain(|batch| !batch.is_finished());
        if stop.is_stopped() || !held.may_send() {
            break;
        }
        if shared
            .as_ref()
            .is_some_and(|shared| shared.halted.load(Ordering::SeqCst))
        {
            break;
        }
        // Armed before the claim, so a customer finishing meanwhile is not
        // missed.
        let settled = sending.settled.clone();
        let customer_done = settled.notified();
        let waba_id = match engine.store.number(&phone.as_str().into()).await {
            Ok(Some(number)) if number.status.can_send() => {
                // Meta raised the number's throughput, or an admin changed
                // the rate: the next batch goes at the new pace.
                if number.send_rate != rate {
                    rate = number.send_rate;
                    batch = batch_size(rate);
                    if let Some(shared) = &shared {
                        *shared.spacing.lock().await = spacing_for(rate);
                    }
                }
                number.waba_id.to_string()
            }
            _ => break,
        };
        let restrictions = match engine
            .store
            .active_restrictions(&waba_id, now_millis())
            .await
        {
            Ok(restrictions) => Arc::new(restrictions),
            Err(error) => {
                tracing::error!(%error, "cannot read the number's restrictions");
                break;
            }
        };
        // About two seconds of sends in hand at most, as one batch was: a
        // new rate applies to what is claimed after it.
        let room = batch - sending.rows();
        let claimed = if room > 0 {
            let timing = (now_millis(), timing.lease_ms, timing.status_wait_ms, room);
            engine
                .store
                .claim_outbox_except(&phone, lease, timing, &sending.customers())
                .await
        } else {
            Ok((Vec::new(), 0))
        };
        let rows = match claimed {
            Ok((rows, set_aside)) => {
                if set_aside > 0 {
                    metrics::counter!("outbox_unsure_total").increment(set_aside);
                    tracing::warn!(phone_number_id = %phone, set_aside, "messages a lapsed sender left claimed wait for their status");
                }
                rows
            }
            Err(error) => {
                tracing::error!(%error, "cannot claim outgoing messages");
                break;
            }
        };
        if rows.is_empty() {
            // Woken by more messages, or by a customer's sending being
            // done (their next message may be due); idle for long, done.
            let woken = async {
                tokio::select! {
                    () = more.notified() => {}
                    () = customer_done => {}
                }
            };
            if tokio::time::timeout(IDLE, woken).await.is_err() && sending.is_empty() {
                break;
            }
            continue;
        }
        let shared = match &shared {
            Some(shared) => shared.clone(),
            None => match tokens::open_number_token(&engine, &phone).await {
                Ok(token) => {
                    let made = Arc::new(Shared {
                        engine: engine.clone(),
                        phone: phone.clone(),
                        token,
                        held: held.clone(),
                        spacing: Mutex::new(spacing_for(rate)),
                        halted: AtomicBool::new(false),
                        waba_id: waba_id.clone(),
                        restrictions: std::sync::Mutex::new(restrictions.clone()),
                    });
                    shared = Some(made.clone());
                    made
                }
                Err(error) => {
                    no_token(&engine, &phone, &error).await;
                    let claimed: Vec<i64> = rows.iter().map(|row| row.id).collect();
                    if let Err(error) = engine.store.release_outbox_rows(&claimed, lease).await {
                        tracing::warn!(phone_number_id = %phone, %error, "cannot release claimed messages; they wait for their lease");
                    }
                    break;
                }
            },
        };
        *shared
            .restrictions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = restrictions;
        batches.push(start_batch(&shared, &mut pairs, &sending, rows).await);
        pairs.forget_idle(Instant::now());
    }
    // The sends in hand finish, as a batch in hand did (a halt or a lost
    // lease stops them after the one each is making); whatever this task
    // still holds then goes back to the queue at once: none of it was sent.
    for batch in batches {
        let _ = batch.await;
    }
    // Each customer's task gave back what it did not send. Whatever is
    // still claimed (a release or a record the database lost) is not
    // released here: it may have reached Meta, so it lapses and the next
    // holder sets it aside to wait for its status.
    release_lease(&engine.store, &phone, lease).await;
    finished.notify_one();
}

/// The customers of one number whose messages are being sent now, by
/// their pacing key (contact id, or address for rows without one), with
/// how many messages each has in hand.
#[derive(Clone, Default)]
struct Sending {
    customers: Arc<std::sync::Mutex<HashMap<String, i64>>>,
    /// Notified each time a customer's sending is done.
    settled: Arc<Notify>,
}

impl Sending {
    fn customers(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// Messages in hand.
    fn rows(&self) -> i64 {
        self.lock().values().sum()
    }

    fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn start(&self, customer: &str, rows: usize) {
        self.lock().insert(customer.to_string(), rows as i64);
    }

    fn done(&self, customer: &str) {
        self.lock().remove(customer);
        self.settled.notify_one();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        self.customers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// About two seconds of sends at `rate`.
fn batch_size(rate: i64) -> i64 {
    (rate * 2).clamp(20, 2_000)
}

fn spacing_for(rate: i64) -> Spacing {
    Spacing::new(rate.clamp(1, 10_000) as u32)
}

/// Gives the number up.
async fn release_lease(store: &Store, phone: &str, lease: SenderLease) {
    if let Err(error) = store.release_sender_lease(phone, lease).await {
        tracing::warn!(phone_number_id = %phone, %error, "cannot release the sender lease; it lapses");
    }
}

async fn no_token(engine: &Engine, phone: &str, error: &TokenError) {
    tracing::error!(phone_number_id = %phone, %error, "cannot open the number's token; sending paused");
    if matches!(error, TokenError::Missing) {
        let _ =
            numbers::flag_reconnect(engine, &phone.into(), "the number has no stored token").await;
    }
}

/// Starts sending a batch: each customer's messages in order, one after
/// another, by a task per customer; different customers side by side, all
/// drawing on the number's spacing. Returns once they are started; the
/// returned task ends when they are all done, and tells the threads.
async fn start_batch(
    shared: &Arc<Shared>,
    pairs: &mut PairPacer,
    sending: &Sending,
    rows: Vec<OutboxRow>,
) -> JoinHandle<()> {
    // Whose threads show these messages' ticks, told once the batch is done.
    let mut notices: Vec<Notice> = Vec::new();
    for row in &rows {
        let notice = Notice::conversation(&row.workspace_id, &shared.phone);
        if !notices.contains(&notice) {
            notices.push(notice);
        }
    }
    let mut by_customer: Vec<(String, Vec<OutboxRow>)> = Vec::new();
    for row in rows {
        // The contact paces, whatever address each message goes to.
        let customer = customer_of(&row);
        match by_customer.iter_mut().find(|(c, _)| *c == customer) {
            Some((_, list)) => list.push(row),
            None => by_customer.push((customer, vec![row])),
        }
    }
    let mut tasks = Vec::with_capacity(by_customer.len());
    for (customer, rows) in by_customer {
        let mut ready = Vec::with_capacity(rows.len());
        let mut rest = Vec::new();
        for row in rows {
            if !rest.is_empty() {
                // Behind one that waits for its turn (outbox_retry made it
                // wait too): not this holder's any more.
                rest.push(row.id);
                continue;
            }
            let counts = !row.kind.eq("mark_read");
            match counts.then(|| pairs.take(&customer, Instant::now())) {
                Some(Err(wait)) => {
                    // This customer's turn comes later; the rest of their
                    // messages wait behind this one (outbox_retry does that).
                    let at = now_millis() + wait.as_millis() as i64;
                    let written = shared
                        .engine
                        .store
                        .outbox_retry(&row, at, None, false, now_millis())
                        .await;
                    settled(&row, written);
                    rest.push(row.id);
                }
                _ => ready.push(row),
            }
        }
        if ready.is_empty() {
            release_unsent(shared, &rest).await;
            continue;
        }
        sending.start(&customer, ready.len());
        let (shared, sending) = (shared.clone(), sending.clone());
        tasks.push(tokio::spawn(async move {
            let mut unsent: Vec<i64> = ready.iter().map(|row| row.id).chain(rest).collect();
            for row in &ready {
                let sent = match shared.may_send() {
                    true => send_one(&shared, row).await,
                    false => Sent::Stop,
                };
                if sent != Sent::Stop {
                    unsent.retain(|id| *id != row.id);
                }
                if sent != Sent::Next {
                    break;
                }
            }
            release_unsent(&shared, &unsent).await;
            sending.done(&customer);
        }));
    }
    let shared = shared.clone();
    tokio::spawn(async move {
        for task in tasks {
            let _ = task.await;
        }
        let engine = &shared.engine;
        engine.live.publish(&engine.store, notices).await;
    })
}

/// What a customer's sending left (a refusal, a halt, a lost lease, a
/// turn that comes later) goes back before their next messages may be
/// claimed: left claimed, the next claim would pass over it and send their
/// later messages first. A message whose outcome was written is no longer
/// claimed, so releasing it changes nothing.
async fn release_unsent(shared: &Shared, unsent: &[i64]) {
    if unsent.is_empty() {
        return;
    }
    let store = &shared.engine.store;
    if let Err(error) = store.release_outbox_rows(unsent, shared.held.lease).await {
        tracing::warn!(phone_number_id = %shared.phone, %error, "cannot release unsent messages");
    }
}

/// Sets aside `row`, a send Meta accepted whose record failed, to wait for
/// its status instead of going again. The wait is a retry at its end (no
/// attempt counted, the customer's later messages behind it); the
/// status's callback data records the send meanwhile (see `adopt_sent`).
/// Not written now, it stays claimed and the next claim sets it aside
/// (its customer no longer in hand).
async fn set_aside_unrecorded(shared: &Shared, row: &OutboxRow) {
    let now = now_millis();
    let until = now + shared.engine.config.outbox.status_wait_ms;
    match shared
        .engine
        .store
        .outbox_retry(row, until, None, false, now)
        .await
    {
        Ok(_) => {
            metrics::counter!("outbox_unsure_total").increment(1);
            tracing::warn!(
                outbox = row.id,
                "a send whose record was lost waits for its status"
            );
        }
        Err(error) => {
            tracing::warn!(outbox = row.id, %error, "cannot set aside a send whose record was lost; it stays claimed");
        }
    }
}

/// Whom a message's pacing and order go by: its contact, whatever address
/// it goes to; the address for a row from before contacts.
fn customer_of(row: &OutboxRow) -> String {
    row.contact_id
        .as_ref()
        .map_or_else(|| row.recipient.clone(), |id| id.to_string())
}

/// What a send leaves for the customer's next message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    /// Settled: the next may follow.
    Next,
    /// Unsent, or its outcome written: the rest goes back to the queue.
    Stop,
    /// Meta has it but its record failed: the rest goes back, not this
    /// one (it would go again).
    Unrecorded,
}

impl From<bool> for Sent {
    /// Whether the next may follow.
    fn from(next: bool) -> Self {
        if next {
            Sent::Next
        } else {
            Sent::Stop
        }
    }
}

/// Sends one message and records the outcome.
async fn send_one(shared: &Shared, row: &OutboxRow) -> Sent {
    let store = &shared.engine.store;
    let content: Content = match serde_json::from_str(&row.content) {
        Ok(content) => content,
        Err(error) => {
            let reason = format!("unreadable content: {error}");
            let written = store
                .outbox_give_up(row, OutboxState::Failed, None, &reason, now_millis())
                .await;
            return settled(row, written).into();
        }
    };
    if let Some(wait) = held_back(shared, &content).await {
        // Only this one waits: the customer's next message may be of a
        // kind that goes.
        let written = store
            .outbox_hold(row, wait.until, &wait.reason, now_millis())
            .await;
        return settled(row, written).into();
    }
    let Some(address) = address_of(store, row).await else {
        let reason = "No phone number or BSUID is known for this customer.";
        let written = store
            .outbox_give_up(row, OutboxState::Failed, None, reason, now_millis())
            .await;
        return settled(row, written).into();
    };
    if content.is_message() {
        let slot = shared.spacing.lock().await.reserve(Instant::now());
        tokio::time::sleep_until(slot.into()).await;
    }
    // The last moment to find out the number is no longer ours.
    if !shared.may_send() {
        return Sent::Stop;
    }
    let mut body = content.to_graph(&address, row.context_wamid.as_deref());
    if content.is_message() {
        body["biz_opaque_callback_data"] = OutboxCallback::new(row.id).to_string().into();
    }
    let started = Instant::now();
    let result = shared
        .engine
        .graph
        .send_message(&shared.token, &shared.phone, body)
        .await;
    metrics::histogram!("outbox_send_seconds").record(started.elapsed().as_secs_f64());
    let now = now_millis();
    let written = match result {
        Ok(Some(sent)) => {
            metrics::counter!("outbox_sent_total").increment(1);
            let recorded = store
                .outbox_sent(row, address.as_str(), &sent.wamid, &content.summary(), now)
                .await;
            match &recorded {
                Ok(SentRecord::SentTwice { first_wamid }) => {
                    metrics::counter!("outbox_sent_twice_total").increment(1);
                    tracing::error!(
                        outbox = row.id,
                        first_wamid,
                        wamid = sent.wamid,
                        "a message reached Meta twice"
                    );
                }
                Ok(_) => {}
                Err(error) => {
                    // Meta has it; the status webhook's callback data will
                    // record it (see `OutboxCallback`) while it waits.
                    tracing::error!(outbox = row.id, %error, "cannot record a send's outcome");
                    set_aside_unrecorded(shared, row).await;
                    return Sent::Unrecorded;
                }
            }
            if let Some(contact_id) = &row.contact_id {
                if let Err(error) =
                    contacts::learn_from_send(store, &row.workspace_id, contact_id, &sent.recipient)
                        .await
                {
                    tracing::warn!(outbox = row.id, %error, "cannot note what a send showed of its recipient");
                }
            }
            return Sent::Next;
        }
        Ok(None) => store.outbox_done(row, now).await,
        Err(error) => {
            let code = error.code();
            let reason = error.to_string();
            let meta_error = Some((code, reason.as_str()));
            match classify(&error, row.attempts + 1, fastrand::f64()) {
                Disposition::Retry {
                    after_ms,
                    slow_number,
                } => {
                    metrics::counter!("outbox_retried_total").increment(1);
                    if slow_number {
                        // The whole number waits, in the database so that
                        // no instance sleeps on claimed messages meanwhile.
                        shared.halted.store(true, Ordering::SeqCst);
                        if let Err(error) = store.pause_sender(&shared.phone, now + after_ms).await
                        {
                            tracing::warn!(phone_number_id = %shared.phone, %error, "cannot record Meta's throttling");
                        }
                    }
                    tracing::warn!(outbox = row.id, %reason, after_ms, "send failed; will retry");
                    let written = store
                        .outbox_retry(row, now + after_ms, meta_error, true, now)
                        .await;
                    settled(row, written);
                    return Sent::Stop;
                }
                Disposition::Reconnect => {
                    shared.halted.store(true, Ordering::SeqCst);
                    let _ = numbers::flag_for_refusal(&shared.engine, &shared.phone, &error).await;
                    let written = store.outbox_retry(row, now, meta_error, false, now).await;
                    settled(row, written);
                    return Sent::Stop;
                }
                Disposition::PauseNumber => {
                    // Nothing more goes until the cause is fixed; this
                    // message waits with the rest.
                    shared.halted.store(true, Ordering::SeqCst);
                    // If the pause cannot be written the number stays live:
                    // then this message backs off like any retry, instead
                    // of going straight back to Meta.
                    let (at, counted) = match numbers::pause_for_meta(
                        &shared.engine,
                        &shared.phone,
                        &error,
                    )
                    .await
                    {
                        Ok(_) => (now, false),
                        Err(pause_error) => {
                            tracing::error!(phone_number_id = %shared.phone, %pause_error, "cannot pause the number");
                            (now + 60_000, true)
                        }
                    };
                    let written = store.outbox_retry(row, at, meta_error, counted, now).await;
                    settled(row, written);
                    return Sent::Stop;
                }
                Disposition::RestrictKind(restriction_type) => {
                    // Meta refused this kind of message for the account:
                    // such messages wait (this one too) until Meta's health
                    // status or an admin says it is over; others go on.
                    let new = store
                        .restrict_after_refusal(
                            &shared.waba_id,
                            restriction_type,
                            &reason,
                            REFUSED_KIND_MS,
                            now,
                        )
                        .await;
                    // Just learnt: the message is looked at again at once
                    // (held if it is of that kind). Refused again with the
                    // restriction known: it backs off like any retry and is
                    // given up in the end, so a kind misread never loops on
                    // Meta.
                    let at = match new {
                        Ok(true) => {
                            tracing::warn!(phone_number_id = %shared.phone, %reason, "Meta refused a kind of message for the account");
                            Some((now, false))
                        }
                        _ => super::classify::backoff_ms(row.attempts + 1, fastrand::f64())
                            .map(|after| (now + after, true)),
                    };
                    let Some((at, counted)) = at else {
                        metrics::counter!("outbox_failed_total", "reason" => "permanent")
                            .increment(1);
                        let written = store
                            .outbox_give_up(row, OutboxState::Failed, code, &reason, now)
                            .await;
                        return settled(row, written).into();
                    };
                    let written = store.outbox_retry(row, at, meta_error, counted, now).await;
                    settled(row, written);
                    return Sent::Stop;
                }
                Disposition::NeedsTemplate => {
                    metrics::counter!("outbox_failed_total", "reason" => "needs_template")
                        .increment(1);
                    store
                        .outbox_give_up(row, OutboxState::NeedsTemplate, code, &reason, now)
                        .await
                }
                Disposition::Fail => {
                    metrics::counter!("outbox_failed_total", "reason" => "permanent").increment(1);
                    tracing::warn!(outbox = row.id, %reason, "send failed for good");
                    store
                        .outbox_give_up(row, OutboxState::Failed, code, &reason, now)
                        .await
                }
            }
        }
    };
    settled(row, written).into()
}

/// How long a kind Meta refused on a send (131063) stays held: no webhook
/// says when it ends, so each refusal renews it.
const REFUSED_KIND_MS: i64 = 60 * 60 * 1000;

/// How long a message a restriction holds back waits before it is looked
/// at again, at most: a restriction Meta's health status shows lifted
/// early lets it go within this.
const RESTRICTED_RECHECK_MS: i64 = 60_000;

/// A message a restriction holds back: when to look again, and why.
struct HeldBack {
    until: i64,
    reason: String,
}

/// Whether a restriction in force stops this message (read with the
/// batch). A template's category is read only when a restriction cares.
async fn held_back(shared: &Shared, content: &Content) -> Option<HeldBack> {
    let restrictions = shared
        .restrictions
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    if restrictions.is_empty() {
        return None;
    }
    let category = match content {
        Content::Template { name, language, .. } => shared
            .engine
            .store
            .template(&shared.waba_id, name, language)
            .await
            .ok()
            .flatten()
            .map(|t| t.category),
        _ => None,
    };
    let restriction =
        health::gates::blocking(&restrictions, SendKind::of(content, category.as_deref()))?;
    let now = now_millis();
    let until = restriction
        .expires_at
        .map_or(now + RESTRICTED_RECHECK_MS, |end| {
            end.min(now + RESTRICTED_RECHECK_MS)
        });
    Some(HeldBack {
        until,
        reason: health::gates::refusal(restriction),
    })
}

/// Logs an outcome write that did not happen: refused by the fence (the
/// number's lease moved on, and the new holder decides), or failed. Returns
/// whether the customer's next message may follow.
fn settled(row: &OutboxRow, written: Result<bool, crate::store::Error>) -> bool {
    match written {
        Ok(true) => true,
        Ok(false) => {
            metrics::counter!("outbox_fenced_total").increment(1);
            tracing::warn!(
                outbox = row.id,
                epoch = row.claim_epoch,
                "outcome not written: the number's sender lease moved on"
            );
            false
        }
        Err(error) => {
            tracing::error!(outbox = row.id, %error, "cannot record a send's outcome");
            false
        }
    }
}

/// Where a message goes now: its contact's phone when known (a phone
/// shared since it was queued included), else the contact's BSUID; for a
/// row from before contacts, the address it was queued with.
async fn address_of(store: &Store, row: &OutboxRow) -> Option<Address> {
    let contact = match &row.contact_id {
        Some(id) => match store.contact(&row.workspace_id, id).await {
            Ok(contact) => contact,
            Err(error) => {
                tracing::warn!(outbox = row.id, %error, "cannot read the message's contact");
                None
            }
        },
        None => None,
    };
    contact
        .and_then(|c| c.address())
        .or_else(|| Address::parse(&row.recipient))
}
