//! Pages whose features arrive with later issues.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
fn Placeholder(title: &'static str, summary: &'static str) -> impl IntoView {
    view! {
        <Title text=title/>
        <section class="page">
            <h1>{title}</h1>
            <p class="lead">{summary}</p>
            <p class="notice">"This part of Switchboard is not built yet."</p>
        </section>
    }
}

#[component]
pub fn Onboarding() -> impl IntoView {
    view! {
        <Placeholder
            title="Onboarding"
            summary="Connect a WhatsApp Business number through Meta's Embedded Signup."
        />
    }
}

#[component]
pub fn Conversations() -> impl IntoView {
    view! {
        <Placeholder
            title="Conversations"
            summary="Messages from your customers and the replies sent to them."
        />
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

#[component]
pub fn Settings() -> impl IntoView {
    view! { <Placeholder title="Settings" summary="Numbers, bot, members and security."/> }
}
