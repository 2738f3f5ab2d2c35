//! One module per page. Pages whose issues are not built yet say so plainly.

mod home;
mod not_found;
mod placeholder;

pub use home::Home;
pub use not_found::NotFound;
pub use placeholder::{Conversations, Onboarding, Profile, Settings};
