//! Message templates: the workspace's templates with their review status
//! (fetched again when the live stream says one changed), a filter, and for admins a form with a
//! live WhatsApp-style preview, and delete.

use leptos::prelude::*;
use rules::templates::{fill, variables, CATEGORIES, LANGUAGES};

use super::{
    forms::{last_error, FieldError, FormError},
    time::format_time,
};
use crate::{
    api::templates::{
        create_template, edit_template, list_templates, DeleteTemplate, TemplateForm, TemplateRow,
    },
    live::{use_live, Topic},
};

const STATUSES: [&str; 6] = [
    "APPROVED",
    "PENDING",
    "REJECTED",
    "PAUSED",
    "DISABLED",
    "IN_APPEAL",
];

#[component]
pub fn Templates() -> impl IntoView {
    let refresh = RwSignal::new(0u32);
    // Meta's review ends with a webhook; the live stream says so.
    let live = use_live();
    let delete = ServerAction::<DeleteTemplate>::new();
    let page = Resource::new(
        move || {
            (
                refresh.get(),
                live.version(Topic::Templates),
                delete.version().get(),
            )
        },
        |_| list_templates(),
    );
    // The form's numbers, read once: the form must not be rebuilt (and
    // emptied) by the list's refreshes.
    let setup = Resource::new(|| (), |_| list_templates());
    let delete_error = last_error(delete.value());
    // The form's fields, and the (name, language) being edited, if any;
    // a row's Edit button fills both.
    let form = RwSignal::new(blank_form());
    let editing = RwSignal::new(None::<(String, String)>);
    let filter = RwSignal::new(String::new());
    let status_filter = RwSignal::new(String::new());
    let rows = move || {
        let needle = filter.get().to_lowercase();
        let status = status_filter.get();
        page.get()
            .and_then(Result::ok)
            .map(|p| p.templates)
            .unwrap_or_default()
            .into_iter()
            .filter(|t| {
                needle.is_empty()
                    || t.name.contains(&needle)
                    || t.body.to_lowercase().contains(&needle)
            })
            .filter(|t| status.is_empty() || t.status == status)
            .collect::<Vec<_>>()
    };
    let can_delete = move || page.get().and_then(Result::ok).is_some_and(|p| p.can_edit);
    view! {
        <section class="page templates">
            <h1>"Message templates"</h1>
            <p class="lead">"Outside the 24-hour window only an approved template reaches a customer. New templates go to Meta for review."</p>
            <div class="form inline filters">
                <label>"Filter" <input type="search" name="filter" placeholder="name or text"
                    prop:value=move || filter.get()
                    on:input=move |ev| filter.set(event_target_value(&ev))/></label>
                <label>"Status" <select name="status_filter" on:change=move |ev| status_filter.set(event_target_value(&ev))>
                    <option value="">"All"</option>
                    {STATUSES.iter().map(|s| view! { <option value=*s>{s.to_lowercase()}</option> }).collect_view()}
                </select></label>
            </div>
            <FormError error=delete_error/>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || page.get().map(|result| match result {
                    Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(page) => page.syncs.into_iter().map(|sync| {
                        let state = match (&sync.error, sync.synced_at) {
                            (Some(error), _) => format!("Account {}: the last sync failed: {error}", sync.waba_id),
                            (None, Some(at)) => format!("Account {}: synced from Meta {} UTC", sync.waba_id, format_time(at)),
                            (None, None) => format!("Account {}: not synced yet", sync.waba_id),
                        };
                        let class = if sync.error.is_some() { "form-error sync-state" } else { "muted sync-state" };
                        view! { <p class=class>{state}</p> }
                    }).collect_view().into_any(),
                })}
                <table class="table template-list">
                    <thead><tr><th>"Name"</th><th>"Language"</th><th>"Category"</th><th>"Status"</th><th>"Reason"</th><th></th></tr></thead>
                    // Keyed rows: a refresh that changes nothing replaces
                    // nothing, so a click never lands on a vanishing button.
                    <tbody>
                        <For each=rows key=|t| t.clone() let:t>
                            <TemplateRowView t can_delete=can_delete() delete form editing/>
                        </For>
                    </tbody>
                </table>
            </Transition>
            <Transition fallback=|| ()>
                {move || setup.get().and_then(Result::ok).filter(|p| p.can_edit && !p.numbers.is_empty())
                    .map(|p| view! { <CreateTemplate numbers=p.numbers refresh form editing/> })}
            </Transition>
        </section>
    }
}

#[component]
fn TemplateRowView(
    t: TemplateRow,
    can_delete: bool,
    delete: ServerAction<DeleteTemplate>,
    form: RwSignal<TemplateForm>,
    editing: RwSignal<Option<(String, String)>>,
) -> impl IntoView {
    let deletable = can_delete && t.status != "DISABLED";
    let edit_form = t.edit_form.clone().filter(|_| can_delete);
    let key = (t.name.clone(), t.language.clone());
    let status_class = format!("status status-{}", t.status.to_lowercase());
    let (row_name, row_status, form_name) = (t.name.clone(), t.status.clone(), t.name.clone());
    view! {
        <tr data-template=row_name data-status=row_status>
            <td><code>{t.name.clone()}</code><br/><span class="muted">{t.body.clone()}</span></td>
            <td>{t.language.clone()}</td>
            <td>{t.category.to_lowercase()}</td>
            <td>
                <span class=status_class>{t.status.to_lowercase()}</span>
                {t.quality.clone().map(|q| view! {
                    <br/><span class="muted" data-quality=q.clone()>"quality: "{q.to_lowercase()}</span>
                })}
            </td>
            <td>{t.rejected_reason.clone().unwrap_or_default()}</td>
            <td>{edit_form.map(|loaded| view! {
                <button type="button" class="button small secondary" on:click=move |_| {
                    form.set(loaded.clone());
                    editing.set(Some(key.clone()));
                }>"Edit"</button>
            })}
            {match (deletable, t.phone_number_id.clone()) {
                (true, Some(phone)) => view! {
                    <ActionForm action=delete attr:class="inline">
                        <input type="hidden" name="phone_number_id" value=phone/>
                        <input type="hidden" name="name" value=form_name/>
                        <button type="submit" class="button small danger"
                            title="Deletes every language of this template at Meta">"Delete"</button>
                    </ActionForm>
                }.into_any(),
                _ => ().into_any(),
            }}</td>
        </tr>
    }
}

fn blank_form() -> TemplateForm {
    TemplateForm {
        language: "en_US".into(),
        category: "UTILITY".into(),
        quick_replies: vec![String::new(), String::new()],
        ..TemplateForm::default()
    }
}

/// The create (or edit) form: every field a signal, checked and previewed
/// as typed.
#[component]
fn CreateTemplate(
    numbers: Vec<(String, String)>,
    refresh: RwSignal<u32>,
    form: RwSignal<TemplateForm>,
    editing: RwSignal<Option<(String, String)>>,
) -> impl IntoView {
    let first = numbers
        .first()
        .map(|(id, _)| id.clone())
        .unwrap_or_default();
    if form.with_untracked(|f| f.phone_number_id.is_empty()) {
        form.update(|f| f.phone_number_id = first);
    }
    let create = Action::new(|(form, edit): &(TemplateForm, bool)| {
        let (form, edit) = (form.clone(), *edit);
        async move {
            if edit {
                edit_template(form).await
            } else {
                create_template(form).await
            }
        }
    });
    let error = last_error(create.value());
    let variable_count = Memo::new(move |_| form.with(|f| variables(&f.body).len()));
    let problem = Memo::new(move |_| form.with(|f| rules::templates::check(&f.draft()).err()));
    let text = |pick: fn(&mut TemplateForm) -> &mut String| {
        (
            move || form.with(|f| pick(&mut f.clone()).clone()),
            move |ev: leptos::ev::Event| form.update(|f| *pick(f) = event_target_value(&ev)),
        )
    };
    let (name, set_name) = text(|f| &mut f.name);
    let (header, set_header) = text(|f| &mut f.header);
    let (header_example, set_header_example) = text(|f| &mut f.header_example);
    let (body, set_body) = text(|f| &mut f.body);
    let (footer, set_footer) = text(|f| &mut f.footer);
    let (url_text, set_url_text) = text(|f| &mut f.url_text);
    let (url, set_url) = text(|f| &mut f.url);
    let (url_example, set_url_example) = text(|f| &mut f.url_example);
    let (call_text, set_call_text) = text(|f| &mut f.call_text);
    let (call_number, set_call_number) = text(|f| &mut f.call_number);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        create.dispatch((form.get_untracked(), editing.get_untracked().is_some()));
    };
    Effect::new(move |_| {
        if matches!(create.value().get(), Some(Ok(_))) {
            editing.set(None);
            refresh.update(|n| *n += 1);
        }
    });
    let locked = move || editing.get().is_some();
    view! {
        <h2>{move || match editing.get() {
            Some((name, language)) => format!("Edit {name} ({language})"),
            None => "New template".to_string(),
        }}</h2>
        {move || locked().then(|| view! {
            <p class="muted">"Meta reviews an edited template again. An approved one keeps its category and may be edited once a day. "
                <button type="button" class="button small secondary" on:click=move |_| {
                    editing.set(None);
                    form.set(blank_form());
                }>"Cancel editing"</button>
            </p>
        })}
        <div class="template-editor">
            <form class="form" on:submit=on_submit>
                <label>"Number" <select name="phone_number_id" disabled=locked
                    prop:value=move || form.with(|f| f.phone_number_id.clone())
                    on:change=move |ev| form.update(|f| f.phone_number_id = event_target_value(&ev))>
                    {numbers.into_iter().map(|(id, label)| view! { <option value=id>{label}</option> }).collect_view()}
                </select></label>
                <label>"Name" <input name="template_name" required placeholder="order_shipped" disabled=locked prop:value=name on:input=set_name/></label>
                <FieldError error field="name"/>
                <label>"Language" <select name="language" disabled=locked
                    prop:value=move || form.with(|f| f.language.clone())
                    on:change=move |ev| form.update(|f| f.language = event_target_value(&ev))>
                    {LANGUAGES.iter().map(|l| view! { <option value=*l selected=*l == "en_US">{*l}</option> }).collect_view()}
                </select></label>
                <label>"Category" <select name="category"
                    prop:value=move || form.with(|f| f.category.clone())
                    on:change=move |ev| form.update(|f| f.category = event_target_value(&ev))>
                    {CATEGORIES.iter().map(|c| view! { <option value=*c>{c.to_lowercase()}</option> }).collect_view()}
                </select></label>
                <label>"Header (optional)" <input name="header" maxlength="60" prop:value=header on:input=set_header/></label>
                {move || (!variables(&header()).is_empty()).then(|| view! {
                    <label>"Sample for the header's {{1}}" <input name="header_example" prop:value=header_example on:input=set_header_example/></label>
                })}
                <FieldError error field="header"/>
                <label>"Body" <textarea name="body" rows="4" maxlength="1024" placeholder="Hi {{1}}, your order {{2}} has shipped."
                    prop:value=body on:input=set_body></textarea></label>
                {move || (0..variable_count.get()).map(|i| view! {
                    <label>{format!("Sample for {{{{{}}}}}", i + 1)}
                        <input name=format!("body_example_{}", i + 1)
                            prop:value=move || form.with(|f| f.body_examples.get(i).cloned().unwrap_or_default())
                            on:input=move |ev| form.update(|f| {
                                if f.body_examples.len() <= i { f.body_examples.resize(i + 1, String::new()); }
                                f.body_examples[i] = event_target_value(&ev);
                            })/>
                    </label>
                }).collect_view()}
                <FieldError error field="body"/>
                <label>"Footer (optional)" <input name="footer" maxlength="60" prop:value=footer on:input=set_footer/></label>
                <FieldError error field="footer"/>
                <fieldset>
                    <legend>"Buttons (optional)"</legend>
                    {(0..2).map(|i| view! {
                        <label>{format!("Quick reply {}", i + 1)}
                            <input name=format!("quick_reply_{}", i + 1) maxlength="25"
                                prop:value=move || form.with(|f| f.quick_replies.get(i).cloned().unwrap_or_default())
                                on:input=move |ev| form.update(|f| {
                                    if f.quick_replies.len() <= i { f.quick_replies.resize(i + 1, String::new()); }
                                    f.quick_replies[i] = event_target_value(&ev);
                                })/>
                        </label>
                    }).collect_view()}
                    <label>"Link label" <input name="url_text" maxlength="25" prop:value=url_text on:input=set_url_text/></label>
                    <label>"Link (may end in {{1}})" <input name="url" prop:value=url on:input=set_url/></label>
                    {move || url().ends_with("}}").then(|| view! {
                        <label>"Sample for the link's {{1}}" <input name="url_example" prop:value=url_example on:input=set_url_example/></label>
                    })}
                    <label>"Call label" <input name="call_text" maxlength="25" prop:value=call_text on:input=set_call_text/></label>
                    <label>"Phone number" <input name="call_number" placeholder="+16505550100" prop:value=call_number on:input=set_call_number/></label>
                    <FieldError error field="buttons"/>
                </fieldset>
                <Submit create problem/>
            </form>
            <Preview form/>
        </div>
    }
    .into_any()
}

/// The live check, the outcome and the submit button.
#[component]
fn Submit(
    create: Action<(TemplateForm, bool), Result<String, crate::errors::UiError>>,
    problem: Memo<Option<rules::templates::Problem>>,
) -> impl IntoView {
    let error = last_error(create.value());
    view! {
        {move || problem.get().map(|p| view! { <p class="hint" data-problem=p.field>{format!("{}: {}", p.field, p.message)}</p> })}
        <FormError error/>
        {move || create.value().get().and_then(Result::ok).map(|status| view! {
            <p class="success" role="status">{format!("Sent to Meta for review ({}).", status.to_lowercase())}</p>
        })}
        <button type="submit" class="button" disabled=move || create.pending().get()>"Submit for review"</button>
    }
    .into_any()
}

/// The template as the customer's WhatsApp would show it, samples filled in.
#[component]
fn Preview(form: RwSignal<TemplateForm>) -> impl IntoView {
    view! {
        <div class="template-preview-pane" aria-label="Preview">
            <p class="muted">"Preview"</p>
            <div class="bubble outbound template-bubble">
                {move || form.with(|f| {
                    let header = fill(&f.header, std::slice::from_ref(&f.header_example));
                    let body = fill(&f.body, &f.body_examples);
                    let draft = f.draft();
                    view! {
                        {(!header.is_empty()).then(|| view! { <p class="template-header"><strong>{header}</strong></p> })}
                        <p class="template-body">{if body.is_empty() { "Your message".to_string() } else { body }}</p>
                        {(!f.footer.is_empty()).then(|| view! { <p class="template-footer muted">{f.footer.clone()}</p> })}
                        <div class="template-buttons">
                            {draft.buttons.into_iter().map(|button| {
                                let label = match button {
                                    rules::templates::Button::QuickReply { text } => text,
                                    rules::templates::Button::Url { text, .. } => format!("↗ {text}"),
                                    rules::templates::Button::Phone { text, .. } => format!("✆ {text}"),
                                };
                                view! { <span class="template-button">{label}</span> }
                            }).collect_view()}
                        </div>
                    }
                })}
            </div>
        </div>
    }
}
