//! A number's connection doctor (admins): every check with Meta's words
//! and the fix, and the fixes Meta allows in one click.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::errors::UiError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckView {
    pub name: String,
    /// green | amber | red
    pub light: String,
    pub says: String,
    pub advice: Option<String>,
    /// resubscribe | refresh | resume | register | reconnect
    pub fix: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthView {
    pub phone_number_id: String,
    pub display: String,
    /// The number's health in one word.
    pub word: String,
    pub checks: Vec<CheckView>,
    pub checked_at: i64,
}

#[cfg(feature = "ssr")]
fn health_view(report: switchboard::health::doctor::Report) -> HealthView {
    let word_of = |value: serde_json::Value| value.as_str().unwrap_or_default().to_string();
    HealthView {
        phone_number_id: report.phone_number_id,
        display: report.display,
        word: report.word,
        checks: report
            .checks
            .into_iter()
            .map(|check| CheckView {
                name: check.name,
                light: word_of(serde_json::json!(check.light)),
                says: check.says,
                advice: check.advice,
                fix: check.fix.map(|f| word_of(serde_json::json!(f))),
            })
            .collect(),
        checked_at: report.checked_at,
    }
}

/// Examines the number now (reads it from Meta).
#[server(prefix = "/api", endpoint = "number_health")]
pub async fn number_health(phone_number_id: String) -> Result<HealthView, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    let report = switchboard::health::doctor::examine(&engine, &caller, &phone_number_id).await?;
    Ok(health_view(report))
}

/// Runs one fix, then examines the number again.
#[server(prefix = "/api", endpoint = "fix_number_health")]
pub async fn fix_number_health(
    phone_number_id: String,
    fix: String,
    pin: Option<String>,
) -> Result<HealthView, UiError> {
    use switchboard::health::doctor;
    let (engine, caller) = crate::session::caller().await?;
    let Some(fix) = doctor::Fix::parse(&fix) else {
        return Err(switchboard::Error::invalid("fix", "Unknown fix.").into());
    };
    doctor::fix(&engine, &caller, &phone_number_id, fix, pin.as_deref()).await?;
    let report = doctor::examine(&engine, &caller, &phone_number_id).await?;
    Ok(health_view(report))
}
