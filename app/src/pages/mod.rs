//! One module per page. Pages whose issues are not built yet say so plainly.

mod auth;
mod conversations;
mod events;
mod forms;
mod home;
mod not_found;
mod onboarding;
mod placeholder;
mod settings;
mod time;

pub use auth::{InvitePage, RequireSignIn, SignInPage, SignUpPage};
pub use conversations::Conversations;
pub use events::Events;
pub use home::Home;
pub use not_found::NotFound;
pub use onboarding::Onboarding;
pub use placeholder::Profile;
pub use settings::{Audit, Members, Settings};
