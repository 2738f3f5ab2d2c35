//! The frame around every page: header, navigation, demo banner.

use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_navigate};

use crate::{
    api::{
        account::{welcome, SignOut, SwitchWorkspace},
        installation::installation_status,
        tokens::expiring_tokens,
    },
    live::{Live, Topic},
    mounted::use_mounted,
    session_state::SessionState,
};

#[component]
pub fn Layout(children: Children) -> impl IntoView {
    // On a phone the navigation folds behind a menu button.
    let menu_open = RwSignal::new(false);
    // Set only in the browser, once the WASM is live: the browser tests wait
    // for it, and it never changes the server's markup.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    // Every signed-in page follows the live stream (banners included).
    let live = expect_context::<Live>();
    let state = expect_context::<SessionState>();
    Effect::new(move |_| {
        if state.me().is_some() {
            live.connect();
        }
    });

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
                    // Full page loads: only the onboarding page's CSP admits Meta's SDK.
                    <A href="/onboarding" attr:rel="external">"Onboarding"</A>
                    <A href="/conversations">"Conversations"</A>
                    <A href="/bot">"Bot"</A>
                    <A href="/templates">"Templates"</A>
                    <A href="/profile">"Profile"</A>
                    <A href="/settings">"Settings"</A>
                </nav>
                <UserMenu/>
            </header>
            <DemoBanner/>
            <ReconnectBanner/>
            <TokenExpiryBanner/>
            <SecondFactorBanner/>
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
                // `try_get`: the banner's resource may already be gone when
                // a response finishes late (a navigation, a closed request).
                status
                    .try_get()
                    .flatten()
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

/// What a browser-only resource's source reads of the session: nothing on
/// the server, which never loads such a resource. There the source runs in
/// the middle of the page's synchronous render, and a blocking read of the
/// session resource while its load was being written once stopped a
/// worker thread for good. The server hands a page render's worker over
/// before such reads now (`MayBlock` in `renders_to_the_end`), but not on
/// a current-thread runtime, and a read that serves nothing is better not
/// made.
fn in_browser<T>(read: impl FnOnce() -> Option<T>) -> Option<T> {
    if cfg!(feature = "ssr") {
        None
    } else {
        read()
    }
}

/// Numbers whose token is expiring, invalid or revoked: sending is paused
/// until someone reconnects them.
#[component]
fn ReconnectBanner() -> impl IntoView {
    let state = expect_context::<SessionState>();
    // Read again when the live stream says a number changed. Its own read,
    // not the session's: reading the session again re-renders the page.
    let live = expect_context::<Live>();
    // Browser only: before the first notice it has nothing to add to the
    // session's read, so the server has nothing to render for it.
    // Read only once the page is mounted: the server never reads it (a
    // browser-only read inside a Transition on the server left page
    // responses unfinished now and then).
    let mounted = use_mounted();
    let since_loaded = LocalResource::new(move || {
        let _workspace = in_browser(|| state.me()).and_then(|me| me.current.map(|w| w.id));
        let version = live.version(Topic::Numbers);
        async move {
            match version {
                0 => None,
                _ => welcome().await.ok(),
            }
        }
    });
    // The onboarding page lists the numbers with their own Reconnect.
    let location = leptos_router::hooks::use_location();
    view! {
        <Transition>
            {move || {
                mounted
                    .get()
                    .then(|| since_loaded.get().flatten())
                    .flatten()
                    .or_else(|| state.welcome())
                    .filter(|_| location.pathname.get() != "/onboarding")
                    .map(|w| w.reconnect_needed)
                    .filter(|numbers| !numbers.is_empty())
                    .map(|numbers| {
                        let names = numbers.iter().map(|n| n.display.clone()).collect::<Vec<_>>().join(", ");
                        let reason = numbers[0].status_reason.clone().unwrap_or_default();
                        // Meta's pause is fixed with Meta, then resumed;
                        // a dead token by connecting again.
                        let by_meta = numbers.iter().all(|n| n.status == "paused_by_meta");
                        let (title, action) = if by_meta {
                            ("Sending paused by Meta", "Resume")
                        } else {
                            ("Reconnect needed", "Reconnect")
                        };
                        view! {
                            <div class="reconnect-banner" role="alert" data-testid="reconnect-banner">
                                <strong>{title}</strong>
                                {format!(" · sending is paused for {names}: {reason}")}
                                <A href="/onboarding" attr:class="button small" attr:rel="external">{action}</A>
                            </div>
                        }
                    })
            }}
        </Transition>
    }
}

/// Numbers whose access token ends within 14 days and Meta would not
/// refresh: someone must connect them again before then. Admins and owners
/// only, who can; agents and viewers see nothing (and may not ask).
#[component]
fn TokenExpiryBanner() -> impl IntoView {
    let state = expect_context::<SessionState>();
    // Asked again when the person or the workspace changes, and when the
    // live stream says a number changed (a warning was given).
    // Browser only, and drawn once mounted (see `ReconnectBanner`): its
    // source reads the session, which resolves while the server renders,
    // so a server-side read could render one answer and send another for
    // hydration (the page then failed to hydrate).
    let live = expect_context::<Live>();
    let expiring = LocalResource::new(move || {
        let admin_of = in_browser(|| state.me())
            .filter(|me| me.at_least("admin"))
            .and_then(|me| me.current.map(|w| w.id));
        let _version = live.version(Topic::Numbers);
        async move {
            match admin_of {
                Some(_) => expiring_tokens().await.unwrap_or_default(),
                None => Vec::new(),
            }
        }
    });
    let mounted = use_mounted();
    view! {
        <Show when=move || mounted.get()>
        <Transition>
            {move || {
                expiring
                    .get()
                    .filter(|numbers| !numbers.is_empty())
                    .map(|numbers| {
                        let lines = numbers
                            .into_iter()
                            .map(|n| {
                                let left = match n.days_left {
                                    0 => "less than a day left".to_string(),
                                    1 => "1 day left".to_string(),
                                    days => format!("{days} days left"),
                                };
                                let why = n
                                    .reason
                                    .map(|reason| format!(" Not refreshed: {reason}."))
                                    .unwrap_or_default();
                                view! {
                                    <li data-phone-number-id=n.phone_number_id>
                                        {format!(
                                            "{}: expires {} UTC ({left}).{why}",
                                            n.display,
                                            rules::time::format_time(n.expires_at),
                                        )}
                                    </li>
                                }
                            })
                            .collect_view();
                        view! {
                            <div class="reconnect-banner" role="alert" data-testid="token-expiry-banner">
                                <strong>"Access token expiring"</strong>
                                " · connect these numbers again before their token ends, or they stop sending:"
                                <ul>{lines}</ul>
                                <A href="/onboarding" attr:class="button small" attr:rel="external">"Reconnect"</A>
                            </div>
                        }
                    })
            }}
        </Transition>
        </Show>
    }
}

/// An owner the operator requires two-factor sign-in of, without it yet:
/// nothing in the workspace works until they set it up.
#[component]
fn SecondFactorBanner() -> impl IntoView {
    let state = expect_context::<SessionState>();
    view! {
        <Transition>
            {move || state.me().filter(|me| me.second_factor_required).map(|_| view! {
                <div class="reconnect-banner" role="alert" data-testid="second-factor-banner">
                    <strong>"Two-factor sign-in required"</strong>
                    " · owners of this workspace must sign in with a code from an authenticator app. "
                    <A href="/settings" attr:class="button small">"Set it up"</A>
                </div>
            })}
        </Transition>
    }
}

/// The signed-in person: workspace switcher and sign-out; or a sign-in link.
#[component]
fn UserMenu() -> impl IntoView {
    let state = expect_context::<SessionState>();
    let switch = ServerAction::<SwitchWorkspace>::new();
    let sign_out = ServerAction::<SignOut>::new();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if matches!(switch.value().get(), Some(Ok(()))) {
            state.refresh();
        }
    });
    Effect::new(move |_| {
        if matches!(sign_out.value().get(), Some(Ok(()))) {
            state.refresh();
            navigate("/sign-in", Default::default());
        }
    });
    view! {
        <div class="user-menu">
            <Transition>
                {move || state.welcome().map(|welcome| match welcome.me {
                    None => view! { <A href="/sign-in" attr:class="button small">"Sign in"</A> }.into_any(),
                    Some(me) => {
                        let current = me.current.as_ref().map(|w| w.id.clone()).unwrap_or_default();
                        view! {
                            <label class="workspace-switcher">
                                <span class="visually-hidden">"Workspace"</span>
                                <select
                                    aria-label="Workspace"
                                    on:change=move |ev| {
                                        switch.dispatch(SwitchWorkspace { workspace_id: event_target_value(&ev) });
                                    }
                                >
                                    {me.workspaces.iter().map(|w| view! {
                                        <option value=w.id.clone() selected=w.id == current>{w.name.clone()}</option>
                                    }).collect_view()}
                                </select>
                            </label>
                            <span class="user-name" title=me.email.clone()>{me.name.clone()}</span>
                            <button class="button small secondary" on:click=move |_| { sign_out.dispatch(SignOut {}); }>"Sign out"</button>
                        }.into_any()
                    }
                })}
            </Transition>
        </div>
    }
}
