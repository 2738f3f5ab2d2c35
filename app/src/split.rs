//! The client split by route: the first load of the Conversations page (a
//! team's working page) carries only its own code, the layout and the
//! home page. The rest is in two more WASM files, fetched when one of
//! their pages is first shown, or before a page of theirs hydrates:
//! the back office (settings, templates, onboarding...) and the welcome
//! pages (sign in, sign up, an invitation), seen once per session or
//! less. Two split points, not one per page: the build makes a file per
//! combination of split points sharing code, and a hundred small files
//! were slower to load over HTTP/1.1 than one large one.

use leptos::prelude::*;
use leptos_router::LazyRoute;

use crate::pages;

/// A page loaded on demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Page {
    Onboarding,
    Health,
    Profile,
    Bot,
    Templates,
    Settings,
    Members,
    Audit,
    WebhookEvents,
    OutgoingWebhooks,
    Costs,
    ApiKeys,
    ApiReference,
    SignIn,
    SignUp,
    Invite,
}

impl Page {
    const ALL: [Page; 16] = [
        Page::Onboarding,
        Page::Health,
        Page::Profile,
        Page::Bot,
        Page::Templates,
        Page::Settings,
        Page::Members,
        Page::Audit,
        Page::WebhookEvents,
        Page::OutgoingWebhooks,
        Page::Costs,
        Page::ApiKeys,
        Page::ApiReference,
        Page::SignIn,
        Page::SignUp,
        Page::Invite,
    ];

    fn is_welcome(self) -> bool {
        matches!(self, Page::SignIn | Page::SignUp | Page::Invite)
    }

    fn of(number: u8) -> Option<Page> {
        Page::ALL.get(usize::from(number)).copied()
    }
}

/// The route of page number `PAGE` (`Page as u8`: a lazy route is known
/// by its type alone). On the server its split point is a plain function
/// and the page renders whole; in the browser a page the server rendered
/// hydrates once its part has loaded ([`load_parts_of_this_page`]), and a
/// visit within the app shows it once fetched.
pub struct Route<const PAGE: u8>;

impl<const PAGE: u8> LazyRoute for Route<PAGE> {
    fn data() -> Self {
        Self
    }

    async fn view(_this: Self) -> AnyView {
        // A split point takes a plain number: its call crosses between two
        // WASM modules.
        match Page::of(PAGE) {
            Some(page) if page.is_welcome() => welcome(PAGE).await,
            _ => back_office(PAGE).await,
        }
    }
}

/// The router's view of a page loaded on demand: `route!(Members)`.
macro_rules! route {
    ($page:ident) => {
        ::leptos_router::Lazy::<$crate::split::Route<{ $crate::split::Page::$page as u8 }>>::new()
    };
}
pub(crate) use route;

/// Loads the parts of the client the page the server rendered uses
/// before it hydrates: the router hydrates a lazy route in step with the
/// rest of the page only if its code is at hand. (Leptos' own way,
/// `hydrate_lazy`, hydrates the page around the route first, and its
/// `Suspense`s then mismatched the server's HTML.) Which parts: the
/// [`PART`] marks each part's pages carry; the preload links the server
/// adds to the head are not always there (about half the renders of a
/// page in Leptos 0.8.23), so they cannot decide.
#[cfg(feature = "hydrate")]
pub async fn load_parts_of_this_page() {
    let Some(document) = web_sys::window().and_then(|window| window.document()) else {
        return;
    };
    let rendered = |part: &str| {
        let mark = format!("[{PART}='{part}']");
        matches!(document.query_selector(&mark), Ok(Some(_)))
    };
    if rendered(BACK_OFFICE) {
        __preload_back_office().await;
    }
    if rendered(WELCOME) {
        __preload_welcome().await;
    }
}

/// The attribute that names the part a page is in, on an empty element
/// before the page (written out in [`in_part`]'s view).
#[cfg(feature = "hydrate")]
const PART: &str = "data-client-part";
const BACK_OFFICE: &str = "back-office";
const WELCOME: &str = "welcome";

/// A page of a part, after the mark that names the part.
fn in_part(part: &'static str, page: impl IntoView + 'static) -> AnyView {
    view! { <span hidden data-client-part=part></span> {page} }.into_any()
}

/// The back office's split point.
#[lazy]
fn back_office(page: u8) -> AnyView {
    let page = match Page::of(page) {
        Some(Page::Onboarding) => {
            pages::signed_in("Connect WhatsApp", pages::Onboarding).into_any()
        }
        Some(Page::Health) => pages::signed_in("Number health", pages::Health).into_any(),
        Some(Page::Profile) => pages::signed_in("Profile", pages::Profile).into_any(),
        Some(Page::Bot) => pages::signed_in("Bot", pages::Bot).into_any(),
        Some(Page::Templates) => pages::signed_in("Templates", pages::Templates).into_any(),
        Some(Page::Settings) => pages::signed_in("Settings", pages::Settings).into_any(),
        Some(Page::Members) => pages::signed_in("Members", pages::Members).into_any(),
        Some(Page::Audit) => pages::signed_in("Audit log", pages::Audit).into_any(),
        Some(Page::WebhookEvents) => {
            pages::signed_in("Webhook events", pages::WebhookEvents).into_any()
        }
        Some(Page::OutgoingWebhooks) => {
            pages::signed_in("Outgoing webhooks", pages::OutgoingWebhooks).into_any()
        }
        Some(Page::Costs) => pages::signed_in("Costs", pages::Costs).into_any(),
        Some(Page::ApiKeys) => pages::signed_in("API keys", pages::ApiKeys).into_any(),
        Some(Page::ApiReference) => {
            pages::signed_in("API reference", pages::ApiReference).into_any()
        }
        Some(Page::SignIn | Page::SignUp | Page::Invite) | None => pages::NotFound().into_any(),
    };
    in_part(BACK_OFFICE, page)
}

/// The welcome pages' split point.
#[lazy]
fn welcome(page: u8) -> AnyView {
    let page = match Page::of(page) {
        Some(Page::SignIn) => pages::SignInPage().into_any(),
        Some(Page::SignUp) => pages::SignUpPage().into_any(),
        Some(Page::Invite) => pages::InvitePage().into_any(),
        _ => pages::NotFound().into_any(),
    };
    in_part(WELCOME, page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_is_found_by_its_number() {
        for page in Page::ALL {
            assert_eq!(Page::of(page as u8), Some(page));
        }
        assert_eq!(Page::of(Page::ALL.len() as u8), None);
    }
}
