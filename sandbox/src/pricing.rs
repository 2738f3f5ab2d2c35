//! What a business message costs under per-message pricing (PMP,
//! reference meta-2026 §4), as its statuses' `pricing` tells the app:
//! - a template is charged by its category (`marketing`, `utility`,
//!   `authentication`), except that a utility template inside the
//!   customer service window is free (`free_customer_service`);
//! - any other message can only go inside the window, where it is free
//!   (`service`, `free_customer_service`);
//! - everything is free in a free entry point window (`free_entry_point`,
//!   `referral_conversion`): a customer who arrives from a click-to-WhatsApp
//!   ad (a message with `referral`) opens one for 72 hours when the
//!   business replies within 24 hours.
//!
//! The rates themselves (per market, per volume tier) are not modelled:
//! only what the webhook says.

use serde_json::{json, Value};

use crate::world::{Millis, World, DAY_MS};

/// How long after the ad's message the business's reply opens the window.
const ENTRY_POINT_REPLY_MS: Millis = DAY_MS;
/// How long a free entry point window stays open.
const ENTRY_POINT_MS: Millis = 3 * DAY_MS;

/// A customer's arrival from an ad, and the free window it may open.
#[derive(Debug, Clone, Copy, Default)]
pub struct EntryPoint {
    referred_at: Millis,
    /// When the business's first reply opened the window.
    opened_at: Option<Millis>,
}

impl EntryPoint {
    fn open_until(&self) -> Option<Millis> {
        self.opened_at.map(|at| at + ENTRY_POINT_MS)
    }

    fn open_at(&self, now: Millis) -> bool {
        self.open_until().is_some_and(|end| now < end)
    }
}

/// The customer `wa_id` wrote to `phone_id` from an ad: the business may
/// open a free window by replying within 24 h. A window already open is
/// left as it is.
pub fn referred(world: &mut World, phone_id: &str, wa_id: &str, now: Millis) {
    let entry = world
        .entry_points
        .entry((phone_id.to_string(), wa_id.to_string()))
        .or_default();
    if !entry.open_at(now) {
        *entry = EntryPoint {
            referred_at: now,
            opened_at: None,
        };
    }
}

/// What one business message costs, for its statuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Price {
    /// `pricing.category` (and the legacy `conversation.origin.type`).
    pub category: String,
    /// `pricing.type`: `regular`, `free_customer_service`,
    /// `free_entry_point`.
    pub kind: &'static str,
    pub billable: bool,
    /// When a free entry point window closes, for the legacy
    /// `conversation.expiration_timestamp`.
    pub window_ends: Option<Millis>,
}

impl Price {
    /// The status's `pricing` object.
    pub fn pricing(&self) -> Value {
        json!({
            "billable": self.billable,
            "pricing_model": "PMP",
            "type": self.kind,
            "category": self.category,
        })
    }

    fn free(category: &str, kind: &'static str) -> Self {
        Self {
            category: category.to_string(),
            kind,
            billable: false,
            window_ends: None,
        }
    }
}

/// Prices a business message to `wa_id` sent now: `template_category` is
/// the template's (UTILITY, MARKETING, AUTHENTICATION), `None` for any
/// other message; `in_window` whether the customer service window is
/// open. The business's first message within 24 h of an ad's opens the
/// free entry point window.
pub fn price(
    world: &mut World,
    phone_id: &str,
    wa_id: &str,
    template_category: Option<&str>,
    in_window: bool,
    now: Millis,
) -> Price {
    if let Some(entry) = world
        .entry_points
        .get_mut(&(phone_id.to_string(), wa_id.to_string()))
    {
        if entry.opened_at.is_none() && now - entry.referred_at < ENTRY_POINT_REPLY_MS {
            entry.opened_at = Some(now);
        }
        if entry.open_at(now) {
            return Price {
                window_ends: entry.open_until(),
                ..Price::free("referral_conversion", "free_entry_point")
            };
        }
    }
    match template_category.map(str::to_ascii_lowercase) {
        Some(category) if category == "utility" && in_window => {
            Price::free(&category, "free_customer_service")
        }
        Some(category) => Price {
            category,
            kind: "regular",
            billable: true,
            window_ends: None,
        },
        None => Price::free("service", "free_customer_service"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Millis = 60 * 60 * 1000;

    fn priced(world: &mut World, category: Option<&str>, in_window: bool, at: Millis) -> Price {
        price(world, "phone", "customer", category, in_window, at)
    }

    #[test]
    fn templates_are_charged_by_category_and_utility_is_free_in_the_window() {
        let mut world = World::default();
        let marketing = priced(&mut world, Some("MARKETING"), true, 0);
        assert_eq!(
            (
                marketing.category.as_str(),
                marketing.kind,
                marketing.billable
            ),
            ("marketing", "regular", true)
        );
        let utility = priced(&mut world, Some("UTILITY"), false, 0);
        assert_eq!((utility.kind, utility.billable), ("regular", true));
        let utility = priced(&mut world, Some("UTILITY"), true, 0);
        assert_eq!(
            (utility.kind, utility.billable),
            ("free_customer_service", false)
        );
        let reply = priced(&mut world, None, true, 0);
        assert_eq!(
            (reply.category.as_str(), reply.kind),
            ("service", "free_customer_service")
        );
    }

    #[test]
    fn a_reply_within_a_day_of_an_ad_opens_three_free_days() {
        let mut world = World::default();
        referred(&mut world, "phone", "customer", 0);
        let first = priced(&mut world, None, true, 23 * HOUR);
        assert_eq!(
            (first.category.as_str(), first.kind, first.billable),
            ("referral_conversion", "free_entry_point", false)
        );
        assert_eq!(first.window_ends, Some(23 * HOUR + 72 * HOUR));
        let later = priced(&mut world, Some("MARKETING"), false, 94 * HOUR);
        assert_eq!(later.kind, "free_entry_point");
        let after = priced(&mut world, Some("MARKETING"), false, 95 * HOUR);
        assert_eq!(after.kind, "regular");
    }

    #[test]
    fn a_reply_after_a_day_opens_nothing() {
        let mut world = World::default();
        referred(&mut world, "phone", "customer", 0);
        let late = priced(&mut world, Some("UTILITY"), false, 24 * HOUR);
        assert_eq!((late.category.as_str(), late.kind), ("utility", "regular"));
    }
}
