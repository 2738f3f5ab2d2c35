//! Costs (owners and admins): the ledger of what Meta billed, filtered by
//! month and number, the rate card upload, and how Meta's free windows
//! work. The counts are Meta's own `pricing` objects; only the estimate is
//! Switchboard's.

use leptos::prelude::*;

use crate::{api::costs::cost_ledger, errors::UiError};

#[component]
pub fn Costs() -> impl IntoView {
    let month = RwSignal::new(String::new());
    let number = RwSignal::new(String::new());
    let loaded = RwSignal::new(0_u32);
    let ledger = Resource::new(
        move || (month.get(), number.get(), loaded.get()),
        |(month, number, _)| cost_ledger(Some(month), Some(number)),
    );
    view! {
        <section class="page">
            <h1>"Costs"</h1>
            <p>"What Meta billed for the messages your numbers sent, counted once per message from the "
                <code>"pricing"</code>" Meta puts on each message's statuses (months in UTC). "
                "With a rate card, each line also shows an estimate: billable messages × the rate of the recipient's market."</p>
            <div class="form inline">
                <label>"Month" <input type="month" prop:value=month on:input=move |ev| month.set(event_target_value(&ev))/></label>
                <Suspense fallback=|| ()>
                    {move || ledger.get().and_then(Result::ok).map(|view| view! {
                        <label>"Number"
                            <select on:change=move |ev| number.set(event_target_value(&ev)) prop:value=number>
                                <option value="">"All numbers"</option>
                                {view.numbers.into_iter().map(|n| view! { <option value=n.clone()>{n.clone()}</option> }).collect_view()}
                            </select>
                        </label>
                    })}
                </Suspense>
            </div>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || ledger.get().map(|result| match result {
                    Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(view) => view! {
                        <p class="muted">{view.rate_card.clone().map_or_else(
                            || "No rate card: counts only.".to_string(),
                            |card| format!("Rate card: {card}."),
                        )}</p>
                        {(!view.totals.is_empty()).then(|| view! {
                            <p><strong>"Estimated total: "</strong>{view.totals.join(" + ")}</p>
                        })}
                        {if view.lines.is_empty() {
                            view! { <p class="muted">"No priced messages yet."</p> }.into_any()
                        } else {
                            view! {
                                <table class="table costs">
                                    <thead><tr><th>"Month"</th><th>"Number"</th><th>"Category"</th><th>"Pricing type"</th><th>"Market"</th><th>"Billable"</th><th>"Free"</th><th>"Estimate"</th></tr></thead>
                                    <tbody>
                                        {view.lines.into_iter().map(|line| view! {
                                            <tr>
                                                <td>{line.month}</td><td>{line.phone_number_id}</td><td>{line.category}</td>
                                                <td>{line.pricing_type}</td><td>{line.market}</td><td>{line.billable}</td><td>{line.free}</td>
                                                <td>{line.estimate.unwrap_or_else(|| "—".into())}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any()
                        }}
                    }.into_any(),
                })}
            </Suspense>
            <RateCardUpload loaded=loaded/>
            <article class="card">
                <h2>"When Meta does not charge"</h2>
                <ul>
                    <li><strong>"Free customer service window"</strong>": when a customer writes, a 24-hour window opens; messages that are not templates ("<code>"service"</code>") are free inside it, and so are utility templates."</li>
                    <li><strong>"Free entry point"</strong>": a customer who arrives from a click-to-WhatsApp ad or a Facebook Page call-to-action opens a 72-hour window when the business replies within 24 hours; everything sent in it is free ("<code>"free_entry_point"</code>")."</li>
                    <li>"Announced by Meta for 2026-10-01: service messages charged per message, and utility templates inside the window charged too. Switchboard does not guess: what this page shows is what Meta's pricing objects say for each message."</li>
                </ul>
            </article>
        </section>
    }
}

/// The rate card form: a CSV file as Meta publishes it (Market, Currency,
/// then a rate per category). A bad file is refused with its line.
#[component]
fn RateCardUpload(loaded: RwSignal<u32>) -> impl IntoView {
    let outcome = RwSignal::new(None::<Result<String, UiError>>);
    let file_input = NodeRef::<leptos::html::Input>::new();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        #[cfg(feature = "hydrate")]
        {
            let Some(input) = file_input.get() else {
                return;
            };
            let Some(file) = input.files().and_then(|files| files.get(0)) else {
                outcome.set(Some(Err(UiError::Message(
                    "Choose a CSV file first.".into(),
                ))));
                return;
            };
            let Ok(form) = web_sys::FormData::new() else {
                return;
            };
            if form
                .append_with_blob_and_filename("rate_card", &file, &file.name())
                .is_err()
            {
                return;
            }
            leptos::task::spawn_local(async move {
                let result = crate::api::costs::load_rate_card(form.into()).await;
                if result.is_ok() {
                    loaded.update(|n| *n += 1);
                }
                outcome.set(Some(result));
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (file_input, loaded);
    };
    view! {
        <article class="card">
            <h2>"Rate card"</h2>
            <p>"Upload Meta's rate card as CSV: a header with "<code>"Market"</code>", "<code>"Currency"</code>" and the categories ("
                <code>"Marketing"</code>", "<code>"Utility"</code>", "<code>"Authentication"</code>", "<code>"Authentication-International"</code>", "<code>"Service"</code>
                "), then one line per market with rates like "<code>"0.0250"</code>". It replaces the card in use; a file with an error is refused and the card in use stays."</p>
            <form class="form" on:submit=submit>
                <label>"CSV file" <input type="file" name="rate_card" accept=".csv,text/csv" node_ref=file_input required/></label>
                <button type="submit" class="button">"Load rate card"</button>
                {move || outcome.get().map(|result| match result {
                    Ok(message) => view! { <p class="success" role="status">{message}</p> }.into_any(),
                    Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                })}
            </form>
        </article>
    }
}
