//! A `messages` change: the customers' messages, the statuses of the
//! messages sent to them, and the errors Meta reports for the change.
//! Each message or status without the ids it needs is skipped; the rest of
//! the change is still read.

use serde_json::Value;

use super::{
    change::metadata_number,
    identity::{Identity, IdentityChange},
    scalar,
};

#[derive(Debug, Clone, PartialEq)]
pub struct Messages {
    /// The number the change concerns.
    pub phone_number_id: Option<String>,
    pub messages: Vec<Message>,
    pub statuses: Vec<Status>,
    /// Errors about the change as a whole (not about one message).
    pub errors: Vec<MetaError>,
    /// The value as received.
    pub raw: Value,
}

/// A customer's message as Meta sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub wamid: String,
    /// `from`, or the newer `from_user_id` when the phone number is hidden.
    pub customer: String,
    /// The profile name of the change's contact with that phone or user id.
    pub customer_name: Option<String>,
    /// Who the customer is, as far as this message shows.
    pub identity: Identity,
    /// The customer moved to a new phone or BSUID (a system message).
    pub identity_change: Option<IdentityChange>,
    /// Meta's `type`; types Switchboard does not know are kept as named.
    pub kind: String,
    pub summary: String,
    /// Unix ms, when Meta says.
    pub sent_at: Option<i64>,
    /// The message object as received: what the store keeps.
    pub raw: Value,
}

/// A status of a message sent to a customer, as Meta sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub wamid: String,
    pub status: String,
    /// `recipient_id`, or the newer `recipient_user_id`.
    pub recipient: Option<String>,
    /// Who received it, as far as this status shows.
    pub identity: Identity,
    /// Unix ms, when Meta says.
    pub at: Option<i64>,
    /// The first of its errors (a failed status carries one).
    pub error: Option<MetaError>,
    /// `biz_opaque_callback_data`: what the send carried, echoed.
    pub callback_data: Option<String>,
    /// What Meta charges for the message (absent on failed statuses).
    pub pricing: Option<Pricing>,
}

/// A status's `pricing` object (reference meta-2026 §4), read tolerantly:
/// any field may be absent (old payloads lack `type`, `billable` is
/// deprecated), and values nobody has listed yet are kept as named. `raw`
/// is the object as received.
#[derive(Debug, Clone, PartialEq)]
pub struct Pricing {
    pub pricing_model: Option<String>,
    pub billable: Option<bool>,
    /// `regular`, `free_customer_service`, `free_entry_point`...
    pub kind: Option<String>,
    /// `marketing`, `utility`, `authentication`, `service`...
    pub category: Option<String>,
    pub raw: Value,
}

impl Pricing {
    fn read(pricing: &Value) -> Option<Self> {
        pricing.is_object().then(|| Self {
            category: scalar::string(&pricing["category"]).filter(|c| !c.is_empty()),
            pricing_model: scalar::string(&pricing["pricing_model"]),
            billable: pricing["billable"].as_bool(),
            kind: scalar::string(&pricing["type"]).filter(|t| !t.is_empty()),
            raw: pricing.clone(),
        })
    }

    /// Whether Meta charges the message: `billable` when given, else what
    /// the type says (`regular` is charged, `free_*` are not). With
    /// neither (no known payload), it counts as charged, so an estimate
    /// errs on the side of cost.
    pub fn is_billable(&self) -> bool {
        self.billable
            .or_else(|| self.kind.as_deref().map(|kind| kind == "regular"))
            .unwrap_or(true)
    }
}

/// An error Meta reports with a status or a change.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetaError {
    pub code: Option<i64>,
    pub title: Option<String>,
    /// `error_data.details`, or else `message`.
    pub details: Option<String>,
}

/// A customer's message as Switchboard records it.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    pub wamid: String,
    pub customer: String,
    pub customer_name: Option<String>,
    pub identity: Identity,
    pub identity_change: Option<IdentityChange>,
    pub kind: String,
    pub summary: String,
    pub sent_at: i64,
    pub payload: Value,
}

/// A status as Switchboard records it.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    pub wamid: String,
    pub status: String,
    pub recipient: Option<String>,
    pub identity: Identity,
    pub at: i64,
    pub error_code: Option<i64>,
    pub error_title: Option<String>,
    pub error_details: Option<String>,
    pub callback_data: Option<String>,
    pub pricing: Option<Pricing>,
}

impl Messages {
    pub fn read(value: Value) -> Self {
        let contacts = value["contacts"].as_array().map_or(&[][..], Vec::as_slice);
        let messages = items(&value["messages"])
            .filter_map(|message| Message::read(message, contacts))
            .collect();
        let statuses = items(&value["statuses"])
            .filter_map(|status| Status::read(status, contacts))
            .collect();
        Self {
            phone_number_id: metadata_number(&value),
            messages,
            statuses,
            errors: items(&value["errors"]).map(MetaError::read).collect(),
            raw: value,
        }
    }
}

/// The elements of an array; nothing for anything else.
fn items(value: &Value) -> impl Iterator<Item = &Value> {
    value.as_array().into_iter().flatten()
}

impl Message {
    fn read(message: &Value, contacts: &[Value]) -> Option<Self> {
        let wamid = scalar::text(&message["id"])?;
        let identity = Identity::of_message(message, contacts);
        let identity_change = IdentityChange::of_message(message);
        // Who it is from as Meta wrote it; a number change may carry only
        // the new ids.
        let customer = scalar::text(&message["from"])
            .or_else(|| scalar::text(&message["from_user_id"]))
            .or_else(|| {
                let change = identity_change.as_ref()?;
                change
                    .bsuid
                    .as_ref()
                    .map(|b| b.to_string())
                    .or_else(|| change.phone.clone())
            })?;
        if identity.is_empty() && identity_change.is_none() {
            return None; // neither a phone nor a BSUID: nobody to file it under
        }
        let kind = message["type"].as_str().unwrap_or("unknown").to_string();
        Some(Self {
            customer_name: name_of(contacts, &customer),
            identity,
            identity_change,
            summary: summary(&kind, message),
            sent_at: scalar::millis(&message["timestamp"]),
            wamid,
            customer,
            kind,
            raw: message.clone(),
        })
    }

    /// As recorded: a message without a timestamp was sent when its event
    /// was received.
    pub fn received(self, received_at: i64) -> InboundMessage {
        InboundMessage {
            wamid: self.wamid,
            customer: self.customer,
            customer_name: self.customer_name,
            identity: self.identity,
            identity_change: self.identity_change,
            kind: self.kind,
            summary: self.summary,
            sent_at: self.sent_at.unwrap_or(received_at),
            payload: self.raw,
        }
    }
}

/// The name of the first contact with that phone (`wa_id`) or user id.
fn name_of(contacts: &[Value], customer: &str) -> Option<String> {
    contacts
        .iter()
        .find(|c| {
            scalar::text(&c["wa_id"]).as_deref() == Some(customer)
                || scalar::text(&c["user_id"]).as_deref() == Some(customer)
        })
        .and_then(|c| scalar::string(&c["profile"]["name"]))
}

impl Status {
    fn read(status: &Value, contacts: &[Value]) -> Option<Self> {
        Some(Self {
            identity: Identity::of_status(status, contacts),
            wamid: scalar::text(&status["id"])?,
            status: scalar::string(&status["status"])?,
            recipient: scalar::text(&status["recipient_id"])
                .or_else(|| scalar::text(&status["recipient_user_id"])),
            at: scalar::millis(&status["timestamp"]),
            error: status["errors"].get(0).map(MetaError::read),
            callback_data: scalar::string(&status["biz_opaque_callback_data"]),
            pricing: Pricing::read(&status["pricing"]),
        })
    }

    /// As recorded: a status without a timestamp happened when its event
    /// was received.
    pub fn received(self, received_at: i64) -> StatusUpdate {
        let error = self.error.unwrap_or_default();
        StatusUpdate {
            wamid: self.wamid,
            status: self.status,
            recipient: self.recipient,
            identity: self.identity,
            at: self.at.unwrap_or(received_at),
            error_code: error.code,
            error_title: error.title,
            error_details: error.details,
            callback_data: self.callback_data,
            pricing: self.pricing,
        }
    }
}

impl MetaError {
    pub(super) fn read(error: &Value) -> Self {
        Self {
            code: error["code"].as_i64(),
            title: scalar::string(&error["title"]),
            details: scalar::string(&error["error_data"]["details"])
                .or_else(|| scalar::string(&error["message"])),
        }
    }
}

/// How far along a status is. Statuses only ever move to a higher rank;
/// `failed` is final and keeps its error.
pub fn status_rank(status: &str) -> i64 {
    match status {
        "sent" => 1,
        "delivered" => 2,
        "read" => 3,
        "played" => 4,
        "failed" => 10,
        _ => 0,
    }
}

/// A one-line description of a message for lists and threads.
pub fn summary(kind: &str, message: &Value) -> String {
    let field = |path: &str| {
        message
            .pointer(path)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let labelled = |label: &str, detail: Option<String>| match detail {
        Some(detail) if !detail.is_empty() => format!("[{label}] {detail}"),
        _ => format!("[{label}]"),
    };
    match kind {
        "text" => field("/text/body").unwrap_or_default(),
        "image" | "video" | "document" | "audio" | "sticker" => labelled(
            kind,
            field(&format!("/{kind}/caption")).or_else(|| field(&format!("/{kind}/filename"))),
        ),
        "location" => labelled(
            "location",
            field("/location/name").or_else(|| field("/location/address")),
        ),
        "contacts" => labelled("contact", field("/contacts/0/name/formatted_name")),
        "interactive" => field("/interactive/button_reply/title")
            .or_else(|| field("/interactive/list_reply/title"))
            .or_else(|| field("/interactive/nfm_reply/body"))
            .unwrap_or_else(|| "[interactive]".into()),
        "button" => field("/button/text").unwrap_or_else(|| "[button]".into()),
        "reaction" => labelled("reaction", field("/reaction/emoji")),
        "order" => labelled("order", field("/order/text")),
        "system" => labelled("system", field("/system/body")),
        "unsupported" | "unknown" => unsupported(field("/unsupported/type").as_deref()),
        other => format!("[{other}]"),
    }
}

/// What a customer tried to send that WhatsApp does not hand over
/// (reference meta-2026 §5: `unsupported.type`, which may be missing), and
/// what the agent can do about it.
fn unsupported(what: Option<&str>) -> String {
    let thing = match what {
        Some("poll_creation") => "a poll",
        Some("poll_update") => "a vote in a poll",
        Some("edit") => "an edit of an earlier message",
        Some("pin") => "a pinned message",
        Some("group_invite") => "a group invitation",
        Some("gif") => "a GIF",
        Some("keep_in_chat") => "a kept message",
        Some("link_preview") => "a link preview",
        Some("product") => "a product",
        Some("order") => "an order",
        Some("reaction") => "a reaction",
        Some("button" | "list" | "interactive") => "an interactive reply",
        Some("image") => "an image",
        Some("location") => "a location",
        Some("media_placeholder") => "a file that had not finished uploading",
        Some("hsm") => "a template message",
        _ => "a message",
    };
    format!("[unsupported] The customer sent {thing} that WhatsApp does not pass on here; ask them to send it again another way")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The messages of a change as recorded, received at `received_at`.
    fn inbound_messages(value: &Value, received_at: i64) -> Vec<InboundMessage> {
        Messages::read(value.clone())
            .messages
            .into_iter()
            .map(|message| message.received(received_at))
            .collect()
    }

    fn statuses(value: &Value, received_at: i64) -> Vec<StatusUpdate> {
        Messages::read(value.clone())
            .statuses
            .into_iter()
            .map(|status| status.received(received_at))
            .collect()
    }

    #[test]
    fn messages_accept_user_ids_and_unknown_types() {
        let value = json!({
            "contacts": [{ "profile": { "name": "Ana" }, "user_id": "US.13491208655302741918" }],
            "messages": [
                { "from_user_id": "US.13491208655302741918", "id": "wamid.A", "timestamp": "1700000000", "type": "text", "text": { "body": "hi" } },
                { "from": "16505551234", "id": "wamid.B", "timestamp": 1700000001, "type": "hologram", "hologram": {} },
                { "id": "wamid.no-sender", "type": "text" },
            ],
        });
        let messages = inbound_messages(&value, 5);
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].customer, "US.13491208655302741918");
        assert_eq!(messages[0].customer_name.as_deref(), Some("Ana"));
        assert_eq!(messages[0].sent_at, 1_700_000_000_000);
        assert_eq!(messages[1].summary, "[hologram]");
        assert_eq!(messages[1].sent_at, 1_700_000_001_000);
    }

    #[test]
    fn failed_statuses_keep_their_error() {
        let value = json!({ "statuses": [{ "id": "wamid.X", "status": "failed", "timestamp": "1", "recipient_id": "1650",
            "errors": [{ "code": 131047, "title": "Re-engagement message", "error_data": { "details": "More than 24 hours" } }] }] });
        let status = &statuses(&value, 0)[0];
        assert_eq!(status.error_code, Some(131047));
        assert_eq!(status.error_title.as_deref(), Some("Re-engagement message"));
        assert_eq!(status.error_details.as_deref(), Some("More than 24 hours"));
        assert!(status_rank("read") > status_rank("delivered"));
        assert!(status_rank("failed") > status_rank("read"));
    }

    #[test]
    fn a_bsuid_only_message_has_its_user_id_as_customer() {
        let value = json!({
            "metadata": { "phone_number_id": "111" },
            "contacts": [{ "profile": { "name": "Ana" }, "user_id": "US.1349" }],
            "messages": [{ "from_user_id": "US.1349", "id": "wamid.U", "timestamp": "1700000000", "type": "text", "text": { "body": "hi" } }],
            "statuses": [{ "id": "wamid.S", "status": "delivered", "timestamp": "1700000001", "recipient_user_id": "US.1349" }],
        });
        let change = Messages::read(value);
        let message = &change.messages[0];
        assert_eq!(message.customer, "US.1349");
        assert_eq!(message.customer_name.as_deref(), Some("Ana"));
        assert_eq!(message.summary, "hi");
        assert_eq!(change.statuses[0].recipient.as_deref(), Some("US.1349"));
    }

    #[test]
    fn ids_and_timestamps_may_be_numbers() {
        let value = json!({
            "metadata": { "phone_number_id": 106540352242922_u64 },
            "contacts": [{ "profile": { "name": "Sheena" }, "wa_id": 16505551234_u64 }],
            "messages": [{ "from": 16505551234_u64, "id": "wamid.N", "timestamp": 1700000000, "type": "text", "text": { "body": "x" } }],
            "statuses": [{ "id": "wamid.T", "status": "read", "timestamp": 1700000002, "recipient_id": 16505551234_u64 }],
        });
        let change = Messages::read(value);
        assert_eq!(change.phone_number_id.as_deref(), Some("106540352242922"));
        let message = &change.messages[0];
        assert_eq!(message.customer, "16505551234");
        assert_eq!(message.customer_name.as_deref(), Some("Sheena"));
        assert_eq!(message.sent_at, Some(1_700_000_000_000));
        let status = &change.statuses[0];
        assert_eq!(status.recipient.as_deref(), Some("16505551234"));
        assert_eq!(status.at, Some(1_700_000_002_000));
    }

    #[test]
    fn every_message_and_status_of_a_change_is_read_in_order() {
        let messages: Vec<Value> = (1..=3)
            .map(|i| json!({ "from": "1650", "id": format!("wamid.M{i}"), "timestamp": "1", "type": "image", "image": { "id": "m", "caption": format!("c{i}") } }))
            .collect();
        let value = json!({
            "metadata": { "phone_number_id": "111" },
            "messages": messages,
            "statuses": [
                { "id": "wamid.S1", "status": "sent", "timestamp": "2" },
                { "id": "wamid.S1", "status": "delivered" },
                { "id": "wamid.no-status" },
                { "id": "wamid.S2", "status": "failed", "errors": [{ "code": 131026, "message": "Receiver is incapable" }] },
            ],
        });
        let change = Messages::read(value.clone());
        let wamids: Vec<&str> = change.messages.iter().map(|m| m.wamid.as_str()).collect();
        assert_eq!(wamids, ["wamid.M1", "wamid.M2", "wamid.M3"]);
        assert_eq!(change.messages[2].summary, "[image] c3");
        assert_eq!(change.messages[0].raw, value["messages"][0]);
        let read: Vec<(&str, &str)> = change
            .statuses
            .iter()
            .map(|s| (s.wamid.as_str(), s.status.as_str()))
            .collect();
        assert_eq!(
            read,
            [
                ("wamid.S1", "sent"),
                ("wamid.S1", "delivered"),
                ("wamid.S2", "failed")
            ]
        );
        // Without a timestamp, a status happened when its event arrived.
        assert_eq!(change.statuses[1].clone().received(42).at, 42);
        assert_eq!(
            change.statuses[2].error,
            Some(MetaError {
                code: Some(131026),
                title: None,
                details: Some("Receiver is incapable".into()),
            })
        );
        assert_eq!(change.raw, value);
    }

    #[test]
    fn pricing_is_read_tolerantly_and_kept_verbatim() {
        let value = json!({ "statuses": [
            { "id": "wamid.P1", "status": "delivered", "timestamp": "1",
              "pricing": { "billable": false, "pricing_model": "PMP", "type": "free_entry_point", "category": "referral_conversion", "extra": 1 } },
            { "id": "wamid.P2", "status": "sent", "pricing": { "pricing_model": "PMP", "type": "regular", "category": "marketing_lite" } },
            { "id": "wamid.P3", "status": "sent", "pricing": { "billable": true, "pricing_model": "CBP", "category": "utility" } },
            { "id": "wamid.P4", "status": "sent", "pricing": { "pricing_model": "PMP", "type": "free_customer_service" } },
            { "id": "wamid.P5", "status": "failed", "pricing": "none" },
        ] });
        let priced: Vec<Option<Pricing>> =
            statuses(&value, 0).into_iter().map(|s| s.pricing).collect();
        let entry = priced[0].as_ref().unwrap();
        assert_eq!(entry.kind.as_deref(), Some("free_entry_point"));
        assert_eq!(entry.category.as_deref(), Some("referral_conversion"));
        assert!(!entry.is_billable());
        assert_eq!(entry.raw["extra"], 1, "kept verbatim");
        let lite = priced[1].as_ref().unwrap();
        assert_eq!(
            (lite.billable, lite.is_billable()),
            (None, true),
            "derived from the type"
        );
        let old = priced[2].as_ref().unwrap();
        assert_eq!((old.kind.as_deref(), old.is_billable()), (None, true));
        let bare = priced[3].as_ref().unwrap();
        assert_eq!(
            (bare.category.as_deref(), bare.is_billable()),
            (None, false)
        );
        assert_eq!(priced[4], None);
    }

    #[test]
    fn an_unsupported_message_says_what_the_customer_tried_to_send() {
        let edit = json!({ "type": "unsupported", "unsupported": { "type": "edit" } });
        assert_eq!(
            summary("unsupported", &edit),
            "[unsupported] The customer sent an edit of an earlier message that WhatsApp does not pass on here; ask them to send it again another way"
        );
        // The type may be missing, or one nobody has listed yet.
        for message in [
            json!({ "type": "unsupported" }),
            json!({ "unsupported": { "type": "hologram" } }),
        ] {
            assert!(summary("unsupported", &message).contains("The customer sent a message that"));
        }
    }

    #[test]
    fn errors_of_the_whole_change_are_read() {
        let value = json!({ "metadata": { "phone_number_id": "111" },
            "errors": [{ "code": 131051, "title": "Unsupported message type", "message": "Message type unknown",
                         "error_data": { "details": "Message type is currently not supported." } }] });
        let change = Messages::read(value);
        assert!(change.messages.is_empty() && change.statuses.is_empty());
        assert_eq!(
            change.errors,
            [MetaError {
                code: Some(131051),
                title: Some("Unsupported message type".into()),
                details: Some("Message type is currently not supported.".into()),
            }]
        );
    }

    #[test]
    fn a_change_of_the_wrong_shape_reads_as_empty() {
        let change = Messages::read(json!({ "messages": "none", "statuses": {}, "contacts": 3 }));
        assert_eq!(
            (
                change.phone_number_id,
                change.messages.len(),
                change.statuses.len()
            ),
            (None, 0, 0)
        );
        assert!(Messages::read(Value::Null).messages.is_empty());
    }
}
