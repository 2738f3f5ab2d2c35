//! Conversations: a list per number and the selected thread, refreshed
//! every two seconds in the browser so new messages and ticks appear
//! without a reload.

use std::time::Duration;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};

use super::{auth::RequireSignIn, time::format_time};
use crate::api::conversations::{conversation_thread, list_conversations};

#[component]
pub fn Conversations() -> impl IntoView {
    view! {
        <Title text="Conversations"/>
        <RequireSignIn>
            <Inbox/>
        </RequireSignIn>
    }
}

/// What a status looks like next to an outbound message.
fn ticks(status: Option<&str>) -> (&'static str, &'static str) {
    match status {
        Some("sent") => ("✓", "tick"),
        Some("delivered") => ("✓✓", "tick"),
        Some("read") | Some("played") => ("✓✓", "tick read"),
        Some("failed") => ("⚠ not delivered", "tick failed"),
        _ => ("🕓", "tick"),
    }
}

#[component]
fn Inbox() -> impl IntoView {
    let refresh = RwSignal::new(0u32);
    Effect::new(move |_| {
        if let Ok(handle) =
            set_interval_with_handle(move || refresh.update(|n| *n += 1), Duration::from_secs(2))
        {
            on_cleanup(move || handle.clear());
        }
    });
    let query = use_query_map();
    let selected = move || {
        let query = query.read();
        query.get("number").zip(query.get("customer"))
    };
    let list = Resource::new(move || refresh.get(), |_| list_conversations());
    let thread = Resource::new(
        move || (selected(), refresh.get()),
        |(selected, _)| async move {
            match selected {
                Some((number, customer)) => conversation_thread(number, customer).await.map(Some),
                None => Ok(None),
            }
        },
    );
    view! {
        <section class="page">
            <h1>"Conversations"</h1>
            <div class="inbox">
                <aside class="conversation-list" aria-label="Conversations">
                    <Transition fallback=|| view! { <p>"Loading…"</p> }>
                        {move || list.get().map(|result| match result {
                            Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                            Ok(list) if list.is_empty() => view! {
                                <p class="notice">"No conversations yet. Messages to your connected numbers appear here."</p>
                            }.into_any(),
                            Ok(list) => list.into_iter().map(|c| {
                                let href = format!("/conversations?number={}&customer={}", c.phone_number_id, c.customer);
                                view! {
                                    <A href=href attr:class="conversation">
                                        <strong>{c.name}</strong>
                                        <span class="muted">{c.last_summary}</span>
                                        <time>{format_time(c.last_at)}</time>
                                    </A>
                                }
                            }).collect_view().into_any(),
                        })}
                    </Transition>
                </aside>
                <div class="thread" aria-label="Thread">
                    <Transition fallback=|| view! { <p>"Loading…"</p> }>
                        {move || thread.get().map(|result| match result {
                            Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                            Ok(None) => view! { <p class="notice">"Choose a conversation."</p> }.into_any(),
                            Ok(Some(lines)) => lines.into_iter().map(|line| {
                                let (mark, class) = ticks(line.status.as_deref());
                                let side = if line.inbound { "bubble inbound" } else { "bubble outbound" };
                                view! {
                                    <div class=side data-wamid=line.wamid>
                                        <p>{line.summary}</p>
                                        <footer>
                                            <time>{format_time(line.sent_at)}</time>
                                            {(!line.inbound).then(|| view! { <span class=class>{mark}</span> })}
                                        </footer>
                                    </div>
                                }
                            }).collect_view().into_any(),
                        })}
                    </Transition>
                </div>
            </div>
        </section>
    }
}
