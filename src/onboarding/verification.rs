//! A number Meta has not verified yet (`code_verification_status`
//! NOT_VERIFIED): the person asks for a code by SMS or voice call, types it,
//! then registers the number as usual (reference meta-platform §4).

use super::{progress_of, run_of, Progress};
use crate::{
    accounts::{Caller, Role},
    graph::{numbers::CodeMethod, GraphError},
    numbers,
    store::{now_millis, OnboardingRow, OnboardingStep, RunState},
    Engine, Error,
};

/// Codes asked in this window are shown, so the person sees what was sent.
pub const CODE_REQUESTS_SHOWN_MS: i64 = 24 * 60 * 60 * 1000;
/// Switchboard's own pace between two codes, so a double click never
/// spends one of Meta's requests (Meta limits them too).
pub const CODE_REQUEST_GAP_MS: i64 = 30_000;

/// Asks Meta to send the number a verification code.
pub async fn request_code(
    engine: &Engine,
    caller: &Caller,
    id: &str,
    method: CodeMethod,
) -> Result<Progress, Error> {
    caller.require(Role::Admin)?;
    let run = waiting_for_code(engine, caller, id).await?;
    let (phone, token) = super::steps::number_token(engine, &run)
        .await
        .map_err(|problem| Error::invalid("code_method", problem))?;
    let now = now_millis();
    let recent = engine
        .store
        .code_requests_since(&phone, now - CODE_REQUEST_GAP_MS)
        .await?;
    if !recent.is_empty() {
        return Err(Error::invalid(
            "code_method",
            "A code was sent less than 30 seconds ago; wait for it before asking for another.",
        ));
    }
    let outcome = engine
        .graph
        .request_code(&token, &phone, method, "en_US")
        .await;
    let problem = match outcome {
        Ok(()) => {
            engine
                .store
                .record_code_request(&phone, method.as_str(), now)
                .await?;
            None
        }
        Err(error) => Some(code_problem(engine, &phone, "send a code", &error).await?),
    };
    set_problem(engine, &run, problem.as_deref()).await?;
    progress_of(engine, id).await
}

/// Checks the code the person got; verified, the run goes on to register.
pub async fn submit_code(
    engine: &Engine,
    caller: &Caller,
    id: &str,
    code: &str,
) -> Result<Progress, Error> {
    caller.require(Role::Admin)?;
    let code: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if !(4..=8).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(
            "code",
            "The verification code is the 6 digits Meta sent by SMS or call.",
        ));
    }
    let run = waiting_for_code(engine, caller, id).await?;
    let (phone, token) = super::steps::number_token(engine, &run)
        .await
        .map_err(|problem| Error::invalid("code", problem))?;
    match engine.graph.verify_code(&token, &phone, &code).await {
        Ok(()) => {
            engine
                .store
                .set_onboarding_state(
                    &run.id,
                    OnboardingStep::VerifyNumber,
                    OnboardingStep::Register,
                    RunState::Waiting,
                    None,
                    now_millis(),
                )
                .await?;
            engine
                .store
                .insert_audit(
                    Some(&run.workspace_id),
                    Some((&caller.user.id, &caller.user.email)),
                    "number.verified",
                    &serde_json::json!({ "phone_number_id": phone }).to_string(),
                    now_millis(),
                )
                .await?;
        }
        Err(error) => {
            let problem = code_problem(engine, &phone, "verify the code", &error).await?;
            set_problem(engine, &run, Some(&problem)).await?;
        }
    }
    progress_of(engine, id).await
}

async fn waiting_for_code(
    engine: &Engine,
    caller: &Caller,
    id: &str,
) -> Result<OnboardingRow, Error> {
    let run = run_of(engine, caller, id).await?;
    if run.step != OnboardingStep::VerifyNumber {
        return Err(Error::invalid(
            "code",
            "this connection is not waiting for a verification code",
        ));
    }
    Ok(run)
}

async fn set_problem(
    engine: &Engine,
    run: &OnboardingRow,
    problem: Option<&str>,
) -> Result<(), Error> {
    engine
        .store
        .set_onboarding_state(
            &run.id,
            OnboardingStep::VerifyNumber,
            OnboardingStep::VerifyNumber,
            RunState::Waiting,
            problem,
            now_millis(),
        )
        .await?;
    Ok(())
}

/// What Meta's refusal means for the person, in plain words. Meta's codes
/// for verification are not in the reference (136023 to 136026 are what
/// integrators report; unconfirmed), so any other refusal is explained by
/// its kind and Meta's own message.
async fn code_problem(
    engine: &Engine,
    phone: &str,
    what: &str,
    error: &GraphError,
) -> Result<String, Error> {
    if error.is_token_problem() {
        numbers::note_graph_error(engine, phone, error).await?;
        return Ok(format!(
            "Meta no longer accepts the access token ({error}); connect WhatsApp again"
        ));
    }
    if error.is_transient() {
        return Ok(format!("Meta did not answer ({error}); try again."));
    }
    Ok(match error.code() {
        Some(136025) => "That code is not right. Check the SMS or call and try again.".into(),
        Some(136023) => "Too many wrong codes: ask Meta for a new code.".into(),
        Some(136026) => "That code expired or was already used: ask for a new one.".into(),
        Some(136024) => "Meta limits how often a number gets codes: wait a while (up to a day) before asking again.".into(),
        _ => format!("Meta could not {what}: {error}"),
    })
}
