//! Small pieces shared by the forms: field errors and form-level errors.

use leptos::prelude::*;

use crate::errors::UiError;

/// The latest error of an action, if its last run failed.
pub fn last_error<T, S>(value: S) -> Signal<Option<UiError>>
where
    S: Get<Value = Option<Result<T, UiError>>> + Send + Sync + 'static,
{
    Signal::derive(move || value.get().and_then(|result| result.err()))
}

/// The error next to one field.
#[component]
pub fn FieldError(error: Signal<Option<UiError>>, field: &'static str) -> impl IntoView {
    move || {
        error
            .get()
            .and_then(|e| e.for_field(field))
            .map(|message| view! { <p class="field-error" data-field=field>{message}</p> })
    }
}

/// The error of the form as a whole.
#[component]
pub fn FormError(error: Signal<Option<UiError>>) -> impl IntoView {
    move || {
        error
            .get()
            .and_then(|e| e.general())
            .map(|message| view! { <p class="form-error" role="alert">{message}</p> })
    }
}
