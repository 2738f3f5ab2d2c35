//! Connect WhatsApp: Embedded Signup in a popup, then each step of the
//! connection as the server runs it; and the workspace's numbers.

use leptos::{prelude::*, task::spawn_local};

use crate::{
    api::onboarding::{
        choose_signup_number, disconnect_number, list_numbers, onboarding_progress,
        request_verification_code, resume_number, retry_onboarding, set_send_rate, signup_settings,
        submit_signup_finish, submit_signup_pin, submit_verification_code, NumberView,
        ProgressView, SignupConfig, SyncView,
    },
    live::{use_live, Topic},
    mounted::use_mounted,
    signup::{step_in_words, SignupMessage},
};

/// The page's shared state: one signup run at a time.
#[derive(Clone, Copy)]
struct Connection {
    settings: RwSignal<Option<SignupConfig>>,
    sdk_ready: RwSignal<bool>,
    /// The run the open popup belongs to.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    attempt: RwSignal<Option<String>>,
    progress: RwSignal<Option<ProgressView>>,
    /// What the signup window said that is not progress (cancel, error).
    notice: RwSignal<Option<String>>,
    error: RwSignal<Option<String>>,
    /// The PIN being typed; here so a progress update keeps it.
    pin: RwSignal<String>,
    /// The verification code being typed.
    code: RwSignal<String>,
    numbers_version: RwSignal<u32>,
    /// The popup ended without a code: offer the redirect in this tab
    /// (for the Business app when that is what was started).
    redirect_offer: RwSignal<Option<bool>>,
}

impl Connection {
    fn show(&self, result: Result<ProgressView, crate::errors::UiError>) {
        match result {
            Ok(progress) => {
                self.error.set(None);
                // Unchanged, it stays as it is (and keeps what is typed).
                if self.progress.get_untracked().as_ref() != Some(&progress) {
                    self.progress.set(Some(progress));
                }
            }
            Err(error) => self.error.set(Some(error.to_string())),
        }
    }

    /// Opens Embedded Signup (for a WhatsApp Business app number when
    /// `business_app`); runs inside the click so the popup opens.
    #[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
    fn start(self, business_app: bool) {
        #[cfg(feature = "hydrate")]
        {
            let Some(settings) = self.settings.get_untracked() else {
                return;
            };
            let attempt = crate::js::random_id();
            self.attempt.set(Some(attempt.clone()));
            self.progress.set(None);
            self.notice.set(None);
            self.error.set(None);
            self.redirect_offer.set(None);
            let opened = crate::signup::browser::login(
                &settings.config_id,
                business_app,
                move |code| match code {
                    Some(code) => spawn_local(async move {
                        self.show(crate::api::onboarding::submit_signup_code(attempt, code).await);
                    }),
                    None => {
                        // Blocked popups, in-app browsers and opener
                        // policies end here too: offer Meta's page in this
                        // tab instead.
                        self.redirect_offer.set(Some(business_app));
                        if self.progress.get_untracked().is_none()
                            && self.notice.get_untracked().is_none()
                        {
                            self.notice.set(Some("The signup window did not hand back a sign-in code, so nothing was connected yet.".into()));
                        }
                    }
                },
            );
            if let Err(problem) = opened {
                self.error.set(Some(problem));
            }
        }
    }

    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn on_message(self, message: SignupMessage) {
        let Some(attempt) = self.attempt.get_untracked() else {
            return;
        };
        match message {
            SignupMessage::Finish {
                event,
                waba_id,
                phone_number_id,
                business_id,
            } => spawn_local(async move {
                self.show(
                    submit_signup_finish(attempt, event, waba_id, phone_number_id, business_id)
                        .await,
                );
            }),
            SignupMessage::Cancel { current_step } => {
                let step = current_step
                    .map(|s| step_in_words(&s))
                    .unwrap_or_else(|| "an unknown step".into());
                self.notice.set(Some(format!("You left the signup at the step “{step}”. Nothing was connected; start again when you are ready.")));
            }
            SignupMessage::Error { message, code } => {
                let code = code.map(|c| format!(" (error {c})")).unwrap_or_default();
                self.notice.set(Some(format!(
                    "The signup reported a problem: {message}{code}"
                )));
            }
        }
    }
}

#[component]
pub fn Onboarding() -> impl IntoView {
    let connection = Connection {
        settings: RwSignal::new(None),
        sdk_ready: RwSignal::new(false),
        attempt: RwSignal::new(None),
        progress: RwSignal::new(None),
        notice: RwSignal::new(None),
        error: RwSignal::new(None),
        pin: RwSignal::new(String::new()),
        code: RwSignal::new(String::new()),
        numbers_version: RwSignal::new(0),
        redirect_offer: RwSignal::new(None),
    };
    // Back from Meta's page in this tab with a refusal.
    let query = leptos_router::hooks::use_query_map();
    // The reason is in a URL anyone can make: only a plain word of it is
    // shown (`state_used`, Meta's `user_denied`), never text as it came.
    let redirect_error = move || {
        query.with(|q| q.get("signup_error")).map(|code| {
            let word: String = code
                .chars()
                .filter(|c| c.is_ascii_lowercase() || *c == '_')
                .take(40)
                .collect();
            format!("the sign-in was refused or cancelled ({word}). Start again.")
        })
    };
    let settings = Resource::new(|| (), |_| signup_settings());
    let latest = Resource::new(|| (), |_| onboarding_progress(None));

    // Once the settings are in (browser only): load the SDK.
    Effect::new(move |_| {
        if let Some(Ok(loaded)) = settings.get() {
            connection.settings.set(Some(loaded.clone()));
            #[cfg(feature = "hydrate")]
            {
                let ready = move || connection.sdk_ready.set(true);
                let failed = move || {
                    connection.error.set(Some(
                        "Meta's signup script could not be loaded; check the connection and reload the page.".into(),
                    ))
                };
                if let Err(problem) = crate::signup::browser::load_sdk(&loaded, ready, failed) {
                    connection.error.set(Some(problem));
                }
            }
        }
    });
    // A run still under way (after a reload, say) shows again.
    Effect::new(move |_| {
        if let Some(Ok(Some(run))) = latest.get() {
            if !run.is_live() && connection.progress.get_untracked().is_none() {
                connection.progress.set(Some(run));
            }
        }
    });
    // Follow the run while it moves: read it again when it changed here
    // and whenever the live stream says a run moved (no polling); when it
    // is live, list the number. Only the newest read counts.
    let live = use_live();
    let reads = StoredValue::new(0u64);
    Effect::new(move |_| {
        live.version(Topic::Onboarding);
        let Some(run) = connection.progress.get() else {
            return;
        };
        reads.update_value(|c| *c += 1);
        let mine = reads.get_value();
        if run.is_live() {
            connection.numbers_version.update(|v| *v += 1);
        } else if run.is_moving() {
            let id = run.id.clone();
            spawn_local(async move {
                let next = onboarding_progress(Some(id)).await;
                if reads.get_value() != mine {
                    return;
                }
                // An unchanged answer ends the chain until the next notice.
                if let Ok(Some(next)) = next {
                    if connection.progress.get_untracked().as_ref() != Some(&next) {
                        connection.progress.set(Some(next));
                    }
                }
            });
        }
    });
    // The signup window's messages, from the allowed origins only; the
    // listener goes when the page does.
    #[cfg(feature = "hydrate")]
    {
        let handle = window_event_listener(leptos::ev::message, move |event| {
            let Some(settings) = connection.settings.get_untracked() else {
                return;
            };
            let Some(text) = crate::js::text(&event.data()) else {
                return;
            };
            if let Some(message) =
                crate::signup::read_message(&event.origin(), &settings.allowed_origins, &text)
            {
                connection.on_message(message);
            }
        });
        on_cleanup(move || handle.remove());
    }

    view! {
        <section class="page onboarding">
            <h1>"Connect WhatsApp"</h1>
            <p class="lead">"Connect a WhatsApp Business number through Meta's Embedded Signup. It takes about a minute; keep this page open."</p>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || settings.get().map(|result| match result {
                    Err(error) => view! { <p class="form-error" role="alert">{error.to_string()}</p> }.into_any(),
                    Ok(_) => view! {
                        <div class="actions">
                            <button
                                class="button"
                                data-testid="connect-whatsapp"
                                disabled=move || !connection.sdk_ready.get()
                                on:click=move |_| connection.start(false)
                            >
                                {move || if connection.sdk_ready.get() { "Connect WhatsApp" } else { "Loading Meta's signup…" }}
                            </button>
                            <button
                                class="button secondary"
                                data-testid="connect-business-app"
                                disabled=move || !connection.sdk_ready.get()
                                on:click=move |_| connection.start(true)
                            >
                                "Connect a WhatsApp Business app number"
                            </button>
                        </div>
                        <p class="muted small">
                            "Use the second button if the business answers customers in the WhatsApp Business app on its phone and wants to keep doing so: the app stays, Switchboard works beside it, and the last months of chats come along. "
                            <a href="/onboarding/meta/start?business_app=0" rel="external" data-testid="signup-in-tab">"Popup blocked? Connect in this tab instead."</a>
                        </p>
                    }.into_any(),
                })}
            </Transition>
            <Notices connection redirect_error=Signal::derive(redirect_error)/>
            {move || connection.progress.get().map(|run| view! { <RunProgress run=run connection=connection/> })}
            <Numbers connection=connection/>
        </section>
    }
}

/// What the page says besides a run's progress: errors, the signup
/// window's notices, and the offer to continue on Meta's page in this tab.
#[component]
fn Notices(connection: Connection, redirect_error: Signal<Option<String>>) -> impl IntoView {
    view! {
            {move || connection.error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
            {move || redirect_error.get().map(|e| view! {
                <p class="form-error" role="alert" data-testid="signup-redirect-error">"Meta's page did not connect a number: "{e}</p>
            })}
            {move || connection.notice.get().map(|n| view! { <p class="notice" role="status" data-testid="signup-notice">{n}</p> })}
            {move || connection.redirect_offer.get().map(|business_app| view! {
                <p class="notice">
                    "Some browsers block the signup window or keep its answer from this page. "
                    <a class="button small" rel="external" data-testid="signup-redirect"
                        href=format!("/onboarding/meta/start?business_app={}", u8::from(business_app))>
                        "Continue on Meta's page in this tab"
                    </a>
                </p>
            })}
    }
    .into_any()
}

#[component]
fn RunProgress(run: ProgressView, connection: Connection) -> impl IntoView {
    let heading = match (&run.phone, run.is_live()) {
        (Some(phone), true) => format!("{phone} is live"),
        (Some(phone), false) => format!("Connecting {phone}"),
        (None, _) => "Connecting".to_string(),
    };
    let pin = connection.pin;
    let id = run.id.clone();
    let submit_pin = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (id, value) = (id.clone(), pin.get_untracked());
        spawn_local(async move {
            connection.show(submit_signup_pin(id, value).await);
        });
    };
    let retry_id = run.id.clone();
    let retry = move |_| {
        let id = retry_id.clone();
        spawn_local(async move { connection.show(retry_onboarding(id).await) });
    };
    let can_retry = run.state == "failed" && run.step != "exchange";
    let waiting_for = run.waiting_for.clone().unwrap_or_default();
    let run_id = run.id.clone();
    let choose = move |phone: String| {
        let id = run_id.clone();
        spawn_local(async move { connection.show(choose_signup_number(id, phone).await) });
    };
    let code_id = run.id.clone();
    let send_code = move |method: &'static str| {
        let id = code_id.clone();
        spawn_local(async move {
            connection.show(request_verification_code(id, method.to_string()).await)
        });
    };
    let code = connection.code;
    let verify_id = run.id.clone();
    let submit_code = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (id, value) = (verify_id.clone(), code.get_untracked());
        spawn_local(async move { connection.show(submit_verification_code(id, value).await) });
    };
    let attempts_left = run.register_attempts_left;
    let sent: Vec<String> = run
        .code_requests
        .iter()
        .map(|(method, at)| {
            let how = if method == "VOICE" {
                "a call"
            } else {
                "an SMS"
            };
            format!(
                "Code sent by {how} at {}",
                crate::pages::time::format_time(*at)
            )
        })
        .collect();
    view! {
        <div class="card run" data-testid="onboarding-progress" data-state=run.state.clone() data-step=run.step.clone()>
            <h2>{heading}</h2>
            <ol class="steps">
                {run.steps.into_iter().map(|s| view! {
                    <li class=format!("step step-{}", s.state) data-state=s.state.clone()>
                        <span class="step-state">{step_mark(&s.state)}</span>
                        " "{s.label}
                    </li>
                }).collect_view()}
            </ol>
            {run.problem.map(|p| view! { <p class="form-error" role="alert" data-testid="onboarding-problem">{p}</p> })}
            {(waiting_for == "number").then(|| view! {
                <div class="choices" data-testid="number-choices">
                    <p>"This WhatsApp Business Account has several numbers. Which one do you connect?"</p>
                    <ul class="plain">
                        {run.choices.iter().map(|choice| {
                            let phone = choice.phone_number_id.clone();
                            let choose = choose.clone();
                            view! {
                                <li>
                                    <button class="button secondary" data-choice=choice.phone_number_id.clone()
                                        on:click=move |_| choose(phone.clone())>
                                        {choice.display.clone()}
                                        {choice.verified_name.clone().map(|n| format!(" — {n}"))}
                                    </button>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                </div>
            })}
            {(waiting_for == "verification_code").then(|| view! {
                <div class="verify-number" data-testid="verify-number">
                    <p>"Meta has not verified this number yet. Get a code on it, then type the code here."</p>
                    <div class="actions">
                        <button class="button secondary" data-testid="send-code-sms" on:click={let send = send_code.clone(); move |_| send("SMS")}>"Send the code by SMS"</button>
                        <button class="button secondary" data-testid="send-code-voice" on:click={let send = send_code.clone(); move |_| send("VOICE")}>"Call with the code"</button>
                    </div>
                    <ul class="plain muted small">{sent.into_iter().map(|line| view! { <li>{line}</li> }).collect_view()}</ul>
                    <form class="pin-form" on:submit=submit_code>
                        <label>
                            "Verification code"
                            <input name="verification_code" inputmode="numeric" autocomplete="one-time-code" maxlength="8" required
                                prop:value=move || code.get()
                                on:input=move |ev| code.set(event_target_value(&ev))
                            />
                        </label>
                        <button type="submit" class="button">"Verify the number"</button>
                    </form>
                </div>
            })}
            {(!run.syncs.is_empty()).then(|| view! {
                <ul class="plain syncs" data-testid="business-app-syncs">
                    {run.syncs.iter().map(|sync| view! { <li>{sync_in_words(sync)}</li> }).collect_view()}
                </ul>
            })}
            {(run.waiting_for.as_deref() == Some("pin")).then(|| view! {
                <form class="pin-form" on:submit=submit_pin>
                    <label>
                        "Two-step verification PIN"
                        <input
                            name="pin" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required
                            prop:value=move || pin.get()
                            on:input=move |ev| pin.set(event_target_value(&ev))
                        />
                    </label>
                    <p class="muted">"The number's 6-digit PIN. If it has none yet, the PIN you enter becomes it."</p>
                    {attempts_left.map(|left| view! {
                        <p class="muted small" data-testid="register-attempts-left">
                            {format!("Meta allows {left} more register or deregister requests for this number in its 72 hours.")}
                        </p>
                    })}
                    <button type="submit" class="button">"Register the number"</button>
                </form>
            })}
            {can_retry.then(|| view! { <button class="button secondary" on:click=retry>"Try this step again"</button> })}
            {(run.state == "failed" && run.step == "exchange").then(|| view! {
                <p class="muted">"Use “Connect WhatsApp” to start again."</p>
            })}
        </div>
    }
    .into_any()
}

/// One of the Business app's syncs, as the admin reads it.
fn sync_in_words(sync: &SyncView) -> String {
    let what = if sync.what == "history" {
        "Chat history"
    } else {
        "Contacts"
    };
    match (&sync.problem, sync.declined) {
        (_, true) => {
            format!("{what}: the business chose not to share its chat history (this is final).")
        }
        (Some(problem), _) => format!("{what}: not asked — {problem}"),
        (None, _) if sync.what == "history" => format!(
            "{what}: asked of Meta; it arrives in the conversations as imported ({} messages so far).",
            sync.imported
        ),
        (None, _) => format!("{what}: asked of Meta; the app's names show on the customers."),
    }
}

fn step_mark(state: &str) -> &'static str {
    match state {
        "done" => "✓",
        "running" => "…",
        "waiting" => "?",
        "failed" => "✗",
        _ => "·",
    }
}

#[component]
fn Numbers(connection: Connection) -> impl IntoView {
    let live = use_live();
    // Drawn by the browser only, like the conversation list: a number's
    // row changes while a run moves, and a list the server drew from one
    // read and the browser hydrated from another broke the page.
    let mounted = use_mounted();
    let numbers = LocalResource::new(move || {
        let _ = (
            connection.numbers_version.get(),
            live.version(Topic::Numbers),
        );
        list_numbers()
    });
    view! {
        <h2>"Numbers"</h2>
        <Show when=move || mounted.get() fallback=|| view! { <p>"Loading…"</p> }>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || numbers.get().map(|result| match result {
                Err(error) => view! { <p class="form-error" role="alert">{error.to_string()}</p> }.into_any(),
                Ok(list) if list.is_empty() => view! { <p class="muted" data-testid="no-numbers">"No number is connected yet."</p> }.into_any(),
                Ok(list) => view! {
                    <table class="table numbers">
                        <thead><tr><th>"Number"</th><th>"Name"</th><th>"Quality"</th><th>"Status"</th><th>"Health"</th><th>"Messages/s"</th><th></th></tr></thead>
                        <tbody>{list.into_iter().map(|n| view! { <NumberRow number=n connection=connection/> }).collect_view()}</tbody>
                    </table>
                }.into_any(),
            })}
        </Transition>
        </Show>
    }
    .into_any()
}

#[component]
fn NumberRow(number: NumberView, connection: Connection) -> impl IntoView {
    let deregister = RwSignal::new(false);
    let phone = number.phone_number_id.clone();
    let disconnect = move |_| {
        let phone = phone.clone();
        spawn_local(async move {
            match disconnect_number(phone, deregister.get_untracked()).await {
                Ok(()) => connection.numbers_version.update(|v| *v += 1),
                Err(error) => connection.error.set(Some(error.to_string())),
            }
        });
    };
    let status = number.status.clone();
    let business_app = number.business_app;
    let paused_phone = number.phone_number_id.clone();
    let resume = move |_| {
        let phone = paused_phone.clone();
        spawn_local(async move {
            match resume_number(phone).await {
                Ok(()) => connection.numbers_version.update(|v| *v += 1),
                Err(error) => connection.error.set(Some(error.to_string())),
            }
        });
    };
    view! {
        <tr data-number=number.phone_number_id.clone() data-status=number.status.clone()>
            <td>
                {number.display.clone()}
                {number.business_app.then(|| view! { <span class="badge tag" title="The business keeps using the WhatsApp Business app on this number">" Business app"</span> })}
            </td>
            <td>{number.verified_name.clone().unwrap_or_default()}</td>
            <td>{number.quality_rating.clone().unwrap_or_default()}</td>
            <td>
                <span class=format!("badge status-{}", number.status)>{status_in_words(&number.status)}</span>
                {number.status_reason.clone().map(|r| view! { <p class="muted small">{r}</p> })}
                {number.meta_error.clone().map(|e| view! {
                    <p class="small meta-error">"Meta reported: "{e}</p>
                })}
            </td>
            <td>
                <a class=format!("badge health-{}", number.health) href=format!("/numbers/{}/health", number.phone_number_id)
                    data-health=number.health.clone()>{number.health.clone()}</a>
            </td>
            <td>
                <SendRate phone=number.phone_number_id.clone() rate=number.send_rate business_app=number.business_app connection/>
            </td>
            <td>
                {(status == "reconnect_needed").then(|| view! {
                    <button class="button small" on:click=move |_| connection.start(business_app)>"Reconnect"</button>
                })}
                {(status == "paused_by_meta").then(|| view! {
                    <button class="button small" on:click=resume.clone()>"Resume sending"</button>
                })}
                {(status != "disconnected").then(|| view! {
                    {(!business_app).then(|| view! {
                        <label class="small">
                            <input type="checkbox" on:change=move |ev| deregister.set(event_target_checked(&ev))/>
                            " also deregister"
                        </label>
                    })}
                    <button class="button small secondary" on:click=disconnect.clone()>"Disconnect"</button>
                })}
            </td>
        </tr>
    }
    .into_any()
}

/// The number's sending rate: match it to the throughput Meta grants it
/// (80/s, or 1,000/s once upgraded).
#[component]
fn SendRate(phone: String, rate: i64, business_app: bool, connection: Connection) -> impl IntoView {
    let value = RwSignal::new(rate.to_string());
    let save = move |_| {
        let phone = phone.clone();
        let Ok(rate) = value.get_untracked().trim().parse::<i64>() else {
            connection
                .error
                .set(Some("The rate is a whole number.".into()));
            return;
        };
        spawn_local(async move {
            match set_send_rate(phone, rate).await {
                Ok(()) => connection.numbers_version.update(|v| *v += 1),
                Err(error) => connection.error.set(Some(error.to_string())),
            }
        });
    };
    view! {
        <span class="inline">
            <input class="rate" aria-label="Messages per second" inputmode="numeric" size="5"
                prop:value=move || value.get() on:input=move |e| value.set(event_target_value(&e))/>
            <button class="button small secondary" on:click=save>"Set"</button>
            {(rate >= HIGH_THROUGHPUT).then(|| view! {
                <span class="muted">" Meta's high throughput (1,000/s)"</span>
            })}
            {business_app.then(|| view! {
                <span class="muted" data-testid="business-app-rate">" at most 20/s: Meta's fixed level for a WhatsApp Business app number"</span>
            })}
        </span>
    }
    .into_any()
}

/// Meta's level for an upgraded number; a `THROUGHPUT_UPGRADE` webhook
/// sets it by itself.
const HIGH_THROUGHPUT: i64 = 1000;

fn status_in_words(status: &str) -> &'static str {
    match status {
        "live" => "Live",
        "onboarding" => "Connecting",
        "reconnect_needed" => "Reconnect needed",
        "paused_by_meta" => "Paused by Meta",
        "disabled_by_meta" => "Disabled by Meta",
        "disconnected" => "Disconnected",
        "offboarded" => "Off the Cloud API for now",
        "reconnecting" => "Reconnecting",
        _ => "Unknown",
    }
}
