//! Onboarding through Embedded Signup, as a persisted state machine.
//!
//! The browser sends the code (at once: it expires in about 30 s) and the
//! signup data (WABA and number), in either order, both keyed by the
//! browser's attempt id. Then the run goes step by step:
//!
//! exchange -> verify -> subscribe -> [verify number] -> register -> details -> live
//!
//! A number that still needs Meta's verification first takes a code by SMS
//! or voice call ([`verification`]). A WhatsApp Business app number
//! (coexistence) is never registered: its run asks Meta once for the app's
//! contacts and history instead (`business_app_sync`). A signup that named
//! no number among several waits for the person to pick one.
//!
//! Each step is idempotent and its outcome is stored before the next one
//! starts, so a failed step can be retried from the UI and a restart
//! resumes where the run stood.

pub mod redirect;
mod steps;
pub mod verification;

use serde::{Deserialize, Serialize};

use crate::{
    accounts::{Caller, Role},
    store::{now_millis, OnboardingRow},
    text_enum::text_enum,
    tokens::onboarding_binding,
    worker::{self, Step, Stop},
    Engine, Error,
};

pub use steps::{
    advance, is_business_app, register_attempts_left, subscribe_app, webhook_url,
    BUSINESS_APP_SYNC_WINDOW_MS, REGISTER_LIMIT, REGISTER_WINDOW_MS,
};

pub use crate::store::{OnboardingStep, RunState};

/// The steps of a Cloud API number in order, with what the UI calls them.
pub const STEPS: [(OnboardingStep, &str); 6] = [
    (OnboardingStep::Exchange, "Sign-in code exchanged"),
    (OnboardingStep::Verify, "Access to the account verified"),
    (OnboardingStep::Subscribe, "Webhooks subscribed"),
    (OnboardingStep::VerifyNumber, "Number verified"),
    (OnboardingStep::Register, "Number registered"),
    (OnboardingStep::Details, "Number details read"),
];

/// The steps of a WhatsApp Business app number (it stays registered by the
/// app).
pub const BUSINESS_APP_STEPS: [(OnboardingStep, &str); 5] = [
    (OnboardingStep::Exchange, "Sign-in code exchanged"),
    (OnboardingStep::Verify, "Access to the account verified"),
    (OnboardingStep::Subscribe, "Webhooks subscribed"),
    (
        OnboardingStep::BusinessAppSync,
        "Contacts and chat history asked from the WhatsApp Business app",
    ),
    (OnboardingStep::Details, "Number details read"),
];

text_enum! {
    /// One step of a run as the page shows it.
    pub enum StepState {
        Done = "done",
        Running = "running",
        Waiting = "waiting",
        Failed = "failed",
        /// Not reached yet.
        Pending = "pending",
    }
}

text_enum! {
    /// What a waiting run needs from the person.
    pub enum Awaiting {
        /// The code `FB.login` returns.
        Code = "code",
        /// The signup window's FINISH data.
        Signup = "signup",
        /// The number's two-step verification PIN.
        Pin = "pin",
        /// Which of several numbers to connect.
        Number = "number",
        /// The code Meta sends the number by SMS or voice call.
        VerificationCode = "verification_code",
    }
}

/// A number the person can pick when the signup named none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub waba_id: String,
    pub phone_number_id: String,
    pub display_phone_number: Option<String>,
    pub verified_name: Option<String>,
}

impl Choice {
    pub fn of(waba_id: &str, phone: &crate::graph::PhoneNumber) -> Self {
        Self {
            waba_id: waba_id.to_string(),
            phone_number_id: phone.id.clone(),
            display_phone_number: phone.display_phone_number.clone(),
            verified_name: phone.verified_name.clone(),
        }
    }
}

/// A verification code asked for the number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRequest {
    /// `SMS` or `VOICE`.
    pub method: String,
    pub at: i64,
}

/// The signup finished without naming a number.
pub const FINISH_ONLY_WABA: &str = "FINISH_ONLY_WABA";
/// A WhatsApp Business app number (coexistence).
pub const FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING: &str = "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING";

/// The FINISH events of Embedded Signup we accept.
pub const FINISH_EVENTS: [&str; 3] = [
    "FINISH",
    FINISH_ONLY_WABA,
    FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING,
];

/// How long a worker holds a run before another may take it over.
const LEASE_MS: i64 = 60_000;
/// How often an idle worker looks for runs other instances made ready.
const IDLE_POLL: std::time::Duration = std::time::Duration::from_secs(5);

/// What the signup window reported on FINISH.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignupData {
    pub event: String,
    pub waba_id: String,
    pub phone_number_id: Option<String>,
    pub business_id: Option<String>,
}

/// One step as the UI shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepProgress {
    pub step: OnboardingStep,
    pub label: String,
    pub state: StepState,
}

/// Where a run stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub id: String,
    pub attempt: String,
    pub step: OnboardingStep,
    pub state: RunState,
    pub problem: Option<String>,
    /// What the run waits for, if it waits.
    pub waiting_for: Option<Awaiting>,
    pub waba_id: Option<String>,
    pub phone_number_id: Option<String>,
    pub display_phone_number: Option<String>,
    pub steps: Vec<StepProgress>,
    /// A WhatsApp Business app number (coexistence).
    pub business_app: bool,
    /// The numbers to pick from, when the run waits for a choice.
    pub choices: Vec<Choice>,
    /// Codes asked in the last day, newest first (verify number step).
    pub code_requests: Vec<CodeRequest>,
    /// Register and deregister requests Meta still allows in its 72 hours
    /// (register step).
    pub register_attempts_left: Option<i64>,
    /// The Business app's one-time syncs, as asked.
    pub syncs: Vec<crate::store::AppSyncRow>,
    /// How far the Business app's history import went.
    pub history: Option<crate::store::HistoryProgress>,
}

impl Progress {
    pub fn is_live(&self) -> bool {
        self.step == OnboardingStep::Live
    }
}

fn valid_attempt(attempt: &str) -> Result<(), Error> {
    let ok = (8..=64).contains(&attempt.len())
        && attempt
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "attempt",
            "the signup attempt id is malformed",
        ))
    }
}

/// A code as Meta gives it: not empty, not absurdly long.
fn checked_code(code: &str) -> Result<&str, Error> {
    let code = code.trim();
    if code.is_empty() || code.len() > 2048 {
        return Err(Error::invalid(
            "code",
            "the code from Meta is empty or too long",
        ));
    }
    Ok(code)
}

fn meta_id(field: &'static str, value: &str) -> Result<(), Error> {
    if !value.is_empty() && value.len() <= 32 && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("{field} must be Meta's numeric id"),
        ))
    }
}

/// The browser got a code from `FB.login`: exchange it now.
pub async fn submit_code(
    engine: &Engine,
    caller: &Caller,
    attempt: &str,
    code: &str,
) -> Result<Progress, Error> {
    caller.require(Role::Admin)?;
    valid_attempt(attempt)?;
    let code = checked_code(code)?;
    let workspace = &caller.workspace.id;
    let run = engine
        .store
        .start_onboarding(workspace, attempt, Some(&caller.user.id), now_millis())
        .await?;
    if run.step == OnboardingStep::Exchange {
        let exchanged = engine.graph.exchange_code(code).await;
        keep_grant(engine, &run, exchanged).await?;
    }
    progress_of(engine, &run.id).await
}

/// Stores what a code exchange gave the run: the token, sealed for the
/// run (the run goes on to verify), or why Meta refused (the run fails at
/// the exchange: a code cannot be tried twice). Returns the token when
/// there is one.
async fn keep_grant(
    engine: &Engine,
    run: &OnboardingRow,
    exchanged: Result<crate::graph::TokenGrant, crate::graph::GraphError>,
) -> Result<Option<crate::secret::Secret<String>>, Error> {
    let grant = match exchanged {
        Ok(grant) => grant,
        Err(error) => {
            tracing::warn!(onboarding = %run.id, %error, "code exchange failed");
            let problem = steps::explain_exchange_error(&error);
            engine
                .store
                .set_onboarding_state(
                    &run.id,
                    OnboardingStep::Exchange,
                    OnboardingStep::Exchange,
                    RunState::Failed,
                    Some(&problem),
                    now_millis(),
                )
                .await?;
            return Ok(None);
        }
    };
    let now = now_millis();
    let sealed = engine.vault.seal(
        grant.access_token.expose(),
        &onboarding_binding(&run.workspace_id, &run.id),
    );
    let expires_at = grant.expires_in.map(|s| now + s * 1000);
    engine
        .store
        .save_onboarding_token(
            &run.id,
            &sealed,
            grant.token_type.as_deref(),
            expires_at,
            now,
        )
        .await?;
    engine
        .live
        .wake_everywhere(crate::live::Wake::Onboarding)
        .await;
    Ok(Some(grant.access_token))
}

/// The signup window said FINISH (or a variant) with these assets.
pub async fn submit_signup(
    engine: &Engine,
    caller: &Caller,
    attempt: &str,
    data: &SignupData,
) -> Result<Progress, Error> {
    caller.require(Role::Admin)?;
    valid_attempt(attempt)?;
    if !FINISH_EVENTS.contains(&data.event.as_str()) {
        return Err(Error::invalid(
            "event",
            format!("`{}` is not a signup result Switchboard knows", data.event),
        ));
    }
    meta_id("waba_id", &data.waba_id)?;
    if let Some(phone) = &data.phone_number_id {
        meta_id("phone_number_id", phone)?;
    }
    if let Some(business) = &data.business_id {
        meta_id("business_id", business)?;
    }
    let run = engine
        .store
        .start_onboarding(
            &caller.workspace.id,
            attempt,
            Some(&caller.user.id),
            now_millis(),
        )
        .await?;
    engine
        .store
        .save_signup_data(
            &run.id,
            &data.event,
            &data.waba_id,
            data.phone_number_id.as_deref(),
            data.business_id.as_deref(),
            now_millis(),
        )
        .await?;
    engine
        .live
        .wake_everywhere(crate::live::Wake::Onboarding)
        .await;
    progress_of(engine, &run.id).await
}

/// The two-step verification PIN, for the register step. Runs the step
/// at once (the PIN is never stored) and returns where the run stands.
pub async fn submit_pin(
    engine: &Engine,
    caller: &Caller,
    id: &str,
    pin: &str,
) -> Result<Progress, Error> {
    caller.require(Role::Admin)?;
    let run = run_of(engine, caller, id).await?;
    if pin.len() != 6 || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid("pin", "the PIN is 6 digits"));
    }
    if run.step != OnboardingStep::Register {
        return Err(Error::invalid(
            "pin",
            "this connection is not waiting for a PIN",
        ));
    }
    steps::register(engine, &run, pin).await?;
    engine
        .live
        .wake_everywhere(crate::live::Wake::Onboarding)
        .await;
    progress_of(engine, id).await
}

/// The person picked one of the numbers the run offered.
pub async fn choose_number(
    engine: &Engine,
    caller: &Caller,
    id: &str,
    phone_number_id: &str,
) -> Result<Progress, Error> {
    caller.require(Role::Admin)?;
    let run = run_of(engine, caller, id).await?;
    let choices: Vec<Choice> = run
        .choices
        .as_deref()
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_default();
    let Some(choice) = choices
        .iter()
        .find(|c| c.phone_number_id == phone_number_id)
    else {
        return Err(Error::invalid(
            "phone_number_id",
            "choose one of the numbers this connection offers",
        ));
    };
    if !engine
        .store
        .choose_number(
            &run.id,
            &choice.waba_id,
            &choice.phone_number_id,
            now_millis(),
        )
        .await?
    {
        return Err(Error::invalid(
            "phone_number_id",
            "this connection is no longer waiting for a choice",
        ));
    }
    engine
        .live
        .wake_everywhere(crate::live::Wake::Onboarding)
        .await;
    progress_of(engine, id).await
}

/// Tries a failed step again.
pub async fn retry(engine: &Engine, caller: &Caller, id: &str) -> Result<Progress, Error> {
    caller.require(Role::Admin)?;
    let run = run_of(engine, caller, id).await?;
    if run.state == RunState::Failed {
        if run.step == OnboardingStep::Exchange {
            return Err(Error::invalid(
                "retry",
                "a code from Meta works once and only for 30 seconds: start the connection again",
            ));
        }
        let state = if run.step == OnboardingStep::Register {
            RunState::Waiting
        } else {
            RunState::Ready
        };
        engine
            .store
            .set_onboarding_state(&run.id, run.step, run.step, state, None, now_millis())
            .await?;
        engine
            .live
            .wake_everywhere(crate::live::Wake::Onboarding)
            .await;
    }
    progress_of(engine, id).await
}

pub async fn progress(engine: &Engine, caller: &Caller, id: &str) -> Result<Progress, Error> {
    caller.require(Role::Admin)?;
    run_of(engine, caller, id).await?;
    progress_of(engine, id).await
}

/// The workspace's latest run, if any.
pub async fn latest(engine: &Engine, caller: &Caller) -> Result<Option<Progress>, Error> {
    caller.require(Role::Admin)?;
    match engine.store.latest_onboarding(&caller.workspace.id).await? {
        Some(run) => Ok(Some(progress_of(engine, &run.id).await?)),
        None => Ok(None),
    }
}

pub(super) async fn run_of(
    engine: &Engine,
    caller: &Caller,
    id: &str,
) -> Result<OnboardingRow, Error> {
    engine
        .store
        .onboarding(id)
        .await?
        .filter(|run| run.workspace_id == caller.workspace.id)
        .ok_or(Error::NotFound)
}

pub(super) async fn progress_of(engine: &Engine, id: &str) -> Result<Progress, Error> {
    let run = engine.store.onboarding(id).await?.ok_or(Error::NotFound)?;
    let display = match &run.phone_number_id {
        Some(phone) => engine
            .store
            .number(&phone.as_str().into())
            .await?
            .filter(|n| n.workspace_id == run.workspace_id)
            .and_then(|n| n.display_phone_number),
        None => None,
    };
    let business_app = steps::is_business_app(&run);
    let path: &[(OnboardingStep, &str)] = if business_app {
        &BUSINESS_APP_STEPS
    } else {
        &STEPS
    };
    let current = path
        .iter()
        .position(|(step, _)| *step == run.step)
        .unwrap_or(path.len());
    let steps = path
        .iter()
        .enumerate()
        .map(|(index, (step, label))| StepProgress {
            step: *step,
            label: label.to_string(),
            state: if index < current {
                StepState::Done
            } else if index > current {
                StepState::Pending
            } else {
                match run.state {
                    RunState::Ready => StepState::Running,
                    RunState::Failed => StepState::Failed,
                    RunState::Done => StepState::Done,
                    RunState::Waiting => StepState::Waiting,
                }
            },
        })
        .collect();
    let choices: Vec<Choice> = run
        .choices
        .as_deref()
        .filter(|_| run.phone_number_id.is_none())
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_default();
    let awaiting = match run.step {
        OnboardingStep::Exchange => Awaiting::Code,
        OnboardingStep::Verify if !choices.is_empty() => Awaiting::Number,
        OnboardingStep::Verify => Awaiting::Signup,
        OnboardingStep::VerifyNumber => Awaiting::VerificationCode,
        _ => Awaiting::Pin,
    };
    let waiting_for = (run.state == RunState::Waiting).then_some(awaiting);
    let phone = run.phone_number_id.as_deref();
    let code_requests = match (phone, run.step) {
        (Some(phone), OnboardingStep::VerifyNumber) => engine
            .store
            .code_requests_since(phone, now_millis() - verification::CODE_REQUESTS_SHOWN_MS)
            .await?
            .into_iter()
            .map(|(method, at)| CodeRequest { method, at })
            .collect(),
        _ => Vec::new(),
    };
    let register_attempts_left = match (phone, run.step) {
        (Some(phone), OnboardingStep::Register) => {
            Some(steps::register_attempts_left(engine, phone).await?)
        }
        _ => None,
    };
    let (syncs, history) = match phone {
        Some(phone) if business_app => (
            engine.store.app_syncs(phone).await?,
            Some(engine.store.history_progress(phone).await?),
        ),
        _ => (Vec::new(), None),
    };
    Ok(Progress {
        id: run.id,
        attempt: run.attempt,
        step: run.step,
        state: run.state,
        problem: run.problem,
        waiting_for,
        waba_id: run.waba_id,
        phone_number_id: run.phone_number_id,
        display_phone_number: display,
        steps,
        business_app,
        choices,
        code_requests,
        register_attempts_left,
        syncs,
        history,
    })
}

/// Runs every step that is ready until none is; returns how many ran.
/// Each step is claimed first, so two workers (or instances) never run
/// the same step at once.
pub async fn run_ready(engine: &Engine) -> usize {
    let mut ran = 0;
    loop {
        let ids = match engine
            .store
            .claim_ready_onboardings(now_millis(), LEASE_MS)
            .await
        {
            Ok(ids) => ids,
            Err(error) => {
                tracing::warn!(%error, "cannot claim onboarding runs");
                return ran;
            }
        };
        if ids.is_empty() {
            return ran;
        }
        for id in ids {
            ran += 1;
            if let Err(error) = advance(engine, &id).await {
                tracing::warn!(onboarding = %id, %error, "onboarding step could not be stored");
            }
        }
    }
}

/// The onboarding worker: runs what is ready, now and whenever woken, until
/// `stop`. Runs left by a crash are taken up when their lease runs out.
pub async fn run(engine: Engine, stop: Stop) {
    let wake = engine.wake.onboarding.clone();
    let engine = &engine;
    worker::run_loop(stop, Some(wake), IDLE_POLL, || async move {
        run_ready(engine).await;
        // `run_ready` runs until nothing is ready.
        Step::Idle
    })
    .await;
}
