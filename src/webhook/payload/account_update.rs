//! `account_update`: what Meta says about a WhatsApp Business Account as a
//! whole (reference meta-2026 §3.1), read into the events Switchboard acts
//! on. Every value is kept as received besides.

use serde_json::Value;

use super::scalar;

/// An `account_update`.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountUpdate {
    /// The WABA the value names, if it does (the entry id may then be a
    /// business portfolio).
    pub waba_id: Option<String>,
    pub event: AccountEvent,
    pub raw: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AccountEvent {
    /// The business removed the app (or the partner), or deleted the
    /// account: its numbers must be connected again.
    Removed(Removal),
    /// Meta restricted some of the account's actions, each until its
    /// expiration.
    Restricted(Vec<Restriction>),
    /// `DISABLED_UPDATE`: the account disabled, reinstated or about to be
    /// disabled.
    Ban(Ban),
    /// `ACCOUNT_VIOLATION`: Meta found a policy violation.
    Violation(Violation),
    /// `PARTNER_ADDED` / `PARTNER_APP_INSTALLED`: the business shared the
    /// account with the app (again).
    Granted { event: String },
    /// `VOLUME_BASED_PRICING_TIER_UPDATE`.
    PricingTier(PricingTier),
    /// `ACCOUNT_OFFBOARDED`: a coexistence number left the Cloud API for a
    /// while (a new device, a reinstall); sends wait.
    Offboarded { phone_number_id: Option<String> },
    /// `ACCOUNT_RECONNECTED`: it is back.
    Reconnected { phone_number_id: Option<String> },
    /// `PARTNER_REMOVED`: the business ended the connection (in the app,
    /// by a number change, inactivity...). Final: a new signup is needed.
    PartnerRemoved(Disconnection),
    /// Anything else (pricing eligibility, verification, offboarding...):
    /// kept as received.
    Other { event: Option<String> },
}

/// The business removed the app (or the partner), or deleted the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    /// Meta's event, e.g. `PARTNER_APP_UNINSTALLED`.
    pub event: String,
    /// `disconnection_info.reason`, when given.
    pub reason: Option<String>,
}

/// `PARTNER_REMOVED` and its `disconnection_info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnection {
    /// The number it names, if it names one (else the whole account).
    pub phone_number_id: Option<String>,
    /// e.g. `ACCOUNT_DISCONNECTED`, `PRIMARY_INACTIVITY`, `CHANGE_NUMBER`.
    pub reason: Option<String>,
    /// `USER` or `SYSTEM`.
    pub initiated_by: Option<String>,
}

/// One of `restriction_info[]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restriction {
    /// Meta's `restriction_type`, e.g. `RESTRICTED_BIZ_INITIATED_MESSAGING`.
    pub restriction_type: String,
    /// Unix ms; `None` when Meta gave no (readable) expiration.
    pub expires_at: Option<i64>,
    pub remediation: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    pub state: BanState,
    /// `waba_ban_date` as Meta writes it ("January 2, 2026").
    pub date: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BanState {
    Disable,
    Reinstate,
    ScheduleForDisable,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub violation_type: String,
    pub remediation: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricingTier {
    pub pricing_category: String,
    /// A range of messages, like `25000001:50000000`.
    pub tier: String,
    /// `2025-11`.
    pub effective_month: String,
    pub region: Option<String>,
}

/// The number a coexistence event names: Meta's keys for it are
/// unconfirmed (integrators read `metadata.phone_number_id`), so each
/// plausible place is tried.
fn named_number(value: &Value) -> Option<String> {
    [
        &value["metadata"]["phone_number_id"],
        &value["phone_number_id"],
        &value["waba_info"]["phone_number_id"],
        &value["disconnection_info"]["phone_number_id"],
    ]
    .into_iter()
    .find_map(scalar::text)
}

impl AccountUpdate {
    pub fn read(value: Value) -> Self {
        Self {
            waba_id: scalar::text(&value["waba_info"]["waba_id"]),
            event: AccountEvent::read(&value),
            raw: value,
        }
    }
}

impl AccountEvent {
    fn read(value: &Value) -> Self {
        let event = scalar::string(&value["event"]).map(|e| e.to_uppercase());
        let Some(name) = event.as_deref() else {
            return Self::Other { event };
        };
        match name {
            "PARTNER_REMOVED" => Self::PartnerRemoved(Disconnection {
                phone_number_id: named_number(value),
                reason: scalar::string(&value["disconnection_info"]["reason"]),
                initiated_by: scalar::string(&value["disconnection_info"]["initiated_by"]),
            }),
            "ACCOUNT_OFFBOARDED" => Self::Offboarded {
                phone_number_id: named_number(value),
            },
            "ACCOUNT_RECONNECTED" => Self::Reconnected {
                phone_number_id: named_number(value),
            },
            "PARTNER_APP_UNINSTALLED" | "ACCOUNT_DELETED" => Self::Removed(Removal {
                event: name.to_string(),
                reason: scalar::string(&value["disconnection_info"]["reason"]),
            }),
            "ACCOUNT_RESTRICTION" => Self::Restricted(restrictions_of(value)),
            "DISABLED_UPDATE" => match Ban::read(&value["ban_info"]) {
                Some(ban) => Self::Ban(ban),
                None => Self::Other { event },
            },
            "ACCOUNT_VIOLATION" => match scalar::string(&value["violation_info"]["violation_type"])
            {
                Some(violation_type) => Self::Violation(Violation {
                    violation_type,
                    remediation: scalar::string(&value["violation_info"]["remediation"]),
                }),
                None => Self::Other { event },
            },
            "PARTNER_ADDED" | "PARTNER_APP_INSTALLED" => Self::Granted {
                event: name.to_string(),
            },
            "VOLUME_BASED_PRICING_TIER_UPDATE" => {
                match PricingTier::read(&value["volume_tier_info"]) {
                    Some(tier) => Self::PricingTier(tier),
                    None => Self::Other { event },
                }
            }
            _ => Self::Other { event },
        }
    }
}

/// `restriction_info` is a list in Meta's reference; a lone object is read
/// as a list of one.
fn restrictions_of(value: &Value) -> Vec<Restriction> {
    let info = &value["restriction_info"];
    let items: Vec<&Value> = match info {
        Value::Array(items) => items.iter().collect(),
        Value::Object(_) => vec![info],
        _ => Vec::new(),
    };
    items
        .into_iter()
        .filter_map(|item| {
            Some(Restriction {
                restriction_type: scalar::string(&item["restriction_type"])?.to_uppercase(),
                expires_at: scalar::millis(&item["expiration"]),
                remediation: scalar::string(&item["remediation"]),
            })
        })
        .collect()
}

impl Ban {
    fn read(info: &Value) -> Option<Self> {
        let state = match scalar::string(&info["waba_ban_state"])?
            .to_uppercase()
            .as_str()
        {
            "DISABLE" => BanState::Disable,
            "REINSTATE" => BanState::Reinstate,
            "SCHEDULE_FOR_DISABLE" => BanState::ScheduleForDisable,
            _ => return None,
        };
        Some(Self {
            state,
            date: scalar::text(&info["waba_ban_date"]),
        })
    }
}

impl BanState {
    /// As stored and shown: Meta's own word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "DISABLE",
            Self::Reinstate => "REINSTATE",
            Self::ScheduleForDisable => "SCHEDULE_FOR_DISABLE",
        }
    }
}

impl PricingTier {
    fn read(info: &Value) -> Option<Self> {
        Some(Self {
            pricing_category: scalar::string(&info["pricing_category"])?.to_uppercase(),
            tier: scalar::text(&info["tier"])?,
            effective_month: scalar::text(&info["effective_month"])?,
            region: scalar::string(&info["region"]),
        })
    }
}

/// A `business_capability_update`: the portfolio's limits (reference
/// meta-2026 §3.3).
#[derive(Debug, Clone, PartialEq)]
pub struct CapabilityUpdate {
    /// The portfolio's messaging limit as Meta's tier name (`TIER_2K`);
    /// Meta sends an integer or the name, both are read.
    pub messaging_limit: Option<String>,
    pub max_phone_numbers_per_business: Option<i64>,
    pub raw: Value,
}

impl CapabilityUpdate {
    pub fn read(value: Value) -> Self {
        Self {
            messaging_limit: messaging_limit(&value["max_daily_conversations_per_business"]),
            max_phone_numbers_per_business: scalar::text(&value["max_phone_numbers_per_business"])
                .and_then(|n| n.parse().ok()),
            raw: value,
        }
    }
}

/// Meta's tier name for a limit given either way: 250, 2000, 10000,
/// 100000 and -1 (unlimited) as integers, or `TIER_*` names.
pub fn messaging_limit(value: &Value) -> Option<String> {
    let text = scalar::text(value)?;
    let named = match text.as_str() {
        "250" => "TIER_250",
        "1000" => "TIER_1K",
        "2000" => "TIER_2K",
        "10000" => "TIER_10K",
        "100000" => "TIER_100K",
        "-1" => "TIER_UNLIMITED",
        other => return Some(other.to_uppercase()),
    };
    Some(named.to_string())
}

/// A `phone_number_name_update`: Meta decided on a display name.
#[derive(Debug, Clone, PartialEq)]
pub struct NameUpdate {
    pub display_phone_number: Option<String>,
    /// APPROVED, DEFERRED or REJECTED.
    pub decision: Option<String>,
    pub requested_verified_name: Option<String>,
    pub rejection_reason: Option<String>,
    pub raw: Value,
}

impl NameUpdate {
    pub fn read(value: Value) -> Self {
        Self {
            display_phone_number: scalar::text(&value["display_phone_number"]),
            decision: scalar::string(&value["decision"]).map(|d| d.to_uppercase()),
            requested_verified_name: scalar::string(&value["requested_verified_name"]),
            rejection_reason: scalar::string(&value["rejection_reason"])
                .filter(|r| !r.eq_ignore_ascii_case("NONE")),
            raw: value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(value: Value) -> AccountEvent {
        AccountUpdate::read(value).event
    }

    #[test]
    fn the_app_removed_is_told_from_other_account_updates() {
        let removed = AccountUpdate::read(json!({ "event": "PARTNER_APP_UNINSTALLED",
            "waba_info": { "waba_id": 524126980791429_u64 }, "disconnection_info": { "reason": "USER_ACTION" } }));
        assert_eq!(removed.waba_id.as_deref(), Some("524126980791429"));
        assert_eq!(
            removed.event,
            AccountEvent::Removed(Removal {
                event: "PARTNER_APP_UNINSTALLED".into(),
                reason: Some("USER_ACTION".into()),
            })
        );
        assert!(matches!(
            event(json!({ "event": "ACCOUNT_DELETED" })),
            AccountEvent::Removed(Removal { reason: None, .. })
        ));
        assert_eq!(
            event(json!({ "event": "VERIFIED_ACCOUNT", "phone_number": "1555" })),
            AccountEvent::Other {
                event: Some("VERIFIED_ACCOUNT".into())
            }
        );
        assert_eq!(event(json!({})), AccountEvent::Other { event: None });
    }

    #[test]
    fn restrictions_are_read_with_their_expirations() {
        let read = event(
            json!({ "event": "ACCOUNT_RESTRICTION", "restriction_info": [
                { "restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING", "expiration": 1767225600 },
                { "restriction_type": "RESTRICTED_UTILITY_TEMPLATES", "expiration": "1767225600", "remediation": "Review your templates" },
                { "expiration": 1 },
            ]}),
        );
        let AccountEvent::Restricted(restrictions) = read else {
            panic!("{read:?}")
        };
        assert_eq!(restrictions.len(), 2, "one without a type is skipped");
        assert_eq!(restrictions[0].expires_at, Some(1_767_225_600_000));
        assert_eq!(restrictions[1].expires_at, Some(1_767_225_600_000));
        assert_eq!(
            restrictions[1].remediation.as_deref(),
            Some("Review your templates")
        );
        // A lone object, as some captures show it.
        let lone = event(json!({ "event": "ACCOUNT_RESTRICTION",
            "restriction_info": { "restriction_type": "restricted_customer_initiated_messaging" } }));
        assert_eq!(
            lone,
            AccountEvent::Restricted(vec![Restriction {
                restriction_type: "RESTRICTED_CUSTOMER_INITIATED_MESSAGING".into(),
                expires_at: None,
                remediation: None,
            }])
        );
    }

    #[test]
    fn bans_violations_grants_and_tiers_are_read() {
        assert_eq!(
            event(json!({ "event": "DISABLED_UPDATE",
                "ban_info": { "waba_ban_state": "SCHEDULE_FOR_DISABLE", "waba_ban_date": "January 2, 2027" } })),
            AccountEvent::Ban(Ban {
                state: BanState::ScheduleForDisable,
                date: Some("January 2, 2027".into())
            })
        );
        assert!(matches!(
            event(json!({ "event": "DISABLED_UPDATE", "ban_info": { "waba_ban_state": "MAYBE" } })),
            AccountEvent::Other { .. }
        ));
        assert_eq!(
            event(json!({ "event": "ACCOUNT_VIOLATION",
                "violation_info": { "violation_type": "SCAM", "remediation": "Appeal in Business Support Home" } })),
            AccountEvent::Violation(Violation {
                violation_type: "SCAM".into(),
                remediation: Some("Appeal in Business Support Home".into())
            })
        );
        assert_eq!(
            event(json!({ "event": "PARTNER_ADDED", "waba_info": { "waba_id": "1" } })),
            AccountEvent::Granted {
                event: "PARTNER_ADDED".into()
            }
        );
        assert_eq!(
            event(
                json!({ "event": "VOLUME_BASED_PRICING_TIER_UPDATE", "volume_tier_info": {
                "tier_update_time": 1761955200, "pricing_category": "UTILITY",
                "tier": "25000001:50000000", "effective_month": "2025-11", "region": "India" } })
            ),
            AccountEvent::PricingTier(PricingTier {
                pricing_category: "UTILITY".into(),
                tier: "25000001:50000000".into(),
                effective_month: "2025-11".into(),
                region: Some("India".into()),
            })
        );
    }

    #[test]
    fn limits_are_read_as_tier_names_whichever_way_they_come() {
        let limit = |value: Value| CapabilityUpdate::read(value).messaging_limit;
        assert_eq!(
            limit(json!({ "max_daily_conversations_per_business": 2000 })).as_deref(),
            Some("TIER_2K")
        );
        assert_eq!(
            limit(json!({ "max_daily_conversations_per_business": -1 })).as_deref(),
            Some("TIER_UNLIMITED")
        );
        assert_eq!(
            limit(json!({ "max_daily_conversations_per_business": "TIER_10K" })).as_deref(),
            Some("TIER_10K")
        );
        assert_eq!(limit(json!({ "max_phone_numbers_per_business": 2 })), None);
        assert_eq!(
            CapabilityUpdate::read(json!({ "max_phone_numbers_per_business": "25" }))
                .max_phone_numbers_per_business,
            Some(25)
        );
    }

    #[test]
    fn a_name_decision_is_read() {
        let update = NameUpdate::read(json!({ "display_phone_number": "15550001234",
            "decision": "rejected", "requested_verified_name": "Acme", "rejection_reason": "NONE" }));
        assert_eq!(update.decision.as_deref(), Some("REJECTED"));
        assert_eq!(update.requested_verified_name.as_deref(), Some("Acme"));
        assert_eq!(update.rejection_reason, None);
    }
}
