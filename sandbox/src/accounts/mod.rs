//! What Meta decides about a WhatsApp Business Account and its portfolio:
//! timed restrictions, bans, the messaging limit and display name reviews
//! (reference meta-2026 §3, §7). A send asks here first whether the
//! account may send it; `health_status` (`health`) reads the same state.
//! Nothing here changes by itself except by the sandbox clock passing an
//! expiration: decisions come from the control API (`control`), which
//! announces each one with Meta's webhook.

pub mod control;
pub mod health;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::{
    clock::{rfc3339, Date},
    error::{GraphError, GraphResult},
    world::Millis,
};

/// Meta's `restriction_type` values (reference meta-2026 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestrictionType {
    #[serde(rename = "RESTRICTED_ADD_PHONE_NUMBER_ACTION")]
    AddPhoneNumberAction,
    #[serde(rename = "RESTRICTED_BIZ_INITIATED_MESSAGING")]
    BizInitiatedMessaging,
    #[serde(rename = "RESTRICTED_CUSTOMER_INITIATED_MESSAGING")]
    CustomerInitiatedMessaging,
    #[serde(rename = "RESTRICTED_UTILITY_TEMPLATES")]
    UtilityTemplates,
    #[serde(rename = "RESTRICTED_DIRECT_SEND_UTILITY_TEMPLATES")]
    DirectSendUtilityTemplates,
    #[serde(rename = "RESTRICTED_BUSINESS_INITIATED_CALLING")]
    BusinessInitiatedCalling,
    #[serde(rename = "RESTRICTED_USER_INITIATED_CALLING")]
    UserInitiatedCalling,
    #[serde(rename = "RESTRICTED_USER_INITIATED_CALLING_CALL_BUTTON_HIDDEN")]
    UserInitiatedCallingCallButtonHidden,
    #[serde(rename = "RESTRICTED_BIZ_INITIATED_AND_USER_INITIATED_CALLING")]
    BizInitiatedAndUserInitiatedCalling,
}

/// A message about to be sent, as far as restrictions tell kinds apart.
pub enum Outgoing<'a> {
    /// `category` is the template's (UTILITY, MARKETING, ...), if it exists.
    Template { category: Option<&'a str> },
    /// Anything but a template: a reply inside the customer's window.
    FreeForm,
}

impl RestrictionType {
    /// Meta's spelling.
    pub fn name(self) -> String {
        match serde_json::to_value(self) {
            Ok(Value::String(name)) => name,
            _ => unreachable!("unit variants serialise as strings"),
        }
    }

    /// Whether this restriction refuses `outgoing`. Calling and adding
    /// numbers are not messaging, so those types refuse no message.
    pub fn gates(self, outgoing: &Outgoing<'_>) -> bool {
        match (self, outgoing) {
            (Self::BizInitiatedMessaging, Outgoing::Template { .. }) => true,
            (
                Self::UtilityTemplates | Self::DirectSendUtilityTemplates,
                Outgoing::Template { category },
            ) => category.is_some_and(|c| c.eq_ignore_ascii_case("UTILITY")),
            (Self::CustomerInitiatedMessaging, Outgoing::FreeForm) => true,
            _ => false,
        }
    }

    /// Whether it limits messaging at all (what `health_status` shows).
    pub fn limits_messaging(self) -> bool {
        [
            Outgoing::Template {
                category: Some("UTILITY"),
            },
            Outgoing::FreeForm,
        ]
        .iter()
        .any(|outgoing| self.gates(outgoing))
    }

    /// What it takes away, for people: error details and health texts.
    pub fn describe(self) -> &'static str {
        match self {
            Self::AddPhoneNumberAction => "Adding phone numbers",
            Self::BizInitiatedMessaging => "Business-initiated messaging (templates)",
            Self::CustomerInitiatedMessaging => {
                "Customer-initiated messaging (replies that are not templates)"
            }
            Self::UtilityTemplates => "Utility templates",
            Self::DirectSendUtilityTemplates => "Direct-send utility templates",
            Self::BusinessInitiatedCalling => "Business-initiated calling",
            Self::UserInitiatedCalling => "User-initiated calling",
            Self::UserInitiatedCallingCallButtonHidden => {
                "User-initiated calling (the call button is hidden)"
            }
            Self::BizInitiatedAndUserInitiatedCalling => "Business- and user-initiated calling",
        }
    }
}

/// One restriction Meta put on a WABA, until `expiration`.
#[derive(Debug, Clone)]
pub struct Restriction {
    pub kind: RestrictionType,
    /// Unix seconds, on the sandbox clock; whole seconds, so that a client
    /// that waits for the announced second finds the restriction gone.
    pub expiration: i64,
    pub remediation: Option<String>,
}

/// Meta's title for code 368.
const BLOCKED_FOR_POLICY: &str = "Temporarily blocked for policies violations";

impl Restriction {
    pub fn active(&self, now: Millis) -> bool {
        now < self.expiration * 1000
    }

    /// `RESTRICTED_...: <what> is restricted until <RFC 3339>`.
    pub fn sentence(&self) -> String {
        format!(
            "{}: {} is restricted until {}",
            self.kind.name(),
            self.kind.describe(),
            rfc3339(self.expiration * 1000)
        )
    }

    /// One item of `restriction_info`, as the webhook carries it.
    pub fn info(&self) -> Value {
        let mut info = json!({
            "restriction_type": self.kind,
            "expiration": self.expiration,
        });
        if let Some(remediation) = &self.remediation {
            info["remediation"] = json!(remediation);
        }
        info
    }

    /// 368 for a send the restriction covers (HTTP 403 as Meta's error
    /// table gives it, reference meta-platform §7).
    fn refusal(&self) -> GraphError {
        GraphError::whatsapp(
            StatusCode::FORBIDDEN,
            368,
            BLOCKED_FOR_POLICY,
            format!("{}.", self.sentence()),
        )
    }
}

/// `ban_info.waba_ban_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BanState {
    Disable,
    Reinstate,
    ScheduleForDisable,
}

#[derive(Debug, Clone)]
pub struct Ban {
    pub state: BanState,
    pub date: Date,
}

impl Ban {
    /// `ban_info` as the webhook carries it.
    pub fn info(&self) -> Value {
        json!({ "waba_ban_state": self.state, "waba_ban_date": self.date.long() })
    }
}

/// A WABA's standing with Meta: its restrictions and its last ban
/// decision.
#[derive(Debug, Clone, Default)]
pub struct Standing {
    pub restrictions: Vec<Restriction>,
    pub ban: Option<Ban>,
}

impl Standing {
    /// Disabled from the DISABLE decision until a REINSTATE; a scheduled
    /// disable changes nothing yet.
    pub fn disabled(&self) -> bool {
        self.ban
            .as_ref()
            .is_some_and(|b| b.state == BanState::Disable)
    }

    pub fn active(&self, now: Millis) -> impl Iterator<Item = &Restriction> {
        self.restrictions.iter().filter(move |r| r.active(now))
    }

    /// Puts `restriction` on, replacing one of the same type; forgets
    /// those that have run out.
    pub fn restrict(&mut self, restriction: Restriction, now: Millis) {
        self.restrictions
            .retain(|r| r.active(now) && r.kind != restriction.kind);
        self.restrictions.push(restriction);
    }

    /// Refuses a send the account may not make now: 131031 while disabled,
    /// 368 while a restriction covers it.
    pub fn check_send(&self, outgoing: &Outgoing<'_>, now: Millis) -> GraphResult<()> {
        if self.disabled() {
            return Err(locked());
        }
        match self.active(now).find(|r| r.kind.gates(outgoing)) {
            Some(restriction) => Err(restriction.refusal()),
            None => Ok(()),
        }
    }
}

/// Meta's words for a disabled account's sends (131031, HTTP 403).
pub const LOCKED_TITLE: &str = "Business Account locked";
pub const LOCKED_DETAILS: &str = "The WhatsApp Business Account is disabled";

fn locked() -> GraphError {
    GraphError::whatsapp(
        StatusCode::FORBIDDEN,
        131031,
        LOCKED_TITLE,
        format!("{LOCKED_DETAILS}."),
    )
}

/// A portfolio's messaging limit as Meta gives it in
/// `business_capability_update`: an integer (250, 2000, 10000, 100000, -1
/// for unlimited) or a `TIER_*` string; kept as given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Limit {
    Count(i64),
    Tier(String),
}

const COUNTS: [(i64, &str); 5] = [
    (250, "TIER_250"),
    (2000, "TIER_2K"),
    (10_000, "TIER_10K"),
    (100_000, "TIER_100K"),
    (-1, "TIER_UNLIMITED"),
];

const TIERS: [&str; 8] = [
    "TIER_50",
    "TIER_250",
    "TIER_1K",
    "TIER_2K",
    "TIER_10K",
    "TIER_100K",
    "TIER_UNLIMITED",
    "TIER_NOT_SET",
];

impl Limit {
    /// The limit if it is one Meta uses, else why not.
    pub fn checked(self) -> Result<Self, String> {
        let known = match &self {
            Self::Count(count) => COUNTS.iter().any(|(c, _)| c == count),
            Self::Tier(tier) => TIERS.contains(&tier.as_str()),
        };
        if known {
            Ok(self)
        } else {
            Err(format!(
                "a limit is one of {} or {}",
                COUNTS.map(|(c, _)| c.to_string()).join(", "),
                TIERS.join(", ")
            ))
        }
    }

    /// The `TIER_*` name numbers' fields read.
    pub fn tier(&self) -> &str {
        match self {
            Self::Tier(tier) => tier,
            Self::Count(count) => COUNTS
                .iter()
                .find(|(c, _)| c == count)
                .map_or("TIER_NOT_SET", |(_, tier)| tier),
        }
    }
}

/// What Meta allows a business portfolio (shared by all its numbers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortfolioLimits {
    pub messaging: Limit,
    pub max_phone_numbers: Option<i64>,
}

impl PortfolioLimits {
    /// A portfolio that took a scaling path (the demo business): 2,000.
    pub fn established() -> Self {
        Self {
            messaging: Limit::Tier("TIER_2K".into()),
            max_phone_numbers: None,
        }
    }

    /// A portfolio created in Embedded Signup starts at 250.
    pub fn new_portfolio() -> Self {
        Self {
            messaging: Limit::Tier("TIER_250".into()),
            max_phone_numbers: None,
        }
    }
}

/// A number's `name_status`: its display name's review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NameStatus {
    Approved,
    PendingReview,
    Declined,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn restriction(kind: RestrictionType, expiration: i64) -> Restriction {
        Restriction {
            kind,
            expiration,
            remediation: None,
        }
    }

    #[test]
    fn each_type_refuses_exactly_its_kind_of_message() {
        use RestrictionType::*;
        let utility = Outgoing::Template {
            category: Some("UTILITY"),
        };
        let marketing = Outgoing::Template {
            category: Some("MARKETING"),
        };
        let reply = Outgoing::FreeForm;
        let refuses = |kind: RestrictionType| {
            [&utility, &marketing, &reply].map(|outgoing| kind.gates(outgoing))
        };
        assert_eq!(refuses(BizInitiatedMessaging), [true, true, false]);
        assert_eq!(refuses(UtilityTemplates), [true, false, false]);
        assert_eq!(refuses(DirectSendUtilityTemplates), [true, false, false]);
        assert_eq!(refuses(CustomerInitiatedMessaging), [false, false, true]);
        for calling in [
            AddPhoneNumberAction,
            BusinessInitiatedCalling,
            UserInitiatedCalling,
            UserInitiatedCallingCallButtonHidden,
            BizInitiatedAndUserInitiatedCalling,
        ] {
            assert_eq!(refuses(calling), [false, false, false]);
            assert!(!calling.limits_messaging());
        }
    }

    #[test]
    fn a_restriction_holds_until_its_second_and_a_new_one_replaces_its_type() {
        let mut standing = Standing::default();
        let kind = RestrictionType::BizInitiatedMessaging;
        standing.restrict(restriction(kind, 100), 0);
        let template = Outgoing::Template { category: None };
        assert_eq!(
            standing.check_send(&template, 99_999).unwrap_err().code,
            368
        );
        assert!(standing.check_send(&template, 100_000).is_ok());
        standing.restrict(restriction(kind, 200), 0);
        assert_eq!(standing.restrictions.len(), 1);
    }

    #[test]
    fn limits_map_counts_to_tiers_and_refuse_others() {
        assert_eq!(Limit::Count(2000).tier(), "TIER_2K");
        assert_eq!(Limit::Count(-1).tier(), "TIER_UNLIMITED");
        assert_eq!(Limit::Tier("TIER_10K".into()).tier(), "TIER_10K");
        assert!(Limit::Count(3000).checked().is_err());
        assert!(Limit::Tier("TIER_3K".into()).checked().is_err());
    }
}
