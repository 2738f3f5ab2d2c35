//! The client in parts: the pages most visits never open live in their own
//! WASM files, fetched when a page needs them (`cargo leptos build --split`).
//!
//! - the main file: the layout, the home page and Conversations;
//! - the back office: onboarding, number health, profile, bot, templates and
//!   every settings page;
//! - the welcome pages: sign in, sign up, an invitation.
//!
//! Two split points, not one per page: the splitter makes a file for each
//! combination of split points that share code, and one per page made about
//! a hundred small files, slower over HTTP/1.1 than one big one.
//!
//! Hydration must build exactly the tree the server rendered, at once. So a
//! part is never awaited while hydrating: each part's pages carry a mark
//! (`data-client-part`), the entry point loads the marked parts first
//! ([`load_marked_parts`]) and only then hydrates, and a page whose part is
//! loaded is built synchronously, as in a client of one file. Only a page
//! reached by navigating in the browser waits for its part, behind a
//! `Suspense` that nothing hydrates. The server renders every page directly.

use leptos::prelude::*;

/// The back office's pages, in their own part of the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum BackOffice {
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
}

/// The pages for people not yet signed in, in their own part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Welcome {
    SignIn,
    SignUp,
    Invite,
}

/// A part of the client, as its pages mark it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    BackOffice,
    Welcome,
}

impl Part {
    pub const ALL: [Part; 2] = [Part::BackOffice, Part::Welcome];

    /// The value of the `data-client-part` mark on the part's pages.
    pub fn mark(self) -> &'static str {
        match self {
            Part::BackOffice => "back-office",
            Part::Welcome => "welcome",
        }
    }
}

/// A back-office page: built at once on the server, and in the browser once
/// its part is loaded.
pub fn back_office(page: BackOffice) -> impl IntoView {
    #[cfg(not(feature = "hydrate"))]
    let view = back_office_view(page);
    #[cfg(feature = "hydrate")]
    let view = client::in_part(Part::BackOffice, move || client::back_office_page(page));
    view! { <PartMark part=Part::BackOffice/> {view} }
}

/// A welcome page, as [`back_office`].
pub fn welcome(page: Welcome) -> impl IntoView {
    #[cfg(not(feature = "hydrate"))]
    let view = welcome_view(page);
    #[cfg(feature = "hydrate")]
    let view = client::in_part(Part::Welcome, move || client::welcome_page(page));
    view! { <PartMark part=Part::Welcome/> {view} }
}

/// Tells the browser, before it hydrates, which part the page needs.
#[component]
fn PartMark(part: Part) -> impl IntoView {
    view! { <span hidden data-client-part=part.mark()></span> }
}

// Under `hydrate` these move into their part's file (through the
// `wasm_split` functions in `client`); on the server they are called as is.
fn back_office_view(page: BackOffice) -> AnyView {
    use crate::pages::*;
    match page {
        BackOffice::Onboarding => view! { <Onboarding/> }.into_any(),
        BackOffice::Health => view! { <Health/> }.into_any(),
        BackOffice::Profile => view! { <Profile/> }.into_any(),
        BackOffice::Bot => view! { <Bot/> }.into_any(),
        BackOffice::Templates => view! { <Templates/> }.into_any(),
        BackOffice::Settings => view! { <Settings/> }.into_any(),
        BackOffice::Members => view! { <Members/> }.into_any(),
        BackOffice::Audit => view! { <Audit/> }.into_any(),
        BackOffice::WebhookEvents => view! { <WebhookEvents/> }.into_any(),
        BackOffice::OutgoingWebhooks => view! { <OutgoingWebhooks/> }.into_any(),
        BackOffice::Costs => view! { <Costs/> }.into_any(),
        BackOffice::ApiKeys => view! { <ApiKeys/> }.into_any(),
        BackOffice::ApiReference => view! { <ApiReference/> }.into_any(),
    }
}

fn welcome_view(page: Welcome) -> AnyView {
    use crate::pages::*;
    match page {
        Welcome::SignIn => view! { <SignInPage/> }.into_any(),
        Welcome::SignUp => view! { <SignUpPage/> }.into_any(),
        Welcome::Invite => view! { <InvitePage/> }.into_any(),
    }
}

#[cfg(feature = "hydrate")]
pub use client::load_marked_parts;

#[cfg(feature = "hydrate")]
mod client {
    use std::{
        future::Future,
        pin::pin,
        sync::atomic::{AtomicBool, Ordering},
        task::{Context, Poll, Waker},
    };

    use leptos::{
        prelude::*,
        wasm_split::{wasm_split, SplitLoaderError},
    };

    use super::{back_office_view, welcome_view, BackOffice, Part, Welcome};

    #[wasm_split(back_office, wasm_split_path = ::leptos::wasm_split, preload(load_back_office), fallible)]
    pub fn back_office_page(page: BackOffice) -> Result<AnyView, SplitLoaderError> {
        Ok(back_office_view(page))
    }

    #[wasm_split(welcome, wasm_split_path = ::leptos::wasm_split, preload(load_welcome), fallible)]
    pub fn welcome_page(page: Welcome) -> Result<AnyView, SplitLoaderError> {
        Ok(welcome_view(page))
    }

    static BACK_OFFICE_LOADED: AtomicBool = AtomicBool::new(false);
    static WELCOME_LOADED: AtomicBool = AtomicBool::new(false);

    fn loaded_flag(part: Part) -> &'static AtomicBool {
        match part {
            Part::BackOffice => &BACK_OFFICE_LOADED,
            Part::Welcome => &WELCOME_LOADED,
        }
    }

    async fn load(part: Part) -> Result<(), SplitLoaderError> {
        match part {
            Part::BackOffice => load_back_office().await?,
            Part::Welcome => load_welcome().await?,
        }
        loaded_flag(part).store(true, Ordering::Release);
        Ok(())
    }

    /// Loads the parts the server's page is marked with; call before
    /// hydrating. A part that fails to load leaves the page unhydrated
    /// (readable, its links and forms working as plain HTML) rather than
    /// hydrating a tree the server did not render.
    pub async fn load_marked_parts() -> Result<(), SplitLoaderError> {
        let document = document();
        for part in Part::ALL {
            let selector = format!("[data-client-part=\"{}\"]", part.mark());
            if let Ok(Some(_)) = document.query_selector(&selector) {
                load(part).await?;
            }
        }
        Ok(())
    }

    /// The page at once when its part is loaded (always so while
    /// hydrating); otherwise, after navigating, once the part arrives.
    pub fn in_part<F>(part: Part, page: impl Fn() -> F + Send + Sync + 'static) -> AnyView
    where
        F: Future<Output = Result<AnyView, SplitLoaderError>> + 'static,
    {
        if loaded_flag(part).load(Ordering::Acquire) {
            // Loaded, so the call's future is ready when first polled.
            let mut future = pin!(page());
            if let Poll::Ready(result) = future
                .as_mut()
                .poll(&mut Context::from_waker(Waker::noop()))
            {
                return shown(result);
            }
        }
        view! {
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {Suspend::new({
                    let page = send_wrapper::SendWrapper::new(page());
                    async move {
                        let result = page.await;
                        if result.is_ok() {
                            loaded_flag(part).store(true, Ordering::Release);
                        }
                        shown(result)
                    }
                })}
            </Suspense>
        }
        .into_any()
    }

    fn shown(result: Result<AnyView, SplitLoaderError>) -> AnyView {
        result.unwrap_or_else(|_| {
            view! {
                <p class="form-error" role="alert">
                    "This page could not be loaded. Check the connection, then reload the page."
                </p>
            }
            .into_any()
        })
    }
}
