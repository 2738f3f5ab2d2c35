//! Pages whose features arrive with later issues.

use leptos::prelude::*;
use leptos_meta::Title;

use super::RequireSignIn;

#[component]
fn Placeholder(title: &'static str, summary: &'static str) -> impl IntoView {
    view! {
        <Title text=title/>
        <RequireSignIn>
            <section class="page">
                <h1>{title}</h1>
                <p class="lead">{summary}</p>
                <p class="notice">"This part of Switchboard is not built yet."</p>
            </section>
        </RequireSignIn>
    }
}

#[component]
pub fn Profile() -> impl IntoView {
    view! {
        <Placeholder
            title="Profile"
            summary="The business profile your customers see in WhatsApp."
        />
    }
}
