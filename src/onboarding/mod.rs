//! Onboarding through Embedded Signup, as a persisted state machine.
//!
//! The browser sends the code (at once: it expires in about 30 s) and the
//! signup data (WABA and number), in either order, both keyed by the
//! browser's attempt id. Then the run goes step by step:
//!
//! exchange -> verify -> subscribe -> register (asks for the PIN) -> details -> live
//!
//! Each step is idempotent and its outcome is stored before the next one
//! starts, so a failed step can be retried from the UI and a restart
//! resumes where the run stood.

mod steps;

use serde::{Deserialize, Serialize};

use crate::{
    accounts::{Caller, Role},
    store::{now_millis, OnboardingRow},
    text_enum::text_enum,
    tokens::onboarding_binding,
    worker::{self, Step, Stop},
    Engine, Error,
};

pub use steps::{advance, subscribe_app, webhook_url, REGISTER_LIMIT, REGISTER_WINDOW_MS};

pub use crate::store::{OnboardingStep, RunState};

/// The steps in order, with what the UI calls them.
pub const STEPS: [(OnboardingStep, &str); 5] = [
    (OnboardingStep::Exchange, "Sign-in code exchanged"),
    (OnboardingStep::Verify, "Access to the account verified"),
    (OnboardingStep::Subscribe, "Webhooks subscribed"),
    (OnboardingStep::Register, "Number registered"),
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
    }
}

/// The FINISH events of Embedded Signup we accept.
pub const FINISH_EVENTS: [&str; 3] = [
    "FINISH",
    "FINISH_ONLY_WABA",
    "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING",
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
    let code = code.trim();
    if code.is_empty() || code.len() > 2048 {
        return Err(Error::invalid(
            "code",
            "the code from Meta is empty or too long",
        ));
    }
    let workspace = &caller.workspace.id;
    let run = engine
        .store
        .start_onboarding(workspace, attempt, Some(&caller.user.id), now_millis())
        .await?;
    if run.step == OnboardingStep::Exchange {
        match engine.graph.exchange_code(code).await {
            Ok(grant) => {
                let now = now_millis();
                let sealed = engine.vault.seal(
                    grant.access_token.expose(),
                    &onboarding_binding(workspace, &run.id),
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
                engine.wake.onboarding.notify_one();
            }
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
            }
        }
    }
    progress_of(engine, &run.id).await
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
    engine.wake.onboarding.notify_one();
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
    engine.wake.onboarding.notify_one();
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
        engine.wake.onboarding.notify_one();
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

async fn run_of(engine: &Engine, caller: &Caller, id: &str) -> Result<OnboardingRow, Error> {
    engine
        .store
        .onboarding(id)
        .await?
        .filter(|run| run.workspace_id == caller.workspace.id)
        .ok_or(Error::NotFound)
}

async fn progress_of(engine: &Engine, id: &str) -> Result<Progress, Error> {
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
    let current = STEPS
        .iter()
        .position(|(step, _)| *step == run.step)
        .unwrap_or(STEPS.len());
    let steps = STEPS
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
    let awaiting = match run.step {
        OnboardingStep::Exchange => Awaiting::Code,
        OnboardingStep::Verify => Awaiting::Signup,
        _ => Awaiting::Pin,
    };
    let waiting_for = (run.state == RunState::Waiting).then_some(awaiting);
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
