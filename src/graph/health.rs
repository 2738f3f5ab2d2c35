//! A number as Meta sees it now, for the health probe and the Health
//! page: its details, throughput, name review, the portfolio's messaging
//! limit, and Meta's `health_status` (whether it can send, and if not,
//! which entity stops it and how to fix it).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{error, GraphClient, GraphError, PhoneNumber};
use crate::{secret::Secret, webhook::payload::scalar};

/// `GET /{phone-number-id}` with the fields the probe reads: the
/// number's details, and what only the probe asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct NumberHealth {
    #[serde(flatten)]
    pub number: PhoneNumber,
    #[serde(default)]
    pub name_status: Option<String>,
    #[serde(default)]
    pub throughput: Option<Throughput>,
    /// The portfolio's messaging limit (`TIER_2K`...), read from
    /// `whatsapp_business_manager_messaging_limit` or, where Meta still
    /// answers it, the older `messaging_limit_tier`.
    #[serde(default, skip_deserializing)]
    pub messaging_limit: Option<String>,
    #[serde(default)]
    pub health_status: Option<HealthStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Throughput {
    /// STANDARD (80/s), HIGH (1,000/s), or NOT_APPLICABLE.
    #[serde(default)]
    pub level: Option<String>,
}

/// Meta's `health_status` of a node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct HealthStatus {
    /// AVAILABLE, LIMITED or BLOCKED: the worst of the entities.
    #[serde(default)]
    pub can_send_message: Option<String>,
    #[serde(default)]
    pub entities: Vec<HealthEntity>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct HealthEntity {
    /// PHONE_NUMBER, WABA, BUSINESS, APP, MESSAGE_TEMPLATE.
    #[serde(default)]
    pub entity_type: Option<String>,
    #[serde(default, deserialize_with = "scalar::text_or_none")]
    pub id: Option<String>,
    #[serde(default)]
    pub can_send_message: Option<String>,
    #[serde(default)]
    pub errors: Vec<HealthError>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct HealthError {
    #[serde(default, deserialize_with = "scalar::integer_or_none")]
    pub error_code: Option<i64>,
    #[serde(default)]
    pub error_description: Option<String>,
    #[serde(default)]
    pub possible_solution: Option<String>,
}

impl HealthStatus {
    /// Meta says nothing stops the node's messages.
    pub fn is_available(&self) -> bool {
        self.can_send_message
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case("AVAILABLE"))
    }
}

const HEALTH_FIELDS: &str = "id,display_phone_number,verified_name,quality_rating,status,platform_type,code_verification_status,name_status,throughput,health_status";
/// Meta's current name for the portfolio's limit; older versions answer
/// only `messaging_limit_tier` (deprecated), and a field a version does
/// not know is an error (100), so each is asked alone.
const LIMIT_FIELDS: [&str; 2] = [
    "whatsapp_business_manager_messaging_limit",
    "messaging_limit_tier",
];

impl GraphClient {
    /// The number as Meta sees it now.
    pub async fn number_health(
        &self,
        token: &Secret<String>,
        phone_number_id: &str,
    ) -> Result<NumberHealth, GraphError> {
        let body = self
            .get(token, phone_number_id, &[("fields", HEALTH_FIELDS)])
            .await?;
        let mut health: NumberHealth =
            serde_json::from_value(body.clone()).map_err(|_| GraphError::Unexpected {
                status: 200,
                excerpt: error::excerpt(body.to_string().as_bytes()),
            })?;
        for field in LIMIT_FIELDS {
            match self.get(token, phone_number_id, &[("fields", field)]).await {
                Ok(body) => {
                    health.messaging_limit = limit_of(&body[field]);
                    if health.messaging_limit.is_some() {
                        break;
                    }
                }
                Err(GraphError::Meta { code: 100, .. }) => continue,
                Err(other) => return Err(other),
            }
        }
        Ok(health)
    }

    /// The app's subscription to the WABA's webhooks: whether the app is
    /// subscribed, and the callback override it set, if any.
    pub async fn subscription(
        &self,
        token: &Secret<String>,
        waba_id: &str,
        app_id: &str,
    ) -> Result<Option<Subscription>, GraphError> {
        let body = self
            .get(token, &format!("{waba_id}/subscribed_apps"), &[])
            .await?;
        let apps = body["data"].as_array().cloned().unwrap_or_default();
        Ok(apps.iter().find_map(|app| {
            let data = &app["whatsapp_business_api_data"];
            let id = data["id"]
                .as_str()
                .map(str::to_string)
                .or_else(|| data["id"].as_i64().map(|n| n.to_string()))?;
            (id == app_id).then(|| Subscription {
                override_callback_uri: app["override_callback_uri"].as_str().map(str::to_string),
            })
        }))
    }
}

/// The app's subscription to a WABA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub override_callback_uri: Option<String>,
}

/// A limit as Meta writes it: a tier name, an object holding one
/// (`{"current_limit": "TIER_2K"}`), or an integer.
fn limit_of(value: &Value) -> Option<String> {
    match value {
        Value::Object(map) => map.values().find_map(limit_of),
        other => crate::webhook::payload::messaging_limit(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn health_status_is_read_tolerantly() {
        let health: NumberHealth = serde_json::from_value(json!({
            "id": "106540352242922", "quality_rating": "GREEN", "status": "CONNECTED",
            "throughput": { "level": "STANDARD" },
            "health_status": { "can_send_message": "LIMITED", "entities": [
                { "entity_type": "WABA", "id": 5, "can_send_message": "LIMITED",
                  "errors": [{ "error_code": "368", "error_description": "Restricted", "possible_solution": "Wait" }] },
                { "entity_type": "APP", "id": "7", "can_send_message": "AVAILABLE" },
            ]},
        }))
        .unwrap();
        assert!(health.number.is_registered());
        let status = health.health_status.unwrap();
        assert!(!status.is_available());
        assert_eq!(status.entities[0].id.as_deref(), Some("5"));
        assert_eq!(status.entities[0].errors[0].error_code, Some(368));
        assert_eq!(
            health.throughput.unwrap().level.as_deref(),
            Some("STANDARD")
        );
    }

    #[test]
    fn limits_come_in_several_shapes() {
        assert_eq!(
            limit_of(&json!({ "current_limit": "TIER_2K" })).as_deref(),
            Some("TIER_2K")
        );
        assert_eq!(limit_of(&json!("TIER_10K")).as_deref(), Some("TIER_10K"));
        assert_eq!(limit_of(&json!(250)).as_deref(), Some("TIER_250"));
        assert_eq!(limit_of(&Value::Null), None);
    }
}
