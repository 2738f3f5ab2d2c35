//! Turns a parsed webhook into the operations that apply it, routing every
//! change to the workspace of its number. Pure: the store runs the plan.

use serde_json::Value;

use crate::{
    outbox::Content,
    webhook::payload::{self, Envelope, InboundMessage, StatusUpdate},
};

#[derive(Debug, Clone)]
pub enum Op {
    Inbound {
        workspace_id: String,
        phone_number_id: String,
        message: InboundMessage,
        /// The workspace's bot's answer, queued only if the message is new.
        replies: Vec<Content>,
        /// The workspace's webhook endpoints, told only if it is new.
        endpoints: Vec<String>,
    },
    Status {
        workspace_id: String,
        phone_number_id: String,
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
    /// Any field other than messages, kept as received.
    Account {
        change_index: i64,
        workspace_id: Option<String>,
        waba_id: String,
        field: String,
        value: String,
        at: i64,
    },
    Quality {
        waba_id: String,
        display_phone_number: String,
        rating: String,
    },
    /// The business removed the app (or the partner): the WABA's numbers
    /// must be reconnected before they can send again.
    AppRemoved { waba_id: String, reason: String },
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

/// What applying an event did.
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
}

/// Where things go: the workspace of a connected number or WABA.
pub trait Routes {
    fn workspace_of_number(&self, phone_number_id: &str) -> Option<String>;
    fn workspace_of_waba(&self, waba_id: &str) -> Option<String>;
    /// What the workspace's bot answers to a message.
    fn replies(&self, _workspace_id: &str, _message: &InboundMessage) -> Vec<Content> {
        Vec::new()
    }
    /// The workspace's webhook endpoints.
    fn endpoints(&self, _workspace_id: &str) -> Vec<String> {
        Vec::new()
    }
}

/// The phone number ids an envelope's `messages` changes mention.
pub fn mentioned_numbers(envelope: &Envelope) -> Vec<String> {
    let mut ids: Vec<String> = envelope
        .entry
        .iter()
        .flat_map(|entry| &entry.changes)
        .filter_map(|change| payload::phone_number_id(&change.value))
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

pub fn plan(envelope: &Envelope, routes: &impl Routes, received_at: i64) -> Vec<Op> {
    let mut ops = Vec::new();
    let mut change_index: i64 = 0;
    for entry in &envelope.entry {
        for change in &entry.changes {
            change_index += 1;
            let value = &change.value;
            if change.field == "messages" {
                let phone = payload::phone_number_id(value);
                match phone
                    .as_deref()
                    .and_then(|p| routes.workspace_of_number(p).map(|w| (p, w)))
                {
                    Some((phone_number_id, workspace_id)) => {
                        for message in payload::inbound_messages(value, received_at) {
                            ops.push(Op::Inbound {
                                replies: routes.replies(&workspace_id, &message),
                                endpoints: routes.endpoints(&workspace_id),
                                workspace_id: workspace_id.clone(),
                                phone_number_id: phone_number_id.to_string(),
                                message,
                            });
                        }
                        for update in payload::statuses(value, received_at) {
                            ops.push(Op::Status {
                                workspace_id: workspace_id.clone(),
                                endpoints: routes.endpoints(&workspace_id),
                                phone_number_id: phone_number_id.to_string(),
                                rank: payload::status_rank(&update.status),
                                update,
                            });
                        }
                    }
                    None => ops.push(Op::Unrouted {
                        change_index,
                        phone_number_id: phone,
                        waba_id: entry.id.clone(),
                        field: change.field.clone(),
                        value: value.to_string(),
                        received_at,
                    }),
                }
            } else {
                if change.field == "phone_number_quality_update" {
                    if let (Some(display), Some(rating)) = (
                        payload::text(&value["display_phone_number"]),
                        quality_of(value),
                    ) {
                        ops.push(Op::Quality {
                            waba_id: entry.id.clone(),
                            display_phone_number: display,
                            rating,
                        });
                    }
                }
                if change.field == "message_template_status_update" {
                    ops.push(template_status_of(&entry.id, value));
                }
                if change.field == "account_update" {
                    if let Some(reason) = removal_of(value) {
                        // Some account updates name the WABA in the value
                        // (the entry id may be a business portfolio).
                        let waba_id = payload::text(&value["waba_info"]["waba_id"])
                            .unwrap_or_else(|| entry.id.clone());
                        ops.push(Op::AppRemoved { waba_id, reason });
                    }
                }
                ops.push(Op::Account {
                    change_index,
                    workspace_id: routes.workspace_of_waba(&entry.id),
                    waba_id: entry.id.clone(),
                    field: change.field.clone(),
                    value: value.to_string(),
                    at: received_at,
                });
            }
        }
    }
    ops
}

/// A template status webhook, read tolerantly (the id is an integer in
/// Meta's examples, a string in some captures).
fn template_status_of(waba_id: &str, value: &Value) -> Op {
    let event = payload::text(&value["event"])
        .unwrap_or_default()
        .to_uppercase();
    let status = match event.as_str() {
        "APPROVED" | "REJECTED" | "PAUSED" | "DISABLED" | "PENDING" | "IN_APPEAL"
        | "PENDING_DELETION" | "DELETED" | "ARCHIVED" | "LIMIT_EXCEEDED" => Some(event.clone()),
        "REINSTATED" | "UNARCHIVED" => Some("APPROVED".to_string()),
        _ => None,
    };
    let reason = payload::text(&value["reason"])
        .or_else(|| payload::text(&value["rejection_info"]["reason"]))
        .filter(|r| !r.eq_ignore_ascii_case("NONE"));
    Op::TemplateStatus {
        waba_id: waba_id.to_string(),
        template_id: match &value["message_template_id"] {
            Value::Number(n) => n.to_string(),
            other => payload::text(other).unwrap_or_default(),
        },
        name: payload::text(&value["message_template_name"]).unwrap_or_default(),
        language: payload::text(&value["message_template_language"]).unwrap_or_default(),
        status,
        reason,
    }
}

/// Whether an `account_update` says the business removed the app, and why.
fn removal_of(value: &Value) -> Option<String> {
    let event = value["event"].as_str()?;
    if !matches!(
        event,
        "PARTNER_APP_UNINSTALLED" | "PARTNER_REMOVED" | "ACCOUNT_DELETED"
    ) {
        return None;
    }
    let detail = value["disconnection_info"]["reason"]
        .as_str()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    Some(format!(
        "Meta reports {event}{detail}: the business removed access; connect WhatsApp again"
    ))
}

/// A quality update's effect on the number's rating (FLAGGED is the one
/// event Meta documents clearly; the others are read as best we can).
fn quality_of(value: &Value) -> Option<String> {
    match value["event"].as_str()? {
        "FLAGGED" => Some("RED".into()),
        "UNFLAGGED" => Some("GREEN".into()),
        _ => value["current_quality_rating"].as_str().map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Known;
    impl Routes for Known {
        fn workspace_of_number(&self, id: &str) -> Option<String> {
            (id == "111").then(|| "ws".to_string())
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
    fn template_status_webhooks_are_read_tolerantly() {
        let read = |value: serde_json::Value| match template_status_of("waba", &value) {
            Op::TemplateStatus {
                template_id,
                status,
                reason,
                ..
            } => (template_id, status, reason),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            read(
                json!({ "event": "REJECTED", "message_template_id": 123, "reason": "INCORRECT_CATEGORY" })
            ),
            (
                "123".into(),
                Some("REJECTED".into()),
                Some("INCORRECT_CATEGORY".into())
            )
        );
        assert_eq!(
            read(json!({ "event": "approved", "message_template_id": "77", "reason": "NONE" })),
            ("77".into(), Some("APPROVED".into()), None)
        );
        assert_eq!(
            read(json!({ "event": "REINSTATED", "message_template_id": 5 })).1,
            Some("APPROVED".into())
        );
        // An event that changes no status still makes the WABA sync.
        assert_eq!(
            read(json!({ "event": "FLAGGED", "message_template_id": 5 })).1,
            None
        );
        assert_eq!(
            read(json!({ "event": "REJECTED", "message_template_id": 9, "rejection_info": { "reason": "SCAM" } })).2,
            Some("SCAM".into())
        );
    }
}
