//! Meta's webhook envelope, read tolerantly: every entry and change, both
//! the older payloads and those with the newer user-id fields, unknown
//! message types and unknown fields. Nothing here trusts a field to exist.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
pub struct Envelope {
    pub object: String,
    #[serde(default)]
    pub entry: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
pub struct Entry {
    /// The WABA id (or, for some account fields, the business id).
    #[serde(default, deserialize_with = "string_or_number")]
    pub id: String,
    #[serde(default)]
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Change {
    #[serde(default)]
    pub field: String,
    #[serde(default)]
    pub value: Value,
}

/// Why a signed body cannot be processed (it is kept, marked rejected).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("the object is `{0}`, not whatsapp_business_account")]
    WrongObject(String),
}

pub fn parse(body: &[u8]) -> Result<Envelope, Rejection> {
    let envelope: Envelope =
        serde_json::from_slice(body).map_err(|e| Rejection::NotJson(e.to_string()))?;
    if envelope.object != "whatsapp_business_account" {
        return Err(Rejection::WrongObject(envelope.object));
    }
    Ok(envelope)
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(text(&Value::deserialize(deserializer)?).unwrap_or_default())
}

/// A string, or a number written as one (Meta sends ids and timestamps as
/// strings, but not every payload does).
pub fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Meta's Unix-seconds timestamps, as milliseconds.
fn millis(value: &Value, fallback: i64) -> i64 {
    text(value)
        .and_then(|t| t.parse::<i64>().ok())
        .map(|secs| secs * 1000)
        .unwrap_or(fallback)
}

/// The number a `messages` change concerns.
pub fn phone_number_id(value: &Value) -> Option<String> {
    text(&value["metadata"]["phone_number_id"])
}

#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    pub wamid: String,
    /// `from`, or the newer `from_user_id` when the phone number is hidden.
    pub customer: String,
    pub customer_name: Option<String>,
    pub kind: String,
    pub summary: String,
    pub sent_at: i64,
    pub payload: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    pub wamid: String,
    pub status: String,
    pub recipient: Option<String>,
    pub at: i64,
    pub error_code: Option<i64>,
    pub error_title: Option<String>,
    pub error_details: Option<String>,
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

/// The inbound messages of a `messages` change, every one of them.
pub fn inbound_messages(value: &Value, received_at: i64) -> Vec<InboundMessage> {
    let contacts = value["contacts"].as_array().cloned().unwrap_or_default();
    let name_of = |customer: &str| {
        contacts
            .iter()
            .find(|c| {
                text(&c["wa_id"]).as_deref() == Some(customer)
                    || text(&c["user_id"]).as_deref() == Some(customer)
            })
            .and_then(|c| c["profile"]["name"].as_str().map(str::to_string))
    };
    value["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|message| {
            let wamid = text(&message["id"])?;
            let customer = text(&message["from"]).or_else(|| text(&message["from_user_id"]))?;
            let kind = message["type"].as_str().unwrap_or("unknown").to_string();
            Some(InboundMessage {
                customer_name: name_of(&customer),
                summary: summary(&kind, message),
                sent_at: millis(&message["timestamp"], received_at),
                wamid,
                customer,
                kind,
                payload: message.clone(),
            })
        })
        .collect()
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
        "unsupported" | "unknown" => "[a message type WhatsApp does not support here]".into(),
        other => format!("[{other}]"),
    }
}

/// The statuses of a `messages` change, every one of them.
pub fn statuses(value: &Value, received_at: i64) -> Vec<StatusUpdate> {
    value["statuses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|status| {
            let error = &status["errors"][0];
            Some(StatusUpdate {
                wamid: text(&status["id"])?,
                status: status["status"].as_str()?.to_string(),
                recipient: text(&status["recipient_id"])
                    .or_else(|| text(&status["recipient_user_id"])),
                at: millis(&status["timestamp"], received_at),
                error_code: error["code"].as_i64(),
                error_title: error["title"].as_str().map(str::to_string),
                error_details: error["error_data"]["details"]
                    .as_str()
                    .or_else(|| error["message"].as_str())
                    .map(str::to_string),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_entry_and_change_is_read() {
        let body = json!({ "object": "whatsapp_business_account", "entry": [
            { "id": "1", "changes": [{ "field": "messages", "value": {} }, { "field": "account_update", "value": {} }] },
            { "id": 2, "changes": [{ "field": "messages", "value": {}, "unknown": true }] },
        ]});
        let envelope = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(envelope.entry.len(), 2);
        assert_eq!(envelope.entry[0].changes.len(), 2);
        assert_eq!(envelope.entry[1].id, "2");
    }

    #[test]
    fn other_objects_and_non_json_are_rejected_with_a_reason() {
        assert!(matches!(parse(b"not json"), Err(Rejection::NotJson(_))));
        let page = json!({ "object": "page", "entry": [] }).to_string();
        assert_eq!(
            parse(page.as_bytes()).unwrap_err(),
            Rejection::WrongObject("page".into())
        );
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
}
