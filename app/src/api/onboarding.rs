//! Connecting WhatsApp numbers: what the browser needs to run Embedded
//! Signup, the steps of a connection, and the workspace's numbers.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::errors::UiError;

/// What the browser needs to load the FB JS SDK and open Embedded Signup.
/// Public values only: the app secret never leaves the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignupConfig {
    pub sdk_url: String,
    pub app_id: String,
    pub config_id: String,
    pub graph_version: String,
    /// The only origins whose `WA_EMBEDDED_SIGNUP` messages count.
    pub allowed_origins: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepView {
    pub label: String,
    /// done | running | waiting | failed | pending
    pub state: String,
}

/// A number the person may pick when the signup named none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChoiceView {
    pub phone_number_id: String,
    pub display: String,
    pub verified_name: Option<String>,
}

/// One of the WhatsApp Business app's one-time syncs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncView {
    /// "contacts" or "history".
    pub what: String,
    /// Asked of Meta (else `problem` says why not).
    pub asked: bool,
    pub problem: Option<String>,
    /// The business turned history sharing off.
    pub declined: bool,
    /// History messages imported so far.
    pub imported: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressView {
    pub id: String,
    pub attempt: String,
    pub step: String,
    pub state: String,
    pub problem: Option<String>,
    pub waiting_for: Option<String>,
    pub phone: Option<String>,
    pub steps: Vec<StepView>,
    pub business_app: bool,
    pub choices: Vec<ChoiceView>,
    /// Codes sent in the last day: ("SMS" | "VOICE", when in Unix ms).
    pub code_requests: Vec<(String, i64)>,
    pub register_attempts_left: Option<i64>,
    pub syncs: Vec<SyncView>,
}

impl ProgressView {
    pub fn is_live(&self) -> bool {
        self.step == "live"
    }

    /// Still moving on its own (the page keeps polling).
    pub fn is_moving(&self) -> bool {
        self.state == "ready" || matches!(self.waiting_for.as_deref(), Some("code" | "signup"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberView {
    pub phone_number_id: String,
    pub display: String,
    pub verified_name: Option<String>,
    pub quality_rating: Option<String>,
    pub status: String,
    pub status_reason: Option<String>,
    pub send_rate: i64,
    /// The latest error Meta reported for the number as a whole (not tied
    /// to one message), in Meta's words.
    pub meta_error: Option<String>,
    /// The number's health in one word (healthy, limited, paused...);
    /// its Health page says more.
    pub health: String,
    /// It stays on the WhatsApp Business app (coexistence).
    pub business_app: bool,
}

#[cfg(feature = "ssr")]
fn progress_view(progress: switchboard::onboarding::Progress) -> ProgressView {
    ProgressView {
        phone: progress
            .display_phone_number
            .clone()
            .or(progress.phone_number_id.clone()),
        steps: progress
            .steps
            .into_iter()
            .map(|s| StepView {
                label: s.label,
                state: s.state.to_string(),
            })
            .collect(),
        id: progress.id,
        attempt: progress.attempt,
        step: progress.step.to_string(),
        state: progress.state.to_string(),
        problem: progress.problem,
        waiting_for: progress.waiting_for.map(|w| w.to_string()),
        business_app: progress.business_app,
        choices: progress
            .choices
            .into_iter()
            .map(|c| ChoiceView {
                display: c
                    .display_phone_number
                    .unwrap_or_else(|| c.phone_number_id.clone()),
                phone_number_id: c.phone_number_id,
                verified_name: c.verified_name,
            })
            .collect(),
        code_requests: progress
            .code_requests
            .into_iter()
            .map(|r| (r.method, r.at))
            .collect(),
        register_attempts_left: progress.register_attempts_left,
        syncs: progress
            .syncs
            .into_iter()
            .map(|sync| sync_view(sync, progress.history.as_ref().map_or(0, |h| h.messages)))
            .collect(),
    }
}

#[cfg(feature = "ssr")]
fn sync_view(sync: switchboard::store::AppSyncRow, imported: i64) -> SyncView {
    use switchboard::store::SyncType;
    SyncView {
        what: match sync.sync_type {
            SyncType::Contacts => "contacts".into(),
            SyncType::History => "history".into(),
        },
        asked: sync.problem.is_none(),
        problem: sync.problem,
        declined: sync.declined_at.is_some(),
        imported,
    }
}

#[cfg(feature = "ssr")]
pub(crate) fn number_view(number: switchboard::store::NumberRow) -> NumberView {
    NumberView {
        display: number
            .display_phone_number
            .clone()
            .unwrap_or_else(|| number.phone_number_id.to_string()),
        phone_number_id: number.phone_number_id.to_string(),
        verified_name: number.verified_name,
        quality_rating: number.quality_rating,
        status: number.status.to_string(),
        status_reason: number.status_reason,
        send_rate: number.send_rate,
        meta_error: None,
        health: String::new(),
        business_app: number.business_app_since.is_some(),
    }
}

/// Meta's words for an error: its code, title and details.
#[cfg(feature = "ssr")]
fn in_metas_words(error: &switchboard::store::NumberError) -> String {
    let mut words = match (error.code, &error.title) {
        (Some(code), Some(title)) => format!("{title} ({code})"),
        (Some(code), None) => format!("Error {code}"),
        (None, Some(title)) => title.clone(),
        (None, None) => "An error".to_string(),
    };
    if let Some(details) = &error.details {
        words.push_str(": ");
        words.push_str(details);
    }
    words
}

#[server(prefix = "/api", endpoint = "signup_settings")]
pub async fn signup_settings() -> Result<SignupConfig, UiError> {
    use switchboard::{
        accounts::Role,
        config::{Mode, META_DIALOG_ORIGINS, META_SDK_URL},
    };
    let (engine, caller) = crate::session::caller().await?;
    caller.require(Role::Admin)?;
    let config = &engine.config;
    let meta = &config.meta;
    let (sdk_url, allowed_origins) = match config.mode {
        Mode::Live => (
            META_SDK_URL.to_string(),
            META_DIALOG_ORIGINS.map(String::from).to_vec(),
        ),
        Mode::Demo => {
            let origin = config.graph_base_url.origin().ascii_serialization();
            (format!("{origin}/en_US/sdk.js"), vec![origin])
        }
    };
    Ok(SignupConfig {
        sdk_url,
        app_id: meta.app_id.clone(),
        config_id: meta.config_id.clone(),
        graph_version: config.graph_version.clone(),
        allowed_origins,
    })
}

/// The code from `FB.login`: exchanged at once (it lasts about 30 s).
#[server(prefix = "/api", endpoint = "submit_signup_code")]
pub async fn submit_signup_code(attempt: String, code: String) -> Result<ProgressView, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    let progress = switchboard::onboarding::submit_code(&engine, &caller, &attempt, &code).await?;
    Ok(progress_view(progress))
}

/// The FINISH message of the signup window.
#[server(prefix = "/api", endpoint = "submit_signup_finish")]
pub async fn submit_signup_finish(
    attempt: String,
    event: String,
    waba_id: String,
    phone_number_id: Option<String>,
    business_id: Option<String>,
) -> Result<ProgressView, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    let data = switchboard::onboarding::SignupData {
        event,
        waba_id,
        phone_number_id,
        business_id,
    };
    let progress =
        switchboard::onboarding::submit_signup(&engine, &caller, &attempt, &data).await?;
    Ok(progress_view(progress))
}

#[server(prefix = "/api", endpoint = "submit_signup_pin")]
pub async fn submit_signup_pin(id: String, pin: String) -> Result<ProgressView, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    let progress = switchboard::onboarding::submit_pin(&engine, &caller, &id, pin.trim()).await?;
    Ok(progress_view(progress))
}

/// The person picked one of the numbers a signup offered.
#[server(prefix = "/api", endpoint = "choose_signup_number")]
pub async fn choose_signup_number(
    id: String,
    phone_number_id: String,
) -> Result<ProgressView, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    let progress =
        switchboard::onboarding::choose_number(&engine, &caller, &id, phone_number_id.trim())
            .await?;
    Ok(progress_view(progress))
}

/// Asks Meta to send the number a verification code ("SMS" or "VOICE").
#[server(prefix = "/api", endpoint = "request_verification_code")]
pub async fn request_verification_code(
    id: String,
    method: String,
) -> Result<ProgressView, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    let method = method
        .parse()
        .map_err(|_| switchboard::Error::invalid("code_method", "Choose SMS or a voice call."))?;
    let progress =
        switchboard::onboarding::verification::request_code(&engine, &caller, &id, method).await?;
    Ok(progress_view(progress))
}

/// The verification code the number received.
#[server(prefix = "/api", endpoint = "submit_verification_code")]
pub async fn submit_verification_code(id: String, code: String) -> Result<ProgressView, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    let progress =
        switchboard::onboarding::verification::submit_code(&engine, &caller, &id, &code).await?;
    Ok(progress_view(progress))
}

#[server(prefix = "/api", endpoint = "retry_onboarding")]
pub async fn retry_onboarding(id: String) -> Result<ProgressView, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    let progress = switchboard::onboarding::retry(&engine, &caller, &id).await?;
    Ok(progress_view(progress))
}

/// One run, or the workspace's latest when `id` is empty.
#[server(prefix = "/api", endpoint = "onboarding_progress")]
pub async fn onboarding_progress(id: Option<String>) -> Result<Option<ProgressView>, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    let progress = match id.filter(|id| !id.is_empty()) {
        Some(id) => Some(switchboard::onboarding::progress(&engine, &caller, &id).await?),
        None => switchboard::onboarding::latest(&engine, &caller).await?,
    };
    Ok(progress.map(progress_view))
}

#[server(prefix = "/api", endpoint = "list_numbers")]
pub async fn list_numbers() -> Result<Vec<NumberView>, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    let numbers = switchboard::numbers::list(&engine, &caller).await?;
    let mut views = Vec::with_capacity(numbers.len());
    for number in numbers {
        let latest = engine
            .store
            .number_errors(&caller.workspace.id, number.phone_number_id.as_str(), 1)
            .await
            .map_err(switchboard::Error::from)?;
        let word = switchboard::health::word_of(&engine, &number)
            .await
            .map_err(switchboard::Error::from)?;
        let mut view = number_view(number);
        view.meta_error = latest.first().map(in_metas_words);
        view.health = word;
        views.push(view);
    }
    Ok(views)
}

/// Resumes a number Meta paused, once the admin fixed the cause.
#[server(prefix = "/api", endpoint = "resume_number")]
pub async fn resume_number(phone_number_id: String) -> Result<(), UiError> {
    let (engine, caller) = crate::session::caller().await?;
    switchboard::numbers::resume(&engine, &caller, &phone_number_id).await?;
    Ok(())
}

/// How many messages per second the outbox sends from a number.
#[server(prefix = "/api", endpoint = "set_send_rate")]
pub async fn set_send_rate(phone_number_id: String, rate: i64) -> Result<(), UiError> {
    let (engine, caller) = crate::session::caller().await?;
    switchboard::numbers::set_send_rate(&engine, &caller, &phone_number_id, rate).await?;
    Ok(())
}

/// Disconnects a number (its history stays); `deregister` also takes it
/// off the Cloud API.
#[server(prefix = "/api", endpoint = "disconnect_number")]
pub async fn disconnect_number(phone_number_id: String, deregister: bool) -> Result<(), UiError> {
    let (engine, caller) = crate::session::caller().await?;
    switchboard::numbers::disconnect(&engine, &caller, &phone_number_id, deregister).await?;
    Ok(())
}

/// What the page says for the `signup_error` the OAuth redirect's callback
/// sent it back with. The value is in a URL anyone can make, so it only
/// picks one of Switchboard's sentences (or quotes a plain word of
/// Meta's, like `user_denied`); never shown as it came.
#[server(prefix = "/api", endpoint = "signup_error_message")]
pub async fn signup_error_message(code: String) -> Result<String, UiError> {
    crate::session::caller().await?;
    Ok(switchboard::onboarding::redirect::signup_error_message(
        &code,
    ))
}
