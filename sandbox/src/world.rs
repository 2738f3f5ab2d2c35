//! The sandbox's in-memory picture of Meta: businesses, WABAs, phone
//! numbers, tokens, customers and their chats. One lock guards it all; no
//! handler holds it across an `.await`.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::accounts::{NameStatus, PortfolioLimits, Standing};

/// Milliseconds since the Unix epoch, on the sandbox's (movable) clock.
pub type Millis = i64;

pub const DAY_MS: Millis = 24 * 60 * 60 * 1000;

#[derive(Debug, Clone)]
pub struct Business {
    pub id: String,
    pub name: String,
    /// Messaging limit and phone number cap, shared by its numbers.
    pub limits: PortfolioLimits,
}

#[derive(Debug, Clone)]
pub struct Waba {
    pub id: String,
    pub name: String,
    pub business_id: String,
    pub subscribed: bool,
    pub override_callback: Option<CallbackOverride>,
    /// Restrictions and bans Meta placed on it.
    pub standing: Standing,
    /// The business took the app's access away (coexistence
    /// `PARTNER_REMOVED`); finishing Embedded Signup on it shares it again.
    pub unshared: bool,
}

#[derive(Debug, Clone)]
pub struct CallbackOverride {
    pub uri: String,
}

#[derive(Debug, Clone, Default)]
pub struct BusinessProfile {
    pub about: Option<String>,
    pub address: Option<String>,
    pub description: Option<String>,
    pub email: Option<String>,
    pub websites: Vec<String>,
    pub vertical: Option<String>,
    pub profile_picture_handle: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Phone {
    pub id: String,
    pub waba_id: String,
    pub display_phone_number: String,
    pub verified_name: String,
    /// The display name's review.
    pub name_status: NameStatus,
    pub registered: bool,
    /// Passed SMS or voice verification (`code_verification_status`).
    pub verified: bool,
    /// Verification codes asked for it (`request_code`, `verify_code`).
    pub verification: crate::verification::Codes,
    pub pin: Option<String>,
    /// Times of register calls, for the 10-per-72-hours limit.
    pub register_attempts: Vec<Millis>,
    pub quality_rating: String,
    pub profile: BusinessProfile,
    /// Messages per second this number may send.
    pub throughput: u32,
    /// While Meta raises the number's throughput (up to a minute), sends
    /// are refused with 131057 until this time.
    pub upgrading_until: Option<Millis>,
    /// Set for a WhatsApp Business app number onboarded for coexistence.
    pub coexistence: Option<crate::coexistence::Link>,
    /// When Embedded Signup last onboarded it (`last_onboarded_time`).
    pub onboarded_at: Option<Millis>,
}

impl Phone {
    /// A number as Embedded Signup adds it: verified, not registered, no
    /// PIN, its display name under review, no quality rating yet.
    pub fn added(id: &str, waba_id: &str, display: &str, name: &str, throughput: u32) -> Self {
        Self {
            id: id.to_string(),
            waba_id: waba_id.to_string(),
            display_phone_number: display.to_string(),
            verified_name: name.to_string(),
            name_status: NameStatus::PendingReview,
            registered: false,
            verified: true,
            verification: Default::default(),
            pin: None,
            register_attempts: Vec::new(),
            quality_rating: "UNKNOWN".into(),
            profile: BusinessProfile::default(),
            throughput,
            upgrading_until: None,
            coexistence: None,
            onboarded_at: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    /// A business integration system user token from Embedded Signup.
    BusinessIntegration,
}

impl TokenKind {
    /// The `type` debug_token reports.
    pub fn debug_type(&self) -> &'static str {
        match self {
            Self::BusinessIntegration => "SYSTEM_USER",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Token {
    /// The system user the token acts as.
    pub user_id: String,
    pub business_id: String,
    pub waba_ids: Vec<String>,
    pub issued_at: Millis,
    pub expires_at: Option<Millis>,
    pub revoked: bool,
    pub kind: TokenKind,
}

impl Token {
    pub fn may_manage_waba(&self, waba_id: &str) -> bool {
        self.waba_ids.iter().any(|id| id == waba_id)
    }
}

#[derive(Debug, Clone)]
pub struct AuthCode {
    pub business_id: String,
    pub waba_ids: Vec<String>,
    pub issued_at: Millis,
    pub used: bool,
    /// A code from the OAuth dialog is bound to its `redirect_uri` (the
    /// exchange must repeat it) and, with PKCE, to its `code_challenge`.
    /// Codes from the JS SDK have neither.
    pub redirect_uri: Option<String>,
    pub challenge: Option<crate::dialog::Challenge>,
}

#[derive(Debug, Clone)]
pub struct Media {
    pub id: String,
    pub phone_id: String,
    pub mime_type: String,
    pub bytes: Vec<u8>,
    pub sha256: String,
}

/// A short-lived download address handed out by `GET /{media-id}`.
#[derive(Debug, Clone)]
pub struct MediaUrl {
    pub media_id: String,
    pub expires_at: Millis,
}

#[derive(Debug, Clone)]
pub struct UploadSession {
    pub file_length: usize,
    pub received: Vec<u8>,
    pub handle: Option<String>,
}

/// One line of a chat, as the customer's phone would show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ChatLine {
    /// `inbound` (customer to business) or `outbound` (business to customer).
    pub direction: &'static str,
    pub wamid: String,
    pub timestamp: Millis,
    pub message: Value,
    /// For outbound lines: the last status delivered to the business.
    pub status: Option<String>,
    /// Outbound lines: sent to the phone (`to`), which keeps a username
    /// user's phone visible to the business for 30 days.
    #[serde(skip)]
    pub by_phone: bool,
    /// `business_app` for what the business typed in the WhatsApp Business
    /// app of a coexistence number (not sent through the API).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<&'static str>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct DeliveryAttempt {
    pub delivery_id: u64,
    pub attempt: u32,
    pub url: String,
    /// The HTTP status, or `None` when the request failed outright.
    pub status: Option<u16>,
    pub error: Option<String>,
    pub at: Millis,
    pub signature: String,
    pub body: String,
}

#[derive(Default)]
pub struct World {
    pub businesses: BTreeMap<String, Business>,
    pub wabas: BTreeMap<String, Waba>,
    pub phones: BTreeMap<String, Phone>,
    pub codes: HashMap<String, AuthCode>,
    /// OAuth dialogs opened and not yet finished or cancelled, by session.
    pub dialogs: HashMap<String, crate::dialog::Session>,
    pub tokens: HashMap<String, Token>,
    /// Chats keyed by (phone number id, customer wa_id).
    pub chats: BTreeMap<(String, String), Vec<ChatLine>>,
    pub media: HashMap<String, Media>,
    pub media_urls: HashMap<String, MediaUrl>,
    pub uploads: HashMap<String, UploadSession>,
    pub upload_handles: Vec<String>,
    pub deliveries: Vec<DeliveryAttempt>,
    /// Messages per phone number in the current second, sent and received
    /// (Meta's throughput counts both): (second, count).
    pub throughput_counters: HashMap<String, (Millis, u32)>,
    /// Pair limit per (phone, recipient): a token bucket (tokens, as of).
    pub pair_buckets: HashMap<(String, String), (f64, Millis)>,
    /// Message templates of every WABA.
    pub templates: Vec<crate::templates::Template>,
    /// Users by phone, where the sandbox knows more than the phone.
    pub users: HashMap<String, crate::users::User>,
    /// Customers who came from an ad, per (phone number id, wa_id), and
    /// the free entry point window a reply opens.
    pub entry_points: HashMap<(String, String), crate::pricing::EntryPoint>,
    /// Meta's contact book: (portfolio, phone) pairs whose phone every
    /// number of the portfolio may see.
    pub contact_book: std::collections::HashSet<(String, String)>,
    /// WhatsApp Business app numbers (by display digits) with the data the
    /// app holds, before and after they join the platform (coexistence).
    pub business_app: BTreeMap<String, crate::coexistence::AppNumber>,
    /// Customer numbers handed out for business-app chat histories.
    pub app_customers_issued: u32,
}

impl World {
    pub fn phones_of<'a>(&'a self, waba_id: &'a str) -> impl Iterator<Item = &'a Phone> {
        self.phones.values().filter(move |p| p.waba_id == waba_id)
    }

    /// When the customer last wrote to this number (opens the 24 h window).
    pub fn last_inbound(&self, phone_id: &str, wa_id: &str) -> Option<Millis> {
        self.chats
            .get(&(phone_id.to_string(), wa_id.to_string()))?
            .iter()
            .rev()
            .find(|line| line.direction == "inbound")
            .map(|line| line.timestamp)
    }
}
