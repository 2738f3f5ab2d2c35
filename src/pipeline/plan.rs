//! Turns a parsed webhook into the operations that apply it, routing every
//! change to the workspace of its number. Pure: [`super::apply`] runs the
//! plan.

use crate::{
    ids::ContactScope,
    outbox::Content,
    store::NumberRoute,
    webhook::payload::{
        self, AccountEvent, AppMessage, Ban, Change, Disconnection, Envelope, InboundMessage,
        Messages, MetaError, PricingTier, Removal, Restriction, SavedContact, StatusUpdate,
        Violation,
    },
};

#[derive(Debug, Clone)]
pub enum Op {
    Inbound {
        workspace_id: String,
        phone_number_id: String,
        /// Where the customer's BSUID means one person.
        scope: ContactScope,
        message: InboundMessage,
        /// The workspace's bot's answer, queued only if the message is new.
        replies: Vec<Content>,
        /// The workspace's webhook endpoints, told only if it is new.
        endpoints: Vec<String>,
    },
    Status {
        workspace_id: String,
        phone_number_id: String,
        scope: ContactScope,
        update: StatusUpdate,
        rank: i64,
        endpoints: Vec<String>,
    },
    /// A change for a number no workspace has connected (yet).
    Unrouted {
        change_index: i64,
        phone_number_id: Option<String>,
        waba_id: String,
        field: String,
        value: String,
        received_at: i64,
    },
    /// A chunk of a coexistence number's chat history: stored once, as
    /// imported, never answered nor announced.
    HistoryChunk {
        number: NumberRoute,
        phase: i64,
        chunk_order: i64,
        progress: Option<i64>,
        messages: Vec<AppMessage>,
        received_at: i64,
    },
    /// The business turned history sharing off (shown once).
    HistoryDeclined {
        number: NumberRoute,
    },
    /// The business wrote from the WhatsApp Business app: the message joins
    /// its thread and the bot keeps quiet for that customer for `quiet_ms`.
    Echo {
        number: NumberRoute,
        message: AppMessage,
        quiet_ms: i64,
        received_at: i64,
    },
    /// Names the business saved in the app for its customers.
    SavedNames {
        number: NumberRoute,
        contacts: Vec<SavedContact>,
    },
    /// `ACCOUNT_OFFBOARDED`: the number's sends wait (`None`: every
    /// Business app number of the WABA).
    Offboarded {
        waba: WabaRoute,
        phone_number_id: Option<String>,
    },
    /// `ACCOUNT_RECONNECTED`: checked with Meta, then live again.
    Reconnected {
        waba: WabaRoute,
        phone_number_id: Option<String>,
    },
    /// `PARTNER_REMOVED`: the connection ended; the numbers are
    /// disconnected and their tokens dropped.
    PartnerRemoved {
        waba: WabaRoute,
        disconnection: Disconnection,
    },
    /// Any field other than messages, kept as received.
    Account {
        change_index: i64,
        workspace_id: Option<String>,
        waba_id: String,
        field: String,
        value: String,
        at: i64,
    },
    /// Errors Meta reports for the number as a whole (no message or
    /// status attached): kept and shown on the number.
    NumberErrors {
        workspace_id: String,
        phone_number_id: String,
        errors: Vec<MetaError>,
        received_at: i64,
    },
    Quality {
        waba_id: String,
        display_phone_number: String,
        rating: String,
    },
    /// Meta raised the number's throughput: the outbox sends at the new
    /// rate from its next batch.
    ThroughputRaised {
        waba_id: String,
        display_phone_number: String,
        rate: i64,
    },
    /// Meta changed a template's quality score or category: the stored
    /// template changes at once.
    TemplateChanged {
        waba_id: String,
        template_id: String,
        name: String,
        language: String,
        quality: Option<String>,
        category: Option<String>,
    },
    /// The business removed the app (or the partner): the WABA's numbers
    /// must be reconnected before they can send again.
    AppRemoved {
        waba_id: String,
        reason: String,
    },
    /// Meta restricted kinds of the WABA's sends, each until its end.
    Restricted {
        waba: WabaRoute,
        restrictions: Vec<Restriction>,
        /// When Meta made it (the entry's time).
        at: Option<i64>,
    },
    /// `DISABLED_UPDATE`: the WABA's numbers stop or send again. `at`:
    /// when Meta made it, so a late copy of an older one changes nothing.
    Ban {
        waba: WabaRoute,
        ban: Ban,
        at: Option<i64>,
    },
    /// `ACCOUNT_VIOLATION`: shown and audited.
    Violation {
        waba: WabaRoute,
        violation: Violation,
    },
    /// `PARTNER_ADDED` / `PARTNER_APP_INSTALLED`: the share is confirmed.
    Granted {
        waba: WabaRoute,
        event: String,
    },
    PricingTier {
        waba: WabaRoute,
        tier: PricingTier,
    },
    /// The portfolio's limits (`business_capability_update`, or a quality
    /// update naming the messaging limit).
    Limits {
        waba: WabaRoute,
        messaging_limit: Option<String>,
        max_phone_numbers: Option<i64>,
    },
    /// Meta decided on a number's display name.
    NameDecision {
        waba: WabaRoute,
        display_phone_number: String,
        decision: String,
        requested_name: Option<String>,
        rejection_reason: Option<String>,
    },
    /// Something about the number changed: read it from Meta soon (its
    /// quality rating is not in the webhook).
    ProbeNumber {
        waba_id: String,
        display_phone_number: String,
    },
    /// Meta reviewed, paused or disabled a template: its stored status
    /// changes at once (`status` is `None` for events that change none)
    /// and the WABA's templates are read again from Meta.
    TemplateStatus {
        waba_id: String,
        template_id: String,
        name: String,
        language: String,
        status: Option<String>,
        reason: Option<String>,
    },
}

impl Op {
    /// About how many rows applying it writes (to size transactions).
    pub fn writes(&self) -> usize {
        match self {
            Self::HistoryChunk { messages, .. } => 1 + messages.len(),
            Self::SavedNames { contacts, .. } => 1 + contacts.len(),
            _ => 1,
        }
    }
}

/// A WABA an account event is about, and the workspace whose numbers it
/// holds (`None` while none is connected: the notice is kept, nobody is
/// told).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WabaRoute {
    pub waba_id: String,
    pub workspace_id: Option<String>,
}

/// Where things go: the workspace of a connected number or WABA.
pub trait Routes {
    fn route_of_number(&self, phone_number_id: &str) -> Option<NumberRoute>;
    fn workspace_of_waba(&self, waba_id: &str) -> Option<String>;
    /// What the workspace's bot answers to a message.
    fn replies(&self, _workspace_id: &str, _message: &InboundMessage) -> Vec<Content> {
        Vec::new()
    }
    /// The workspace's webhook endpoints.
    fn endpoints(&self, _workspace_id: &str) -> Vec<String> {
        Vec::new()
    }
    /// How long the bot keeps quiet for a customer a person answered from
    /// the WhatsApp Business app.
    fn quiet_after_app_ms(&self, _workspace_id: &str) -> i64 {
        crate::bot::DEFAULT_QUIET_AFTER_APP_MINUTES * 60_000
    }
}

/// The phone number ids an envelope's changes mention.
pub fn mentioned_numbers(envelope: &Envelope) -> Vec<String> {
    let mut ids: Vec<String> = envelope
        .entry
        .iter()
        .flat_map(|entry| &entry.changes)
        .filter_map(Change::phone_number_id)
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

pub fn plan(envelope: &Envelope, routes: &impl Routes, received_at: i64) -> Vec<Op> {
    let mut ops = Vec::new();
    let changes = envelope
        .entry
        .iter()
        .flat_map(|entry| entry.changes.iter().map(move |change| (entry, change)));
    // Numbered from 1 across the whole body: the key of what is kept.
    for (change_index, (entry, change)) in (1_i64..).zip(changes) {
        match change {
            Change::Messages(messages) => match messages
                .phone_number_id
                .as_deref()
                .and_then(|p| routes.route_of_number(p))
            {
                Some(route) => {
                    plan_messages(&mut ops, messages, &route, routes, received_at);
                    if !messages.errors.is_empty() {
                        ops.push(Op::NumberErrors {
                            workspace_id: route.workspace_id.clone(),
                            phone_number_id: route.phone_number_id.clone(),
                            errors: messages.errors.clone(),
                            received_at,
                        });
                    }
                }
                None => ops.push(unrouted(change_index, entry, change, received_at)),
            },
            Change::History(_) | Change::MessageEchoes(_) | Change::AppStateSync(_) => match change
                .phone_number_id()
                .and_then(|p| routes.route_of_number(&p))
            {
                Some(route) => plan_business_app(&mut ops, change, route, routes, received_at),
                None => ops.push(unrouted(change_index, entry, change, received_at)),
            },
            _ => {
                ops.extend(effects_of(entry, change, routes));
                ops.push(Op::Account {
                    change_index,
                    workspace_id: routes.workspace_of_waba(&entry.id),
                    waba_id: entry.id.clone(),
                    field: change.field().to_string(),
                    value: change.raw().to_string(),
                    at: received_at,
                });
            }
        }
    }
    ops
}

/// A change for a number no workspace has connected (yet): kept, and
/// applied once it is.
fn unrouted(change_index: i64, entry: &payload::Entry, change: &Change, received_at: i64) -> Op {
    Op::Unrouted {
        change_index,
        phone_number_id: change.phone_number_id(),
        waba_id: entry.id.clone(),
        field: change.field().to_string(),
        value: change.raw().to_string(),
        received_at,
    }
}

/// The WhatsApp Business app's fields for a connected number.
fn plan_business_app(
    ops: &mut Vec<Op>,
    change: &Change,
    number: NumberRoute,
    routes: &impl Routes,
    received_at: i64,
) {
    match change {
        Change::History(history) => {
            if history.declined() {
                ops.push(Op::HistoryDeclined {
                    number: number.clone(),
                });
            }
            for chunk in &history.chunks {
                ops.push(Op::HistoryChunk {
                    number: number.clone(),
                    phase: chunk.phase,
                    chunk_order: chunk.chunk_order,
                    progress: chunk.progress,
                    messages: chunk.messages.clone(),
                    received_at,
                });
            }
        }
        Change::MessageEchoes(echoes) => {
            let quiet_ms = routes.quiet_after_app_ms(&number.workspace_id);
            for message in &echoes.messages {
                ops.push(Op::Echo {
                    number: number.clone(),
                    message: message.clone(),
                    quiet_ms,
                    received_at,
                });
            }
        }
        Change::AppStateSync(sync) => ops.push(Op::SavedNames {
            number,
            contacts: sync.contacts.clone(),
        }),
        _ => {}
    }
}

/// The messages and statuses of a routed `messages` change.
fn plan_messages(
    ops: &mut Vec<Op>,
    messages: &Messages,
    route: &NumberRoute,
    routes: &impl Routes,
    received_at: i64,
) {
    let (workspace_id, phone_number_id) =
        (route.workspace_id.as_str(), route.phone_number_id.as_str());
    for message in &messages.messages {
        let message = message.clone().received(received_at);
        ops.push(Op::Inbound {
            replies: routes.replies(workspace_id, &message),
            endpoints: routes.endpoints(workspace_id),
            workspace_id: workspace_id.to_string(),
            phone_number_id: phone_number_id.to_string(),
            scope: route.contact_scope.clone(),
            message,
        });
    }
    for status in &messages.statuses {
        let update = status.clone().received(received_at);
        ops.push(Op::Status {
            workspace_id: workspace_id.to_string(),
            endpoints: routes.endpoints(workspace_id),
            phone_number_id: phone_number_id.to_string(),
            scope: route.contact_scope.clone(),
            rank: payload::status_rank(&update.status),
            update,
        });
    }
}

/// What an account field does besides being kept (`entry_id` is the
/// entry's id, the WABA unless the value names another).
fn effects_of(entry: &payload::Entry, change: &Change, routes: &impl Routes) -> Vec<Op> {
    let entry_id = entry.id.as_str();
    let waba_id = entry_id.to_string();
    let route = |waba_id: &str| WabaRoute {
        waba_id: waba_id.to_string(),
        workspace_id: routes.workspace_of_waba(waba_id),
    };
    match change {
        Change::QualityUpdate(update) => {
            let Some(display) = update.display_phone_number.clone() else {
                return Vec::new();
            };
            let mut ops = vec![Op::ProbeNumber {
                waba_id: waba_id.clone(),
                display_phone_number: display.clone(),
            }];
            if let Some(rate) = update.throughput {
                ops.push(Op::ThroughputRaised {
                    waba_id: waba_id.clone(),
                    display_phone_number: display.clone(),
                    rate,
                });
            }
            if let Some(rating) = update.rating.clone() {
                ops.push(Op::Quality {
                    waba_id: waba_id.clone(),
                    display_phone_number: display,
                    rating,
                });
            }
            if update.messaging_limit.is_some() {
                ops.push(Op::Limits {
                    waba: route(&waba_id),
                    messaging_limit: update.messaging_limit.clone(),
                    max_phone_numbers: None,
                });
            }
            ops
        }
        Change::TemplateStatusUpdate(update) => vec![Op::TemplateStatus {
            waba_id,
            template_id: update.template_id.clone(),
            name: update.name.clone(),
            language: update.language.clone(),
            status: update.status.clone(),
            reason: update.reason.clone(),
        }],
        Change::TemplateQualityUpdate(update) | Change::TemplateCategoryUpdate(update) => {
            vec![Op::TemplateChanged {
                waba_id,
                template_id: update.template_id.clone(),
                name: update.name.clone(),
                language: update.language.clone(),
                quality: update.quality.clone(),
                category: update.category.clone(),
            }]
        }
        Change::AccountUpdate(update) => {
            let waba = route(update.waba_id.as_deref().unwrap_or(entry_id));
            let op = match &update.event {
                AccountEvent::Removed(removal) => Op::AppRemoved {
                    waba_id: waba.waba_id,
                    reason: removal_reason(removal),
                },
                AccountEvent::Restricted(restrictions) => Op::Restricted {
                    waba,
                    restrictions: restrictions.clone(),
                    at: entry.time,
                },
                AccountEvent::Ban(ban) => Op::Ban {
                    waba,
                    ban: ban.clone(),
                    at: entry.time,
                },
                AccountEvent::Violation(violation) => Op::Violation {
                    waba,
                    violation: violation.clone(),
                },
                AccountEvent::Granted { event } => Op::Granted {
                    waba,
                    event: event.clone(),
                },
                AccountEvent::PricingTier(tier) => Op::PricingTier {
                    waba,
                    tier: tier.clone(),
                },
                AccountEvent::Offboarded { phone_number_id } => Op::Offboarded {
                    waba,
                    phone_number_id: phone_number_id.clone(),
                },
                AccountEvent::Reconnected { phone_number_id } => Op::Reconnected {
                    waba,
                    phone_number_id: phone_number_id.clone(),
                },
                AccountEvent::PartnerRemoved(disconnection) => Op::PartnerRemoved {
                    waba,
                    disconnection: disconnection.clone(),
                },
                AccountEvent::Other { .. } => return Vec::new(),
            };
            vec![op]
        }
        Change::CapabilityUpdate(update) => vec![Op::Limits {
            waba: route(&waba_id),
            messaging_limit: update.messaging_limit.clone(),
            max_phone_numbers: update.max_phone_numbers_per_business,
        }],
        Change::NameUpdate(update) => match (&update.display_phone_number, &update.decision) {
            (Some(display), Some(decision)) => vec![Op::NameDecision {
                waba: route(&waba_id),
                display_phone_number: display.clone(),
                decision: decision.clone(),
                requested_name: update.requested_verified_name.clone(),
                rejection_reason: update.rejection_reason.clone(),
            }],
            _ => Vec::new(),
        },
        Change::Messages(_)
        | Change::History(_)
        | Change::MessageEchoes(_)
        | Change::AppStateSync(_)
        | Change::Other { .. } => Vec::new(),
    }
}

/// Why the numbers wait for a reconnection, in the admins' words.
fn removal_reason(removal: &Removal) -> String {
    let detail = removal
        .reason
        .as_ref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    format!(
        "Meta reports {}{detail}: the business removed access; connect WhatsApp again",
        removal.event
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Known;
    impl Routes for Known {
        fn route_of_number(&self, id: &str) -> Option<NumberRoute> {
            (id == "111").then(|| NumberRoute {
                phone_number_id: id.to_string(),
                workspace_id: "ws".to_string(),
                contact_scope: ContactScope::of(None, "waba"),
            })
        }
        fn workspace_of_waba(&self, id: &str) -> Option<String> {
            (id == "waba").then(|| "ws".to_string())
        }
    }

    #[test]
    fn every_change_is_planned_and_unknown_numbers_are_kept() {
        let body = json!({ "object": "whatsapp_business_account", "entry": [{ "id": "waba", "changes": [
            { "field": "messages", "value": { "metadata": { "phone_number_id": "111" },
                "messages": [{ "from": "1", "id": "wamid.1", "type": "text", "text": { "body": "a" } },
                             { "from": "1", "id": "wamid.2", "type": "text", "text": { "body": "b" } }],
                "statuses": [{ "id": "wamid.9", "status": "read", "timestamp": "1" }] } },
            { "field": "messages", "value": { "metadata": { "phone_number_id": "999" }, "messages": [] } },
            { "field": "phone_number_quality_update", "value": { "display_phone_number": "1555", "event": "FLAGGED" } },
        ]}]});
        let envelope = payload::parse(body.to_string().as_bytes()).unwrap();
        let ops = plan(&envelope, &Known, 0);
        let inbound = ops
            .iter()
            .filter(|op| matches!(op, Op::Inbound { .. }))
            .count();
        let statuses = ops
            .iter()
            .filter(|op| matches!(op, Op::Status { rank: 3, .. }))
            .count();
        let unrouted = ops
            .iter()
            .filter(|op| matches!(op, Op::Unrouted { phone_number_id: Some(p), .. } if p == "999"))
            .count();
        let quality = ops
            .iter()
            .filter(|op| matches!(op, Op::Quality { rating, .. } if rating == "RED"))
            .count();
        let account = ops
            .iter()
            .filter(|op| {
                matches!(
                    op,
                    Op::Account {
                        workspace_id: Some(_),
                        ..
                    }
                )
            })
            .count();
        assert_eq!(
            (inbound, statuses, unrouted, quality, account),
            (2, 1, 1, 1, 1)
        );
        assert_eq!(mentioned_numbers(&envelope), ["111", "999"]);
    }

    #[test]
    fn account_fields_are_kept_as_received_and_the_known_ones_act() {
        let removed = json!({ "event": "PARTNER_APP_UNINSTALLED", "waba_info": { "waba_id": 77 },
            "disconnection_info": { "reason": "USER_ACTION" } });
        let template =
            json!({ "event": "APPROVED", "message_template_id": 5, "message_template_name": "hi" });
        let echoes = json!({ "metadata": { "phone_number_id": "111" }, "message_echoes": [{ "id": "wamid.E" }] });
        let body = json!({ "object": "whatsapp_business_account", "entry": [
            { "id": "waba", "changes": [
                { "field": "account_update", "value": removed },
                { "field": "message_template_status_update", "value": template },
            ] },
            { "id": "biz", "changes": [{ "field": "smb_future_field", "value": echoes }] },
        ]});
        let envelope = payload::parse(body.to_string().as_bytes()).unwrap();
        let ops = plan(&envelope, &Known, 7);
        assert!(
            matches!(&ops[0], Op::AppRemoved { waba_id, reason } if waba_id == "77"
            && reason == "Meta reports PARTNER_APP_UNINSTALLED (USER_ACTION): the business removed access; connect WhatsApp again")
        );
        assert!(
            matches!(&ops[2], Op::TemplateStatus { template_id, name, status: Some(status), .. }
            if template_id == "5" && name == "hi" && status == "APPROVED")
        );
        let kept: Vec<(i64, Option<&str>, &str, &str, &str)> = ops
            .iter()
            .filter_map(|op| match op {
                Op::Account {
                    change_index,
                    workspace_id,
                    waba_id,
                    field,
                    value,
                    at: 7,
                } => Some((
                    *change_index,
                    workspace_id.as_deref(),
                    waba_id.as_str(),
                    field.as_str(),
                    value.as_str(),
                )),
                _ => None,
            })
            .collect();
        let (removed, template, echoes) = (
            removed.to_string(),
            template.to_string(),
            echoes.to_string(),
        );
        assert_eq!(
            kept,
            [
                (1, Some("ws"), "waba", "account_update", removed.as_str()),
                (
                    2,
                    Some("ws"),
                    "waba",
                    "message_template_status_update",
                    template.as_str()
                ),
                (3, None, "biz", "smb_future_field", echoes.as_str()),
            ]
        );
        assert_eq!(ops.len(), 5);
        // An unknown field's number still counts as mentioned.
        assert_eq!(mentioned_numbers(&envelope), ["111"]);
    }

    #[test]
    fn messages_keep_their_objects_and_date_from_the_event_without_a_timestamp() {
        let message = json!({ "from_user_id": "US.1", "id": 12345, "type": "text", "text": { "body": "a" }, "new_field": [1] });
        let unrouted = json!({ "metadata": { "phone_number_id": 999 }, "messages": [message] });
        let body = json!({ "object": "whatsapp_business_account", "entry": [{ "id": "waba", "changes": [
            { "field": "messages", "value": { "metadata": { "phone_number_id": 111 }, "messages": [message],
                "statuses": [{ "id": "wamid.9", "status": "sent" }] } },
            { "field": "messages", "value": unrouted },
        ]}]});
        let envelope = payload::parse(body.to_string().as_bytes()).unwrap();
        let ops = plan(&envelope, &Known, 7);
        let unrouted = unrouted.to_string();
        let Op::Inbound {
            message: inbound,
            phone_number_id,
            ..
        } = &ops[0]
        else {
            panic!("{:?}", ops[0]);
        };
        assert_eq!(phone_number_id, "111");
        assert_eq!(
            (
                inbound.wamid.as_str(),
                inbound.customer.as_str(),
                inbound.sent_at
            ),
            ("12345", "US.1", 7)
        );
        assert_eq!(inbound.payload.to_string(), message.to_string());
        assert!(matches!(&ops[1], Op::Status { update, rank: 1, .. } if update.at == 7));
        assert!(
            matches!(&ops[2], Op::Unrouted { change_index: 2, phone_number_id: Some(p), field, value, received_at: 7, .. }
            if p == "999" && field == "messages" && *value == unrouted)
        );
        assert_eq!(ops.len(), 3);
    }
}
