//! Sign in, first-run sign-up, and the invite page.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::{Redirect, A},
    hooks::{use_navigate, use_params_map},
};

use super::forms::{last_error, FieldError, FormError};
use crate::{
    api::{
        account::{SignIn, SignUpOwner},
        members::{invite_details, AcceptInvite, SignUpWithInvite},
    },
    session_state::SessionState,
};

/// After a successful action: refresh who is signed in, then go `to`.
fn on_success<T, E, S>(value: S, to: &'static str)
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
    on_success(action.value(), "/");
    let state = expect_context::<SessionState>();
    view! {
        <Title text="Sign in"/>
        <section class="page narrow">
            <h1>"Sign in"</h1>
            <ActionForm action=action attr:class="form">
                <label>"Email" <input type="email" name="email" autocomplete="username" required/></label>
                <label>"Password" <input type="password" name="password" autocomplete="current-password" required/></label>
                <FormError error=error/>
                <button type="submit" class="button" disabled=move || action.pending().get()>"Sign in"</button>
            </ActionForm>
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
pub fn InvitePage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let details = Resource::new(token, invite_details);
    let state = expect_context::<SessionState>();
    let join = ServerAction::<AcceptInvite>::new();
    let sign_up = ServerAction::<SignUpWithInvite>::new();
    let join_error = last_error(join.value());
    let sign_up_error = last_error(sign_up.value());
    on_success(join.value(), "/");
    on_success(sign_up.value(), "/");
    view! {
        <Title text="Invitation"/>
        <section class="page narrow">
            <h1>"Invitation"</h1>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || details.get().map(|result| match result {
                    Err(e) => view! { <p class="form-error" role="alert">{e.for_field("invite").unwrap_or_else(|| e.to_string())}</p> }.into_any(),
                    Ok(invite) => {
                        let signed_in = state.me().is_some();
                        view! {
                            <p class="lead">"You are invited to join " <strong>{invite.workspace_name}</strong> " as " <strong>{invite.role}</strong> "."</p>
                            {if signed_in {
                                view! {
                                    <ActionForm action=join attr:class="form">
                                        <input type="hidden" name="token" value=token/>
                                        <FormError error=join_error/>
                                        <button type="submit" class="button">"Join the workspace"</button>
                                    </ActionForm>
                                }.into_any()
                            } else {
                                view! {
                                    <ActionForm action=sign_up attr:class="form">
                                        <input type="hidden" name="token" value=token/>
                                        <label>"Your name" <input type="text" name="name" autocomplete="name" required/></label>
                                        <FieldError error=sign_up_error field="name"/>
                                        <label>"Email" <input type="email" name="email" autocomplete="username" required/></label>
                                        <FieldError error=sign_up_error field="email"/>
                                        <label>"Password" <input type="password" name="password" autocomplete="new-password" required/></label>
                                        <FieldError error=sign_up_error field="password"/>
                                        <FieldError error=sign_up_error field="invite"/>
                                        <FormError error=sign_up_error/>
                                        <button type="submit" class="button">"Create account and join"</button>
                                    </ActionForm>
                                    <p class="note">"Already have an account? " <A href="/sign-in">"Sign in"</A> ", then open this link again."</p>
                                }.into_any()
                            }}
                        }.into_any()
                    }
                })}
            </Suspense>
        </section>
    }
}

/// Shows its children to signed-in people with a workspace; sends others
/// to sign in.
#[component]
pub fn RequireSignIn(children: ChildrenFn) -> impl IntoView {
    let state = expect_context::<SessionState>();
    let children = StoredValue::new(children);
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || state.welcome().map(|w| match w.me {
                Some(_) => children.read_value()().into_any(),
                None => view! { <Redirect path="/sign-in"/> }.into_any(),
            })}
        </Suspense>
    }
}
