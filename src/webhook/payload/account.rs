//! The account fields Switchboard acts on besides `account_update`
//! (`account_update.rs`): a number's quality, a template's review. Each keeps its value as
//! received, for the account events the store keeps.

use serde_json::Value;

use super::{account_update::messaging_limit, scalar};

/// A `phone_number_quality_update`.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityUpdate {
    /// Meta names the number by its display form here, not by its id.
    pub display_phone_number: Option<String>,
    /// The rating the number now has, when the event tells.
    pub rating: Option<String>,
    /// The messages per second Meta now allows the number, when the event
    /// raised it (`THROUGHPUT_UPGRADE`).
    pub throughput: Option<i64>,
    /// The portfolio's messaging limit, when the event names it
    /// (`max_daily_conversations_per_business`; `current_limit` before
    /// Meta removed it).
    pub messaging_limit: Option<String>,
    pub raw: Value,
}

/// Meta's level for an upgraded number (reference meta-2026 §7).
pub const UPGRADED_THROUGHPUT: i64 = 1000;

impl QualityUpdate {
    pub fn read(value: Value) -> Self {
        let upgraded = value["event"]
            .as_str()
            .is_some_and(|e| e.eq_ignore_ascii_case("THROUGHPUT_UPGRADE"));
        Self {
            display_phone_number: scalar::text(&value["display_phone_number"]),
            rating: rating_of(&value),
            throughput: upgraded.then_some(UPGRADED_THROUGHPUT),
            messaging_limit: messaging_limit(&value["max_daily_conversations_per_business"])
                .or_else(|| messaging_limit(&value["current_limit"])),
            raw: value,
        }
    }
}

/// FLAGGED is the one event Meta documents clearly; the others are read
/// as best we can.
fn rating_of(value: &Value) -> Option<String> {
    match value["event"].as_str()? {
        "FLAGGED" => Some("RED".into()),
        "UNFLAGGED" => Some("GREEN".into()),
        _ => scalar::string(&value["current_quality_rating"]),
    }
}

/// A `message_template_status_update`, read tolerantly (the id is an
/// integer in Meta's examples, a string in some captures).
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateStatusUpdate {
    pub template_id: String,
    pub name: String,
    pub language: String,
    /// The template's status after the event; `None` for events that
    /// change none (the WABA's templates are read again all the same).
    pub status: Option<String>,
    pub reason: Option<String>,
    pub raw: Value,
}

impl TemplateStatusUpdate {
    pub fn read(value: Value) -> Self {
        let event = scalar::text(&value["event"])
            .unwrap_or_default()
            .to_uppercase();
        let status = match event.as_str() {
            "APPROVED" | "REJECTED" | "PAUSED" | "DISABLED" | "PENDING" | "IN_APPEAL"
            | "PENDING_DELETION" | "DELETED" | "ARCHIVED" | "LIMIT_EXCEEDED" => Some(event),
            "REINSTATED" | "UNARCHIVED" => Some("APPROVED".to_string()),
            _ => None,
        };
        Self {
            template_id: scalar::text(&value["message_template_id"]).unwrap_or_default(),
            name: scalar::text(&value["message_template_name"]).unwrap_or_default(),
            language: scalar::text(&value["message_template_language"]).unwrap_or_default(),
            status,
            reason: scalar::text(&value["reason"])
                .or_else(|| scalar::text(&value["rejection_info"]["reason"]))
                .filter(|r| !r.eq_ignore_ascii_case("NONE")),
            raw: value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn template_status_webhooks_are_read_tolerantly() {
        let read = |value: serde_json::Value| {
            let update = TemplateStatusUpdate::read(value);
            (update.template_id, update.status, update.reason)
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

    #[test]
    fn a_template_update_names_its_template() {
        let update = TemplateStatusUpdate::read(
            json!({ "event": "PAUSED", "message_template_id": 42,
            "message_template_name": "order_ready", "message_template_language": "en_US", "other_info": {} }),
        );
        assert_eq!(
            (update.name.as_str(), update.language.as_str()),
            ("order_ready", "en_US")
        );
        assert_eq!(update.status.as_deref(), Some("PAUSED"));
    }

    #[test]
    fn quality_updates_give_the_new_rating_when_they_tell() {
        let rating = |value: Value| QualityUpdate::read(value).rating;
        assert_eq!(
            rating(json!({ "event": "FLAGGED" })).as_deref(),
            Some("RED")
        );
        assert_eq!(
            rating(json!({ "event": "UNFLAGGED" })).as_deref(),
            Some("GREEN")
        );
        assert_eq!(
            rating(json!({ "event": "DOWNGRADE", "current_quality_rating": "YELLOW" })).as_deref(),
            Some("YELLOW")
        );
        assert_eq!(rating(json!({ "current_quality_rating": "YELLOW" })), None);
        let update = QualityUpdate::read(
            json!({ "display_phone_number": 15550783881_u64, "event": "FLAGGED" }),
        );
        assert_eq!(update.display_phone_number.as_deref(), Some("15550783881"));
    }
}

/// A `message_template_quality_update` or a `template_category_update`:
/// Meta changed a template's quality score or its category.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateUpdate {
    pub template_id: String,
    pub name: String,
    pub language: String,
    /// `new_quality_score`: GREEN, YELLOW, RED or UNKNOWN.
    pub quality: Option<String>,
    /// `new_category`: the category the template has now (an impending
    /// change also names `correct_category`, which takes effect later and
    /// comes as a second event).
    pub category: Option<String>,
    pub raw: Value,
}

impl TemplateUpdate {
    pub fn read(value: Value) -> Self {
        let upper = |v: &Value| scalar::text(v).map(|t| t.to_uppercase());
        Self {
            template_id: scalar::text(&value["message_template_id"]).unwrap_or_default(),
            name: scalar::text(&value["message_template_name"]).unwrap_or_default(),
            language: scalar::text(&value["message_template_language"]).unwrap_or_default(),
            quality: upper(&value["new_quality_score"]),
            category: upper(&value["new_category"]),
            raw: value,
        }
    }
}
