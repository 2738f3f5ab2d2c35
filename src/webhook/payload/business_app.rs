//! The WhatsApp Business app's fields on a coexistence number (reference
//! meta-2026 §2): its chat history (`history`), what the business types in
//! the app (`smb_message_echoes`) and the app's contacts
//! (`smb_app_state_sync`). Each value is kept as received besides.

use serde_json::Value;

use super::{
    change::metadata_number,
    identity::{self, Identity},
    messages::{status_rank, summary, MetaError},
    scalar,
};
use crate::ids::Bsuid;

/// Meta's code for "the business turned history sharing off": final, the
/// history will never come.
pub const HISTORY_DECLINED: i64 = 2593109;

/// Which way an app message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The customer wrote to the business.
    FromCustomer,
    /// The business wrote from the app (or a companion device).
    FromBusiness,
}

/// One message of the app's chats: history, or an echo.
#[derive(Debug, Clone, PartialEq)]
pub struct AppMessage {
    pub wamid: String,
    /// The customer's phone (the thread's id), or their BSUID.
    pub customer: String,
    pub identity: Identity,
    pub direction: Direction,
    pub kind: String,
    pub summary: String,
    /// Unix ms; `None` when Meta gave none.
    pub sent_at: Option<i64>,
    /// What the app last knew of it (`history_context.status`), lower case.
    pub status: Option<String>,
    pub payload: Value,
}

impl AppMessage {
    /// The status's rank for a message the business sent, as receipts rank.
    pub fn status_rank(&self) -> i64 {
        self.status.as_deref().map_or(0, status_rank)
    }
}

/// One `history` webhook: chunks of the app's chats, or the refusal.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    pub phone_number_id: Option<String>,
    pub chunks: Vec<HistoryChunk>,
    /// Errors Meta put in place of history (2593109: sharing is off).
    pub errors: Vec<MetaError>,
    pub raw: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HistoryChunk {
    /// 0 = the last day, 1 = days 1 to 90, 2 = days 90 to 180.
    pub phase: i64,
    pub chunk_order: i64,
    /// 0 to 100.
    pub progress: Option<i64>,
    pub messages: Vec<AppMessage>,
}

impl History {
    pub fn read(value: Value) -> Self {
        let mut chunks = Vec::new();
        let mut errors = Vec::new();
        for item in items(&value["history"]) {
            errors.extend(items(&item["errors"]).map(MetaError::read));
            let threads: Vec<&Value> = items(&item["threads"]).collect();
            if threads.is_empty() && item["metadata"].is_null() {
                continue;
            }
            let metadata = &item["metadata"];
            let messages = threads
                .into_iter()
                .flat_map(|thread| {
                    let customer = scalar::text(&thread["id"]);
                    items(&thread["messages"])
                        .filter_map(move |m| AppMessage::of_history(m, customer.as_deref()))
                })
                .collect();
            chunks.push(HistoryChunk {
                phase: integer(&metadata["phase"]).unwrap_or(0),
                chunk_order: integer(&metadata["chunk_order"]).unwrap_or(0),
                progress: integer(&metadata["progress"]),
                messages,
            });
        }
        errors.extend(items(&value["errors"]).map(MetaError::read));
        Self {
            phone_number_id: metadata_number(&value),
            chunks,
            errors,
            raw: value,
        }
    }

    /// The business turned history sharing off.
    pub fn declined(&self) -> bool {
        self.errors
            .iter()
            .any(|error| error.code == Some(HISTORY_DECLINED))
    }
}

/// `smb_message_echoes`: what the business sent from the app.
#[derive(Debug, Clone, PartialEq)]
pub struct Echoes {
    pub phone_number_id: Option<String>,
    pub messages: Vec<AppMessage>,
    pub raw: Value,
}

impl Echoes {
    pub fn read(value: Value) -> Self {
        let messages = items(&value["message_echoes"])
            .filter_map(AppMessage::of_echo)
            .collect();
        Self {
            phone_number_id: metadata_number(&value),
            messages,
            raw: value,
        }
    }
}

/// What the app's address book says of a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedContact {
    /// Digits only.
    pub phone: String,
    /// `full_name`, else `first_name`; absent on removal.
    pub name: Option<String>,
    pub removed: bool,
    pub at: Option<i64>,
}

/// `smb_app_state_sync`: the app's contacts, first all, then each change.
#[derive(Debug, Clone, PartialEq)]
pub struct StateSync {
    pub phone_number_id: Option<String>,
    pub contacts: Vec<SavedContact>,
    pub raw: Value,
}

impl StateSync {
    pub fn read(value: Value) -> Self {
        let contacts = items(&value["state_sync"])
            .filter(|item| item["type"].as_str().is_none_or(|t| t == "contact"))
            .filter_map(|item| {
                let contact = &item["contact"];
                let phone = identity::phone_as_written(&contact["phone_number"])?;
                let name = scalar::string(&contact["full_name"])
                    .or_else(|| scalar::string(&contact["first_name"]))
                    .map(|n| n.trim().to_string())
                    .filter(|n| !n.is_empty());
                Some(SavedContact {
                    phone,
                    name,
                    removed: item["action"].as_str() == Some("remove"),
                    at: scalar::millis(&item["metadata"]["timestamp"]),
                })
            })
            .collect();
        Self {
            phone_number_id: metadata_number(&value),
            contacts,
            raw: value,
        }
    }
}

impl AppMessage {
    /// A history message of the thread with `customer` (the thread's id):
    /// from the customer when `from` is them, else from the business.
    fn of_history(message: &Value, customer: Option<&str>) -> Option<Self> {
        let from = scalar::text(&message["from"]);
        let customer = customer
            .map(str::to_string)
            .or_else(|| scalar::text(&message["to"]))?;
        let direction = if from.as_deref() == Some(customer.as_str()) {
            Direction::FromCustomer
        } else {
            Direction::FromBusiness
        };
        Self::read(message, customer, direction)
    }

    /// An echo: the business wrote to `to` (or `to_user_id`).
    fn of_echo(message: &Value) -> Option<Self> {
        let customer =
            scalar::text(&message["to"]).or_else(|| scalar::text(&message["to_user_id"]))?;
        Self::read(message, customer, Direction::FromBusiness)
    }

    fn read(message: &Value, customer: String, direction: Direction) -> Option<Self> {
        let wamid = scalar::text(&message["id"])?;
        let mut identity = Identity::default();
        if let Some(phone) = identity::phone(&Value::String(customer.clone())) {
            identity.phone = Some(phone);
        }
        identity.bsuid = scalar::text(&message["to_user_id"])
            .or_else(|| scalar::text(&message["from_user_id"]))
            .and_then(|t| Bsuid::parse(&t))
            .or_else(|| Bsuid::parse(&customer));
        if identity.is_empty() {
            return None; // nobody to file it under
        }
        let kind = message["type"].as_str().unwrap_or("unknown").to_string();
        Some(Self {
            summary: summary(&kind, message),
            sent_at: scalar::millis(&message["timestamp"]),
            status: scalar::string(&message["history_context"]["status"]).map(|s| s.to_lowercase()),
            wamid,
            customer,
            identity,
            direction,
            kind,
            payload: message.clone(),
        })
    }
}

fn items(value: &Value) -> impl Iterator<Item = &Value> {
    value.as_array().into_iter().flatten()
}

fn integer(value: &Value) -> Option<i64> {
    scalar::text(value).and_then(|t| t.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn history_chunks_are_read_with_both_directions_and_statuses() {
        let value = json!({
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550001111", "phone_number_id": "111" },
            "history": [{
                "metadata": { "phase": 1, "chunk_order": "3", "progress": 40 },
                "threads": [{ "id": "16505551234", "messages": [
                    { "from": "16505551234", "id": "wamid.A", "timestamp": "1700000000", "type": "text",
                      "text": { "body": "hello" }, "history_context": { "status": "READ" } },
                    { "from": "15550001111", "to": "16505551234", "id": "wamid.B", "timestamp": 1700000060,
                      "type": "text", "text": { "body": "hi!" }, "history_context": { "status": "DELIVERED" } },
                    { "from": "16505551234", "type": "text" }
                ]}]
            }]
        });
        let history = History::read(value.clone());
        assert_eq!(history.phone_number_id.as_deref(), Some("111"));
        assert!(!history.declined());
        let [chunk] = history.chunks.as_slice() else {
            panic!("one chunk")
        };
        assert_eq!(
            (chunk.phase, chunk.chunk_order, chunk.progress),
            (1, 3, Some(40))
        );
        let [first, second] = chunk.messages.as_slice() else {
            panic!("two messages with ids")
        };
        assert_eq!(first.direction, Direction::FromCustomer);
        assert_eq!(second.direction, Direction::FromBusiness);
        assert_eq!(second.customer, "16505551234");
        assert_eq!(second.summary, "hi!");
        assert_eq!(second.sent_at, Some(1_700_000_060_000));
        assert_eq!(second.status_rank(), 2);
        assert_eq!(history.raw, value);
    }

    #[test]
    fn declined_history_is_an_error_not_a_chunk() {
        let history = History::read(json!({
            "metadata": { "phone_number_id": "111" },
            "history": [{ "errors": [{ "code": 2593109, "title": "History sync is turned off" }] }]
        }));
        assert!(history.declined());
        assert!(history.chunks.is_empty());
    }

    #[test]
    fn echoes_name_the_customer_they_went_to() {
        let echoes = Echoes::read(json!({
            "metadata": { "phone_number_id": "111" },
            "message_echoes": [
                { "from": "15550001111", "to": "16505551234", "id": "wamid.E", "timestamp": "1700000000",
                  "type": "text", "text": { "body": "on my way" } },
                { "from": "15550001111", "id": "wamid.F", "type": "text" }
            ]
        }));
        let [echo] = echoes.messages.as_slice() else {
            panic!("one echo with a recipient")
        };
        assert_eq!(echo.direction, Direction::FromBusiness);
        assert_eq!(echo.identity.phone.as_deref(), Some("16505551234"));
        assert_eq!(echo.summary, "on my way");
    }

    #[test]
    fn state_sync_reads_names_and_removals() {
        let sync = StateSync::read(json!({
            "metadata": { "phone_number_id": "111" },
            "state_sync": [
                { "type": "contact", "contact": { "full_name": "Ana Lima", "first_name": "Ana", "phone_number": "+1 650-555-1234" },
                  "action": "add", "metadata": { "timestamp": "1700000000" } },
                { "type": "contact", "contact": { "first_name": "Bo", "phone_number": "16505550000" }, "action": "add" },
                { "type": "contact", "contact": { "phone_number": "16505559999" }, "action": "remove" },
                { "type": "contact", "contact": { "full_name": "No phone" }, "action": "add" }
            ]
        }));
        let names: Vec<(&str, Option<&str>, bool)> = sync
            .contacts
            .iter()
            .map(|c| (c.phone.as_str(), c.name.as_deref(), c.removed))
            .collect();
        assert_eq!(
            names,
            [
                ("16505551234", Some("Ana Lima"), false),
                ("16505550000", Some("Bo"), false),
                ("16505559999", None, true)
            ]
        );
    }
}
