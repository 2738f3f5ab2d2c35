//! Who a payload says the customer is (reference meta-2026 §1.4, §1.5,
//! §1.7): the BSUID, the phone when Meta shows it, the username and the
//! profile name. Each value is checked for its shape here, so a BSUID where
//! a phone is expected (some partners say `from` may carry one) is read as
//! a BSUID, never stored as a phone.

use serde_json::Value;

use super::scalar;
use crate::ids::Bsuid;

/// What one message, status or send response tells about its customer.
/// Usernames and profile names are shown, never used as keys.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identity {
    pub bsuid: Option<Bsuid>,
    /// Digits only (`wa_id`).
    pub phone: Option<String>,
    pub username: Option<String>,
    pub parent_bsuid: Option<Bsuid>,
    pub profile_name: Option<String>,
}

/// A customer's move to a new phone or BSUID (`user_changed_number`,
/// `user_changed_user_id`, and the older names for them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdentityChange {
    pub previous_bsuid: Option<Bsuid>,
    pub previous_phone: Option<String>,
    pub bsuid: Option<Bsuid>,
    pub phone: Option<String>,
}

/// A WhatsApp phone number as Meta writes `wa_id`: digits only.
pub fn phone(value: &Value) -> Option<String> {
    scalar::text(value).filter(|t| is_wa_id(t))
}

/// Meta's `wa_id`: digits, read leniently in payloads.
fn is_wa_id(text: &str) -> bool {
    (1..=20).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
}

/// A phone number as a caller gives one: 5 to 20 digits.
pub fn is_phone(text: &str) -> bool {
    (5..=20).contains(&text.len()) && is_wa_id(text)
}

/// A phone as people write it (`+1 650-555-1234`): its digits.
pub(super) fn phone_as_written(value: &Value) -> Option<String> {
    let text = scalar::text(value)?;
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let only_punctuation = text
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    (only_punctuation && is_phone(&digits)).then_some(digits)
}

fn bsuid(value: &Value) -> Option<Bsuid> {
    scalar::text(value).and_then(|t| Bsuid::parse(&t))
}

impl Identity {
    pub fn is_empty(&self) -> bool {
        self.bsuid.is_none() && self.phone.is_none()
    }

    /// An incoming message's customer: its `from` / `from_user_id` and the
    /// change's contact for them.
    pub fn of_message(message: &Value, contacts: &[Value]) -> Self {
        let from = &message["from"];
        let mut identity = Identity {
            bsuid: bsuid(&message["from_user_id"]).or_else(|| bsuid(from)),
            phone: phone(from),
            parent_bsuid: bsuid(&message["from_parent_user_id"]),
            ..Identity::default()
        };
        identity.fill_from(contact_for(contacts, &identity));
        if message["type"] == "contacts" && message["origin"] == "contact_request" {
            // The customer tapped "share my phone number": the shared card
            // is their own (§1.7). An ordinary shared card is someone else.
            let shared = &message["contacts"][0]["phones"][0];
            if identity.phone.is_none() {
                identity.phone =
                    phone(&shared["wa_id"]).or_else(|| phone_as_written(&shared["phone"]));
            }
        }
        identity
    }

    /// A status's recipient (`recipient_user_id`, `recipient_id`, and the
    /// change's contact for them). A failed status may carry only the
    /// phone, or nothing: statuses are joined to messages by wamid.
    pub fn of_status(status: &Value, contacts: &[Value]) -> Self {
        let mut identity = Identity {
            bsuid: bsuid(&status["recipient_user_id"]),
            phone: phone(&status["recipient_id"]),
            // Both spellings are seen (§1.4).
            parent_bsuid: bsuid(&status["recipient_parent_user_id"])
                .or_else(|| bsuid(&status["parent_recipient_user_id"])),
            ..Identity::default()
        };
        identity.fill_from(contact_for(contacts, &identity));
        identity
    }

    /// A send response's `contacts[0]`: `wa_id` on the phone path,
    /// `user_id` on the BSUID path (§1.6).
    pub fn of_send_response(contact: &Value) -> Self {
        Identity {
            bsuid: bsuid(&contact["user_id"]),
            phone: phone(&contact["wa_id"]),
            ..Identity::default()
        }
    }

    fn fill_from(&mut self, contact: Option<&Value>) {
        let Some(contact) = contact else { return };
        self.bsuid = self.bsuid.take().or_else(|| bsuid(&contact["user_id"]));
        self.phone = self.phone.take().or_else(|| phone(&contact["wa_id"]));
        self.parent_bsuid = self
            .parent_bsuid
            .take()
            .or_else(|| bsuid(&contact["parent_user_id"]));
        self.username = scalar::string(&contact["profile"]["username"]).filter(|u| !u.is_empty());
        self.profile_name = scalar::string(&contact["profile"]["name"]).filter(|n| !n.is_empty());
    }
}

/// The change's contact with this BSUID or phone; the only one when a
/// change has one contact and the ids do not contradict it.
fn contact_for<'a>(contacts: &'a [Value], identity: &Identity) -> Option<&'a Value> {
    let matches = |c: &Value| {
        identity
            .bsuid
            .as_ref()
            .is_some_and(|b| bsuid(&c["user_id"]).as_ref() == Some(b))
            || identity
                .phone
                .as_ref()
                .is_some_and(|p| phone(&c["wa_id"]).as_ref() == Some(p))
    };
    contacts
        .iter()
        .find(|c| matches(c))
        .or_else(|| match contacts {
            [only] => {
                let contradicts = identity
                    .bsuid
                    .as_ref()
                    .is_some_and(|b| bsuid(&only["user_id"]).is_some_and(|o| &o != b))
                    || identity
                        .phone
                        .as_ref()
                        .is_some_and(|p| phone(&only["wa_id"]).is_some_and(|o| &o != p));
                (!contradicts).then_some(only)
            }
            _ => None,
        })
}

impl IdentityChange {
    /// A system message that moves the customer to new ids, if it is one.
    pub fn of_message(message: &Value) -> Option<Self> {
        if message["type"] != "system" {
            return None;
        }
        let system = &message["system"];
        let kind = system["type"].as_str()?;
        let change = match kind {
            "user_changed_number" | "customer_changed_number" => IdentityChange {
                previous_bsuid: bsuid(&system["previous_user_id"])
                    .or_else(|| bsuid(&message["from_user_id"])),
                previous_phone: phone(&message["from"]),
                bsuid: bsuid(&system["user_id"]),
                phone: phone(&system["wa_id"]).or_else(|| phone(&system["new_wa_id"])),
            },
            // `user_id_update` was documented for a while, then withdrawn:
            // read like `user_changed_user_id` if one still comes (§1.5).
            "user_changed_user_id" | "user_id_update" => IdentityChange {
                previous_bsuid: bsuid(&system["previous_user_id"])
                    .or_else(|| bsuid(&message["from_user_id"])),
                previous_phone: phone(&message["from"]),
                bsuid: bsuid(&system["user_id"]).or_else(|| bsuid(&system["new_user_id"])),
                phone: None,
            },
            _ => return None,
        };
        let knows_before = change.previous_bsuid.is_some() || change.previous_phone.is_some();
        let knows_after = change.bsuid.is_some() || change.phone.is_some();
        (knows_before && knows_after).then_some(change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(text: &str) -> Option<Bsuid> {
        Bsuid::parse(text)
    }

    #[test]
    fn a_username_customers_message_has_a_bsuid_and_no_phone() {
        let contacts = [
            json!({ "profile": { "name": "Sheena", "username": "@sheena.n" }, "user_id": "US.1349" }),
        ];
        let message = json!({ "from_user_id": "US.1349", "id": "wamid.1", "type": "text" });
        let identity = Identity::of_message(&message, &contacts);
        assert_eq!(identity.bsuid, id("US.1349"));
        assert_eq!(identity.phone, None);
        assert_eq!(identity.username.as_deref(), Some("@sheena.n"));
        assert_eq!(identity.profile_name.as_deref(), Some("Sheena"));
    }

    #[test]
    fn phone_and_bsuid_together_and_a_bsuid_in_from_is_not_a_phone() {
        let contacts = [
            json!({ "profile": { "name": "Ana" }, "wa_id": "16505551234", "user_id": "US.77", "parent_user_id": "US.ENT.9" }),
        ];
        let both = json!({ "from": "16505551234", "from_user_id": "US.77", "type": "text" });
        let identity = Identity::of_message(&both, &contacts);
        assert_eq!(
            (identity.bsuid, identity.phone.as_deref()),
            (id("US.77"), Some("16505551234"))
        );
        assert_eq!(identity.parent_bsuid, id("US.ENT.9"));
        let odd = json!({ "from": "US.77", "type": "text" });
        let identity = Identity::of_message(&odd, &[]);
        assert_eq!((identity.bsuid, identity.phone), (id("US.77"), None));
        let malformed = json!({ "from": "+1 650", "from_user_id": "us.1", "type": "text" });
        assert!(Identity::of_message(&malformed, &[]).is_empty());
    }

    #[test]
    fn a_contact_request_reply_gives_the_phone_but_a_shared_card_does_not() {
        let shared = |origin: &str| {
            json!({ "from_user_id": "US.5", "type": "contacts", "origin": origin,
            "contacts": [{ "phones": [{ "phone": "+1 (650) 555-1234" }] }] })
        };
        let asked = Identity::of_message(&shared("contact_request"), &[]);
        assert_eq!(asked.phone.as_deref(), Some("16505551234"));
        assert_eq!(Identity::of_message(&shared("other"), &[]).phone, None);
    }

    #[test]
    fn statuses_read_either_parent_spelling_and_failed_ones_carry_little() {
        let contacts = [json!({ "user_id": "US.5", "profile": { "username": "@five" } })];
        let delivered = json!({ "id": "wamid.1", "status": "delivered", "recipient_user_id": "US.5", "parent_recipient_user_id": "US.ENT.1" });
        let identity = Identity::of_status(&delivered, &contacts);
        assert_eq!(identity.bsuid, id("US.5"));
        assert_eq!(identity.parent_bsuid, id("US.ENT.1"));
        assert_eq!(identity.username.as_deref(), Some("@five"));
        let failed = json!({ "id": "wamid.2", "status": "failed", "recipient_id": "16505551234" });
        let identity = Identity::of_status(&failed, &[]);
        assert_eq!(
            (identity.bsuid, identity.phone.as_deref()),
            (None, Some("16505551234"))
        );
    }

    #[test]
    fn number_and_user_id_changes_are_read_with_their_old_ids() {
        let number = json!({ "from": "16505550000", "type": "system", "system": {
            "type": "user_changed_number", "wa_id": "16505559999", "user_id": "US.2", "previous_user_id": "US.1" } });
        assert_eq!(
            IdentityChange::of_message(&number),
            Some(IdentityChange {
                previous_bsuid: id("US.1"),
                previous_phone: Some("16505550000".into()),
                bsuid: id("US.2"),
                phone: Some("16505559999".into()),
            })
        );
        let user_id = json!({ "type": "system", "system": { "type": "user_changed_user_id", "user_id": "US.4", "previous_user_id": "US.3" } });
        let change = IdentityChange::of_message(&user_id).unwrap();
        assert_eq!(
            (change.previous_bsuid, change.bsuid, change.phone),
            (id("US.3"), id("US.4"), None)
        );
        let legacy = json!({ "from": "1650555000", "type": "system", "system": { "type": "customer_changed_number", "new_wa_id": "1650555111" } });
        assert_eq!(
            IdentityChange::of_message(&legacy)
                .unwrap()
                .phone
                .as_deref(),
            Some("1650555111")
        );
        let unknown =
            json!({ "type": "system", "system": { "type": "customer_identity_changed" } });
        assert_eq!(IdentityChange::of_message(&unknown), None);
        let text = json!({ "type": "text", "from": "1650555000" });
        assert_eq!(IdentityChange::of_message(&text), None);
    }
}
