//! One change of an entry, read by its `field` into what Switchboard
//! understands of it. A field it does not know is kept as received, so
//! nothing Meta sends is lost before the store.

use serde::Deserialize;
use serde_json::Value;

use super::{
    account::{QualityUpdate, TemplateStatusUpdate, TemplateUpdate},
    account_update::{AccountUpdate, CapabilityUpdate, NameUpdate},
    business_app::{Echoes, History, StateSync},
    messages::Messages,
    scalar,
};

const MESSAGES: &str = "messages";
const ACCOUNT_UPDATE: &str = "account_update";
const QUALITY_UPDATE: &str = "phone_number_quality_update";
const TEMPLATE_STATUS_UPDATE: &str = "message_template_status_update";
const TEMPLATE_QUALITY_UPDATE: &str = "message_template_quality_update";
const TEMPLATE_CATEGORY_UPDATE: &str = "template_category_update";
const CAPABILITY_UPDATE: &str = "business_capability_update";
const NAME_UPDATE: &str = "phone_number_name_update";
const HISTORY: &str = "history";
const MESSAGE_ECHOES: &str = "smb_message_echoes";
const APP_STATE_SYNC: &str = "smb_app_state_sync";

#[derive(Debug, Clone, Deserialize)]
#[serde(from = "Wire")]
pub enum Change {
    /// Customers' messages, and the statuses of the messages sent to them.
    Messages(Messages),
    /// Bans, reviews, the business removing the app, ...
    AccountUpdate(AccountUpdate),
    /// A number's quality rating moved.
    QualityUpdate(QualityUpdate),
    /// Meta reviewed, paused or disabled a template.
    TemplateStatusUpdate(TemplateStatusUpdate),
    /// Meta changed a template's quality score.
    TemplateQualityUpdate(TemplateUpdate),
    /// Meta moved a template to another category.
    TemplateCategoryUpdate(TemplateUpdate),
    /// The portfolio's limits changed.
    CapabilityUpdate(CapabilityUpdate),
    /// Meta decided on a number's display name.
    NameUpdate(NameUpdate),
    /// A chunk of the WhatsApp Business app's chat history (coexistence).
    History(History),
    /// What the business sent from the WhatsApp Business app.
    MessageEchoes(Echoes),
    /// The WhatsApp Business app's contacts.
    AppStateSync(StateSync),
    /// A field Switchboard does not act on: kept as received.
    Other { field: String, value: Value },
}

/// A change as sent: either part may be missing. Named `Change` in serde's
/// errors, which are kept as the reason a body was rejected.
#[derive(Deserialize)]
#[serde(expecting = "struct Change")]
struct Wire {
    #[serde(default)]
    field: String,
    #[serde(default)]
    value: Value,
}

impl From<Wire> for Change {
    fn from(Wire { field, value }: Wire) -> Self {
        match field.as_str() {
            MESSAGES => Self::Messages(Messages::read(value)),
            ACCOUNT_UPDATE => Self::AccountUpdate(AccountUpdate::read(value)),
            QUALITY_UPDATE => Self::QualityUpdate(QualityUpdate::read(value)),
            TEMPLATE_STATUS_UPDATE => Self::TemplateStatusUpdate(TemplateStatusUpdate::read(value)),
            TEMPLATE_QUALITY_UPDATE => Self::TemplateQualityUpdate(TemplateUpdate::read(value)),
            TEMPLATE_CATEGORY_UPDATE => Self::TemplateCategoryUpdate(TemplateUpdate::read(value)),
            CAPABILITY_UPDATE => Self::CapabilityUpdate(CapabilityUpdate::read(value)),
            NAME_UPDATE => Self::NameUpdate(NameUpdate::read(value)),
            HISTORY => Self::History(History::read(value)),
            MESSAGE_ECHOES => Self::MessageEchoes(Echoes::read(value)),
            APP_STATE_SYNC => Self::AppStateSync(StateSync::read(value)),
            _ => Self::Other { field, value },
        }
    }
}

impl Change {
    /// The `field` as Meta named it.
    pub fn field(&self) -> &str {
        match self {
            Self::Messages(_) => MESSAGES,
            Self::AccountUpdate(_) => ACCOUNT_UPDATE,
            Self::QualityUpdate(_) => QUALITY_UPDATE,
            Self::TemplateStatusUpdate(_) => TEMPLATE_STATUS_UPDATE,
            Self::TemplateQualityUpdate(_) => TEMPLATE_QUALITY_UPDATE,
            Self::TemplateCategoryUpdate(_) => TEMPLATE_CATEGORY_UPDATE,
            Self::CapabilityUpdate(_) => CAPABILITY_UPDATE,
            Self::NameUpdate(_) => NAME_UPDATE,
            Self::History(_) => HISTORY,
            Self::MessageEchoes(_) => MESSAGE_ECHOES,
            Self::AppStateSync(_) => APP_STATE_SYNC,
            Self::Other { field, .. } => field,
        }
    }

    /// The value exactly as received: what the store keeps.
    pub fn raw(&self) -> &Value {
        match self {
            Self::Messages(change) => &change.raw,
            Self::AccountUpdate(change) => &change.raw,
            Self::QualityUpdate(change) => &change.raw,
            Self::TemplateStatusUpdate(change) => &change.raw,
            Self::TemplateQualityUpdate(change) | Self::TemplateCategoryUpdate(change) => {
                &change.raw
            }
            Self::CapabilityUpdate(change) => &change.raw,
            Self::NameUpdate(change) => &change.raw,
            Self::History(change) => &change.raw,
            Self::MessageEchoes(change) => &change.raw,
            Self::AppStateSync(change) => &change.raw,
            Self::Other { value, .. } => value,
        }
    }

    /// The number the change names in its metadata. `messages` changes
    /// always do; other fields may too, and they concern that number's
    /// workspace as much.
    pub fn phone_number_id(&self) -> Option<String> {
        match self {
            Self::Messages(change) => change.phone_number_id.clone(),
            other => metadata_number(other.raw()),
        }
    }
}

pub(super) fn metadata_number(value: &Value) -> Option<String> {
    scalar::text(&value["metadata"]["phone_number_id"])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(change: Value) -> Change {
        serde_json::from_value(change).unwrap()
    }

    #[test]
    fn each_known_field_is_read_into_its_kind() {
        let kinds = [
            read(
                json!({ "field": "messages", "value": { "metadata": { "phone_number_id": "111" } } }),
            ),
            read(json!({ "field": "account_update", "value": { "event": "VERIFIED_ACCOUNT" } })),
            read(
                json!({ "field": "phone_number_quality_update", "value": { "event": "FLAGGED" } }),
            ),
            read(
                json!({ "field": "message_template_status_update", "value": { "event": "APPROVED" } }),
            ),
        ];
        assert!(
            matches!(&kinds[0], Change::Messages(m) if m.phone_number_id.as_deref() == Some("111"))
        );
        assert!(matches!(&kinds[1], Change::AccountUpdate(_)));
        assert!(
            matches!(&kinds[2], Change::QualityUpdate(q) if q.rating.as_deref() == Some("RED"))
        );
        assert!(
            matches!(&kinds[3], Change::TemplateStatusUpdate(t) if t.status.as_deref() == Some("APPROVED"))
        );
        let fields: Vec<&str> = kinds.iter().map(Change::field).collect();
        assert_eq!(
            fields,
            [
                "messages",
                "account_update",
                "phone_number_quality_update",
                "message_template_status_update"
            ]
        );
    }

    #[test]
    fn an_unknown_field_is_kept_with_its_raw_value() {
        let value = json!({ "metadata": { "phone_number_id": 222 }, "b": [1, "two"], "a": { "nested": null } });
        let change = read(json!({ "field": "smb_future_field", "value": value }));
        assert!(
            matches!(&change, Change::Other { field, value: kept } if field == "smb_future_field" && *kept == value)
        );
        assert_eq!(change.field(), "smb_future_field");
        assert_eq!(change.raw().to_string(), value.to_string());
        // Its number still says whose workspace it concerns.
        assert_eq!(change.phone_number_id().as_deref(), Some("222"));
    }

    #[test]
    fn known_fields_keep_their_raw_value_too() {
        let value = json!({ "z": 1, "event": "FLAGGED", "display_phone_number": "1555", "extra": { "x": [] } });
        let change = read(json!({ "field": "phone_number_quality_update", "value": value }));
        assert_eq!(change.raw().to_string(), value.to_string());
    }

    #[test]
    fn a_change_without_field_or_value_is_an_empty_other() {
        let change = read(json!({}));
        assert!(
            matches!(&change, Change::Other { field, value } if field.is_empty() && value.is_null())
        );
        assert_eq!(change.phone_number_id(), None);
    }
}
