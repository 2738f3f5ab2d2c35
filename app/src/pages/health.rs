//! One number's Health page: the connection doctor's checks, read live
//! from Meta on open, each green, amber or red with Meta's words and the
//! fix, and one-click fixes where Meta allows them.

use leptos::{prelude::*, task::spawn_local};
use leptos_router::{components::A, hooks::use_params_map};

use super::time::format_time;
use crate::api::health::{fix_number_health, number_health, CheckView, HealthView};

#[component]
pub fn Health() -> impl IntoView {
    let params = use_params_map();
    let phone = move || params.read().get("id").unwrap_or_default();
    // A fix answers with the examination after it.
    let fixed = RwSignal::new(None::<HealthView>);
    let error = RwSignal::new(None::<String>);
    let report = Resource::new(phone, number_health);
    view! {
        <section class="page health">
            <p><A href="/onboarding">"← Numbers"</A></p>
            {move || error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
            <Suspense fallback=|| view! { <p>"Checking with Meta…"</p> }>
                {move || {
                    let shown = match fixed.get() {
                        Some(view) => Some(Ok(view)),
                        None => report.get(),
                    };
                    shown.map(|result| match result {
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                        Ok(view) => view! { <Report view fixed error/> }.into_any(),
                    })
                }}
            </Suspense>
        </section>
    }
}

#[component]
fn Report(
    view: HealthView,
    fixed: RwSignal<Option<HealthView>>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let phone = view.phone_number_id.clone();
    view! {
        <h1>"Health of "{view.display.clone()}</h1>
        <p>
            <span class=format!("badge health-{}", view.word) data-health=view.word.clone()>{view.word.clone()}</span>
            " checked "{format_time(view.checked_at)}" UTC"
        </p>
        <table class="table checks">
            <thead><tr><th></th><th>"Check"</th><th>"What Meta says"</th><th>"What to do"</th></tr></thead>
            <tbody>
                {view.checks.into_iter().map(|check| view! {
                    <CheckRow check phone=phone.clone() fixed error/>
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn CheckRow(
    check: CheckView,
    phone: String,
    fixed: RwSignal<Option<HealthView>>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let fix = check.fix.clone();
    let pin = RwSignal::new(String::new());
    let run = move |fix: String| {
        let phone = phone.clone();
        let pin = (fix == "register").then(|| pin.get_untracked());
        spawn_local(async move {
            match fix_number_health(phone, fix, pin).await {
                Ok(view) => {
                    error.set(None);
                    fixed.set(Some(view));
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <tr data-check=check.name.clone() data-light=check.light.clone()>
            <td><span class=format!("light light-{}", check.light) aria-label=check.light.clone()></span></td>
            <td>{check.name.clone()}</td>
            <td class="says">{check.says.clone()}</td>
            <td>
                {check.advice.clone().map(|a| view! { <p class="small">{a}</p> })}
                {fix.map(|fix| match fix.as_str() {
                    "reconnect" => view! { <A href="/onboarding" attr:class="button small">"Reconnect"</A> }.into_any(),
                    "register" => {
                        let run = run.clone();
                        view! {
                            <span class="inline">
                                <input aria-label="Two-step verification PIN" inputmode="numeric" size="7" maxlength="6"
                                    prop:value=move || pin.get() on:input=move |e| pin.set(event_target_value(&e))/>
                                <button class="button small" data-fix="register" on:click=move |_| run("register".to_string())>"Register again"</button>
                            </span>
                        }.into_any()
                    }
                    _ => {
                        let label = fix_label(&fix);
                        let run = run.clone();
                        view! {
                            <button class="button small" data-fix=fix.clone() on:click=move |_| run(fix.clone())>{label}</button>
                        }.into_any()
                    }
                })}
            </td>
        </tr>
    }
}

fn fix_label(fix: &str) -> &'static str {
    match fix {
        "resubscribe" => "Subscribe again",
        "resume" => "Resume sending",
        _ => "Check again",
    }
}
