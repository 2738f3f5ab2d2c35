//! Webhook events that need an admin: dead letters (replayable), rejected
//! bodies, and changes for numbers nobody has connected.

use leptos::prelude::*;

use super::{
    forms::{last_error, FormError},
    time::format_time,
};
use crate::{
    api::webhook_events::{webhook_attention, EventView, ReplayWebhooks},
    live::{use_live, Topic},
};

#[component]
fn EventTable(
    events: Vec<EventView>,
    replay: Option<ServerAction<ReplayWebhooks>>,
) -> impl IntoView {
    if events.is_empty() {
        return view! { <p class="muted">"None."</p> }.into_any();
    }
    view! {
        <table class="table">
            <thead><tr><th>"Event"</th><th>"Received (UTC)"</th><th>"Attempts"</th><th>"Reason"</th><th></th></tr></thead>
            <tbody>
                {events.into_iter().map(|e| view! {
                    <tr data-event=e.id>
                        <td>{e.id}</td>
                        <td>{format_time(e.received_at)}</td>
                        <td>{e.attempts}</td>
                        <td><code>{e.reason}</code></td>
                        <td>{replay.map(|action| view! {
                            <ActionForm action=action attr:class="inline">
                                <input type="hidden" name="event_id" value=e.id/>
                                <button type="submit" class="button small secondary">"Replay"</button>
                            </ActionForm>
                        })}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
pub fn WebhookEvents() -> impl IntoView {
    let replay = ServerAction::<ReplayWebhooks>::new();
    let error = last_error(replay.value());
    // Fetched again when an event fails (the live stream says so).
    let live = use_live();
    let attention = Resource::new(
        move || (replay.version().get(), live.version(Topic::Failures)),
        |_| webhook_attention(),
    );
    view! {
        <section class="page">
            <h1>"Webhook events"</h1>
            <FormError error=error/>
            {move || replay.value().get().and_then(Result::ok).map(|n| view! {
                <p class="success" role="status">{format!("{n} event(s) queued again.")}</p>
            })}
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || attention.get().map(|result| match result {
                    Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(a) => view! {
                        <p class="lead">{format!("{} event(s) waiting to be processed.", a.pending)}</p>
                        {(!a.operator).then(|| view! {
                            <p class="note">"You see the events about your workspace's numbers. Events that cannot be tied to a workspace are shown to the installation's owner."</p>
                        })}
                        <h2>"Dead letters"</h2>
                        <p class="muted">"Events that failed every retry. Replaying is safe: nothing takes effect twice."</p>
                        <ActionForm action=replay attr:class="inline">
                            <button type="submit" class="button small">"Replay all"</button>
                        </ActionForm>
                        <EventTable events=a.dead replay=Some(replay)/>
                        <h2>"Rejected"</h2>
                        <p class="muted">"Correctly signed, but not WhatsApp events. Kept and acknowledged so Meta does not resend them."</p>
                        <EventTable events=a.rejected replay=None/>
                        <h2>"Waiting for a number"</h2>
                        <p class="muted">"Events for numbers not connected here yet; processed as soon as they are."</p>
                        {if a.unrouted.is_empty() {
                            view! { <p class="muted">"None."</p> }.into_any()
                        } else {
                            view! {
                                <table class="table">
                                    <thead><tr><th>"Event"</th><th>"Number"</th><th>"WABA"</th><th>"Received (UTC)"</th></tr></thead>
                                    <tbody>{a.unrouted.into_iter().map(|u| view! {
                                        <tr><td>{u.event_id}</td><td>{u.phone_number_id}</td><td>{u.waba_id}</td><td>{format_time(u.received_at)}</td></tr>
                                    }).collect_view()}</tbody>
                                </table>
                            }.into_any()
                        }}
                    }.into_any(),
                })}
            </Transition>
        </section>
    }
}
