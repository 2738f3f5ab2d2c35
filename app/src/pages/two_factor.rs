//! Two-factor sign-in in Settings: enrol an authenticator app (QR code or
//! typed secret, confirmed by a first code), see and renew recovery codes,
//! turn it off.

use leptos::prelude::*;

use super::forms::{last_error, FieldError, FormError};
use crate::{
    api::two_factor::{
        two_factor_status, BeginTwoFactor, ConfirmTwoFactor, DisableTwoFactor, RenewRecoveryCodes,
    },
    session_state::SessionState,
};

#[component]
pub fn TwoFactorCard() -> impl IntoView {
    let state = expect_context::<SessionState>();
    let begin = ServerAction::<BeginTwoFactor>::new();
    let confirm = ServerAction::<ConfirmTwoFactor>::new();
    let disable = ServerAction::<DisableTwoFactor>::new();
    let renew = ServerAction::<RenewRecoveryCodes>::new();
    let status = Resource::new(
        move || {
            (
                confirm.version().get(),
                disable.version().get(),
                renew.version().get(),
            )
        },
        |_| two_factor_status(),
    );
    // Turned off: what the last set-up and codes showed is void.
    Effect::new(move |_| {
        if matches!(disable.value().get(), Some(Ok(()))) {
            begin.value().set(None);
            confirm.value().set(None);
            renew.value().set(None);
        }
    });
    let begin_error = last_error(begin.value());
    let confirm_error = last_error(confirm.value());
    let disable_error = last_error(disable.value());
    let renew_error = last_error(renew.value());
    // Codes just made (by confirming or renewing), shown this once.
    let fresh_codes = move || {
        renew
            .value()
            .get()
            .and_then(Result::ok)
            .or_else(|| confirm.value().get().and_then(Result::ok))
    };

    view! {
        <article class="card" data-testid="two-factor">
            <h2>"Two-factor sign-in"</h2>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || status.get().map(|result| match result {
                    Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(status) if status.enabled => view! {
                        <p class="success" data-testid="two-factor-on">
                            {format!("On. {} recovery codes left.", status.recovery_codes_left)}
                        </p>
                        <ActionForm action=renew attr:class="form">
                            <label>"Password" <input type="password" name="password" autocomplete="current-password" required/></label>
                            <FieldError error=renew_error field="password"/>
                            <FormError error=renew_error/>
                            <button type="submit" class="button secondary">"New recovery codes"</button>
                        </ActionForm>
                        {if status.required {
                            view! { <p class="notice">"Owners here must keep two-factor sign-in on."</p> }.into_any()
                        } else {
                            view! {
                                <ActionForm action=disable attr:class="form">
                                    <label>"Password" <input type="password" name="password" autocomplete="current-password" required/></label>
                                    <FieldError error=disable_error field="password"/>
                                    <FormError error=disable_error/>
                                    <button type="submit" class="button danger">"Turn off"</button>
                                </ActionForm>
                            }.into_any()
                        }}
                    }.into_any(),
                    Ok(status) => view! {
                        {status.required.then(|| view! {
                            <p class="form-error" role="alert">"Owners here must use two-factor sign-in: set it up to go on."</p>
                        })}
                        <p>"Sign in with a code from an authenticator app as well as your password."</p>
                        {move || match begin.value().get() {
                            Some(Ok(enrolment)) => view! {
                                <div class="qr" inner_html=enrolment.qr_svg.clone()></div>
                                <p>"Scan the code with your app, or enter this key: "
                                    <code data-testid="two-factor-secret">{enrolment.secret.clone()}</code></p>
                                <p><a href=enrolment.uri.clone()>"Open in an authenticator app on this device"</a></p>
                                <ActionForm action=confirm attr:class="form">
                                    <label>"Code from the app" <input type="text" name="code" autocomplete="one-time-code" inputmode="numeric" required/></label>
                                    <FieldError error=confirm_error field="code"/>
                                    <FormError error=confirm_error/>
                                    <button type="submit" class="button">"Turn on"</button>
                                </ActionForm>
                            }.into_any(),
                            _ => view! {
                                <ActionForm action=begin attr:class="form">
                                    <label>"Password" <input type="password" name="password" autocomplete="current-password" required/></label>
                                    <FieldError error=begin_error field="password"/>
                                    <FormError error=begin_error/>
                                    <FieldError error=begin_error field="code"/>
                                    <button type="submit" class="button">"Set up two-factor sign-in"</button>
                                </ActionForm>
                            }.into_any(),
                        }}
                    }.into_any(),
                })}
            </Suspense>
            {move || fresh_codes().map(|codes| view! {
                <div class="notice" role="status" data-testid="recovery-codes">
                    <p><strong>"Recovery codes"</strong>" · save them now; each signs in once if you lose your phone. They are not shown again."</p>
                    <ul class="codes">{codes.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}</ul>
                    // Only then is the session read again (turning it on may
                    // lift the owners' requirement): that redraws the page,
                    // and the codes would go with it.
                    <button type="button" class="button small" on:click=move |_| {
                        confirm.value().set(None);
                        renew.value().set(None);
                        state.refresh();
                    }>"I have saved them"</button>
                </div>
            })}
        </article>
    }
}
