//! One module per page, named like the server functions it calls
//! (`crate::api`). Pages whose issues are not built yet say so plainly.

mod account;
mod api_keys;
mod api_reference;
mod audit;
mod bot;
mod conversations;
mod costs;
mod forms;
mod health;
mod home;
mod members;
mod not_found;
mod onboarding;
mod outgoing_webhooks;
mod profile;
mod templates;
mod time;
mod two_factor;
mod webhook_events;

pub use account::{signed_in, Settings, SignInPage, SignUpPage};
pub use api_keys::ApiKeys;
pub use api_reference::ApiReference;
pub use audit::Audit;
pub use bot::Bot;
pub use conversations::Conversations;
pub use costs::Costs;
pub use health::Health;
pub use home::Home;
pub use members::{InvitePage, Members};
pub use not_found::NotFound;
pub use onboarding::Onboarding;
pub use outgoing_webhooks::OutgoingWebhooks;
pub use profile::Profile;
pub use templates::Templates;
pub use webhook_events::WebhookEvents;
