//! Coexistence (reference meta-2026 §2): a number that stays in the
//! WhatsApp Business app while it joins the Cloud API. The app's number
//! exists before signup with its contacts and chat history
//! (`AppNumber`); Embedded Signup with `featureType:
//! whatsapp_business_app_onboarding` links it to a WABA (`onboard`), after
//! which the app may ask once per kind, within 24 hours, for the app's
//! contacts and history (`sync`), the business keeps typing in the app
//! (echoes), and the link can be offboarded, reconnected or removed
//! (`control`).

pub mod control;
pub mod history;
pub mod sync;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::{
    accounts::NameStatus,
    error::{GraphError, GraphResult},
    world::{Millis, Phone, World},
};

/// Coexistence numbers send at most 20 messages a second, whatever their
/// portfolio's level (reference meta-2026 §2, §7).
pub const THROUGHPUT: u32 = 20;

/// The calling codes Meta does not onboard for coexistence (Nigeria, South
/// Africa; reference meta-2026 §2).
const UNSUPPORTED_COUNTRIES: [&str; 2] = ["234", "27"];

/// A contact saved in the business app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppContact {
    pub phone_number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
}

/// A WhatsApp Business app number as the app holds it before (and after)
/// it joins the platform.
#[derive(Debug, Clone)]
pub struct AppNumber {
    pub display_phone_number: String,
    pub verified_name: String,
    pub contacts: Vec<AppContact>,
    pub history: history::Spec,
    /// The share-history opt-in's default in the signup popup.
    pub share_history: bool,
}

/// Where a linked number stands (reference meta-2026 §2, `account_update`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LinkState {
    Connected,
    /// The app was reinstalled or moved to another device: the API may not
    /// send until `ACCOUNT_RECONNECTED`.
    Offboarded,
    /// `PARTNER_REMOVED`: terminal, the app's access to the WABA ended.
    Removed,
}

/// The two kinds of `smb_app_data` sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncType {
    SmbAppStateSync,
    History,
}

impl SyncType {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "smb_app_state_sync" => Some(Self::SmbAppStateSync),
            "history" => Some(Self::History),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::SmbAppStateSync => "smb_app_state_sync",
            Self::History => "history",
        }
    }
}

/// What joining the platform left on a coexistence number.
#[derive(Debug, Clone)]
pub struct Link {
    pub onboarded_at: Millis,
    /// The business kept the "share chat history" opt-in.
    pub share_history: bool,
    /// The app's contacts as they are now (live changes included).
    pub contacts: Vec<AppContact>,
    /// The chat history, until the history sync hands it over.
    pub history: Vec<history::Message>,
    pub chunk_messages: usize,
    pub shuffle: bool,
    /// Sync kinds already asked for (each only once).
    pub synced: Vec<SyncType>,
    pub state: LinkState,
}

impl Link {
    /// Connected or offboarded: the number is still the app's on the
    /// platform.
    pub fn active(&self) -> bool {
        self.state != LinkState::Removed
    }
}

/// The business-app number the person chose in the popup (or a test): one
/// the sandbox knows (`POST /_sandbox/business-app/numbers`), or a typed
/// number, which then has no contacts and no history.
pub struct Choice {
    pub display_phone_number: String,
    /// The business name, for a number the sandbox does not know.
    pub verified_name: Option<String>,
    /// The share-history opt-in as ticked; the number's default if `None`.
    pub share_history: Option<bool>,
}

/// Digits of a phone number as people type it (`+`, spaces, dashes), if
/// it has 8 to 15.
pub fn digits(text: &str) -> Option<String> {
    let digits: String = text
        .trim()
        .trim_start_matches('+')
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
        .collect();
    ((8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()))
        .then_some(digits)
}

/// Links a business-app number to `waba_id`, as finishing Embedded Signup
/// with the business app does: the number joins the WABA registered (the
/// app keeps its registration, so no `/register`), verified, at the fixed
/// coexistence throughput. Returns the phone number id, or what the popup
/// would tell the person.
pub fn onboard(
    world: &mut World,
    rng: &mut fastrand::Rng,
    now: Millis,
    waba_id: &str,
    choice: Choice,
) -> Result<String, String> {
    let Choice {
        display_phone_number,
        verified_name,
        share_history,
    } = choice;
    let display = digits(&display_phone_number)
        .ok_or("Enter the business app's phone number (8 to 15 digits).")?;
    if UNSUPPORTED_COUNTRIES
        .iter()
        .any(|cc| display.starts_with(cc))
    {
        return Err("Numbers from this country can't connect the WhatsApp Business app.".into());
    }
    let app = match world.business_app.get(&display) {
        Some(app) => app.clone(),
        None => {
            let name = verified_name
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .ok_or("Enter the business name shown in the app.")?;
            AppNumber {
                display_phone_number: display.clone(),
                verified_name: name.to_string(),
                contacts: Vec::new(),
                history: history::Spec::none(),
                share_history: true,
            }
        }
    };
    // A number lives in one place: a removed link on this WABA is joined
    // again, anything else is refused.
    let existing = world
        .phones
        .values()
        .find(|p| p.display_phone_number == display)
        .cloned();
    let phone_id = match existing {
        Some(phone) if phone.coexistence.as_ref().is_some_and(Link::active) => {
            return Err(
                "This number is already connected to the WhatsApp Business Platform.".into(),
            )
        }
        Some(phone) if phone.coexistence.is_some() && phone.waba_id == waba_id => phone.id,
        Some(_) => return Err("This number is already on the WhatsApp Business Platform.".into()),
        None => crate::ids::numeric(rng),
    };
    let history = history::generate(&app.history, now, rng);
    let mut phone = Phone::added(&phone_id, waba_id, &display, &app.verified_name, THROUGHPUT);
    // The app's name is already the one customers see.
    phone.name_status = NameStatus::Approved;
    phone.registered = true;
    phone.onboarded_at = Some(now);
    phone.coexistence = Some(Link {
        onboarded_at: now,
        share_history: share_history.unwrap_or(app.share_history),
        contacts: app.contacts.clone(),
        history,
        chunk_messages: app.history.chunk_messages,
        shuffle: app.history.shuffle,
        synced: Vec::new(),
        state: LinkState::Connected,
    });
    world.phones.insert(phone_id.clone(), phone);
    Ok(phone_id)
}

/// Refuses a Graph call on a WABA (or one of its numbers) whose business
/// removed the app (`PARTNER_REMOVED`): Meta's permission family (code
/// 200, HTTP 403). The exact code and words Meta uses here are
/// unconfirmed.
pub fn check_access(world: &World, waba_id: &str) -> GraphResult<()> {
    let unshared = world.wabas.get(waba_id).is_some_and(|w| w.unshared);
    if unshared {
        return Err(GraphError::whatsapp(
            StatusCode::FORBIDDEN,
            200,
            "Permissions error",
            format!(
                "The business removed this app's access to WhatsApp Business Account {waba_id} (PARTNER_REMOVED)."
            ),
        ));
    }
    Ok(())
}

/// Refuses sends from an offboarded number. Meta's code for this is
/// unconfirmed; 133010 (not registered) is what a number that lost its
/// Cloud API registration gets.
pub fn check_send(phone: &Phone) -> GraphResult<()> {
    match phone.coexistence.as_ref().map(|l| l.state) {
        Some(LinkState::Offboarded) => Err(GraphError::whatsapp(
            StatusCode::BAD_REQUEST,
            133010,
            "Account not registered",
            "The number was offboarded from the WhatsApp Business Platform (ACCOUNT_OFFBOARDED); it sends again once reconnected.",
        )),
        _ => Ok(()),
    }
}
