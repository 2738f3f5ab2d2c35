//! Switchboard's UI: the shell, the layout and the pages. Isomorphic: built
//! with `ssr` into the server and with `hydrate` into the WASM client.
//! Server functions here stay thin: who is asking, then one engine call.

pub mod api;
pub mod errors;
#[cfg(feature = "ssr")]
pub mod exports;
#[cfg(feature = "ssr")]
pub mod failures;
#[cfg(feature = "hydrate")]
mod js;
mod layout;
pub mod live;
#[cfg(feature = "ssr")]
pub mod media;
mod mounted;
mod pages;
#[cfg(feature = "ssr")]
mod security;
#[cfg(feature = "ssr")]
pub mod session;
mod session_state;
pub mod signup;
pub mod split;
#[cfg(feature = "hydrate")]
mod upload;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::{
    components::{Redirect, Route, Router, Routes},
    path, SsrMode,
};
use split::{back_office, welcome, BackOffice, Welcome};

/// The HTML document around the app; rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        leptos::nonce::provide_nonce();
        security::set_page_policy();
        provide_context(session::PageSession::default());
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                // Named by content in a hashed build (kept a year).
                <HashedStylesheet options=options.clone() id="leptos"/>
                <HydrationScripts options/>
                <meta name="drawn-at" content=drawn_at()/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// When the server began drawing the page (Unix ms), before any of its
/// reads: the live stream catches up from then (`live`), so the page
/// fetches again only what changed since.
fn drawn_at() -> String {
    #[cfg(feature = "ssr")]
    return switchboard::store::now_millis().to_string();
    #[cfg(not(feature = "ssr"))]
    return String::new();
}

/// Pages behind sign-in render whole on the server (`SsrMode::Async`), so
/// that sending an anonymous visitor to sign in is a real 302.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    live::Live::provide();
    session_state::SessionState::provide();

    view! {
        <Title formatter=|page: String| format!("{page} · Switchboard")/>
        <Router>
            <layout::Layout>
                <Routes fallback=pages::NotFound>
                    <Route path=path!("/") view=pages::Home/>
                    <Route path=path!("/onboarding") view=|| pages::signed_in("Connect WhatsApp", || back_office(BackOffice::Onboarding)) ssr=SsrMode::Async/>
                    <Route path=path!("/numbers/:id/health") view=|| pages::signed_in("Number health", || back_office(BackOffice::Health)) ssr=SsrMode::Async/>
                    <Route path=path!("/conversations") view=|| pages::signed_in("Conversations", pages::Conversations) ssr=SsrMode::Async/>
                    <Route path=path!("/profile") view=|| pages::signed_in("Profile", || back_office(BackOffice::Profile)) ssr=SsrMode::Async/>
                    <Route path=path!("/bot") view=|| pages::signed_in("Bot", || back_office(BackOffice::Bot)) ssr=SsrMode::Async/>
                    <Route path=path!("/templates") view=|| pages::signed_in("Templates", || back_office(BackOffice::Templates)) ssr=SsrMode::Async/>
                    <Route path=path!("/settings") view=|| pages::signed_in("Settings", || back_office(BackOffice::Settings)) ssr=SsrMode::Async/>
                    <Route path=path!("/settings/members") view=|| pages::signed_in("Members", || back_office(BackOffice::Members)) ssr=SsrMode::Async/>
                    <Route path=path!("/settings/audit") view=|| pages::signed_in("Audit log", || back_office(BackOffice::Audit)) ssr=SsrMode::Async/>
                    <Route path=path!("/settings/events") view=|| pages::signed_in("Webhook events", || back_office(BackOffice::WebhookEvents)) ssr=SsrMode::Async/>
                    <Route path=path!("/settings/outgoing-webhooks") view=|| pages::signed_in("Outgoing webhooks", || back_office(BackOffice::OutgoingWebhooks)) ssr=SsrMode::Async/>
                    // The page's first address, kept for bookmarks.
                    <Route path=path!("/settings/webhooks") view=|| view! { <Redirect path="/settings/outgoing-webhooks"/> } ssr=SsrMode::Async/>
                    <Route path=path!("/settings/costs") view=|| pages::signed_in("Costs", || back_office(BackOffice::Costs)) ssr=SsrMode::Async/>
                    <Route path=path!("/settings/api-keys") view=|| pages::signed_in("API keys", || back_office(BackOffice::ApiKeys)) ssr=SsrMode::Async/>
                    <Route path=path!("/settings/api") view=|| pages::signed_in("API reference", || back_office(BackOffice::ApiReference)) ssr=SsrMode::Async/>
                    <Route path=path!("/sign-in") view=|| welcome(Welcome::SignIn)/>
                    <Route path=path!("/sign-up") view=|| welcome(Welcome::SignUp)/>
                    <Route path=path!("/invite/:token") view=|| welcome(Welcome::Invite)/>
                </Routes>
            </layout::Layout>
        </Router>
    }
}
