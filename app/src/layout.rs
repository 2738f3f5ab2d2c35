//! The frame around every page: header, navigation, demo banner.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::status::installation_status;

#[component]
pub fn Layout(children: Children) -> impl IntoView {
    // On a phone the navigation folds behind a menu button.
    let menu_open = RwSignal::new(false);
    // Set only in the browser, once the WASM is live: the browser tests wait
    // for it, and it never changes the server's markup.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    view! {
        <div class="app" data-hydrated=move || hydrated.get().to_string()>
            <header class="topbar">
                <A href="/" attr:class="brand">
                    <span class="brand-mark" aria-hidden="true">"◎"</span>
                    "Switchboard"
                </A>
                <button
                    class="menu-toggle"
                    aria-controls="main-nav"
                    aria-expanded=move || menu_open.get().to_string()
                    on:click=move |_| menu_open.update(|open| *open = !*open)
                >
                    "Menu"
                </button>
                <nav
                    id="main-nav"
                    class="main-nav"
                    class:open=move || menu_open.get()
                    aria-label="Main"
                    // Following a link closes the menu so the page shows.
                    on:click=move |_| menu_open.set(false)
                >
                    <A href="/onboarding">"Onboarding"</A>
                    <A href="/conversations">"Conversations"</A>
                    <A href="/profile">"Profile"</A>
                    <A href="/settings">"Settings"</A>
                </nav>
            </header>
            <DemoBanner/>
            <main class="content">{children()}</main>
            <footer class="footer">"Switchboard · self-hosted WhatsApp Business Platform"</footer>
        </div>
    }
}

#[component]
fn DemoBanner() -> impl IntoView {
    let status = OnceResource::new(installation_status());
    view! {
        <Suspense>
            {move || {
                status
                    .get()
                    .and_then(Result::ok)
                    .filter(|s| s.demo_mode)
                    .map(|status| {
                        let opener = status.sandbox_url.map(|url| format!("{url}/_sandbox/opener"));
                        view! {
                            <div class="demo-banner" role="status">
                                <strong>"Demo mode"</strong>
                                " · no Meta credentials are configured; a local sandbox stands in for Meta. "
                                {opener.map(|href| view! { <a href=href target="_blank" rel="noopener">"Open the sandbox"</a> })}
                            </div>
                        }
                    })
            }}
        </Suspense>
    }
}
