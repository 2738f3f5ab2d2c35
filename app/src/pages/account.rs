//! Your account: sign in, first-run sign-up, and the settings page
//! (password, workspaces, and the way to the admins' pages); and the guard
//! every signed-in page sits behind.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::{Redirect, A},
    hooks::use_navigate,
};

use super::forms::{last_error, FieldError, FormError};
use crate::{
    api::{
        account::{ChangePassword, CreateWorkspace, SignIn, SignInStep, SignUpOwner},
        two_factor::CompleteSignIn,
    },
    session_state::SessionState,
};

/// After a successful action: refresh who is signed in, then go `to`.
pub(super) fn on_success<T, E, S>(value: S, to: &'static str)
where
    S: Get<Value = Option<Result<T, E>>> + Send + Sync + 'static,
{
    let state = expect_context::<SessionState>();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if matches!(value.get(), Some(Ok(_))) {
            state.refresh();
            navigate(to, Default::default());
        }
    });
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    let error = last_error(action.value());
    let signed_in = Signal::derive(move || {
        action
            .value()
            .get()
            .filter(|step| matches!(step, Ok(SignInStep::SignedIn)))
    });
    on_success(signed_in, "/");
    let code = ServerAction::<CompleteSignIn>::new();
    let code_error = last_error(code.value());
    on_success(code.value(), "/");
    let needs_code = move || matches!(action.value().get(), Some(Ok(SignInStep::CodeNeeded)));
    let state = expect_context::<SessionState>();
    view! {
        <Title text="Sign in"/>
        <section class="page narrow">
            <h1>"Sign in"</h1>
            <Show
                when=needs_code
                fallback=move || view! {
                    <ActionForm action=action attr:class="form">
                        <label>"Email" <input type="email" name="email" autocomplete="username" required/></label>
                        <label>"Password" <input type="password" name="password" autocomplete="current-password" required/></label>
                        <FormError error=error/>
                        <button type="submit" class="button" disabled=move || action.pending().get()>"Sign in"</button>
                    </ActionForm>
                }
            >
                <ActionForm action=code attr:class="form">
                    <p class="lead">"Enter the 6-digit code from your authenticator app, or one of your recovery codes."</p>
                    <label>"Code" <input type="text" name="code" autocomplete="one-time-code" inputmode="text" required autofocus/></label>
                    <FieldError error=code_error field="code"/>
                    <FormError error=code_error/>
                    <button type="submit" class="button" disabled=move || code.pending().get()>"Verify"</button>
                </ActionForm>
            </Show>
            <Suspense>
                {move || state.welcome().filter(|w| w.needs_owner).map(|_| view! {
                    <p class="notice">"This installation has no owner yet. " <A href="/sign-up">"Create the owner account"</A></p>
                })}
            </Suspense>
        </section>
    }
}

#[component]
pub fn SignUpPage() -> impl IntoView {
    let action = ServerAction::<SignUpOwner>::new();
    let error = last_error(action.value());
    on_success(action.value(), "/");
    let state = expect_context::<SessionState>();
    view! {
        <Title text="Create the owner account"/>
        <section class="page narrow">
            <h1>"Create the owner account"</h1>
            <Suspense>
                {move || state.welcome().map(|w| if w.needs_owner {
                    view! {
                        <p class="lead">"The first account owns this installation. Others join by invitation."</p>
                        <ActionForm action=action attr:class="form">
                            <label>"Your name" <input type="text" name="name" autocomplete="name" required/></label>
                            <FieldError error=error field="name"/>
                            <label>"Email" <input type="email" name="email" autocomplete="username" required/></label>
                            <FieldError error=error field="email"/>
                            <label>"Password" <input type="password" name="password" autocomplete="new-password" required/></label>
                            <FieldError error=error field="password"/>
                            <label>"Business (workspace) name" <input type="text" name="workspace_name" required/></label>
                            <FieldError error=error field="workspace_name"/>
                            <FormError error=error/>
                            <button type="submit" class="button" disabled=move || action.pending().get()>"Create account"</button>
                        </ActionForm>
                    }.into_any()
                } else {
                    view! { <p class="notice">"This installation already has an owner. " <A href="/sign-in">"Sign in"</A> " or ask for an invite."</p> }.into_any()
                })}
            </Suspense>
        </section>
    }
}

#[component]
pub fn Settings() -> impl IntoView {
    let state = expect_context::<SessionState>();
    let password = ServerAction::<ChangePassword>::new();
    let password_error = last_error(password.value());
    let workspace = ServerAction::<CreateWorkspace>::new();
    let workspace_error = last_error(workspace.value());
    Effect::new(move |_| {
        if matches!(workspace.value().get(), Some(Ok(()))) {
            state.refresh();
        }
    });
    let is_admin = move || state.me().is_some_and(|me| me.at_least("admin"));
    view! {
        <section class="page">
            <h1>"Settings"</h1>
            <Show when=is_admin>
                <nav class="subnav" aria-label="Settings">
                    <A href="/settings/members">"Members"</A>
                    <A href="/settings/audit">"Audit log"</A>
                    <A href="/settings/events">"Webhook events"</A>
                    <A href="/settings/outgoing-webhooks">"Outgoing webhooks"</A>
                    <A href="/settings/api-keys">"API keys"</A>
                    <A href="/settings/costs">"Costs"</A>
                </nav>
            </Show>
            <p><A href="/settings/api">"Integration API reference"</A></p>
            <div class="cards two">
                <article class="card">
                    <h2>"Change password"</h2>
                    <ActionForm action=password attr:class="form">
                        <label>"Current password" <input type="password" name="current_password" autocomplete="current-password" required/></label>
                        <FieldError error=password_error field="current_password"/>
                        <label>"New password" <input type="password" name="new_password" autocomplete="new-password" required/></label>
                        <FieldError error=password_error field="new_password"/>
                        <FormError error=password_error/>
                        {move || matches!(password.value().get(), Some(Ok(()))).then(|| view! {
                            <p class="success" role="status">"Password changed. Other sessions were signed out."</p>
                        })}
                        <button type="submit" class="button">"Change password"</button>
                    </ActionForm>
                </article>
                <super::two_factor::TwoFactorCard/>
                <article class="card">
                    <h2>"New workspace"</h2>
                    <p>"A separate space for another business, with its own numbers and members."</p>
                    <ActionForm action=workspace attr:class="form">
                        <label>"Name" <input type="text" name="name" required/></label>
                        <FieldError error=workspace_error field="name"/>
                        <FormError error=workspace_error/>
                        <button type="submit" class="button secondary">"Create workspace"</button>
                    </ActionForm>
                </article>
            </div>
        </section>
    }
}

/// A page behind sign-in, as the router mounts it: the tab's title, then the
/// page for signed-in people (`RequireSignIn`). One wrapper here rather than
/// the same one written out in every page.
pub fn signed_in<V: IntoView + 'static>(title: &'static str, page: fn() -> V) -> impl IntoView {
    view! {
        <Title text=title/>
        <RequireSignIn>{page()}</RequireSignIn>
    }
}

/// Shows its children to signed-in people with a workspace; sends others
/// to sign in. The page is built once the session has loaded, in a
/// `Suspend` that awaits it: a closure reading it was run again by each of
/// the server's passes over the `Suspense`, each building the page and
/// starting its reads again. A pass that finds the session loaded still
/// builds it, so it is usually built once, not always.
#[component]
pub fn RequireSignIn(children: ChildrenFn) -> impl IntoView {
    let state = expect_context::<SessionState>();
    let children = StoredValue::new(children);
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                // `None`: the session could not be read (a storage failure,
                // whose 500 is the answer), which is not signed out.
                state.loaded().await.map(|w| match w.me {
                    Some(_) => children.read_value()().into_any(),
                    None => view! { <Redirect path="/sign-in"/> }.into_any(),
                })
            })}
        </Suspense>
    }
}
