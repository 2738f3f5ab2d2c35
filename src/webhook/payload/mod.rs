//! Meta's webhook bodies, read once and tolerantly into typed values: every
//! entry and change, both the older payloads and those with the newer
//! user-id fields, ids and timestamps as strings or numbers, unknown message
//! types and unknown fields. Nothing here trusts a field to exist, and what
//! the store keeps (a change's value, a message's object) stays as received.
//!
//! A new field Meta sends is read in the module of its change, and nowhere
//! else: the planner works on these types only.

mod account;
mod account_update;
mod business_app;
mod change;
mod envelope;
mod identity;
mod messages;
pub(crate) mod scalar;

pub use account::{QualityUpdate, TemplateStatusUpdate, TemplateUpdate};
pub use account_update::{
    messaging_limit, AccountEvent, AccountUpdate, Ban, BanState, CapabilityUpdate, Disconnection,
    NameUpdate, PricingTier, Removal, Restriction, Violation,
};
pub use business_app::{
    AppMessage, Direction, Echoes, History, HistoryChunk, SavedContact, StateSync, HISTORY_DECLINED,
};
pub use change::Change;
pub use envelope::{parse, Entry, Envelope, Rejection};
pub use identity::{is_phone, Identity, IdentityChange};
pub use messages::{
    status_rank, summary, InboundMessage, Message, Messages, MetaError, Pricing, Status,
    StatusUpdate,
};
