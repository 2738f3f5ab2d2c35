//! The audit log of the current workspace (owners and admins).

use leptos::prelude::*;

use super::time::format_time;
use crate::api::audit::audit_log;

#[component]
pub fn Audit() -> impl IntoView {
    let entries = Resource::new(|| (), |_| audit_log());
    view! {
        <section class="page">
            <h1>"Audit log"</h1>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || entries.get().map(|result| match result {
                    Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="table audit">
                            <thead><tr><th>"When (UTC)"</th><th>"Who"</th><th>"What"</th><th>"Details"</th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|e| view! {
                                    <tr><td>{format_time(e.at)}</td><td>{e.actor}</td><td>{e.action}</td><td><code>{e.detail}</code></td></tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                })}
            </Suspense>
        </section>
    }
}
