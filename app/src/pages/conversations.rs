//! Conversations: a list per number (with a search box and unread
//! badges), the selected thread and its customer's ids in a side panel.
//! Both fetch again when the live stream says a conversation changed (the
//! thread only for its own number), so new messages and ticks appear
//! without a reload. A thread shows its newest page; older pages load when
//! it is scrolled to the top (or with "Load older messages"), and a fetch
//! reads only the newest page again.

use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_query_map};

use super::time::format_time;
use crate::{
    api::conversations::{
        conversation_thread, erase_contact, list_conversations, reply_templates, request_phone,
        send_reply, send_template, ContactView, LineView, MediaView, TemplateView, ThreadView,
    },
    live::{use_live, Topic},
    mounted::use_mounted,
    session_state::SessionState,
};

/// What a status looks like next to an outbound message.
fn ticks(status: Option<&str>) -> (&'static str, &'static str) {
    match status {
        Some("sent") => ("✓", "tick"),
        Some("delivered") => ("✓✓", "tick"),
        Some("read") | Some("played") => ("✓✓", "tick read"),
        Some("failed") => ("⚠ not delivered", "tick failed"),
        Some("needs_template") => ("⚠ needs a template", "tick failed"),
        Some("queued") => ("🕓 queued", "tick"),
        _ => ("🕓", "tick"),
    }
}

/// The lines of the open thread the browser holds besides its newest page:
/// the older pages the person loaded, and the lines of newest pages read
/// since, oldest first. They hold every line from their start up to
/// `covered_to`, so they join any newest page that starts at or before
/// it. When more new messages arrived between two refreshes than a page
/// holds, the newest page starts after it: these are dropped then rather
/// than shown with a gap.
#[derive(Debug, Clone, PartialEq)]
struct OlderPages {
    /// The thread this belongs to: (number, customer).
    target: (String, String),
    lines: Vec<LineView>,
    /// The newest line's (sent_at, id) held without a gap before it.
    covered_to: (i64, i64),
    /// Where the next older page starts; `None` at the thread's start.
    next: Option<String>,
}

/// A line's place in its thread; `None` for one still in the outbox.
fn line_key(line: &LineView) -> Option<(i64, i64)> {
    line.id.map(|id| (line.sent_at, id))
}

/// The keys of a page's first and last stored lines.
fn page_span(page: &ThreadView) -> Option<((i64, i64), (i64, i64))> {
    let keys = page.lines.iter().filter_map(line_key);
    keys.clone().min().zip(keys.max())
}

#[component]
pub fn Conversations() -> impl IntoView {
    // Moved by this page's own actions; the live versions move for the rest.
    let refresh = RwSignal::new(0u32);
    let live = use_live();
    let query = use_query_map();
    let selected = move || {
        let query = query.read();
        query.get("number").zip(query.get("customer"))
    };
    let search = RwSignal::new(String::new());
    // The thread is drawn by the browser only (see `thread` below).
    let mounted = use_mounted();
    // Drawn by the browser only, like the thread: the list changes while a
    // page hydrates (a refresh, a new message), and hydrating a list the
    // server drew from other data failed now and then (a marker node
    // expected in a conversation's link) and left the page dead.
    let list = LocalResource::new(move || {
        let (_, _, search) = (
            refresh.get(),
            live.version(Topic::Conversations),
            search.get(),
        );
        async move { list_conversations((!search.trim().is_empty()).then_some(search)).await }
    });
    // Only notices for the selected thread's number fetch it again.
    let thread_version =
        Memo::new(move |_| selected().map(|(number, _)| live.number_version(&number)));
    // Read in the browser only: it refreshes there, and on the server
    // several components reading it while it resolves deadlocked the
    // render's reactive graph across worker threads (every later request
    // then hung). A fetch reads the newest page only; the older pages the
    // person loaded stay in `older`.
    let thread = LocalResource::new(move || {
        let (selected, _, _) = (selected(), refresh.get(), thread_version.get());
        async move {
            match selected {
                Some((number, customer)) => {
                    conversation_thread(number, customer, None).await.map(Some)
                }
                None => Ok(None),
            }
        }
    });
    let newest_page = move || thread.get().and_then(Result::ok).flatten();
    let older = RwSignal::new(None::<OlderPages>);
    // Whether the lines are scrolled to the newest (see below).
    let at_bottom = StoredValue::new(true);
    // Another thread opens at its newest page, scrolled to the end.
    Effect::new(move |_| {
        let _ = selected();
        older.set(None);
        at_bottom.set_value(true);
    });
    // Each newest page read joins the lines held, or they are dropped.
    Effect::new(move |_| {
        let Some(page) = newest_page() else { return };
        let current = selected();
        older.update(|held| {
            let Some(o) = held else { return };
            match page_span(&page) {
                Some((first, last))
                    if Some(&o.target) == current.as_ref() && first <= o.covered_to =>
                {
                    o.lines.retain(|l| line_key(l).is_some_and(|k| k < first));
                    o.lines
                        .extend(page.lines.iter().filter(|l| l.id.is_some()).cloned());
                    o.covered_to = o.covered_to.max(last);
                }
                _ => *held = None,
            }
        });
    });
    // The lines held that join the newest page.
    let joined = move || {
        let (first, _) = page_span(&newest_page()?)?;
        older
            .get()
            .filter(|o| selected().as_ref() == Some(&o.target) && first <= o.covered_to)
    };
    // Every line shown, oldest first: the lines held, then the newest page.
    let shown = move || {
        let Some(page) = newest_page() else {
            return Vec::new();
        };
        let mut lines = Vec::new();
        if let (Some(o), Some((first, _))) = (joined(), page_span(&page)) {
            lines.extend(
                o.lines
                    .into_iter()
                    .filter(|l| line_key(l).is_some_and(|k| k < first)),
            );
        }
        lines.extend(page.lines);
        lines
    };
    // Where the next older page starts, if the thread goes further back.
    let older_cursor = move || match joined() {
        Some(o) => o.next,
        None => newest_page()?.older,
    };
    // (thread, cursor, and when starting from the newest page, that page).
    let load_older = Action::new(
        move |(target, cursor, from): &((String, String), String, Option<ThreadView>)| {
            let (target, cursor, from) = (target.clone(), cursor.clone(), from.clone());
            async move {
                let page =
                    conversation_thread(target.0.clone(), target.1.clone(), Some(cursor)).await;
                (target, from, page)
            }
        },
    );
    let lines_ref = NodeRef::<leptos::html::Div>::new();
    // The scroll height before older lines went in above, to keep the
    // lines in view where they were.
    let height_before = StoredValue::new(None::<i32>);
    Effect::new(move |_| {
        let Some((target, from, Ok(page))) = load_older.value().get() else {
            return;
        };
        let current = query.with_untracked(|q| q.get("number").zip(q.get("customer")));
        if current.as_ref() != Some(&target) {
            return;
        }
        height_before.set_value(lines_ref.get_untracked().map(|el| el.scroll_height()));
        older.update(|held| match (held.as_mut(), from) {
            // Further back from the lines held.
            (Some(o), None) if o.target == target => {
                let mut lines = page.lines;
                lines.append(&mut o.lines);
                o.lines = lines;
                o.next = page.older;
            }
            // The first page before the newest page it started from.
            (_, Some(newest)) => {
                if let Some((_, last)) = page_span(&newest) {
                    let mut lines = page.lines;
                    lines.extend(newest.lines.into_iter().filter(|l| l.id.is_some()));
                    *held = Some(OlderPages {
                        target,
                        lines,
                        covered_to: last,
                        next: page.older,
                    });
                }
            }
            _ => {}
        });
    });
    let on_load_older = move || {
        if load_older.pending().get_untracked() {
            return;
        }
        let Some((target, cursor)) = selected().zip(older_cursor()) else {
            return;
        };
        let from = match joined() {
            Some(_) => None,
            None => newest_page(),
        };
        load_older.dispatch((target, cursor, from));
    };
    // Newest at the bottom: a thread opens scrolled to its end, and stays
    // there as lines arrive if it was there; older lines going in above
    // leave the lines in view where they were.
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let count = shown().len();
        let Some(el) = lines_ref.get() else { return };
        request_animation_frame(move || {
            if let Some(before) = height_before.try_update_value(|h| h.take()).flatten() {
                el.set_scroll_top(el.scroll_top() + el.scroll_height() - before);
            } else if at_bottom.get_value() && count > 0 {
                el.set_scroll_top(el.scroll_height());
            }
        });
    });
    let on_scroll = move |_| {
        let Some(el) = lines_ref.get_untracked() else {
            return;
        };
        at_bottom.set_value(el.scroll_height() - el.scroll_top() - el.client_height() < 40);
        if el.scroll_top() < 40 {
            on_load_older();
        }
    };
    // Outside the refreshing part of the view, so a refresh keeps the
    // scroll position and redraws only the lines that changed.
    let thread_lines = move || {
        view! {
            <div class="thread-lines" node_ref=lines_ref on:scroll=on_scroll>
                {move || older_cursor().map(|_| view! {
                    <button type="button" class="button secondary small load-older"
                        disabled=move || load_older.pending().get()
                        on:click=move |_| on_load_older()>"Load older messages"</button>
                })}
                {move || match load_older.value().get() {
                    Some((_, _, Err(e))) => Some(view! { <p class="form-error" role="alert">{e.to_string()}</p> }),
                    _ => None,
                }}
                <For each=shown key=|line| line.clone() let:line>
                    {line_view(line)}
                </For>
            </div>
        }
        .into_any()
    };
    view! {
        <section class="page">
            <h1>"Conversations"</h1>
            <div class="inbox">
                <aside class="conversation-list" aria-label="Conversations">
                    <input type="search" class="conversation-search" aria-label="Search conversations"
                        placeholder="Search by name, username, phone or BSUID"
                        prop:value=move || search.get()
                        on:input=move |e| search.set(event_target_value(&e))/>
                    <Show when=move || mounted.get() fallback=|| view! { <p>"Loading…"</p> }>
                    <Transition fallback=|| view! { <p>"Loading…"</p> }>
                        {move || list.get().map(|result| match result {
                            Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                            Ok(list) if list.is_empty() => view! {
                                <p class="notice">"No conversations yet. Messages to your connected numbers appear here."</p>
                            }.into_any(),
                            Ok(_) => ().into_any(),
                        })}
                        // Keyed: a refresh that changes a conversation
                        // replaces only its link, so clicks are not lost.
                        <For each=move || list.get().and_then(Result::ok).unwrap_or_default() key=|c| c.clone() let:c>
                            {
                                let href = format!("/conversations?number={}&customer={}", c.phone_number_id, c.customer);
                                // Beside the name, the other way to know them.
                                let also = c.username.clone().filter(|u| *u != c.name)
                                    .or_else(|| c.phone.clone().map(|p| format!("+{p}")).filter(|p| *p != c.name));
                                let unread = (c.unread > 0).then(|| {
                                    let label = format!("{} unread", c.unread);
                                    view! { <span class="badge unread" aria-label=label>{c.unread}</span> }
                                });
                                view! {
                                    <A href=href attr:class="conversation" attr:data-unread=c.unread.to_string()
                                        attr:data-window-ends-at=c.window_ends_at.map(|at| at.to_string())>
                                        <strong>{c.name}</strong>
                                        <span class="conversation-meta">{unread}<time>{format_time(c.last_at)}</time></span>
                                        {also.map(|a| view! { <span class="muted contact-also">{a}</span> })}
                                        <span class="muted">{c.last_summary}</span>
                                        {window_open(c.window_ends_at).then(|| view! {
                                            <span class="window-mark">"Reply window open"</span>
                                        })}
                                    </A>
                                }.into_any()
                            }
                        </For>
                    </Transition>
                    </Show>
                </aside>
                <div class="thread" aria-label="Thread">
                    <Show when=move || mounted.get() fallback=|| view! { <p>"Loading…"</p> }>
                    <Transition fallback=|| view! { <p>"Loading…"</p> }>
                        {move || thread.get().map(|result| match result {
                            Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                            Ok(None) if query.read().get("erased").is_some() => view! {
                                <p class="notice" role="status">"The contact was erased, with their messages and files."</p>
                            }.into_any(),
                            Ok(None) => view! { <p class="notice">"Choose a conversation."</p> }.into_any(),
                            Ok(Some(thread)) => view! {
                                <NumberHealth number=selected().map(|(n, _)| n).unwrap_or_default() word=thread.number_health.clone()/>
                            }.into_any(),
                        })}
                    </Transition>
                    {thread_lines()}
                    </Show>
                    // Browser only, with the thread they read: a browser-only
                    // read on the server never resolves, and the whole page
                    // was sent as "Loading…".
                    {move || selected().filter(|_| mounted.get()).map(|(number, customer)| {
                        let current = Signal::derive(move || thread.get().and_then(|r| r.ok()).flatten());
                        view! { <Composer number customer thread=current refresh/> }.into_any()
                    })}
                </div>
                {move || selected().filter(|_| mounted.get()).map(|(number, customer)| {
                    let current = Signal::derive(move || thread.get().and_then(|r| r.ok()).flatten());
                    view! { <ContactPanel number customer thread=current refresh/> }.into_any()
                })}
            </div>
        </section>
    }
}

/// Whether a conversation's reply window is open now, by the browser's
/// clock (the list is drawn by the browser only).
fn window_open(ends_at: Option<i64>) -> bool {
    #[cfg(feature = "hydrate")]
    let now = js_sys::Date::now() as i64;
    #[cfg(not(feature = "hydrate"))]
    let now = i64::MAX;
    ends_at.is_some_and(|at| at > now)
}

/// One line of a thread, as a bubble.
fn line_view(line: LineView) -> AnyView {
    let (mark, class) = ticks(line.status.as_deref());
    let side = if line.inbound {
        "bubble inbound"
    } else {
        "bubble outbound"
    };
    view! {
        <div class=side data-wamid=line.wamid data-status=line.status.clone() data-origin=line.origin.clone()>
            {line.origin.as_deref().map(origin_label)}
            {line.media.map(media_view)}
            <p>{line.summary}</p>
            {line.error.map(|e| view! { <p class="bubble-error">{e}</p> })}
            {line.needs_phone.then(|| view! {
                <p class="bubble-error needs-phone">"This message needs the customer's phone number: use Request phone number."</p>
            })}
            <footer>
                <time>{format_time(line.sent_at)}</time>
                {(!line.inbound).then(|| view! { <span class=class>{mark}</span> })}
            </footer>
        </div>
    }
    .into_any()
}

/// Who the customer is: every id Meta has shown for them, and a way to ask
/// for the phone number when it is not known.
#[component]
fn ContactPanel(
    number: String,
    customer: String,
    thread: Signal<Option<ThreadView>>,
    refresh: RwSignal<u32>,
) -> impl IntoView {
    let target = StoredValue::new((number, customer));
    let error = RwSignal::new(None::<String>);
    let asked = RwSignal::new(false);
    let state = expect_context::<SessionState>();
    let is_admin = move || state.me().is_some_and(|me| me.at_least("admin"));
    let ask = Action::new(move |key: &String| {
        let (number, customer) = target.get_value();
        let key = key.clone();
        async move { request_phone(number, customer, key).await }
    });
    Effect::new(move |_| match ask.value().get() {
        Some(Ok(())) => {
            error.set(None);
            asked.set(true);
            refresh.update(|n| *n += 1);
        }
        Some(Err(e)) => error.set(Some(e.to_string())),
        None => {}
    });
    let on_ask = move |_| {
        #[cfg(feature = "hydrate")]
        let key = crate::js::random_id();
        #[cfg(not(feature = "hydrate"))]
        let key = String::new();
        ask.dispatch(key);
    };
    let row = |label: &'static str, value: Option<String>, class: &'static str| {
        view! {
            <dt>{label}</dt>
            <dd class=class>{value.unwrap_or_else(|| "not known".into())}</dd>
        }
    };
    view! {
        <aside class="contact-panel" aria-label="Customer">
            {move || thread.get().map(|t| {
                let ContactView { id, name, profile_name, username, phone, bsuid } = t.contact;
                let no_phone = phone.is_none();
                view! {
                    <h2>{name}</h2>
                    <dl>
                        {row("Profile name", profile_name, "contact-profile-name")}
                        {row("Username", username, "contact-username")}
                        {row("Phone", phone.map(|p| format!("+{p}")), "contact-phone")}
                        {row("BSUID", bsuid, "contact-bsuid")}
                    </dl>
                    {(no_phone && t.can_reply).then(|| view! {
                        <p class="muted">"Replies go by their business-scoped id. Some messages (authentication templates) need the phone number."</p>
                        <button type="button" class="button secondary" on:click=on_ask
                            disabled=move || ask.pending().get()>"Request phone number"</button>
                    })}
                    <Show when=is_admin>
                        <DataRights contact_id=id.clone() refresh/>
                    </Show>
                }.into_any()
            })}
            {move || asked.get().then(|| view! { <p class="notice" role="status">"Asked the customer to share their phone number."</p> })}
            {move || error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
        </aside>
    }
}

/// The customer's data rights, for admins: download everything held
/// about them, or erase them (asked twice; it cannot be undone).
#[component]
fn DataRights(contact_id: String, refresh: RwSignal<u32>) -> impl IntoView {
    let export_url = format!("/contacts/{contact_id}/export");
    let contact_id = StoredValue::new(contact_id);
    let confirming = RwSignal::new(false);
    let erase = Action::new(move |_: &()| erase_contact(contact_id.get_value()));
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if matches!(erase.value().get(), Some(Ok(_))) {
            refresh.update(|n| *n += 1);
            navigate("/conversations?erased=1", Default::default());
        }
    });
    view! {
        <div class="data-rights">
            <a class="button secondary small" href=export_url rel="external" download>"Export their data"</a>
            <Show
                when=move || confirming.get()
                fallback=move || view! {
                    <button type="button" class="button danger small" on:click=move |_| confirming.set(true)>"Erase contact…"</button>
                }
            >
                <p class="form-error" role="alert">"Erase this customer, their messages and files for good? This cannot be undone."</p>
                <button type="button" class="button danger small" disabled=move || erase.pending().get()
                    on:click=move |_| { erase.dispatch(()); }>"Erase for good"</button>
                <button type="button" class="button secondary small" on:click=move |_| confirming.set(false)>"Keep"</button>
            </Show>
            {move || erase.value().get().and_then(Result::err).map(|e| view! { <p class="form-error" role="alert">{e.to_string()}</p> })}
        </div>
    }
}

/// A customer's file in the bubble: shown when kept, else where it stands.
/// Where a message came from when not through Switchboard.
fn origin_label(origin: &str) -> impl IntoView {
    let label = match origin {
        "history" => "Imported from the WhatsApp Business app",
        "business_app" => "Sent from the WhatsApp Business app",
        _ => "",
    };
    view! { <p class="bubble-origin">{label}</p> }
}

fn media_view(media: MediaView) -> AnyView {
    match (media.state.as_str(), media.shown_as.as_str()) {
        ("stored", "image") => view! { <img class="bubble-media" src=media.url alt="Photo from the customer" loading="lazy"/> }.into_any(),
        ("stored", "audio") => view! { <audio class="bubble-media" controls src=media.url></audio> }.into_any(),
        ("stored", "video") => view! { <video class="bubble-media" controls src=media.url></video> }.into_any(),
        ("stored", _) => view! { <a class="bubble-media" href=media.url rel="external" download>"Download the file"</a> }.into_any(),
        ("failed", _) => view! { <p class="bubble-error">{format!("The file could not be kept: {}", media.error.unwrap_or_default())}</p> }.into_any(),
        _ => view! { <p class="muted">"Fetching the file…"</p> }.into_any(),
    }
}

/// How long the customer service window stays open, in words.
fn window_text(closes_at: Option<i64>, now: i64) -> Option<String> {
    let left = closes_at? - now;
    (left > 0).then(|| {
        let minutes = left / 60_000;
        format!("Window open for {} h {} min", minutes / 60, minutes % 60)
    })
}

/// The agent's reply box. Outside the 24-hour window only a template can
/// reach the customer, so the box says so instead of failing later.
#[component]
fn Composer(
    number: String,
    customer: String,
    thread: Signal<Option<ThreadView>>,
    refresh: RwSignal<u32>,
) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let file_input = NodeRef::<leptos::html::Input>::new();
    let sending_file = RwSignal::new(false);
    // Where replies go; Copy, so the handlers below stay `Fn`.
    let target = StoredValue::new((number, customer));
    let send = Action::new(move |(text, key): &(String, String)| {
        let (number, customer) = target.get_value();
        let (text, key) = (text.clone(), key.clone());
        async move { send_reply(number, customer, text, key).await }
    });
    Effect::new(move |_| match send.value().get() {
        Some(Ok(())) => {
            text.set(String::new());
            error.set(None);
            refresh.update(|n| *n += 1);
        }
        Some(Err(e)) => error.set(Some(e.to_string())),
        None => {}
    });
    let open = move || {
        thread
            .get()
            .and_then(|t| window_text(t.window_closes_at, t.now))
    };
    let can_reply = move || thread.get().is_some_and(|t| t.can_reply);
    let closed = Memo::new(move |_| open().is_none());
    let mounted = use_mounted();

    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let body = text.get_untracked();
        #[cfg(feature = "hydrate")]
        let key = crate::js::random_id();
        #[cfg(not(feature = "hydrate"))]
        let key = String::new();
        // With a file attached, the text is its caption.
        #[cfg(feature = "hydrate")]
        if let Some(form) = target.with_value(|(number, customer)| {
            attachment_form(file_input, number, customer, &body, &key)
        }) {
            sending_file.set(true);
            leptos::task::spawn_local(async move {
                match crate::api::conversations::send_file(form.into()).await {
                    Ok(()) => {
                        text.set(String::new());
                        error.set(None);
                        if let Some(input) = file_input.get_untracked() {
                            input.set_value("");
                        }
                        refresh.update(|n| *n += 1);
                    }
                    Err(e) => error.set(Some(e.to_string())),
                }
                sending_file.set(false);
            });
            return;
        }
        let _ = target;
        if body.trim().is_empty() {
            return;
        }
        send.dispatch((body, key));
    };
    view! {
        // Drawn by the browser once it runs (the composer needs it anyway):
        // its state comes from the refreshing thread, which the server's
        // page and the hydrating client need not agree on.
        <Show when=move || mounted.get()>
        <Transition fallback=|| ()>
        <Show when=can_reply>
            <form class="composer" on:submit=on_submit>
                {move || open().map(|left| view! { <p class="muted window-open">{left}</p> })}
                // Redrawn only when the window opens or closes, not on every
                // refresh of the thread, so a half-filled template stays.
                <Show when=move || closed.get()>
                    <p class="notice window-closed">
                        "The 24-hour window is closed: only an approved template can reach this customer."
                    </p>
                    <TemplatePicker target refresh/>
                </Show>
                <label class="visually-hidden" for="reply">"Reply"</label>
                <textarea id="reply" name="reply" rows="2" maxlength="4096"
                    placeholder="Write a reply"
                    prop:value=move || text.get()
                    on:input=move |e| text.set(event_target_value(&e))
                    disabled=move || open().is_none()></textarea>
                <label class="attach">"Attach a file "
                    <input type="file" node_ref=file_input disabled=move || open().is_none()
                        accept="image/jpeg,image/png,video/mp4,audio/*,application/pdf,text/plain,.doc,.docx,.xls"/>
                </label>
                {move || error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
                <button type="submit" class="button" disabled=move || open().is_none() || send.pending().get() || sending_file.get()>"Send"</button>
            </form>
        </Show>
        </Transition>
        </Show>
    }
}

/// The chosen file and the reply's fields as a multipart form, if a file
/// is chosen.
#[cfg(feature = "hydrate")]
fn attachment_form(
    input: NodeRef<leptos::html::Input>,
    number: &str,
    customer: &str,
    caption: &str,
    key: &str,
) -> Option<web_sys::FormData> {
    let file = input.get_untracked()?.files()?.get(0)?;
    let form = web_sys::FormData::new().ok()?;
    for (name, value) in [
        ("phone_number_id", number),
        ("customer", customer),
        ("caption", caption),
        ("key", key),
    ] {
        form.append_with_str(name, value).ok()?;
    }
    form.append_with_blob_and_filename("file", &file, &file.name())
        .ok()?;
    Some(form)
}

/// Approved templates for a closed window: pick one, fill its variables
/// (the preview shows the message as it will read), send.
#[component]
fn TemplatePicker(target: StoredValue<(String, String)>, refresh: RwSignal<u32>) -> impl IntoView {
    let number = target.with_value(|(number, _)| number.clone());
    // Fetched by the browser only: the picker is for clicking, and a
    // resource created this deep would not hydrate reliably.
    let templates = LocalResource::new(move || reply_templates(number.clone()));
    let chosen = RwSignal::new(0usize);
    let values = RwSignal::new(Vec::<String>::new());
    let header_value = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let send = Action::new(
        move |(template, header, values, key): &(
            TemplateView,
            Vec<String>,
            Vec<String>,
            String,
        )| {
            let (number, customer) = target.get_value();
            let (template, header, values, key) = (
                template.clone(),
                header.clone(),
                values.clone(),
                key.clone(),
            );
            async move {
                send_template(
                    number,
                    customer,
                    template.name,
                    template.language,
                    header,
                    values,
                    key,
                )
                .await
            }
        },
    );
    Effect::new(move |_| match send.value().get() {
        Some(Ok(())) => {
            error.set(None);
            values.set(Vec::new());
            header_value.set(String::new());
            refresh.update(|n| *n += 1);
        }
        Some(Err(e)) => error.set(Some(e.to_string())),
        None => {}
    });
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading the templates…"</p> }>
            {move || templates.get().map(|result| match result {
                Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                Ok(list) if list.is_empty() => view! { <p class="muted">"No approved template yet."</p> }.into_any(),
                Ok(list) => {
                    let list = StoredValue::new(list);
                    let current = move || list.with_value(|l| l.get(chosen.get()).cloned());
                    let preview = move || current().map(|t| rules::templates::fill_by_name(&t.body, &t.variable_names, &values.get()));
                    let header_preview = move || current()
                        .filter(|t| !t.header.is_empty())
                        .map(|t| rules::templates::fill(&t.header, &[header_value.get()]));
                    let on_send = move |_| {
                        let Some(template) = current() else { return };
                        let mut filled = values.get_untracked();
                        filled.resize(template.variable_names.len(), String::new());
                        let header = template.header_takes_value()
                            .then(|| header_value.get_untracked())
                            .into_iter()
                            .collect::<Vec<_>>();
                        #[cfg(feature = "hydrate")]
                        let key = crate::js::random_id();
                        #[cfg(not(feature = "hydrate"))]
                        let key = String::new();
                        send.dispatch((template, header, filled, key));
                    };
                    view! {
                        <div class="template-picker">
                            <label>"Template "
                                <select aria-label="Template" on:change=move |e| {
                                    chosen.set(event_target_value(&e).parse().unwrap_or(0));
                                    values.set(Vec::new());
                                    header_value.set(String::new());
                                }>
                                    {list.with_value(|l| l.iter().enumerate().map(|(i, t)| view! {
                                        <option value=i.to_string()>{format!("{} ({})", t.name, t.language)}</option>
                                    }).collect_view())}
                                </select>
                            </label>
                            {move || current().filter(TemplateView::header_takes_value).map(|_| view! {
                                <label>"Header value "
                                    <input aria-label="Header value"
                                        prop:value=move || header_value.get()
                                        on:input=move |e| header_value.set(event_target_value(&e))/>
                                </label>
                            })}
                            {move || current().map(|t| t.variable_names.into_iter().enumerate().map(|(i, label)| (i + 1, label)).map(|(n, label)| view! {
                                <label>{format!("Variable {label} ")}
                                    <input aria-label=format!("Variable {label}")
                                        prop:value=move || values.get().get(n - 1).cloned().unwrap_or_default()
                                        on:input=move |e| values.update(|v| {
                                            v.resize(v.len().max(n), String::new());
                                            v[n - 1] = event_target_value(&e);
                                        })/>
                                </label>
                            }).collect_view())}
                            <div class="bubble template-preview">
                                {move || header_preview().map(|h| view! { <p class="template-header"><strong>{h}</strong></p> })}
                                <p class="template-body">{preview}</p>
                            </div>
                            {move || error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
                            <button type="button" class="button secondary" on:click=on_send
                                disabled=move || send.pending().get()>"Send the template"</button>
                        </div>
                    }.into_any()
                }
            })}
        </Transition>
    }
}

/// The number's health in one word, when it is not healthy, linking to
/// its Health page.
#[component]
fn NumberHealth(number: String, word: String) -> impl IntoView {
    (word != "healthy").then(|| {
        view! {
            <p class="number-health">
                <a class=format!("badge health-{word}") href=format!("/numbers/{number}/health") data-health=word.clone()>
                    "This number: "{word.clone()}
                </a>
            </p>
        }
    })
}
