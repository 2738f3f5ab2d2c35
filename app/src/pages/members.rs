//! Members of the current workspace (admins): roles, removal, invite
//! links; and the page an invite link opens.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_params_map};

use super::{
    account::on_success,
    forms::{last_error, FieldError, FormError},
    time::format_time,
};
use crate::{
    api::members::{
        invite_details, list_invites, list_members, AcceptInvite, ChangeMemberRole, InviteMember,
        RemoveMember, RevokeInvite, SignUpWithInvite,
    },
    live::{use_live, Topic},
    session_state::SessionState,
};

const ROLES: [&str; 4] = ["viewer", "agent", "admin", "owner"];

#[component]
pub fn Members() -> impl IntoView {
    let change = ServerAction::<ChangeMemberRole>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let invite = ServerAction::<InviteMember>::new();
    // Also fetched again when someone else changes the members.
    let live = use_live();
    let members = Resource::new(
        move || {
            (
                change.version().get(),
                remove.version().get(),
                invite.version().get(),
                live.version(Topic::Members),
            )
        },
        |_| list_members(),
    );
    let change_error = last_error(change.value());
    let remove_error = last_error(remove.value());
    let invite_error = last_error(invite.value());
    let revoke = ServerAction::<RevokeInvite>::new();
    let revoke_error = last_error(revoke.value());
    let open_invites = Resource::new(
        move || {
            (
                invite.version().get(),
                revoke.version().get(),
                change.version().get(),
            )
        },
        |_| list_invites(),
    );
    view! {
        <section class="page">
            <h1>"Members"</h1>
            <FormError error=change_error/>
            <FieldError error=change_error field="role"/>
            <FormError error=remove_error/>
            <FieldError error=remove_error field="member"/>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || members.get().map(|result| match result {
                    Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="table">
                            <thead><tr><th>"Name"</th><th>"Email"</th><th>"Role"</th><th></th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|m| {
                                    let current = m.role.clone();
                                    let role_label = format!("Role of {}", m.email);
                                    let user_id = m.user_id.clone();
                                    let email = m.email.clone();
                                    view! {
                                        <tr data-email=email>
                                            <td>{m.name}</td>
                                            <td>{m.email}</td>
                                            <td>
                                                <ActionForm action=change attr:class="inline">
                                                    <input type="hidden" name="user_id" value=user_id/>
                                                    <select name="role" aria-label=role_label>
                                                        {ROLES.iter().map(|r| view! { <option value=*r selected=*r == current>{*r}</option> }).collect_view()}
                                                    </select>
                                                    <button type="submit" class="button small secondary">"Save"</button>
                                                </ActionForm>
                                            </td>
                                            <td>
                                                <ActionForm action=remove attr:class="inline">
                                                    <input type="hidden" name="user_id" value=m.user_id/>
                                                    <button type="submit" class="button small danger">"Remove"</button>
                                                </ActionForm>
                                            </td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                })}
            </Suspense>
            <article class="card">
                <h2>"Invite someone"</h2>
                <p>"The link works once and expires in 7 days. It is shown only now."</p>
                <ActionForm action=invite attr:class="form inline">
                    <label>"Role "
                        <select name="role">
                            {ROLES.iter().map(|r| view! { <option value=*r selected=*r == "agent">{*r}</option> }).collect_view()}
                        </select>
                    </label>
                    <button type="submit" class="button">"Create invite link"</button>
                </ActionForm>
                <FieldError error=invite_error field="role"/>
                <FormError error=invite_error/>
                {move || invite.value().get().and_then(Result::ok).map(|link| view! {
                    <p class="invite-link">"Invite link: " <input type="text" readonly value=link aria-label="Invite link"/></p>
                })}
            </article>
            <article class="card" aria-label="Open invitations">
                <h2>"Open invitations"</h2>
                <p class="muted">"An invitation also ends when the person who made it leaves or loses the role that could make it."</p>
                <FormError error=revoke_error/>
                <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                    {move || open_invites.get().map(|result| match result {
                        // The members list above already alerts about access.
                        Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
                        Ok(list) if list.is_empty() => view! { <p class="notice">"No open invitations."</p> }.into_any(),
                        Ok(list) => view! {
                            <table class="table">
                                <thead><tr><th>"Role"</th><th>"Made by"</th><th>"Made"</th><th>"Expires"</th><th></th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|i| view! {
                                        <tr class="open-invite">
                                            <td>{i.role}</td>
                                            <td>{i.created_by}</td>
                                            <td><time>{format_time(i.created_at)}</time></td>
                                            <td><time>{format_time(i.expires_at)}</time></td>
                                            <td>
                                                <ActionForm action=revoke attr:class="inline">
                                                    <input type="hidden" name="id" value=i.id/>
                                                    <button type="submit" class="button small danger">"Revoke"</button>
                                                </ActionForm>
                                            </td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                    })}
                </Suspense>
            </article>
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
