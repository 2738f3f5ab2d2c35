//! Server functions, grouped by what they own; a page that calls them has
//! the same module name in `crate::pages`. Each is thin: who is asking
//! (session, role, workspace), then one engine call, then a view type.
//! Every one of them must be listed in the server's refusal test.

pub mod account;
pub mod api_keys;
pub mod api_reference;
pub mod audit;
pub mod bot;
pub mod conversations;
pub mod installation;
pub mod members;
pub mod onboarding;
pub mod outgoing_webhooks;
pub mod profile;
pub mod templates;
pub mod webhook_events;
