//! Server functions, grouped by what they own. Each is thin: who is asking
//! (session, role, workspace), then one engine call, then a view type.
//! Every one of them must be listed in the server's refusal test.

pub mod account;
pub mod api_keys;
pub mod audit;
pub mod bot;
pub mod conversations;
pub mod developers;
pub mod events;
pub mod members;
pub mod onboarding;
pub mod outgoing_webhooks;
pub mod profile;
pub mod templates;
