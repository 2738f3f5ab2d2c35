//! Outgoing webhooks: where the workspace's events go, the secrets that
//! sign them (shown once), and what became of each delivery.

use leptos::prelude::*;

use super::{
    forms::{last_error, FieldError, FormError},
    time::format_time,
};
use crate::api::outgoing_webhooks::{
    outgoing_webhooks, CreateEndpoint, DeleteEndpoint, RedeliverEvent, RotateEndpointSecret,
    SecretView,
};

#[component]
fn ShownOnce(secret: Signal<Option<SecretView>>) -> impl IntoView {
    move || {
        secret.get().map(|s| {
            view! {
                <div class="success" role="status" data-endpoint=s.endpoint_id>
                    <p>"The signing secret, shown this once: keep it where your system can read it."</p>
                    <input class="secret" readonly aria-label="Signing secret" value=s.secret/>
                </div>
            }
        })
    }
}

#[component]
pub fn OutgoingWebhooks() -> impl IntoView {
    let create = ServerAction::<CreateEndpoint>::new();
    let rotate = ServerAction::<RotateEndpointSecret>::new();
    let delete = ServerAction::<DeleteEndpoint>::new();
    let redeliver = ServerAction::<RedeliverEvent>::new();
    let refresh = RwSignal::new(0u32);
    let data = Resource::new(
        move || {
            (
                create.version().get(),
                rotate.version().get(),
                delete.version().get(),
                redeliver.version().get(),
                refresh.get(),
            )
        },
        |_| outgoing_webhooks(),
    );
    let create_error = last_error(create.value());
    let other_error = Signal::derive(move || {
        last_error(rotate.value())
            .get()
            .or_else(|| last_error(delete.value()).get())
            .or_else(|| last_error(redeliver.value()).get())
    });
    let created = Signal::derive(move || create.value().get().and_then(Result::ok));
    let rotated = Signal::derive(move || rotate.value().get().and_then(Result::ok));
    view! {
        <section class="page">
            <h1>"Outgoing webhooks"</h1>
            <p class="lead">"Your own systems receive each new message and status, signed per the Standard Webhooks specification (headers webhook-id, webhook-timestamp, webhook-signature)."</p>
            <ActionForm action=create attr:class="form inline">
                <label>"Endpoint address"
                    <input name="url" type="url" required placeholder="https://crm.example.com/whatsapp"/>
                </label>
                <button type="submit" class="button">"Add the endpoint"</button>
            </ActionForm>
            <FieldError error=create_error field="url"/>
            <FormError error=create_error/>
            <ShownOnce secret=created/>
            <ShownOnce secret=rotated/>
            <FormError error=other_error/>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || data.get().map(|result| match result {
                    Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(data) => view! {
                        <h2>"Endpoints"</h2>
                        {if data.endpoints.is_empty() {
                            view! { <p class="muted">"None yet."</p> }.into_any()
                        } else {
                            view! {
                                <table class="table endpoints">
                                    <thead><tr><th>"Address"</th><th>"Added (UTC)"</th><th>"Secret"</th><th></th></tr></thead>
                                    <tbody>{data.endpoints.into_iter().map(|e| {
                                        let (row_id, rotate_id, delete_id) = (e.id.clone(), e.id.clone(), e.id);
                                        view! {
                                        <tr data-endpoint=row_id>
                                            <td><code>{e.url}</code></td>
                                            <td>{format_time(e.created_at)}</td>
                                            <td>{e.previous_secret_until.map(|until| format!("rotated; the previous one signs too until {}", format_time(until)))}</td>
                                            <td class="actions">
                                                <ActionForm action=rotate attr:class="inline">
                                                    <input type="hidden" name="id" value=rotate_id/>
                                                    <button type="submit" class="button small secondary">"Rotate the secret"</button>
                                                </ActionForm>
                                                <ActionForm action=delete attr:class="inline">
                                                    <input type="hidden" name="id" value=delete_id/>
                                                    <button type="submit" class="button small danger">"Delete"</button>
                                                </ActionForm>
                                            </td>
                                        </tr>
                                    }}).collect_view()}</tbody>
                                </table>
                            }.into_any()
                        }}
                        <h2>"Deliveries"</h2>
                        <button type="button" class="button small secondary" on:click=move |_| refresh.update(|n| *n += 1)>"Refresh"</button>
                        {if data.deliveries.is_empty() {
                            view! { <p class="muted">"None yet."</p> }.into_any()
                        } else {
                            view! {
                                <table class="table deliveries">
                                    <thead><tr><th>"Event"</th><th>"Type"</th><th>"To"</th><th>"State"</th><th>"Attempts"</th><th>"Last answer"</th><th>"Queued (UTC)"</th><th></th></tr></thead>
                                    <tbody>{data.deliveries.into_iter().map(|d| {
                                        let state = d.state.clone();
                                        view! {
                                        <tr data-delivery=d.id data-state=state>
                                            <td><code>{d.event_id}</code></td>
                                            <td>{d.event_type}</td>
                                            <td><code>{d.url}</code></td>
                                            <td>{d.state}</td>
                                            <td>{d.attempts}</td>
                                            <td>{d.last_status.map(|s| s.to_string()).or(d.last_error)}</td>
                                            <td>{format_time(d.created_at)}</td>
                                            <td>
                                                <ActionForm action=redeliver attr:class="inline">
                                                    <input type="hidden" name="id" value=d.id/>
                                                    <button type="submit" class="button small secondary">"Redeliver"</button>
                                                </ActionForm>
                                            </td>
                                        </tr>
                                    }}).collect_view()}</tbody>
                                </table>
                            }.into_any()
                        }}
                    }.into_any(),
                })}
            </Transition>
        </section>
    }
}
