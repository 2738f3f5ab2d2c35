//! Runs planned operations in the store's transactions: a batch's events
//! in their order, except that customers' messages and receipts are
//! written together (`inbound`, `receipts`) with an end state the same as
//! one by one. Every effect is idempotent by its unique key, so an event
//! applied again (its mark lost to a crash, or requeued once its number is
//! connected) changes nothing.

use crate::{
    contacts,
    ids::ContactScope,
    store::{
        self, account_events, account_state, audit, messages, number_errors, numbers,
        outgoing_webhooks, templates, unrouted, webhooks, Store, Tx,
    },
};

use super::{
    business_app,
    customers::Customers,
    inbound,
    plan::{Op, WabaRoute},
    receipts,
};

/// What applying events did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// (workspace, number, wamid) of inbound messages seen for the first
    /// time: these, and only these, get a reply.
    pub new_inbound: Vec<(String, String, String)>,
    /// Messages and statuses that were already stored.
    pub duplicates: u64,
    pub unrouted: u64,
    /// Bot replies queued in the outbox.
    pub replies_queued: u64,
    /// Events queued for workspaces' webhook endpoints.
    pub deliveries_queued: u64,
    /// Customers' files queued for download.
    pub media_queued: u64,
    /// Messages and receipts dropped: their contact was erased after
    /// they were sent.
    pub erased: u64,
    /// History messages stored for the first time.
    pub imported: u64,
    /// Messages the business sent from the WhatsApp Business app, stored
    /// for the first time.
    pub echoes: u64,
    /// What the pages people have open should fetch again.
    pub notices: Vec<crate::live::Notice>,
    /// Rows many customers share, written once at the batch's end in key
    /// order (see [`apply`]).
    pub(crate) deferred: Deferred,
}

/// Writes to rows that many events share (the cost ledger, a number's
/// health), gathered while a batch applies and written at its end, each
/// kind in key order: every batch takes them in one order, so two
/// instances never deadlock on them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Deferred {
    pub(super) ledger: store::costs::LedgerCounts,
    /// Numbers a webhook asked to read from Meta again.
    probes: std::collections::BTreeSet<String>,
}

/// Applies the effects of a batch of events `(id, operations)` in one
/// transaction (one disk flush for the batch), then marks them done, and
/// the `rejected` ones `(id, reason)` rejected, in the journal.
pub async fn apply(
    store: &Store,
    events: &[(i64, Vec<Op>)],
    rejected: &[(i64, String)],
    now: i64,
) -> Result<Applied, store::Error> {
    apply_then(store, events, rejected, now, |_| {}).await
}

/// [`apply`], telling `committed` what was applied as soon as it is
/// committed, before the journal's marks: the workers it queued work for
/// (the sender of a bot's reply) start at once.
pub async fn apply_then(
    store: &Store,
    events: &[(i64, Vec<Op>)],
    rejected: &[(i64, String)],
    now: i64,
    committed: impl FnOnce(&Applied),
) -> Result<Applied, store::Error> {
    let mut tx = store.begin().await?;
    let customers = customers_of(events);
    // Only Postgres takes contact locks (SQLite's write lock already
    // serialises batches).
    if matches!(tx, Tx::Postgres(_)) {
        contacts::lock_all(&mut tx, &customers).await?;
    }
    let erasures = Erasures::read(&mut tx, &customers).await?;
    let mut applied = Applied::default();
    // Customers' messages and receipts wait, to be written together.
    let mut waiting = Vec::new();
    let mut receipts = Vec::new();
    let mut customers = Customers::of(events);
    for (event_id, ops) in events {
        for op in ops {
            let at = At {
                event_id: *event_id,
                now,
                erasures: &erasures,
            };
            // Whom it names is decided in the batch's order, as each
            // decision may change the next; anything that writes a contact
            // (or may) comes after the messages waiting are stored, as it
            // could merge their contacts.
            let customer = customers.settle(&mut tx, op).await?;
            if customer.is_none() {
                inbound::store(&mut tx, &mut waiting, &mut applied).await?;
            }
            match op {
                Op::Inbound { .. } => {
                    let message =
                        inbound::prepare(&mut tx, op, at, customer.flatten(), &mut applied);
                    waiting.extend(message.await?);
                }
                Op::Status { .. } => {
                    let receipt = receipts::prepare(&mut tx, op, at, customer, &mut applied);
                    receipts.extend(receipt.await?);
                }
                _ => apply_op(&mut tx, at, op, &mut applied).await?,
            }
        }
    }
    inbound::store(&mut tx, &mut waiting, &mut applied).await?;
    let stored: Vec<(&str, &str)> = applied
        .new_inbound
        .iter()
        .map(|(_, number, wamid)| (number.as_str(), wamid.as_str()))
        .collect();
    messages::apply_early_statuses(&mut tx, &stored).await?;
    receipts::apply(&mut tx, &receipts, &mut applied).await?;
    let deferred = std::mem::take(&mut applied.deferred);
    store::costs::add_to_ledger(&mut tx, &deferred.ledger).await?;
    let probes: Vec<&str> = deferred.probes.iter().map(String::as_str).collect();
    account_state::touch_health(&mut tx, &numbers_heard_from(events), &probes, now).await?;
    tx.commit().await?;
    committed(&applied);
    applied.notices = crate::live::notices_of(events);
    // Then the journal's marks. A crash in between leaves the events
    // pending; applying them again changes nothing (unique keys).
    store
        .in_relaxed_journal(async |journal| {
            for (event_id, reason) in rejected {
                webhooks::mark_rejected(journal, *event_id, reason, now).await?;
            }
            let done: Vec<i64> = events.iter().map(|(event_id, _)| *event_id).collect();
            webhooks::mark_done(journal, &done, now).await
        })
        .await?;
    Ok(applied)
}

/// The numbers the batch's messages and statuses came to, each once.
fn numbers_heard_from(events: &[(i64, Vec<Op>)]) -> Vec<&str> {
    let mut numbers: Vec<&str> = events
        .iter()
        .flat_map(|(_, ops)| ops)
        .filter_map(|op| match op {
            Op::Inbound {
                phone_number_id, ..
            }
            | Op::Status {
                phone_number_id, ..
            }
            | Op::NumberErrors {
                phone_number_id, ..
            } => Some(phone_number_id.as_str()),
            _ => None,
        })
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    numbers
}

/// Every customer the batch's events will decide about, with the ids
/// that decide it.
fn customers_of(events: &[(i64, Vec<Op>)]) -> Vec<(&str, &ContactScope, Vec<&str>)> {
    let mut customers = Vec::new();
    for op in events.iter().flat_map(|(_, ops)| ops) {
        match op {
            Op::Inbound {
                workspace_id,
                scope,
                message,
                ..
            } => {
                let ids = match &message.identity_change {
                    Some(change) => contacts::ids_of_change(change),
                    None => contacts::ids_of(&message.identity),
                };
                customers.push((workspace_id.as_str(), scope, ids));
            }
            Op::Status {
                workspace_id,
                scope,
                update,
                ..
            } => customers.push((
                workspace_id.as_str(),
                scope,
                contacts::ids_of(&update.identity),
            )),
            Op::HistoryChunk {
                number, messages, ..
            } => customers.extend(messages.iter().map(|m| {
                (
                    number.workspace_id.as_str(),
                    &number.contact_scope,
                    contacts::ids_of(&m.identity),
                )
            })),
            Op::Echo {
                number, message, ..
            } => customers.push((
                number.workspace_id.as_str(),
                &number.contact_scope,
                contacts::ids_of(&message.identity),
            )),
            Op::SavedNames { number, contacts } => customers.extend(contacts.iter().map(|c| {
                (
                    number.workspace_id.as_str(),
                    &number.contact_scope,
                    vec![c.phone.as_str()],
                )
            })),
            _ => {}
        }
    }
    customers
}

/// Where an operation is applied: its event, the batch's time and what
/// the batch read once for all its events.
#[derive(Clone, Copy)]
pub(super) struct At<'a> {
    pub event_id: i64,
    pub now: i64,
    pub erasures: &'a Erasures,
}

/// When each workspace of a batch last erased anyone, read once in the
/// batch's transaction.
pub(super) struct Erasures(std::collections::HashMap<String, Option<i64>>);

impl Erasures {
    async fn read(
        tx: &mut Tx<'_>,
        customers: &[(&str, &ContactScope, Vec<&str>)],
    ) -> Result<Self, store::Error> {
        let mut latest = std::collections::HashMap::new();
        for (workspace_id, _, _) in customers {
            if !latest.contains_key(*workspace_id) {
                let at = store::data_rights::latest_erasure(tx, workspace_id).await?;
                latest.insert(workspace_id.to_string(), at);
            }
        }
        Ok(Self(latest))
    }

    /// Whether something sent at `sent_at` may concern an id erased since;
    /// a workspace the batch did not read is looked up to be sure.
    fn may_concern(&self, workspace_id: &str, sent_at: i64) -> bool {
        self.0
            .get(workspace_id)
            .is_none_or(|latest| latest.is_some_and(|at| sent_at <= at))
    }
}

/// Applies one operation other than a customer's message or a receipt.
async fn apply_op(
    tx: &mut Tx<'_>,
    at: At<'_>,
    op: &Op,
    applied: &mut Applied,
) -> Result<(), store::Error> {
    let At { event_id, now, .. } = at;
    match op {
        // Written by the batch, together (`inbound`, `receipts`).
        Op::Inbound { .. } | Op::Status { .. } => {}
        Op::Unrouted {
            change_index,
            phone_number_id,
            waba_id,
            field,
            value,
            received_at,
        } => {
            let change = unrouted::NewUnrouted {
                event_id,
                change_index: *change_index,
                phone_number_id: phone_number_id.as_deref(),
                waba_id,
                field,
                value,
                received_at: *received_at,
            };
            unrouted::insert(tx, &change).await?;
            applied.unrouted += 1;
        }
        Op::Account {
            change_index,
            workspace_id,
            waba_id,
            field,
            value,
            at,
        } => {
            let event = account_events::NewAccountEvent {
                event_id,
                change_index: *change_index,
                workspace_id: workspace_id.as_deref(),
                waba_id,
                field,
                value,
                at: *at,
            };
            account_events::insert(tx, &event).await?;
        }
        Op::NumberErrors {
            workspace_id,
            phone_number_id,
            errors,
            received_at,
        } => {
            for error in errors {
                let new = number_errors::NewNumberError {
                    workspace_id,
                    phone_number_id,
                    code: error.code,
                    title: error.title.as_deref(),
                    details: error.details.as_deref(),
                    received_at: *received_at,
                };
                if number_errors::insert(tx, &new).await? {
                    tracing::warn!(%phone_number_id, code = ?error.code, title = ?error.title, "Meta reports an error for the number");
                    let detail = serde_json::json!({
                        "phone_number_id": phone_number_id,
                        "code": error.code,
                        "title": error.title,
                        "details": error.details,
                    });
                    audit::insert_unattended(
                        tx,
                        workspace_id,
                        "number.meta_error",
                        &detail.to_string(),
                        now,
                    )
                    .await?;
                }
            }
        }
        Op::Quality {
            waba_id,
            display_phone_number,
            rating,
        } => numbers::set_quality(tx, waba_id, display_phone_number, rating).await?,
        Op::TemplateStatus {
            waba_id,
            template_id,
            name,
            language,
            status,
            reason,
        } => {
            if let Some(status) = status {
                let change = templates::StatusChange {
                    waba_id,
                    template_id,
                    name,
                    language,
                    status,
                    // Only a rejection keeps its reason.
                    rejected_reason: (status == "REJECTED")
                        .then_some(reason.as_deref())
                        .flatten(),
                };
                templates::set_status(tx, &change, now).await?;
            }
            templates::want_sync(tx, waba_id, now).await?;
        }
        Op::ThroughputRaised {
            waba_id,
            display_phone_number,
            rate,
        } => {
            for raised in numbers::raise_send_rate(tx, waba_id, display_phone_number, *rate).await?
            {
                let detail = serde_json::json!({
                    "phone_number_id": raised.phone_number_id,
                    "before": raised.before,
                    "after": rate,
                    "why": "Meta raised the number's throughput (THROUGHPUT_UPGRADE)",
                });
                audit::insert_unattended(
                    tx,
                    &raised.workspace_id,
                    "number.throughput_raised",
                    &detail.to_string(),
                    now,
                )
                .await?;
            }
        }
        Op::TemplateChanged {
            waba_id,
            template_id,
            name,
            language,
            quality,
            category,
        } => {
            let change = templates::Changed {
                waba_id,
                template_id,
                name,
                language,
                quality: quality.as_deref(),
                category: category.as_deref(),
            };
            templates::set_changed(tx, &change, now).await?;
            templates::want_sync(tx, waba_id, now).await?;
        }
        Op::Restricted {
            waba,
            restrictions,
            at,
        } => {
            for restriction in restrictions {
                let new = account_state::NewRestriction {
                    waba_id: &waba.waba_id,
                    restriction_type: &restriction.restriction_type,
                    expires_at: restriction.expires_at,
                    remediation: restriction.remediation.as_deref(),
                    source: account_state::FROM_WEBHOOK,
                    event_at: at.unwrap_or(0),
                };
                if account_state::restrict(tx, &new, now).await? {
                    tracing::warn!(waba_id = %waba.waba_id, restriction = %restriction.restriction_type, "Meta restricted the account");
                    let detail = serde_json::json!({
                        "waba_id": waba.waba_id,
                        "restriction_type": restriction.restriction_type,
                        "expires_at": restriction.expires_at,
                        "remediation": restriction.remediation,
                    });
                    audit_waba(tx, waba, "waba.restricted", detail, now).await?;
                }
            }
        }
        Op::Ban { waba, ban, at } => ban_update(tx, waba, ban, at.unwrap_or(now), now).await?,
        Op::Violation { waba, violation } => {
            if account_state::set_violation(
                tx,
                &waba.waba_id,
                &violation.violation_type,
                violation.remediation.as_deref(),
                now,
            )
            .await?
            {
                tracing::warn!(waba_id = %waba.waba_id, violation = %violation.violation_type, "Meta reports a policy violation");
                let detail = serde_json::json!({
                    "waba_id": waba.waba_id,
                    "violation_type": violation.violation_type,
                    "remediation": violation.remediation,
                });
                audit_waba(tx, waba, "waba.violation", detail, now).await?;
            }
        }
        Op::Granted { waba, event } => {
            if account_state::set_granted(tx, &waba.waba_id, event, now).await? {
                let detail = serde_json::json!({ "waba_id": waba.waba_id, "event": event });
                audit_waba(tx, waba, "waba.access_confirmed", detail, now).await?;
            }
        }
        Op::PricingTier { waba, tier } => {
            let row = store::PricingTierRow {
                pricing_category: tier.pricing_category.clone(),
                effective_month: tier.effective_month.clone(),
                region: tier.region.clone().unwrap_or_default(),
                tier: tier.tier.clone(),
                received_at: now,
            };
            if account_state::set_pricing_tier(tx, &waba.waba_id, &row).await? {
                let detail = serde_json::json!({
                    "waba_id": waba.waba_id,
                    "pricing_category": row.pricing_category,
                    "effective_month": row.effective_month,
                    "region": row.region,
                    "tier": row.tier,
                });
                audit_waba(tx, waba, "waba.pricing_tier", detail, now).await?;
            }
        }
        Op::Limits {
            waba,
            messaging_limit,
            max_phone_numbers,
        } => {
            if account_state::set_limits(
                tx,
                &waba.waba_id,
                messaging_limit.as_deref(),
                *max_phone_numbers,
                now,
            )
            .await?
            {
                let detail = serde_json::json!({
                    "waba_id": waba.waba_id,
                    "messaging_limit": messaging_limit,
                    "max_phone_numbers": max_phone_numbers,
                });
                audit_waba(tx, waba, "waba.limits", detail, now).await?;
            }
        }
        Op::NameDecision {
            waba,
            display_phone_number,
            decision,
            requested_name,
            rejection_reason,
        } => {
            for number in numbers::numbers_shown_as(tx, &waba.waba_id, display_phone_number).await?
            {
                let changed = account_state::set_name_decision(
                    tx,
                    &number.phone_number_id,
                    decision,
                    requested_name.as_deref(),
                    rejection_reason.as_deref(),
                )
                .await?;
                if changed {
                    let detail = serde_json::json!({
                        "phone_number_id": number.phone_number_id,
                        "decision": decision,
                        "requested_verified_name": requested_name,
                        "rejection_reason": rejection_reason,
                    });
                    audit::insert_unattended(
                        tx,
                        &number.workspace_id,
                        "number.name_review",
                        &detail.to_string(),
                        now,
                    )
                    .await?;
                }
            }
        }
        Op::ProbeNumber {
            waba_id,
            display_phone_number,
        } => {
            for number in numbers::numbers_shown_as(tx, waba_id, display_phone_number).await? {
                applied.deferred.probes.insert(number.phone_number_id);
            }
        }
        Op::HistoryChunk { .. }
        | Op::HistoryDeclined { .. }
        | Op::Echo { .. }
        | Op::SavedNames { .. } => business_app::apply_op(tx, op, at, applied).await?,
        Op::Offboarded {
            waba,
            phone_number_id,
        } => {
            let reason = "Meta reports ACCOUNT_OFFBOARDED: the WhatsApp Business app moved to another device or was registered again; messages wait until Meta reconnects the number";
            let moved = numbers::move_business_app_numbers(
                tx,
                &waba.waba_id,
                phone_number_id.as_deref(),
                numbers::NumberStatus::Live,
                numbers::NumberStatus::Offboarded,
                Some(reason),
                now,
            )
            .await?;
            for number in moved {
                let detail = serde_json::json!({ "phone_number_id": number.phone_number_id, "reason": reason });
                audit::insert_unattended(
                    tx,
                    &number.workspace_id,
                    "number.offboarded",
                    &detail.to_string(),
                    now,
                )
                .await?;
            }
        }
        Op::Reconnected {
            waba,
            phone_number_id,
        } => {
            let moved = numbers::move_business_app_numbers(
                tx,
                &waba.waba_id,
                phone_number_id.as_deref(),
                numbers::NumberStatus::Offboarded,
                numbers::NumberStatus::Reconnecting,
                Some("Meta reports ACCOUNT_RECONNECTED: Switchboard checks the subscription and the number before sending again"),
                now,
            )
            .await?;
            for number in moved {
                let detail = serde_json::json!({ "phone_number_id": number.phone_number_id });
                audit::insert_unattended(
                    tx,
                    &number.workspace_id,
                    "number.reconnected_by_meta",
                    &detail.to_string(),
                    now,
                )
                .await?;
                // Checked by the health probe before it sends again.
                applied.deferred.probes.insert(number.phone_number_id);
            }
        }
        Op::PartnerRemoved {
            waba,
            disconnection,
        } => {
            let reason = disconnection_reason(disconnection);
            let ended = numbers::end_connection(
                tx,
                &waba.waba_id,
                disconnection.phone_number_id.as_deref(),
                &reason,
                now,
            )
            .await?;
            for number in ended {
                let detail = serde_json::json!({
                    "phone_number_id": number.phone_number_id,
                    "reason": disconnection.reason,
                    "initiated_by": disconnection.initiated_by,
                });
                audit::insert_unattended(
                    tx,
                    &number.workspace_id,
                    "number.partner_removed",
                    &detail.to_string(),
                    now,
                )
                .await?;
            }
        }
        Op::AppRemoved { waba_id, reason } => {
            for number in numbers::require_reconnect(tx, waba_id, reason, now).await? {
                let detail = serde_json::json!({ "phone_number_id": number.phone_number_id, "reason": reason });
                audit::insert_unattended(
                    tx,
                    &number.workspace_id,
                    "number.reconnect_needed",
                    &detail.to_string(),
                    now,
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// Why the business's numbers were disconnected, in the admins' words
/// (reference meta-2026 §2: the reasons Meta gives).
fn disconnection_reason(disconnection: &crate::webhook::payload::Disconnection) -> String {
    let why = match disconnection.reason.as_deref() {
        Some("ACCOUNT_DISCONNECTED") => "the business disconnected it in the WhatsApp Business app",
        Some("BUSINESS_DOWNGRADE") => "the number moved to the consumer WhatsApp app",
        Some("CHANGE_NUMBER") => "the business changed its number in the app",
        Some("COMPANION_INACTIVITY") => "a linked device of the app was inactive too long",
        Some("PRIMARY_INACTIVITY") => "the app's phone was inactive too long",
        Some("USER_RE_REGISTERED") => "the number was registered again in the app",
        _ => "the business removed the connection",
    };
    let code = match (&disconnection.reason, &disconnection.initiated_by) {
        (Some(reason), Some(by)) => format!(" ({reason}, by {by})"),
        (Some(reason), None) => format!(" ({reason})"),
        _ => String::new(),
    };
    format!("Meta reports PARTNER_REMOVED: {why}{code}. Connect WhatsApp again to use it")
}

/// Whose message or status it is, and when it is applied.
pub(super) struct Context<'a> {
    pub workspace_id: &'a str,
    pub phone_number_id: &'a str,
    pub scope: &'a ContactScope,
    pub now: i64,
    erasures: &'a Erasures,
}

impl<'a> Context<'a> {
    pub(super) fn new(
        workspace_id: &'a str,
        phone_number_id: &'a str,
        scope: &'a ContactScope,
        at: At<'a>,
    ) -> Self {
        Context {
            workspace_id,
            phone_number_id,
            scope,
            now: at.now,
            erasures: at.erasures,
        }
    }
}

/// Whether the customer was erased after this was sent (a retry or a
/// replay of what they asked to have forgotten).
pub(super) async fn erased_since(
    tx: &mut Tx<'_>,
    context: &Context<'_>,
    identity: &crate::webhook::payload::Identity,
    sent_at: i64,
) -> Result<bool, store::Error> {
    if !context.erasures.may_concern(context.workspace_id, sent_at) {
        return Ok(false);
    }
    crate::data_rights::erased_since(tx, context.workspace_id, context.scope, identity, sent_at)
        .await
}

/// Queues an event `(id, type, payload)` for each of the workspace's
/// endpoints; returns how many were new.
pub(super) async fn tell_endpoints(
    tx: &mut Tx<'_>,
    context: &Context<'_>,
    endpoints: &[String],
    (event_id, event_type, payload): (String, &str, serde_json::Value),
) -> Result<u64, store::Error> {
    let payload = payload.to_string();
    let mut queued = 0;
    for endpoint_id in endpoints {
        let delivery = outgoing_webhooks::NewDelivery {
            endpoint_id,
            workspace_id: context.workspace_id,
            event_id: &event_id,
            event_type,
            payload: &payload,
        };
        queued += u64::from(outgoing_webhooks::enqueue_delivery(tx, &delivery, context.now).await?);
    }
    Ok(queued)
}

/// Audits an account event in the workspace holding the WABA's numbers
/// (none while no number of it is connected).
async fn audit_waba(
    tx: &mut Tx<'_>,
    waba: &WabaRoute,
    action: &str,
    detail: serde_json::Value,
    now: i64,
) -> Result<(), store::Error> {
    if let Some(workspace_id) = &waba.workspace_id {
        audit::insert_unattended(tx, workspace_id, action, &detail.to_string(), now).await?;
    }
    Ok(())
}

/// `DISABLED_UPDATE`: a disabled WABA's numbers stop (their messages
/// wait), a reinstated one's send again; a scheduled disabling is shown.
/// Audited once per change, however often the webhook comes.
async fn ban_update(
    tx: &mut Tx<'_>,
    waba: &WabaRoute,
    ban: &crate::webhook::payload::Ban,
    made_at: i64,
    now: i64,
) -> Result<(), store::Error> {
    use crate::webhook::payload::BanState;
    use account_state::BanChange;
    let state = ban.state.as_str();
    let changed =
        match account_state::set_ban(tx, &waba.waba_id, state, ban.date.as_deref(), made_at, now)
            .await?
        {
            // A late copy of an older update: Meta has said something since.
            BanChange::Older => return Ok(()),
            BanChange::Same => false,
            BanChange::Changed => true,
        };
    let moved = match ban.state {
        BanState::Disable => {
            let reason = format!(
                "Meta disabled this WhatsApp Business Account{}: messages wait until Meta reinstates it",
                ban.date.as_ref().map(|d| format!(" on {d}")).unwrap_or_default()
            );
            account_state::disable_numbers(tx, &waba.waba_id, &reason, now).await?
        }
        BanState::Reinstate => account_state::reinstate_numbers(tx, &waba.waba_id, now).await?,
        BanState::ScheduleForDisable => Vec::new(),
    };
    if changed {
        tracing::warn!(waba_id = %waba.waba_id, state, date = ?ban.date, "Meta changed the account's ban state");
        let detail = serde_json::json!({
            "waba_id": waba.waba_id,
            "ban_state": state,
            "ban_date": ban.date,
            "numbers": moved.iter().map(|n| &n.phone_number_id).collect::<Vec<_>>(),
        });
        audit_waba(tx, waba, "waba.ban_state", detail, now).await?;
    }
    Ok(())
}
