//! The business profile editor: the live profile of a connected number in
//! a form checked against Meta's limits (here and again on the server),
//! what changed elsewhere since it was saved here, and the picture.

use leptos::{html, prelude::*, task::spawn_local};
use leptos_router::components::A;
use rules::profile::{
    check, ProfileFields, ABOUT_MAX, ADDRESS_MAX, DESCRIPTION_MAX, EMAIL_MAX, VERTICALS,
    WEBSITE_MAX,
};

use crate::{
    api::{
        onboarding::list_numbers,
        profile::{load_profile, save_profile, DriftView, ProfileForm, ProfileView},
    },
    errors::UiError,
};

#[component]
pub fn Profile() -> impl IntoView {
    let numbers = Resource::new(|| (), |_| list_numbers());
    let selected = RwSignal::new(None::<String>);
    let profile = Resource::new(
        move || selected.get(),
        |phone| async move {
            match phone {
                Some(phone) => load_profile(phone).await.map(Some),
                None => Ok(None),
            }
        },
    );
    // The first usable number is chosen until the person picks another.
    Effect::new(move |_| {
        if let Some(Ok(list)) = numbers.get() {
            if selected.get_untracked().is_none() {
                let first = list.into_iter().find(|n| n.status != "disconnected");
                selected.set(first.map(|n| n.phone_number_id));
            }
        }
    });
    view! {
        <section class="page profile">
            <h1>"Profile"</h1>
            <p class="lead">"What customers see about your business in WhatsApp. Changes go to Meta straight away."</p>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || numbers.get().map(|result| match result {
                    Err(error) => view! { <p class="form-error" role="alert">{error.to_string()}</p> }.into_any(),
                    Ok(list) => {
                        let usable: Vec<_> = list.into_iter().filter(|n| n.status != "disconnected").collect();
                        if usable.is_empty() {
                            view! { <p class="notice">"No number is connected yet. " <A href="/onboarding" attr:rel="external">"Connect WhatsApp"</A> " first."</p> }.into_any()
                        } else {
                            view! {
                                <label class="number-picker">
                                    "Number "
                                    <select aria-label="Number" on:change=move |ev| selected.set(Some(event_target_value(&ev)))>
                                        {usable.into_iter().map(|n| {
                                            let id = n.phone_number_id.clone();
                                            view! { <option value=id.clone() selected=move || selected.get().as_deref() == Some(id.as_str())>{n.display}</option> }
                                        }).collect_view()}
                                    </select>
                                </label>
                            }.into_any()
                        }
                    }
                })}
            </Transition>
            <Transition fallback=|| view! { <p>"Loading the profile from Meta…"</p> }>
                {move || profile.get().map(|result| match result {
                    Err(error) => view! { <p class="form-error" role="alert">{error.to_string()}</p> }.into_any(),
                    Ok(None) => ().into_any(),
                    Ok(Some(view)) => view! { <ProfileForm view=view/> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

/// The text of a field's error, if it has one.
fn error_of(
    errors: RwSignal<Vec<(String, String)>>,
    field: &'static str,
) -> impl Fn() -> Option<AnyView> {
    move || {
        errors
            .get()
            .into_iter()
            .find(|(f, _)| f == field)
            .map(|(_, message)| {
                view! { <p class="field-error" data-field=field>{message}</p> }.into_any()
            })
    }
}

fn counter(value: RwSignal<String>, max: usize) -> impl Fn() -> String {
    move || format!("{}/{max}", value.get().chars().count())
}

#[component]
fn ProfileForm(view: ProfileView) -> impl IntoView {
    let phone = view.phone_number_id.clone();
    let about = RwSignal::new(view.about.clone());
    let address = RwSignal::new(view.address.clone());
    let description = RwSignal::new(view.description.clone());
    let email = RwSignal::new(view.email.clone());
    let website_1 = RwSignal::new(view.websites.first().cloned().unwrap_or_default());
    let website_2 = RwSignal::new(view.websites.get(1).cloned().unwrap_or_default());
    let vertical = RwSignal::new(view.vertical.clone());
    let errors = RwSignal::new(Vec::<(String, String)>::new());
    let general = RwSignal::new(None::<String>);
    let saved = RwSignal::new(None::<String>);
    let drift = RwSignal::new(view.drift.clone());
    let saving = RwSignal::new(false);

    let submit_phone = phone.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let fields = ProfileFields {
            about: about.get_untracked().trim().to_string(),
            address: address.get_untracked().trim().to_string(),
            description: description.get_untracked().trim().to_string(),
            email: email.get_untracked().trim().to_string(),
            websites: [website_1.get_untracked(), website_2.get_untracked()]
                .into_iter()
                .map(|w| w.trim().to_string())
                .filter(|w| !w.is_empty())
                .collect(),
            vertical: vertical.get_untracked(),
        };
        let problems: Vec<(String, String)> = check(&fields)
            .into_iter()
            .map(|(f, m)| (f.to_string(), m))
            .collect();
        saved.set(None);
        general.set(None);
        errors.set(problems.clone());
        if !problems.is_empty() {
            return;
        }
        let phone = submit_phone.clone();
        saving.set(true);
        spawn_local(async move {
            let form = ProfileForm {
                about: fields.about,
                address: fields.address,
                description: fields.description,
                email: fields.email,
                websites: fields.websites,
                vertical: fields.vertical,
            };
            let result = save_profile(phone, form).await;
            saving.set(false);
            match result {
                Ok(outcome) => {
                    drift.set(outcome.view.drift);
                    saved.set(Some(if outcome.changed.is_empty() {
                        "Nothing changed; the profile is as shown.".to_string()
                    } else {
                        format!("Saved: {}.", outcome.changed.join(", "))
                    }));
                }
                Err(UiError::Field { field, message }) => errors.set(vec![(field, message)]),
                Err(other) => general.set(Some(other.to_string())),
            }
        });
    };

    view! {
        <DriftNotice drift=drift/>
        <form class="form profile-form" on:submit=submit novalidate>
            <label>
                "About " <span class="muted small">{counter(about, ABOUT_MAX)}</span>
                <input name="about" maxlength=ABOUT_MAX.to_string() prop:value=move || about.get() on:input=move |ev| about.set(event_target_value(&ev))/>
            </label>
            {error_of(errors, "about")}
            <label>
                "Address " <span class="muted small">{counter(address, ADDRESS_MAX)}</span>
                <input name="address" prop:value=move || address.get() on:input=move |ev| address.set(event_target_value(&ev))/>
            </label>
            {error_of(errors, "address")}
            <label>
                "Description " <span class="muted small">{counter(description, DESCRIPTION_MAX)}</span>
                <textarea name="description" rows="4" prop:value=move || description.get() on:input=move |ev| description.set(event_target_value(&ev))></textarea>
            </label>
            {error_of(errors, "description")}
            <label>
                "Email " <span class="muted small">{format!("up to {EMAIL_MAX} characters")}</span>
                <input name="email" type="email" prop:value=move || email.get() on:input=move |ev| email.set(event_target_value(&ev))/>
            </label>
            {error_of(errors, "email")}
            <fieldset>
                <legend>{format!("Websites (up to 2, http or https, {WEBSITE_MAX} characters each)")}</legend>
                <input name="website_1" aria-label="Website 1" prop:value=move || website_1.get() on:input=move |ev| website_1.set(event_target_value(&ev))/>
                <input name="website_2" aria-label="Website 2" prop:value=move || website_2.get() on:input=move |ev| website_2.set(event_target_value(&ev))/>
            </fieldset>
            {error_of(errors, "websites")}
            <label>
                "Category"
                <select name="vertical" on:change=move |ev| vertical.set(event_target_value(&ev))>
                    <option value="" selected=move || vertical.get().is_empty()>"(none)"</option>
                    {VERTICALS.iter().map(|v| view! {
                        <option value=*v selected=move || vertical.get() == *v>{v.to_lowercase().replace('_', " ")}</option>
                    }).collect_view()}
                </select>
            </label>
            {error_of(errors, "vertical")}
            {move || general.get().map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
            {move || saved.get().map(|m| view! { <p class="success" role="status" data-testid="profile-saved">{m}</p> })}
            <button type="submit" class="button" disabled=move || saving.get()>
                {move || if saving.get() { "Saving…" } else { "Save the profile" }}
            </button>
        </form>
        <PictureEditor view=view drift=drift/>
    }
}

#[component]
fn DriftNotice(drift: RwSignal<Vec<DriftView>>) -> impl IntoView {
    move || {
        let list = drift.get();
        (!list.is_empty()).then(|| view! {
            <div class="notice drift" role="status" data-testid="profile-drift">
                <strong>"Changed outside Switchboard"</strong>
                " since it was last saved here (in Meta's tools, perhaps). The form shows what is live now; saving keeps it."
                <table class="table">
                    <thead><tr><th>"Field"</th><th>"Saved here"</th><th>"Live now"</th></tr></thead>
                    <tbody>{list.into_iter().map(|d| view! {
                        <tr><td>{d.field}</td><td>{d.saved_here}</td><td>{d.live}</td></tr>
                    }).collect_view()}</tbody>
                </table>
            </div>
        })
    }
}

#[component]
fn PictureEditor(view: ProfileView, drift: RwSignal<Vec<DriftView>>) -> impl IntoView {
    let picture_url = RwSignal::new(view.picture_url.clone());
    // (blob URL, width, height) of the chosen file, once it passed the checks.
    let preview = RwSignal::new(None::<(String, u32, u32)>);
    let problem = RwSignal::new(None::<String>);
    let progress = RwSignal::new(None::<u32>);
    let done = RwSignal::new(false);
    let file_input = NodeRef::<html::Input>::new();
    let (min, max, max_bytes) = (
        view.picture_min_px,
        view.picture_max_px,
        view.picture_max_bytes,
    );
    let phone = StoredValue::new(view.phone_number_id.clone());
    // Only the browser's handlers read these.
    #[cfg(not(feature = "hydrate"))]
    let _ = (&drift, &phone, max_bytes);

    let chosen = move |_| {
        preview.set(None);
        problem.set(None);
        done.set(false);
        #[cfg(feature = "hydrate")]
        if let Some(file) = file_input
            .get()
            .and_then(|input| input.files())
            .and_then(|files| files.get(0))
        {
            crate::upload::inspect(&file, min, max, max_bytes, move |result| match result {
                Ok(p) => preview.set(Some((p.url, p.width, p.height))),
                Err(message) => problem.set(Some(message)),
            });
        }
    };
    let upload = move |_| {
        problem.set(None);
        #[cfg(feature = "hydrate")]
        if let Some(file) = file_input
            .get()
            .and_then(|input| input.files())
            .and_then(|files| files.get(0))
        {
            progress.set(Some(0));
            let sent = crate::upload::send(
                &phone.get_value(),
                &file,
                move |p| progress.set(Some(p)),
                move |result| {
                    progress.set(None);
                    match result {
                        Ok(view) => {
                            picture_url.set(view.picture_url);
                            drift.set(view.drift);
                            preview.set(None);
                            done.set(true);
                        }
                        Err(message) => problem.set(Some(message)),
                    }
                },
            );
            if let Err(message) = sent {
                progress.set(None);
                problem.set(Some(message));
            }
        }
    };

    view! {
        <section class="card picture">
            <h2>"Profile picture"</h2>
            {move || match picture_url.get() {
                Some(url) if url.starts_with("https://") => view! { <img class="current-picture" src=url alt="Current profile picture"/> }.into_any(),
                Some(url) => view! { <p class="muted small">"Current picture: " <a href=url>"view"</a></p> }.into_any(),
                None => view! { <p class="muted">"No picture yet."</p> }.into_any(),
            }}
            <label>
                {format!("Choose a JPEG or PNG, between {min}×{min} and {max}×{max} pixels")}
                <input type="file" name="picture" accept="image/jpeg,image/png" node_ref=file_input on:change=chosen/>
            </label>
            {move || preview.get().map(|(url, w, h)| view! {
                <figure class="preview">
                    <img src=url alt="The chosen picture"/>
                    <figcaption>{format!("{w}×{h} pixels")}</figcaption>
                </figure>
                <button class="button" on:click=upload disabled=move || progress.get().is_some()>"Upload the picture"</button>
            })}
            {move || progress.get().map(|p| view! {
                <p role="status"><progress max="100" value=p.to_string()></progress>{format!(" {p}% sent; then Meta receives it…")}</p>
            })}
            {move || problem.get().map(|m| view! { <p class="field-error" data-field="picture">{m}</p> })}
            {move || done.get().then(|| view! { <p class="success" role="status" data-testid="picture-saved">"The new picture is set."</p> })}
        </section>
    }
}
