//! One module per page. Pages whose issues are not built yet say so plainly.

mod api_keys;
mod api_reference;
mod auth;
mod bot;
mod conversations;
mod events;
mod forms;
mod home;
mod not_found;
mod onboarding;
mod outgoing_webhooks;
mod profile;
mod settings;
mod templates;
mod time;

pub use api_keys::ApiKeys;
pub use api_reference::ApiReference;
pub use auth::{InvitePage, SignInPage, SignUpPage};
pub use bot::Bot;
pub use conversations::Conversations;
pub use events::Events;
pub use home::Home;
pub use not_found::NotFound;
pub use onboarding::Onboarding;
pub use outgoing_webhooks::OutgoingWebhooks;
pub use profile::Profile;
pub use settings::{Audit, Members, Settings};
pub use templates::Templates;
