//! Which sends a restriction stops (reference meta-2026 §3.1): Meta
//! restricts kinds of messages, not whole numbers, so a reply inside the
//! customer's window can go while templates wait.

use crate::{outbox::Content, store::RestrictionRow};

/// Our own restriction type for Meta's 131063 (marketing messages turned
/// off for the account on the Cloud API): no webhook names it, a refused
/// send does.
pub const MARKETING_REFUSED: &str = "MARKETING_MESSAGES_REFUSED";

/// A send, as far as restrictions care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendKind<'a> {
    /// A template, with its category (MARKETING, UTILITY,
    /// AUTHENTICATION) when known.
    Template { category: Option<&'a str> },
    /// Anything else that reaches the customer: a reply inside their window.
    FreeForm,
    /// A read receipt or typing indicator: no restriction stops it.
    Receipt,
}

impl<'a> SendKind<'a> {
    /// What `content` is; `category` is its template's, when it is one.
    pub fn of(content: &Content, category: Option<&'a str>) -> Self {
        match content {
            Content::Template { .. } => Self::Template { category },
            content if content.is_message() => Self::FreeForm,
            _ => Self::Receipt,
        }
    }
}

/// The sends a restriction type stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Templates: what opens a conversation.
    BusinessInitiated,
    /// Replies inside the customer's window.
    CustomerInitiated,
    UtilityTemplates,
    MarketingTemplates,
}

impl Gate {
    /// `None` for restrictions that stop no message (calling, adding
    /// numbers): shown, never gating.
    pub fn of(restriction_type: &str) -> Option<Self> {
        match restriction_type {
            "RESTRICTED_BIZ_INITIATED_MESSAGING" => Some(Self::BusinessInitiated),
            "RESTRICTED_CUSTOMER_INITIATED_MESSAGING" => Some(Self::CustomerInitiated),
            "RESTRICTED_UTILITY_TEMPLATES" | "RESTRICTED_DIRECT_SEND_UTILITY_TEMPLATES" => {
                Some(Self::UtilityTemplates)
            }
            MARKETING_REFUSED => Some(Self::MarketingTemplates),
            _ => None,
        }
    }

    pub fn stops(self, kind: SendKind<'_>) -> bool {
        let category = |wanted: &str| matches!(kind, SendKind::Template { category: Some(c) } if c.eq_ignore_ascii_case(wanted));
        match self {
            Self::BusinessInitiated => matches!(kind, SendKind::Template { .. }),
            Self::CustomerInitiated => kind == SendKind::FreeForm,
            Self::UtilityTemplates => category("UTILITY"),
            Self::MarketingTemplates => category("MARKETING"),
        }
    }

    /// What it stops, in the admins' words.
    pub fn describe(self) -> &'static str {
        match self {
            Self::BusinessInitiated => "business-initiated messages (templates)",
            Self::CustomerInitiated => "replies to customers",
            Self::UtilityTemplates => "utility templates",
            Self::MarketingTemplates => "marketing templates",
        }
    }
}

/// The restriction in force that stops this send, if any.
pub fn blocking<'r>(
    restrictions: &'r [RestrictionRow],
    kind: SendKind<'_>,
) -> Option<&'r RestrictionRow> {
    restrictions
        .iter()
        .find(|r| Gate::of(&r.restriction_type).is_some_and(|gate| gate.stops(kind)))
}

/// How every refusal begins: the outbox finds the messages a restriction
/// holds back by it, to let them go when it is lifted.
pub const REFUSAL_PREFIX: &str = "Meta restricts ";

/// Why the send waits or is refused.
pub fn refusal(restriction: &RestrictionRow) -> String {
    let what = Gate::of(&restriction.restriction_type).map_or("these messages", Gate::describe);
    let until = match restriction.expires_at {
        Some(at) => format!("until {} UTC", rules::time::format_time(at)),
        None => "until Meta lifts it".to_string(),
    };
    let remedy = restriction
        .remediation
        .as_ref()
        .map(|r| format!(" Meta says: {r}"))
        .unwrap_or_default();
    format!(
        "{REFUSAL_PREFIX}{what} on this account ({}) {until}.{remedy}",
        restriction.restriction_type
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn restriction(restriction_type: &str) -> RestrictionRow {
        RestrictionRow {
            waba_id: "w".into(),
            restriction_type: restriction_type.into(),
            expires_at: Some(1_764_064_800_000),
            remediation: None,
            source: "webhook".into(),
            received_at: 0,
        }
    }

    #[test]
    fn each_restriction_stops_exactly_the_sends_it_names() {
        let marketing = SendKind::Template {
            category: Some("MARKETING"),
        };
        let utility = SendKind::Template {
            category: Some("utility"),
        };
        let unknown_template = SendKind::Template { category: None };
        let cases = [
            (
                "RESTRICTED_BIZ_INITIATED_MESSAGING",
                [true, true, true, false, false],
            ),
            (
                "RESTRICTED_CUSTOMER_INITIATED_MESSAGING",
                [false, false, false, true, false],
            ),
            (
                "RESTRICTED_UTILITY_TEMPLATES",
                [false, true, false, false, false],
            ),
            (
                "RESTRICTED_DIRECT_SEND_UTILITY_TEMPLATES",
                [false, true, false, false, false],
            ),
            (MARKETING_REFUSED, [true, false, false, false, false]),
            (
                "RESTRICTED_BUSINESS_INITIATED_CALLING",
                [false, false, false, false, false],
            ),
            (
                "RESTRICTED_ADD_PHONE_NUMBER_ACTION",
                [false, false, false, false, false],
            ),
        ];
        for (restriction_type, expected) in cases {
            let held = [restriction(restriction_type)];
            let kinds = [
                marketing,
                utility,
                unknown_template,
                SendKind::FreeForm,
                SendKind::Receipt,
            ];
            let stopped: Vec<bool> = kinds
                .iter()
                .map(|k| blocking(&held, *k).is_some())
                .collect();
            assert_eq!(stopped, expected, "{restriction_type}");
        }
    }

    #[test]
    fn a_refusal_says_what_until_when_and_meta_s_remedy() {
        let mut held = restriction("RESTRICTED_BIZ_INITIATED_MESSAGING");
        held.remediation = Some("Improve your message quality".into());
        assert_eq!(
            refusal(&held),
            "Meta restricts business-initiated messages (templates) on this account \
             (RESTRICTED_BIZ_INITIATED_MESSAGING) until 2025-11-25 10:00 UTC. \
             Meta says: Improve your message quality"
        );
    }
}
