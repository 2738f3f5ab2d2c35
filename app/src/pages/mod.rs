//! One module per page. Pages whose issues are not built yet say so plainly.

mod auth;
mod forms;
mod home;
mod not_found;
mod placeholder;
mod settings;

pub use auth::{InvitePage, RequireSignIn, SignInPage, SignUpPage};
pub use home::Home;
pub use not_found::NotFound;
pub use placeholder::{Conversations, Onboarding, Profile};
pub use settings::{Audit, Members, Settings};
