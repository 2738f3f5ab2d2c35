//! WhatsApp users as a business sees them since 2026 (reference
//! meta-2026.md §1): each has a business-scoped user id (BSUID) per
//! business portfolio, may have a username, and a username user's phone is
//! withheld from a business number unless that number exchanged a message
//! with the phone in the last 30 days, or the phone is in the portfolio's
//! contact book (here: the user shared it when asked).

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::world::{Millis, Phone, World, DAY_MS};

/// How long an exchange by phone keeps the phone visible.
const PHONE_SHOWN_FOR_MS: Millis = 30 * DAY_MS;

/// What the sandbox knows of a user beyond the phone.
#[derive(Debug, Clone, Default)]
pub struct User {
    /// Adopting one makes Meta withhold the phone.
    pub username: Option<String>,
}

/// The user's BSUID as portfolio `business_id` sees them: the same from
/// every WABA and number of the portfolio, another in another portfolio.
/// Country prefix, a dot, digits (Meta's samples are all digits).
pub fn bsuid(business_id: &str, wa_id: &str) -> String {
    let digest = Sha256::digest(format!("{business_id}|{wa_id}").as_bytes());
    let mut number = [0u8; 8];
    number.copy_from_slice(&digest[..8]);
    format!("{}.{}", country(wa_id), u64::from_be_bytes(number))
}

/// Meta's shape: country, optional `ENT.` (a parent BSUID), up to 128
/// alphanumerics.
pub fn is_bsuid(text: &str) -> bool {
    let Some((country, rest)) = text.split_once('.') else {
        return false;
    };
    let rest = rest.strip_prefix("ENT.").unwrap_or(rest);
    country.len() == 2
        && country.bytes().all(|b| b.is_ascii_uppercase())
        && (1..=128).contains(&rest.len())
        && rest.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The phone behind `user_id` if it is a user `phone`'s portfolio knows
/// (one who wrote to it or was written to, or one the sandbox was told
/// of); a BSUID of another portfolio is nobody here.
pub fn phone_of_bsuid(world: &World, phone: &Phone, user_id: &str) -> Option<String> {
    let business = world.business_of(phone);
    let mut known = world
        .users
        .keys()
        .chain(world.chats.keys().map(|(_, wa_id)| wa_id));
    known
        .find(|wa_id| bsuid(&business, wa_id) == user_id)
        .cloned()
}

/// An ISO 3166 code from the phone's calling code (enough for samples).
fn country(wa_id: &str) -> &'static str {
    const CODES: [(&str, &str); 6] = [
        ("1", "US"),
        ("44", "GB"),
        ("49", "DE"),
        ("55", "BR"),
        ("91", "IN"),
        ("234", "NG"),
    ];
    CODES
        .iter()
        .find(|(code, _)| wa_id.starts_with(code))
        .map_or("ZZ", |(_, country)| country)
}

/// Everything a business number may learn about one user right now.
pub struct Seen {
    pub user_id: String,
    pub username: Option<String>,
    /// `None` when Meta withholds the phone.
    pub wa_id: Option<String>,
}

impl World {
    pub fn business_of(&self, phone: &Phone) -> String {
        self.wabas
            .get(&phone.waba_id)
            .map(|waba| waba.business_id.clone())
            .unwrap_or_default()
    }

    /// How `phone` sees the user with this phone number at `now`.
    pub fn seen_by(&self, phone: &Phone, wa_id: &str, now: Millis) -> Seen {
        let username = self.users.get(wa_id).and_then(|u| u.username.clone());
        let exchanged_by_phone = self
            .chats
            .get(&(phone.id.clone(), wa_id.to_string()))
            .is_some_and(|lines| {
                lines.iter().any(|line| {
                    line.direction == "outbound"
                        && line.by_phone
                        && now - line.timestamp < PHONE_SHOWN_FOR_MS
                })
            });
        let business = self.business_of(phone);
        let in_contact_book = self
            .contact_book
            .contains(&(business.clone(), wa_id.to_string()));
        let shown = username.is_none() || exchanged_by_phone || in_contact_book;
        Seen {
            user_id: bsuid(&business, wa_id),
            username,
            wa_id: shown.then(|| wa_id.to_string()),
        }
    }
}

impl Seen {
    /// The `contacts[]` entry of an incoming message.
    pub fn contact(&self, name: &str) -> Value {
        let mut profile = Map::new();
        profile.insert("name".into(), json!(name));
        if let Some(username) = &self.username {
            profile.insert("username".into(), json!(username));
        }
        let mut contact = json!({ "profile": profile, "user_id": self.user_id });
        if let Some(wa_id) = &self.wa_id {
            contact["wa_id"] = json!(wa_id);
        }
        contact
    }

    /// `from` (when the phone is shown) and `from_user_id` of a message.
    pub fn mark_sender(&self, message: &mut Value) {
        if let Some(wa_id) = &self.wa_id {
            message["from"] = json!(wa_id);
        }
        message["from_user_id"] = json!(self.user_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bsuid_is_stable_per_portfolio_and_differs_between_them() {
        let first = bsuid("1111", "16505551234");
        assert_eq!(first, bsuid("1111", "16505551234"));
        assert_ne!(first, bsuid("2222", "16505551234"));
        assert!(first.starts_with("US."), "{first}");
        let digits = &first[3..];
        assert!(!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
        assert!(bsuid("1111", "447700900123").starts_with("GB."));
        assert!(is_bsuid(&first));
    }

    #[test]
    fn bsuids_of_the_wrong_shape_are_refused() {
        assert!(is_bsuid("US.ENT.11815799212886844830"));
        for bad in ["16505551234", "us.123", "USA.123", "US.", "US.12-34", ""] {
            assert!(!is_bsuid(bad), "{bad}");
        }
    }
}
