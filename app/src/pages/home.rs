use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn Home() -> impl IntoView {
    view! {
        <Title text="Overview"/>
        <section class="page">
            <h1>"Overview"</h1>
            <p class="lead">
                "Connect a WhatsApp Business number, answer customers, and keep your profile right."
            </p>
            <div class="cards">
                <article class="card">
                    <h2>"1. Connect WhatsApp"</h2>
                    <p>"Go through Meta's Embedded Signup and watch the number become live."</p>
                    // A full page load: only the onboarding page's CSP admits Meta's SDK.
                    <A href="/onboarding" attr:class="button" attr:rel="external">"Connect WhatsApp"</A>
                </article>
                <article class="card">
                    <h2>"2. Conversations"</h2>
                    <p>"Every message and status, stored once, in order, with the bot's replies."</p>
                    <A href="/conversations" attr:class="button secondary">"Open conversations"</A>
                </article>
                <article class="card">
                    <h2>"3. Business profile"</h2>
                    <p>"About text, address, websites and the profile picture your customers see."</p>
                    <A href="/profile" attr:class="button secondary">"Edit profile"</A>
                </article>
            </div>
        </section>
    }
}
