//! Settings: password, workspaces, members (admins) and the audit log
//! (admins).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use super::{
    auth::RequireSignIn,
    forms::{last_error, FieldError, FormError},
    time::format_time,
};
use crate::{
    api::{
        account::{ChangePassword, CreateWorkspace},
        audit::audit_log,
        members::{list_members, ChangeMemberRole, InviteMember, RemoveMember},
    },
    session_state::SessionState,
};

const ROLES: [&str; 4] = ["viewer", "agent", "admin", "owner"];

#[component]
pub fn Settings() -> impl IntoView {
    view! {
        <Title text="Settings"/>
        <RequireSignIn>
            <SettingsBody/>
        </RequireSignIn>
    }
}

#[component]
fn SettingsBody() -> impl IntoView {
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

#[component]
pub fn Members() -> impl IntoView {
    view! {
        <Title text="Members"/>
        <RequireSignIn>
            <MembersBody/>
        </RequireSignIn>
    }
}

#[component]
fn MembersBody() -> impl IntoView {
    let change = ServerAction::<ChangeMemberRole>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let invite = ServerAction::<InviteMember>::new();
    let members = Resource::new(
        move || {
            (
                change.version().get(),
                remove.version().get(),
                invite.version().get(),
            )
        },
        |_| list_members(),
    );
    let change_error = last_error(change.value());
    let remove_error = last_error(remove.value());
    let invite_error = last_error(invite.value());
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
        </section>
    }
}

#[component]
pub fn Audit() -> impl IntoView {
    view! {
        <Title text="Audit log"/>
        <RequireSignIn>
            <AuditBody/>
        </RequireSignIn>
    }
}

#[component]
fn AuditBody() -> impl IntoView {
    let entries = Resource::new(|| (), |_| audit_log());
    view! {
        <section class="page">
            <h1>"Audit log"</h1>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || entries.get().map(|result| match result {
                    Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="table audit">
                            <thead><tr><th>"When (UTC)"</th><th>"Who"</th><th>"What"</th><th>"Details"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|e| view! {
                                    <tr><td>{format_time(e.at)}</td><td>{e.actor}</td><td>{e.action}</td><td><code>{e.detail}</code></td></tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                })}
            </Suspense>
        </section>
    }
}
