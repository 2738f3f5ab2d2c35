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
    tokens::onboarding_binding,
    worker::{self, Step, Stop},
    Engine, Error,
};

pub use steps::advance;

pub const EXCHANGE: &str = "exchange";
pub const VERIFY: &str = "verify";
pub const SUBSCRIBE: &str = "subscribe";
pub const REGISTER: &str = "register";
pub const DETAILS: &str = "details";
pub const LIVE: &str = "live";

/// The steps in order, with what the UI calls them.
pub const STEPS: [(&str, &str); 5] = [
    (EXCHANGE, "Sign-in code exchanged"),
    (VERIFY, "Access to the account verified"),
    (SUBSCRIBE, "Webhooks subscribed"),
    (REGISTER, "Number registered"),
    (DETAILS, "Number details read"),
];

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
    pub step: String,
    pub label: String,
    /// done | running | waiting | failed | pending
    pub state: String,
}

/// Where a run stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub id: String,
    pub attempt: String,
    pub step: String,
    /// waiting | ready | failed | done
    pub state: String,
    pub problem: Option<String>,
    /// What the run waits for: "code", "signup", "pin" or nothing.
    pub waiting_for: Option<String>,
    pub waba_id: Option<String>,
    pub phone_number_id: Option<String>,
    pub display_phone_number: Option<String>,
    pub steps: Vec<StepProgress>,
}

impl Progress {
    pub fn is_live(&self) -> bool {
        self.step == LIVE
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
    if run.step == EXCHANGE {
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
                        EXCHANGE,
                        EXCHANGE,
                        "failed",
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
    if run.step != REGISTER {
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
    if run.state == "failed" {
        if run.step == EXCHANGE {
            return Err(Error::invalid(
                "retry",
                "a code from Meta works once and only for 30 seconds: start the connection again",
            ));
        }
        let state = if run.step == REGISTER {
            "waiting"
        } else {
            "ready"
        };
        engine
            .store
            .set_onboarding_state(&run.id, &run.step, &run.step, state, None, now_millis())
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
            .number(phone)
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
            step: step.to_string(),
            label: label.to_string(),
            state: if index < current {
                "done"
            } else if index > current {
                "pending"
            } else {
                match run.state.as_str() {
                    "ready" => "running",
                    "failed" => "failed",
                    "done" => "done",
                    _ => "waiting",
                }
            }
            .to_string(),
        })
        .collect();
    let waiting_for = (run.state == "waiting").then(|| {
        match run.step.as_str() {
            EXCHANGE => "code",
            VERIFY => "signup",
            _ => "pin",
        }
        .to_string()
    });
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
