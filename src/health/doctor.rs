//! The connection doctor: every check of one number, each green, amber or
//! red with Meta's words and the fix, and the fixes Meta allows in one
//! click. Admins only: it reads the token's scopes and the account's state.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    gates::{self, Gate},
    probe::{self, Findings},
    versions::{self, VersionState},
};
use crate::{
    accounts::{Caller, Role},
    audit,
    numbers::{self, NumberStatus},
    store::{now_millis, NumberRow, RestrictionRow},
    tokens, Engine, Error, MetaCall,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Light {
    Green,
    Amber,
    Red,
}

/// What an admin can do about a check from the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fix {
    /// Subscribe the app to the WABA's webhooks again (with the callback
    /// override where configured).
    Resubscribe,
    /// Read the number from Meta again.
    Refresh,
    /// Send again after the admin fixed what Meta paused it for.
    Resume,
    /// Register the number with the Cloud API again, with its two-step
    /// PIN (counted against Meta's 10 attempts per 72 hours).
    Register,
    /// Embedded Signup again (the Onboarding page).
    Reconnect,
}

impl Fix {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "resubscribe" => Some(Self::Resubscribe),
            "refresh" => Some(Self::Refresh),
            "resume" => Some(Self::Resume),
            "register" => Some(Self::Register),
            "reconnect" => Some(Self::Reconnect),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub light: Light,
    /// What was found, in Meta's words where Meta gave some.
    pub says: String,
    /// What to do about it, when it is not green.
    pub advice: Option<String>,
    pub fix: Option<Fix>,
}

impl Check {
    fn new(name: &str, light: Light, says: impl Into<String>) -> Self {
        Self {
            name: name.to_string(),
            light,
            says: says.into(),
            advice: None,
            fix: None,
        }
    }

    fn advise(mut self, advice: impl Into<String>, fix: Option<Fix>) -> Self {
        self.advice = Some(advice.into());
        self.fix = fix;
        self
    }
}

/// One number's examination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub phone_number_id: String,
    pub display: String,
    /// The number's health in one word (see [`word`]).
    pub word: String,
    pub checks: Vec<Check>,
    pub restrictions: Vec<RestrictionRow>,
    pub checked_at: i64,
}

/// The number's health in one word, from what is stored (no call to
/// Meta): for the Onboarding and Conversations pages.
pub fn word(number: &NumberRow, restrictions: &[RestrictionRow], can_send: Option<&str>) -> String {
    let word = match number.status {
        NumberStatus::Live => {
            let gating = restrictions
                .iter()
                .any(|r| Gate::of(&r.restriction_type).is_some());
            if gating || can_send.is_some_and(|c| !c.eq_ignore_ascii_case("AVAILABLE")) {
                "limited"
            } else {
                "healthy"
            }
        }
        NumberStatus::Onboarding => "connecting",
        NumberStatus::ReconnectNeeded => "reconnect",
        NumberStatus::PausedByMeta => "paused",
        NumberStatus::DisabledByMeta => "disabled",
        NumberStatus::Disconnected => "disconnected",
        NumberStatus::Offboarded => "offboarded",
        NumberStatus::Reconnecting => "connecting",
    };
    word.to_string()
}

/// Examines a number now: reads it from Meta (the probe), checks the
/// token, the subscription and the callback, then everything stored.
pub async fn examine(
    engine: &Engine,
    caller: &Caller,
    phone_number_id: &str,
) -> Result<Report, Error> {
    caller.require(Role::Admin)?;
    let number = numbers::owned(engine, &caller.workspace.id, &phone_number_id.into()).await?;
    if number.status != NumberStatus::Disconnected {
        probe::probe(engine, &number).await?;
    }
    // The probe may have lifted restrictions or resumed the number.
    let number = numbers::owned(engine, &caller.workspace.id, &phone_number_id.into()).await?;
    let now = now_millis();
    let restrictions = engine
        .store
        .active_restrictions(&number.waba_id, now)
        .await?;
    let health = engine
        .store
        .number_health(phone_number_id)
        .await?
        .unwrap_or_default();
    let notices = engine.store.waba_notices(&number.waba_id).await?;
    let read: Option<Findings> = health
        .findings
        .as_deref()
        .and_then(|f| serde_json::from_str(f).ok());
    let findings = read.map(|mut findings| {
        // A limit Meta announced by webhook, where the number's fields
        // did not say.
        if findings.messaging_limit.is_none() {
            findings.messaging_limit = notices.as_ref().and_then(|n| n.messaging_limit.clone());
        }
        findings
    });

    let mut checks = vec![sending_check(&number)];
    checks.push(token_check(engine, &number, now).await?);
    checks.push(subscription_check(engine, &number).await);
    checks.push(callback_check(engine, health.last_event_at).await);
    checks.push(meta_status_check(
        health.can_send.as_deref(),
        &findings.clone().unwrap_or_default(),
        health.probe_error.as_deref(),
    ));
    // What the number's fields say, once Meta has been read.
    if let Some(findings) = &findings {
        checks.extend(number_checks(&number, findings, &health));
    }
    checks.push(restrictions_check(&restrictions));
    if let Some(notices) = &notices {
        checks.extend(notice_checks(notices));
    }
    checks.push(version_check(&engine.config.graph_version, now));
    Ok(Report {
        display: number
            .display_phone_number
            .clone()
            .unwrap_or_else(|| number.phone_number_id.to_string()),
        word: word(&number, &restrictions, health.can_send.as_deref()),
        phone_number_id: number.phone_number_id.to_string(),
        checks,
        restrictions,
        checked_at: now,
    })
}

fn sending_check(number: &NumberRow) -> Check {
    let reason = number.status_reason.clone().unwrap_or_default();
    match number.status {
        NumberStatus::Live => Check::new("Sending", Light::Green, "The number sends."),
        NumberStatus::Onboarding => Check::new("Sending", Light::Amber, "Still connecting.")
            .advise("Finish connecting it on the Onboarding page.", None),
        NumberStatus::PausedByMeta => Check::new("Sending", Light::Red, reason).advise(
            "Fix the cause with Meta (billing, appeal, registration), then resume: queued messages go once each.",
            Some(Fix::Resume),
        ),
        NumberStatus::DisabledByMeta => Check::new("Sending", Light::Red, reason).advise(
            "Appeal in Meta Business Support Home; sending resumes by itself when Meta reinstates the account.",
            None,
        ),
        NumberStatus::ReconnectNeeded => Check::new("Sending", Light::Red, reason)
            .advise("Connect WhatsApp again: messages wait meanwhile.", Some(Fix::Reconnect)),
        NumberStatus::Disconnected => {
            let said = if reason.is_empty() {
                "Disconnected by an admin.".to_string()
            } else {
                reason
            };
            Check::new("Sending", Light::Red, said)
                .advise("Connect it again to send.", Some(Fix::Reconnect))
        }
        NumberStatus::Offboarded => Check::new("Sending", Light::Amber, reason).advise(
            "The business finishes setting up the WhatsApp Business app on its phone; Meta then reconnects the number by itself and queued messages go.",
            None,
        ),
        NumberStatus::Reconnecting => Check::new("Sending", Light::Amber, reason)
            .advise("Switchboard checks the number with Meta; this takes a moment.", Some(Fix::Refresh)),
    }
}

/// Tokens expiring within this many days are amber.
const TOKEN_WARN_DAYS: i64 = 14;

async fn token_check(engine: &Engine, number: &NumberRow, now: i64) -> Result<Check, Error> {
    const NAME: &str = "Access token";
    let reconnect = |says: String| {
        Check::new(NAME, Light::Red, says).advise(
            "Connect WhatsApp again for a new token.",
            Some(Fix::Reconnect),
        )
    };
    let phone = number.phone_number_id.as_str();
    let token = match tokens::open_number_token(engine, phone).await {
        Ok(token) => token,
        Err(error) => return Ok(reconnect(error.to_string())),
    };
    let info = match engine.graph.debug_token(&token).await {
        Ok(info) => info,
        Err(error) => {
            return Ok(
                Check::new(NAME, Light::Amber, format!("Meta did not answer: {error}"))
                    .advise("Try again in a moment.", Some(Fix::Refresh)),
            )
        }
    };
    if !info.is_valid {
        return Ok(reconnect(format!(
            "Meta says the token is not valid: {}",
            info.error.unwrap_or_default()
        )));
    }
    let missing = info.missing_scopes();
    if !missing.is_empty() {
        return Ok(reconnect(format!(
            "The token lacks {}.",
            missing.join(" and ")
        )));
    }
    Ok(match info.expires_at {
        None => Check::new(
            NAME,
            Light::Green,
            "Valid, with both WhatsApp permissions; it does not expire.",
        ),
        Some(expires) => {
            let expires = expires.saturating_mul(1000);
            let days = expires.saturating_sub(now).div_euclid(86_400_000);
            let says = format!(
                "Valid, with both WhatsApp permissions; expires {} UTC ({days} days left).",
                rules::time::format_time(expires)
            );
            if days <= TOKEN_WARN_DAYS {
                Check::new(NAME, Light::Amber, says).advise(
                    "Connect WhatsApp again before it expires, or the number stops sending.",
                    Some(Fix::Reconnect),
                )
            } else {
                Check::new(NAME, Light::Green, says)
            }
        }
    })
}

async fn subscription_check(engine: &Engine, number: &NumberRow) -> Check {
    const NAME: &str = "Webhook subscription";
    let resubscribe = |says: String| {
        Check::new(NAME, Light::Red, says).advise(
            "Subscribe again: Meta then sends this account's webhooks to Switchboard.",
            Some(Fix::Resubscribe),
        )
    };
    let token = match tokens::open_number_token(engine, number.phone_number_id.as_str()).await {
        Ok(token) => token,
        Err(error) => return resubscribe(error.to_string()),
    };
    let subscription = engine
        .graph
        .subscription(&token, &number.waba_id, &engine.config.meta.app_id)
        .await;
    match subscription {
        Err(error) => Check::new(NAME, Light::Amber, format!("Meta did not answer: {error}"))
            .advise("Try again in a moment.", Some(Fix::Refresh)),
        Ok(None) => resubscribe("The app is not subscribed to this account's webhooks.".into()),
        Ok(Some(subscription)) => {
            let wanted = crate::onboarding::webhook_url(engine);
            match (
                engine.config.webhook_override,
                subscription.override_callback_uri,
            ) {
                (true, Some(uri)) if uri == wanted => Check::new(
                    NAME,
                    Light::Green,
                    format!("Subscribed; this account's webhooks go to {uri}."),
                ),
                (true, other) => resubscribe(format!(
                    "Subscribed, but the callback override is {} instead of {wanted}.",
                    other.as_deref().unwrap_or("not set")
                )),
                (false, Some(uri)) => Check::new(
                    NAME,
                    Light::Amber,
                    format!("Subscribed, with a callback override to {uri} set elsewhere."),
                )
                .advise("Webhooks go to that address, not the app's callback.", None),
                (false, None) => Check::new(
                    NAME,
                    Light::Green,
                    "Subscribed to this account's webhooks (the app's callback).",
                ),
            }
        }
    }
}

/// The public URL answers Meta's handshake, asked from this server
/// through that URL (so a proxy or firewall in the way shows).
async fn callback_check(engine: &Engine, last_event_at: Option<i64>) -> Check {
    const NAME: &str = "Webhook callback";
    let url = crate::onboarding::webhook_url(engine);
    let challenge = format!("doctor-{}", fastrand::u64(..));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(5))
        .build();
    let answer = match client {
        Ok(client) => client
            .get(&url)
            .query(&[
                ("hub.mode", "subscribe"),
                (
                    "hub.verify_token",
                    engine.config.meta.webhook_verify_token.expose().as_str(),
                ),
                ("hub.challenge", challenge.as_str()),
            ])
            .send()
            .await
            .map_err(|e| e.without_url().to_string()),
        Err(error) => Err(error.to_string()),
    };
    let last = match last_event_at {
        Some(at) => format!(
            " The last webhook for this number arrived {} UTC.",
            rules::time::format_time(at)
        ),
        None => " No webhook for this number has arrived yet.".to_string(),
    };
    let unreachable = |why: String| {
        Check::new(NAME, Light::Red, format!("{url} {why}.{last}")).advise(
            "Meta must reach PUBLIC_URL/webhook over HTTPS: check PUBLIC_URL, the proxy and the firewall.",
            None,
        )
    };
    match answer {
        Err(error) => unreachable(format!("did not answer: {error}")),
        Ok(response) if response.status().is_success() => match response.text().await {
            Ok(body) if body == challenge => Check::new(
                NAME,
                Light::Green,
                format!("{url} answers Meta's handshake.{last}"),
            ),
            _ => unreachable("answered, but not with the handshake's challenge".into()),
        },
        Ok(response) => unreachable(format!("answered {}", response.status())),
    }
}

fn meta_status_check(can_send: Option<&str>, findings: &Findings, error: Option<&str>) -> Check {
    const NAME: &str = "Meta's health status";
    if let Some(error) = error {
        return Check::new(NAME, Light::Amber, format!("Could not read it: {error}"))
            .advise("Try again in a moment.", Some(Fix::Refresh));
    }
    let problems: Vec<String> = findings
        .limited
        .iter()
        .flat_map(|entity| {
            let who = entity.entity_type.clone().unwrap_or_else(|| "?".into());
            entity.errors.iter().map(move |e| {
                let mut text =
                    format!("{who}: {}", e.error_description.clone().unwrap_or_default());
                if let Some(code) = e.error_code {
                    text.push_str(&format!(" ({code})"));
                }
                if let Some(solution) = &e.possible_solution {
                    text.push_str(&format!(". Meta suggests: {solution}"));
                }
                text
            })
        })
        .collect();
    match can_send.map(str::to_ascii_uppercase).as_deref() {
        Some("AVAILABLE") => {
            Check::new(NAME, Light::Green, "AVAILABLE: Meta lets the number send.")
        }
        Some(state @ ("LIMITED" | "BLOCKED")) => {
            let light = if state == "BLOCKED" {
                Light::Red
            } else {
                Light::Amber
            };
            Check::new(NAME, light, format!("{state}: {}", problems.join("; "))).advise(
                "Follow Meta's suggestion, then refresh.",
                Some(Fix::Refresh),
            )
        }
        _ => Check::new(NAME, Light::Amber, "Not read yet.")
            .advise("Refresh to read it.", Some(Fix::Refresh)),
    }
}

fn number_checks(
    number: &NumberRow,
    findings: &Findings,
    health: &crate::store::NumberHealthRow,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let registered = if number.business_app_since.is_some() {
        // The app keeps the registration; Switchboard never touches it.
        let light = if findings.registered {
            Light::Green
        } else {
            Light::Amber
        };
        let check = Check::new(
            "Registration",
            light,
            "Registered by the WhatsApp Business app, which the business keeps using (coexistence); Switchboard never registers or deregisters it.",
        );
        if findings.registered {
            check
        } else {
            check.advise(
                "If Meta shows it disconnected, the business opens the WhatsApp Business app on its phone; Meta then reconnects it.",
                None,
            )
        }
    } else if findings.registered {
        Check::new(
            "Registration",
            Light::Green,
            format!(
                "Registered with the Cloud API ({}).",
                number.meta_status.clone().unwrap_or_default()
            ),
        )
    } else {
        Check::new(
            "Registration",
            Light::Red,
            format!(
                "Not registered with the Cloud API (status {}).",
                number
                    .meta_status
                    .clone()
                    .unwrap_or_else(|| "unknown".into())
            ),
        )
        .advise(
            "Register it again with its two-step verification PIN.",
            Some(Fix::Register),
        )
    };
    checks.push(registered);
    let quality = number
        .quality_rating
        .clone()
        .unwrap_or_else(|| "UNKNOWN".into());
    let light = match quality.to_ascii_uppercase().as_str() {
        "GREEN" | "HIGH" => Light::Green,
        "RED" | "LOW" => Light::Red,
        _ => Light::Amber,
    };
    let mut quality_check = Check::new("Quality rating", light, quality);
    if light != Light::Green {
        quality_check = quality_check.advise(
            "Customers block or report this number's messages: send fewer, more relevant templates.",
            None,
        );
    }
    checks.push(quality_check);
    checks.push(Check::new(
        "Throughput",
        Light::Green,
        format!(
            "Meta's level {} ; Switchboard sends up to {}/s.",
            findings
                .throughput_level
                .clone()
                .unwrap_or_else(|| "unknown".into()),
            number.send_rate
        ),
    ));
    checks.push(Check::new(
        "Messaging limit",
        Light::Green,
        format!(
            "The portfolio reaches {} customers a day outside their windows.",
            findings
                .messaging_limit
                .as_deref()
                .map(describe_limit)
                .unwrap_or_else(|| "an unknown number of".into())
        ),
    ));
    let name = match health.name_decision.as_deref() {
        Some("REJECTED") => Check::new(
            "Display name",
            Light::Red,
            format!(
                "Meta rejected \"{}\": {}",
                health.requested_name.clone().unwrap_or_default(),
                health.name_rejection.clone().unwrap_or_default()
            ),
        )
        .advise("Request another name in WhatsApp Manager.", None),
        Some("DEFERRED") => Check::new(
            "Display name",
            Light::Amber,
            format!(
                "Meta deferred its review of \"{}\".",
                health.requested_name.clone().unwrap_or_default()
            ),
        ),
        _ => Check::new(
            "Display name",
            if findings
                .name_status
                .as_deref()
                .is_some_and(|s| s == "DECLINED")
            {
                Light::Red
            } else {
                Light::Green
            },
            format!(
                "{} ({}).",
                number.verified_name.clone().unwrap_or_default(),
                findings
                    .name_status
                    .clone()
                    .unwrap_or_else(|| "status unknown".into())
            ),
        ),
    };
    checks.push(name);
    checks
}

fn describe_limit(limit: &str) -> String {
    match limit {
        "TIER_UNLIMITED" => "unlimited".into(),
        "TIER_250" => "250".into(),
        "TIER_1K" => "1,000".into(),
        "TIER_2K" => "2,000".into(),
        "TIER_10K" => "10,000".into(),
        "TIER_100K" => "100,000".into(),
        other => other.to_string(),
    }
}

fn restrictions_check(restrictions: &[RestrictionRow]) -> Check {
    const NAME: &str = "Restrictions";
    if restrictions.is_empty() {
        return Check::new(NAME, Light::Green, "No restriction in force.");
    }
    let gating = restrictions
        .iter()
        .any(|r| Gate::of(&r.restriction_type).is_some());
    let says: Vec<String> = restrictions.iter().map(gates::refusal).collect();
    Check::new(
        NAME,
        if gating { Light::Red } else { Light::Amber },
        says.join(" "),
    )
    .advise(
        "Messages of these kinds wait until the restriction ends; others go on. It lifts by itself.",
        Some(Fix::Refresh),
    )
}

fn notice_checks(notices: &crate::store::WabaNotices) -> Vec<Check> {
    let mut checks = Vec::new();
    match notices.ban_state.as_deref() {
        Some("DISABLE") => checks.push(
            Check::new(
                "Account",
                Light::Red,
                format!(
                    "Meta disabled the WhatsApp Business Account ({}).",
                    notices.ban_date.clone().unwrap_or_default()
                ),
            )
            .advise("Appeal in Meta Business Support Home.", None),
        ),
        Some("SCHEDULE_FOR_DISABLE") => checks.push(
            Check::new(
                "Account",
                Light::Amber,
                format!(
                    "Meta will disable the WhatsApp Business Account on {}.",
                    notices.ban_date.clone().unwrap_or_default()
                ),
            )
            .advise("Fix the policy issue Meta names before that date.", None),
        ),
        _ => {}
    }
    if let Some(violation) = &notices.violation_type {
        checks.push(
            Check::new(
                "Policy",
                Light::Amber,
                format!("Meta reported a violation: {violation}."),
            )
            .advise(
                notices
                    .violation_remediation
                    .clone()
                    .unwrap_or_else(|| "See Meta Business Support Home.".into()),
                None,
            ),
        );
    }
    checks
}

fn version_check(version: &str, now: i64) -> Check {
    const NAME: &str = "Graph API version";
    let newer = versions::newest();
    match versions::state_of(version, now) {
        VersionState::Supported { ends_at } => Check::new(
            NAME,
            Light::Green,
            match ends_at {
                Some(at) => format!("{version}, supported through {}.", last_day(at)),
                None => format!("{version}, supported (no end announced)."),
            },
        ),
        VersionState::EndingSoon { ends_at } => Check::new(
            NAME,
            Light::Amber,
            format!("{version} stops working after {}.", last_day(ends_at)),
        )
        .advise(
            format!("Set META_GRAPH_VERSION to {newer} and restart."),
            None,
        ),
        VersionState::Ended { ended_at } => Check::new(
            NAME,
            Light::Red,
            format!("{version} ended after {}.", last_day(ended_at)),
        )
        .advise(
            format!("Set META_GRAPH_VERSION to {newer} and restart."),
            None,
        ),
        VersionState::Unknown => Check::new(
            NAME,
            Light::Amber,
            format!("{version} is not a version Switchboard knows."),
        )
        .advise(format!("Meta's newest is {newer}."), None),
    }
}

/// The last day a version works (`ends_at` is the end of that day, UTC).
fn last_day(ends_at: i64) -> String {
    let text = rules::time::format_time(ends_at - 1);
    text.split(' ').next().unwrap_or_default().to_string()
}

/// Runs a fix from the page; audited. `pin` is the two-step PIN, for
/// [`Fix::Register`] only.
pub async fn fix(
    engine: &Engine,
    caller: &Caller,
    phone_number_id: &str,
    fix: Fix,
    pin: Option<&str>,
) -> Result<(), Error> {
    caller.require(Role::Admin)?;
    let number = numbers::owned(engine, &caller.workspace.id, &phone_number_id.into()).await?;
    match fix {
        Fix::Resume => return numbers::resume(engine, caller, phone_number_id).await,
        Fix::Reconnect => {
            return Err(Error::invalid(
                "fix",
                "Reconnect from the Onboarding page (Connect WhatsApp).",
            ))
        }
        Fix::Refresh => {
            probe::probe(engine, &number).await?;
        }
        Fix::Register => {
            register(engine, &number, pin.unwrap_or_default()).await?;
            probe::probe(engine, &number).await?;
        }
        Fix::Resubscribe => {
            let token = tokens::open_number_token(engine, phone_number_id).await?;
            if let Err(error) =
                crate::onboarding::subscribe_app(engine, &token, &number.waba_id).await
            {
                numbers::note_graph_error(engine, phone_number_id, &error).await?;
                return Err(Error::meta(MetaCall::Subscribe, error));
            }
        }
    }
    audit::record_by(
        &engine.store,
        caller,
        "number.health_fix",
        json!({ "phone_number_id": phone_number_id, "fix": fix }),
    )
    .await?;
    Ok(())
}

/// Registers the number again (it fell off the Cloud API), within Meta's
/// 10 attempts per 72 hours.
async fn register(engine: &Engine, number: &NumberRow, pin: &str) -> Result<(), Error> {
    use crate::onboarding::{REGISTER_LIMIT, REGISTER_WINDOW_MS};
    if pin.len() != 6 || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(
            "pin",
            "The two-step verification PIN is 6 digits.",
        ));
    }
    if number.business_app_since.is_some() {
        return Err(Error::invalid(
            "pin",
            "This number stays registered by the WhatsApp Business app; Switchboard never registers it again.",
        ));
    }
    let phone = number.phone_number_id.as_str();
    let now = now_millis();
    let tries = engine
        .store
        .register_attempts_since(phone, now - REGISTER_WINDOW_MS)
        .await?;
    if tries >= REGISTER_LIMIT {
        return Err(Error::invalid(
            "pin",
            "Meta allows 10 registration attempts per number in 72 hours, and they are used up; try again later.",
        ));
    }
    let token = tokens::open_number_token(engine, phone).await?;
    engine
        .store
        .record_register_attempt(phone, crate::store::RegisterRequest::Register, now)
        .await?;
    match engine.graph.register(&token, phone, pin).await {
        Ok(()) => Ok(()),
        Err(error) => {
            numbers::note_graph_error(engine, phone, &error).await?;
            let left = REGISTER_LIMIT - tries - 1;
            let said = match error.code() {
                Some(133005) => "That is not the number's two-step verification PIN.".to_string(),
                _ => format!("Meta refused to register the number: {error}."),
            };
            Err(Error::invalid(
                "pin",
                format!("{said} {left} attempts left in 72 hours."),
            ))
        }
    }
}
