//! Switchboard's UI: the shell, the layout and the pages. Isomorphic: built
//! with `ssr` into the server and with `hydrate` into the WASM client.
//! Server functions here stay thin: who is asking, then one engine call.

mod layout;
mod pages;
pub mod status;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path,
};

/// The HTML document around the app; rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();

    view! {
        <Stylesheet id="leptos" href="/pkg/switchboard.css"/>
        <Title formatter=|page: String| format!("{page} · Switchboard")/>
        <Router>
            <layout::Layout>
                <Routes fallback=pages::NotFound>
                    <Route path=path!("/") view=pages::Home/>
                    <Route path=path!("/onboarding") view=pages::Onboarding/>
                    <Route path=path!("/conversations") view=pages::Conversations/>
                    <Route path=path!("/profile") view=pages::Profile/>
                    <Route path=path!("/settings") view=pages::Settings/>
                </Routes>
            </layout::Layout>
        </Router>
    }
}
