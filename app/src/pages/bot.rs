//! The bot page: which bot answers new messages (none, the echo bot, or
//! the rules bot), and the rules bot's rules, default reply and business
//! hours. Admins edit; others see what is in place.

use leptos::prelude::*;

use super::forms::{last_error, FieldError, FormError};
use crate::api::bot::{bot_settings, save_bot, BotForm, HoursForm, RuleForm};

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

#[component]
pub fn Bot() -> impl IntoView {
    let settings = Resource::new(|| (), |_| bot_settings());
    view! {
        <section class="page bot">
            <h1>"Bot"</h1>
            <p class="lead">"What answers a customer's new message. Each message is answered once, however often Meta delivers it."</p>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || settings.get().map(|result| match result {
                    Err(error) => view! { <p class="form-error" role="alert">{error.to_string()}</p> }.into_any(),
                    Ok(form) => view! { <BotEditor form/> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

/// One rule's fields, each its own signal so typing does not redraw the list.
#[derive(Clone, Copy)]
struct RuleFields {
    id: usize,
    match_kind: RwSignal<String>,
    value: RwSignal<String>,
    reply_kind: RwSignal<String>,
    text: RwSignal<String>,
    options: RwSignal<String>,
    button: RwSignal<String>,
}

impl RuleFields {
    fn new(id: usize, rule: RuleForm) -> Self {
        let or = |value: String, default: &str| {
            if value.is_empty() {
                default.to_string()
            } else {
                value
            }
        };
        Self {
            id,
            match_kind: RwSignal::new(or(rule.match_kind, "keyword")),
            value: RwSignal::new(rule.value),
            reply_kind: RwSignal::new(or(rule.reply_kind, "text")),
            text: RwSignal::new(rule.text),
            options: RwSignal::new(rule.options),
            button: RwSignal::new(rule.button),
        }
    }

    fn form(&self) -> RuleForm {
        RuleForm {
            match_kind: self.match_kind.get_untracked(),
            value: self.value.get_untracked(),
            reply_kind: self.reply_kind.get_untracked(),
            text: self.text.get_untracked(),
            options: self.options.get_untracked(),
            button: self.button.get_untracked(),
        }
    }
}

#[component]
fn BotEditor(form: BotForm) -> impl IntoView {
    let can_edit = form.can_edit;
    let kind = RwSignal::new(form.kind.clone());
    let next_id = StoredValue::new(form.rules.len());
    let rules = RwSignal::new(
        form.rules
            .into_iter()
            .enumerate()
            .map(|(id, rule)| RuleFields::new(id, rule))
            .collect::<Vec<_>>(),
    );
    let default_reply = RwSignal::new(form.default_reply);
    let quiet = RwSignal::new(form.quiet_after_app_minutes);
    let hours_on = RwSignal::new(form.hours.is_some());
    let hours = form.hours.unwrap_or_else(|| HoursForm {
        opens: "09:00".into(),
        closes: "17:00".into(),
        days: [true, true, true, true, true, false, false],
        away_message: "We are closed now and will answer when we open.".into(),
        ..HoursForm::default()
    });
    let offset = RwSignal::new(hours.utc_offset_minutes.to_string());
    let opens = RwSignal::new(hours.opens);
    let closes = RwSignal::new(hours.closes);
    let days = RwSignal::new(hours.days);
    let away = RwSignal::new(hours.away_message);

    let save = Action::new(|form: &BotForm| save_bot(form.clone()));
    let error = last_error(save.value());
    let saved = move || matches!(save.value().get(), Some(Ok(_)));
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let form = BotForm {
            kind: kind.get_untracked(),
            rules: rules.get_untracked().iter().map(RuleFields::form).collect(),
            default_reply: default_reply.get_untracked(),
            hours: hours_on.get_untracked().then(|| HoursForm {
                utc_offset_minutes: offset.get_untracked().trim().parse().unwrap_or(0),
                opens: opens.get_untracked(),
                closes: closes.get_untracked(),
                days: days.get_untracked(),
                away_message: away.get_untracked(),
            }),
            quiet_after_app_minutes: quiet.get_untracked(),
            can_edit,
        };
        save.dispatch(form);
    };
    let add_rule = move |_| {
        let id = next_id.get_value();
        next_id.set_value(id + 1);
        rules.update(|list| list.push(RuleFields::new(id, RuleForm::default())));
    };
    let choice = move |value: &'static str, label: &'static str, hint: &'static str| {
        view! {
            <label class="choice">
                <input type="radio" name="kind" value=value
                    prop:checked=move || kind.get() == value
                    on:change=move |_| kind.set(value.to_string())
                    disabled=!can_edit/>
                <strong>{label}</strong>
                <span class="muted">{hint}</span>
            </label>
        }
    };
    view! {
        <form class="form bot-form" on:submit=on_submit>
            <fieldset>
                <legend>"Which bot answers"</legend>
                {choice("off", "No bot", "Agents answer everything.")}
                {choice("echo", "Echo bot", "Answers a text with \"Received: <text>\" (the integration guide's example).")}
                {choice("rules", "Rules bot", "Answers from the rules below.")}
                <FieldError error field="kind"/>
            </fieldset>
            <fieldset class="rules" disabled=move || kind.get() != "rules">
                <legend>"Rules (the first that matches answers)"</legend>
                <For each=move || rules.get() key=|rule| rule.id let:rule>
                    <div class="rule" data-rule=rule.id>
                        <label>"When the message has "
                            <select aria-label="Match" on:change=move |e| rule.match_kind.set(event_target_value(&e))>
                                <option value="keyword" selected=move || rule.match_kind.get() == "keyword">"the word"</option>
                                <option value="pattern" selected=move || rule.match_kind.get() == "pattern">"the pattern"</option>
                            </select>
                        </label>
                        <input aria-label="Keyword or pattern" required
                            prop:value=move || rule.value.get()
                            on:input=move |e| rule.value.set(event_target_value(&e))/>
                        <label>"answer with "
                            <select aria-label="Reply type" on:change=move |e| rule.reply_kind.set(event_target_value(&e))>
                                <option value="text" selected=move || rule.reply_kind.get() == "text">"a text"</option>
                                <option value="buttons" selected=move || rule.reply_kind.get() == "buttons">"buttons"</option>
                                <option value="list" selected=move || rule.reply_kind.get() == "list">"a list"</option>
                                <option value="request_phone" selected=move || rule.reply_kind.get() == "request_phone">"a request for the phone number"</option>
                            </select>
                        </label>
                        <textarea aria-label="Reply text" rows="2" maxlength="4096"
                            prop:value=move || rule.text.get()
                            on:input=move |e| rule.text.set(event_target_value(&e))></textarea>
                        <Show when=move || !["text", "request_phone"].contains(&rule.reply_kind.get().as_str())>
                            <textarea aria-label="Choices, one per line" rows="3"
                                placeholder="One choice per line"
                                prop:value=move || rule.options.get()
                                on:input=move |e| rule.options.set(event_target_value(&e))></textarea>
                        </Show>
                        <Show when=move || rule.reply_kind.get() == "list">
                            <input aria-label="List button" placeholder="Button that opens the list" maxlength="20"
                                prop:value=move || rule.button.get()
                                on:input=move |e| rule.button.set(event_target_value(&e))/>
                        </Show>
                        <button type="button" class="button secondary small"
                            on:click=move |_| rules.update(|list| list.retain(|r| r.id != rule.id))>"Remove"</button>
                    </div>
                </For>
                <button type="button" class="button secondary small" on:click=add_rule>"Add a rule"</button>
                <label>"Default reply (when no rule matches; empty for none)"
                    <textarea name="default_reply" rows="2" maxlength="4096"
                        prop:value=move || default_reply.get()
                        on:input=move |e| default_reply.set(event_target_value(&e))></textarea>
                </label>
                <label class="choice">
                    <input type="checkbox" prop:checked=move || hours_on.get()
                        on:change=move |e| hours_on.set(event_target_checked(&e))/>
                    "Business hours: outside them, the away message answers"
                </label>
                <Show when=move || hours_on.get()>
                    <div class="hours">
                        <label>"Opens " <input aria-label="Opens" prop:value=move || opens.get() on:input=move |e| opens.set(event_target_value(&e))/></label>
                        <label>"Closes " <input aria-label="Closes" prop:value=move || closes.get() on:input=move |e| closes.set(event_target_value(&e))/></label>
                        <label>"UTC offset (minutes) " <input aria-label="UTC offset" inputmode="numeric" prop:value=move || offset.get() on:input=move |e| offset.set(event_target_value(&e))/></label>
                        <div class="days">
                            {DAYS.iter().enumerate().map(|(index, day)| view! {
                                <label><input type="checkbox" prop:checked=move || days.get()[index]
                                    on:change=move |e| days.update(|d| d[index] = event_target_checked(&e))/>{*day}</label>
                            }).collect_view()}
                        </div>
                        <label>"Away message"
                            <textarea aria-label="Away message" rows="2" prop:value=move || away.get()
                                on:input=move |e| away.set(event_target_value(&e))></textarea>
                        </label>
                        <FieldError error field="hours"/>
                    </div>
                </Show>
                <FieldError error field="rules"/>
            </fieldset>
            <fieldset>
                <legend>"Numbers on the WhatsApp Business app"</legend>
                <label>"When someone answers a customer from the WhatsApp Business app, the bot keeps quiet for that customer for (minutes, 0 for never)"
                    <input name="quiet_after_app_minutes" inputmode="numeric" required disabled=!can_edit
                        prop:value=move || quiet.get()
                        on:input=move |e| quiet.set(event_target_value(&e))/>
                </label>
                <FieldError error field="quiet_after_app_minutes"/>
            </fieldset>
            <FormError error/>
            {move || saved().then(|| view! { <p class="notice" role="status">"Saved. New messages get this bot's answers."</p> })}
            <Show when=move || can_edit fallback=|| view! { <p class="muted">"Only admins can change the bot."</p> }>
                <button type="submit" class="button" disabled=move || save.pending().get()>"Save"</button>
            </Show>
        </form>
    }
}
