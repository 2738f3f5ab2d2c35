//! The steps of an onboarding run. Each reads the run, calls Meta, and
//! stores its outcome with a compare-and-set on the step, so a step that
//! runs twice (a retry, a restart) has its effect once.

use serde_json::json;

use super::{OnboardingStep, RunState};
use crate::{
    graph::{numbers::needs_code, GraphError, PhoneNumber},
    ids::ContactScope,
    live::{Notice, Topic},
    numbers, pipeline,
    secret::Secret,
    store::{self, now_millis, AttachError, Attachment, NewToken, OnboardingRow, SyncType},
    tokens::{onboarding_binding, open_number_token, seal_for_number},
    Engine, Error,
};

/// Meta allows 10 register requests per number in a moving 72 hours.
pub const REGISTER_LIMIT: i64 = 10;
pub const REGISTER_WINDOW_MS: i64 = 72 * 60 * 60 * 1000;

/// Meta's window for the WhatsApp Business app's one-time syncs.
pub const BUSINESS_APP_SYNC_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// Whether the run connects a WhatsApp Business app number (coexistence).
pub fn is_business_app(run: &OnboardingRow) -> bool {
    run.finish_event.as_deref() == Some(super::FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING)
}

/// How a step ended.
enum Outcome {
    /// Go on to `step`, in `state`.
    Next(OnboardingStep, RunState),
    /// The step already stored its own transition.
    Stored,
    Failed(String),
}

/// Runs the run's current step if it is ready.
pub async fn advance(engine: &Engine, id: &str) -> Result<(), store::Error> {
    let Some(run) = engine.store.onboarding(id).await? else {
        return Ok(());
    };
    if run.state != RunState::Ready {
        return Ok(());
    }
    let outcome = match run.step {
        OnboardingStep::Verify => verify(engine, &run).await?,
        OnboardingStep::Subscribe => subscribe(engine, &run).await?,
        OnboardingStep::BusinessAppSync => business_app_sync(engine, &run).await?,
        OnboardingStep::Details => details(engine, &run).await?,
        // The person's part (the code, the verification code, the PIN), or
        // finished.
        OnboardingStep::Exchange
        | OnboardingStep::VerifyNumber
        | OnboardingStep::Register
        | OnboardingStep::Live => return Ok(()),
    };
    let now = now_millis();
    let outcome_step = match &outcome {
        Outcome::Next(step, _) => Some(*step),
        _ => None,
    };
    match outcome {
        Outcome::Next(step, state) => {
            let state = if step == OnboardingStep::Live {
                RunState::Done
            } else {
                state
            };
            engine
                .store
                .set_onboarding_state(id, run.step, step, state, None, now)
                .await?;
        }
        Outcome::Stored => {}
        Outcome::Failed(problem) => {
            tracing::warn!(onboarding = %id, step = %run.step, %problem, "onboarding step failed");
            engine
                .store
                .set_onboarding_state(
                    id,
                    run.step,
                    run.step,
                    RunState::Failed,
                    Some(&problem),
                    now,
                )
                .await?;
        }
    }
    let mut notices = vec![Notice::to_workspace(&run.workspace_id, Topic::Onboarding)];
    if matches!(&outcome_step, Some(OnboardingStep::Live)) {
        notices.push(Notice::to_workspace(&run.workspace_id, Topic::Numbers));
    }
    engine.live.publish(&engine.store, notices).await;
    Ok(())
}

/// In plain words, why a code could not be exchanged.
pub fn explain_exchange_error(error: &GraphError) -> String {
    match error {
        // The redirect path's exchange repeats the dialog's redirect_uri:
        // Meta names it when they differ (a changed PUBLIC_URL, a URI
        // Meta rewrote).
        GraphError::Meta { code: 100, message, .. } if message.contains("redirect_uri") => {
            "Meta did not accept the sign-in code: it expired or was already used, or the redirect address differs from the one the dialog was opened with (PUBLIC_URL and the app's Valid OAuth Redirect URIs must match). Start the connection again.".into()
        }
        GraphError::Meta { code: 100, .. } | GraphError::Meta { code: 190, .. } => {
            "Meta did not accept the sign-in code: it expired (codes last about 30 seconds) or was already used. Start the connection again.".into()
        }
        other if other.is_transient() => {
            format!("Meta could not be reached to finish signing in ({other}). Start the connection again.")
        }
        other => format!("Meta refused the sign-in code: {other}. Start the connection again."),
    }
}

/// Failure text for a Graph error in a step, flagging the number when the
/// token is the problem.
async fn graph_failure(
    engine: &Engine,
    phone_number_id: Option<&str>,
    what: &str,
    error: &GraphError,
) -> Result<Outcome, store::Error> {
    if error.is_token_problem() {
        if let Some(phone) = phone_number_id {
            numbers::note_graph_error(engine, phone, error).await?;
        }
        return Ok(Outcome::Failed(format!(
            "Meta no longer accepts the access token ({error}); connect WhatsApp again"
        )));
    }
    Ok(Outcome::Failed(format!("{what}: {error}")))
}

/// debug_token: the WABA must be among the token's grants and the number
/// must belong to the WABA. Then the number joins the workspace.
async fn verify(engine: &Engine, run: &OnboardingRow) -> Result<Outcome, store::Error> {
    let (Some(sealed), Some(waba_id)) = (&run.sealed, &run.waba_id) else {
        return Ok(Outcome::Failed(
            "the run has no token or no WhatsApp account; start again".into(),
        ));
    };
    let token = match engine
        .vault
        .open(sealed, &onboarding_binding(&run.workspace_id, &run.id))
    {
        Ok(token) => token,
        Err(error) => return Ok(Outcome::Failed(error.to_string())),
    };
    let info = match engine.graph.debug_token(&token).await {
        Ok(info) => info,
        Err(error) => {
            return graph_failure(engine, None, "Meta could not check the token", &error).await
        }
    };
    if !info.is_valid {
        return Ok(Outcome::Failed(format!(
            "Meta says the new token is not valid ({}); start the connection again",
            info.error.as_deref().unwrap_or("no reason given")
        )));
    }
    let missing = info.missing_scopes();
    if !missing.is_empty() {
        return Ok(Outcome::Failed(format!(
            "the signup did not grant {}; connect again and allow it",
            missing.join(" and ")
        )));
    }
    if info.grants_waba(waba_id) == Some(false) {
        refuse(engine, run, "waba_not_granted").await?;
        return Ok(Outcome::Failed(format!(
            "WhatsApp Business Account {waba_id} was not granted to this app; Switchboard will not connect it"
        )));
    }
    // Also proves access when the grant lists no targets.
    let phones = match engine.graph.waba_phone_numbers(&token, waba_id).await {
        Ok(phones) => phones,
        Err(error) => {
            return graph_failure(
                engine,
                None,
                "cannot read the WhatsApp account's numbers",
                &error,
            )
            .await
        }
    };
    let phone = match choose_phone(engine, run, &phones).await? {
        PhoneChoice::One(phone) => phone,
        PhoneChoice::Several(several) => {
            let choices: Vec<super::Choice> = several
                .iter()
                .map(|p| super::Choice::of(waba_id, p))
                .collect();
            let json = serde_json::to_string(&choices).expect("choices serialize");
            engine
                .store
                .offer_choices(&run.id, &json, now_millis())
                .await?;
            return Ok(Outcome::Stored);
        }
        PhoneChoice::Refused(problem) => return Ok(Outcome::Failed(problem)),
    };
    let now = now_millis();
    let sealed = seal_for_number(&engine.vault, &run.workspace_id, &phone.id, &token);
    let scopes = info.scopes.clone();
    let attached = engine
        .store
        .attach_number(
            &Attachment {
                onboarding_id: &run.id,
                workspace_id: &run.workspace_id,
                phone_number_id: &phone.id,
                waba_id,
                contact_scope: &ContactScope::of(run.business_id.as_deref(), waba_id),
                display_phone_number: phone.display_phone_number.as_deref(),
                verified_name: phone.verified_name.as_deref(),
                token: NewToken {
                    sealed: &sealed,
                    token_type: info.token_type.as_deref().or(run.token_type.as_deref()),
                    scopes: &scopes,
                    expires_at: info.expires_at.map(|s| s * 1000).or(run.expires_at),
                    issued_at: info.issued_at.map(|s| s * 1000),
                },
                next_step: OnboardingStep::Subscribe,
            },
            now,
        )
        .await;
    match attached {
        Ok(()) => Ok(Outcome::Stored),
        Err(AttachError::OtherWorkspace) => {
            refuse(engine, run, "number_in_another_workspace").await?;
            Ok(Outcome::Failed(format!(
                "the number {} is connected to another workspace of this installation",
                phone.display_phone_number.as_deref().unwrap_or(&phone.id)
            )))
        }
        Err(AttachError::Store(error)) => Err(error),
    }
}

/// Which number a run connects.
enum PhoneChoice {
    One(PhoneNumber),
    /// The signup named none and several could be meant: the person picks.
    Several(Vec<PhoneNumber>),
    Refused(String),
}

/// The number the signup named (or the person picked), which must belong
/// to the WABA; or, when it named none (FINISH_ONLY_WABA), the WABA's one
/// number not yet here, or a choice among several.
async fn choose_phone(
    engine: &Engine,
    run: &OnboardingRow,
    phones: &[PhoneNumber],
) -> Result<PhoneChoice, store::Error> {
    let waba_id = run.waba_id.as_deref().unwrap_or_default();
    if let Some(wanted) = &run.phone_number_id {
        return match phones.iter().find(|p| &p.id == wanted) {
            Some(phone) => Ok(PhoneChoice::One(phone.clone())),
            None => {
                refuse(engine, run, "number_not_in_waba").await?;
                Ok(PhoneChoice::Refused(format!(
                    "phone number {wanted} does not belong to WhatsApp Business Account {waba_id}; Switchboard will not connect it"
                )))
            }
        };
    }
    let fresh = fresh_numbers(engine, &run.workspace_id, phones).await?;
    Ok(match fresh.as_slice() {
        [one] => PhoneChoice::One(one.clone()),
        [] => PhoneChoice::Refused(format!(
            "WhatsApp Business Account {waba_id} has no number to connect yet; add one in WhatsApp Manager, then connect again"
        )),
        _ => PhoneChoice::Several(fresh),
    })
}

/// Of `phones`, those the workspace has not connected (a disconnected one
/// counts as not connected): what a signup that named no number may mean.
pub(super) async fn fresh_numbers(
    engine: &Engine,
    workspace_id: &str,
    phones: &[PhoneNumber],
) -> Result<Vec<PhoneNumber>, store::Error> {
    let connected = engine.store.numbers_of(&workspace_id.into()).await?;
    Ok(phones
        .iter()
        .filter(|p| {
            !connected.iter().any(|n| {
                n.phone_number_id == p.id && n.status != numbers::NumberStatus::Disconnected
            })
        })
        .cloned()
        .collect())
}

/// Someone claimed assets the token does not cover: audit it.
async fn refuse(engine: &Engine, run: &OnboardingRow, reason: &str) -> Result<(), store::Error> {
    engine
        .store
        .insert_audit(
            Some(&run.workspace_id),
            None,
            "onboarding.refused",
            &json!({ "onboarding": run.id, "reason": reason, "waba_id": run.waba_id, "phone_number_id": run.phone_number_id }).to_string(),
            now_millis(),
        )
        .await
}

pub(super) async fn number_token(
    engine: &Engine,
    run: &OnboardingRow,
) -> Result<(String, Secret<String>), String> {
    let phone = run
        .phone_number_id
        .clone()
        .ok_or_else(|| "the run has no phone number".to_string())?;
    let token = open_number_token(engine, &phone)
        .await
        .map_err(|e| e.to_string())?;
    Ok((phone, token))
}

/// Where Meta should send this installation's webhooks.
pub fn webhook_url(engine: &Engine) -> String {
    format!(
        "{}/webhook",
        engine.config.public_url.as_str().trim_end_matches('/')
    )
}

/// Subscribes the app to the WABA's webhooks, with the callback override
/// when `META_WEBHOOK_OVERRIDE` is on (onboarding, and the Health page's
/// fix).
pub async fn subscribe_app(
    engine: &Engine,
    token: &crate::secret::Secret<String>,
    waba_id: &str,
) -> Result<(), crate::graph::GraphError> {
    let callback = webhook_url(engine);
    let override_callback = engine
        .config
        .webhook_override
        .then(|| (callback.as_str(), &engine.config.meta.webhook_verify_token));
    engine
        .graph
        .subscribe_app(token, waba_id, override_callback)
        .await
}

/// Subscribes the app to the WABA's webhooks (with the callback override
/// when configured), then decides whether the number needs registering.
async fn subscribe(engine: &Engine, run: &OnboardingRow) -> Result<Outcome, store::Error> {
    let (phone, token) = match number_token(engine, run).await {
        Ok(found) => found,
        Err(problem) => return Ok(Outcome::Failed(problem)),
    };
    let waba_id = run.waba_id.as_deref().unwrap_or_default();
    if let Err(error) = subscribe_app(engine, &token, waba_id).await {
        return graph_failure(
            engine,
            Some(&phone),
            "cannot subscribe to the account's webhooks",
            &error,
        )
        .await;
    }
    // Coexistence numbers stay registered by the WhatsApp Business app:
    // never register them; ask for the app's data instead.
    if is_business_app(run) {
        engine
            .store
            .mark_business_app(&phone, run.created_at, store::BUSINESS_APP_MAX_RATE)
            .await?;
        return Ok(Outcome::Next(
            OnboardingStep::BusinessAppSync,
            RunState::Ready,
        ));
    }
    match engine.graph.phone_number(&token, &phone).await {
        Ok(info) if needs_code(info.code_verification_status.as_deref()) => Ok(Outcome::Next(
            OnboardingStep::VerifyNumber,
            RunState::Waiting,
        )),
        Ok(info) if info.is_registered() => {
            Ok(Outcome::Next(OnboardingStep::Details, RunState::Ready))
        }
        Ok(_) => Ok(Outcome::Next(OnboardingStep::Register, RunState::Waiting)),
        Err(error) => graph_failure(engine, Some(&phone), "cannot read the number", &error).await,
    }
}

/// A WhatsApp Business app number: asks Meta once for the app's contacts
/// and once for its history, within Meta's 24 hours of onboarding. Each
/// request is claimed before it is made, so a restart never asks twice; a
/// missed window or a refusal is recorded and shown, never retried. The
/// number goes live either way: the syncs add to it, they do not gate it.
async fn business_app_sync(engine: &Engine, run: &OnboardingRow) -> Result<Outcome, store::Error> {
    let (phone, token) = match number_token(engine, run).await {
        Ok(found) => found,
        Err(problem) => return Ok(Outcome::Failed(problem)),
    };
    for sync_type in [SyncType::Contacts, SyncType::History] {
        let now = now_millis();
        if !engine.store.claim_app_sync(&phone, sync_type, now).await? {
            continue; // asked before this restart
        }
        let outcome = if now > run.created_at + BUSINESS_APP_SYNC_WINDOW_MS {
            Err("Meta's 24 hours after onboarding had passed; the business app's data can only be asked for again by offboarding and onboarding the number anew".to_string())
        } else {
            engine
                .graph
                .business_app_sync(&token, &phone, sync_type)
                .await
                .map_err(|error| format!("Meta refused: {error}"))
        };
        let (request_id, problem) = match outcome {
            Ok(request_id) => (request_id, None),
            Err(problem) => {
                tracing::warn!(onboarding = %run.id, %sync_type, %problem, "business app sync not made");
                (None, Some(problem))
            }
        };
        engine
            .store
            .finish_app_sync(&phone, sync_type, request_id.as_deref(), problem.as_deref())
            .await?;
    }
    Ok(Outcome::Next(OnboardingStep::Details, RunState::Ready))
}

/// Register and deregister requests Meta still allows for the number in
/// its moving 72 hours.
pub async fn register_attempts_left(engine: &Engine, phone: &str) -> Result<i64, store::Error> {
    let used = engine
        .store
        .register_attempts_since(phone, now_millis() - REGISTER_WINDOW_MS)
        .await?;
    Ok((REGISTER_LIMIT - used).max(0))
}

/// Registers the number with the person's PIN. A wrong PIN leaves the
/// step waiting for another; Meta's limit of 10 tries in 72 hours is
/// enforced here before Meta has to.
pub async fn register(engine: &Engine, run: &OnboardingRow, pin: &str) -> Result<(), Error> {
    let (phone, token) = match number_token(engine, run).await {
        Ok(found) => found,
        Err(problem) => return Err(Error::invalid("pin", problem)),
    };
    let now = now_millis();
    let tries = engine
        .store
        .register_attempts_since(&phone, now - REGISTER_WINDOW_MS)
        .await?;
    if tries >= REGISTER_LIMIT {
        return Err(Error::invalid(
            "pin",
            "Meta allows 10 registration attempts per number in 72 hours, and they are used up; try again later",
        ));
    }
    engine
        .store
        .record_register_attempt(&phone, store::RegisterRequest::Register, now)
        .await?;
    let (state, problem): (RunState, Option<String>) = match engine.graph.register(&token, &phone, pin).await {
        Ok(()) => {
            engine
                .store
                .set_onboarding_state(&run.id, OnboardingStep::Register, OnboardingStep::Details, RunState::Ready, None, now_millis())
                .await?;
            return Ok(());
        }
        Err(error) if error.code() == Some(133006) => {
            // Meta wants the number verified (again) first.
            engine
                .store
                .set_onboarding_state(
                    &run.id,
                    OnboardingStep::Register,
                    OnboardingStep::VerifyNumber,
                    RunState::Waiting,
                    Some("Meta asks to verify the number first: get a code by SMS or voice call."),
                    now_millis(),
                )
                .await?;
            return Ok(());
        }
        Err(error) => match error.code() {
            Some(133005) => (RunState::Waiting, Some("That is not the number's two-step verification PIN. Try again, or reset the PIN in WhatsApp Manager.".into())),
            Some(133008) | Some(133009) => (RunState::Waiting, Some("Too many PIN attempts: Meta asks to wait before trying again.".into())),
            Some(133016) => (RunState::Failed, Some("Meta blocked registration of this number for 72 hours after too many attempts.".into())),
            _ if error.is_token_problem() => {
                numbers::note_graph_error(engine, &phone, &error).await?;
                (RunState::Failed, Some(format!("Meta no longer accepts the access token ({error}); connect WhatsApp again")))
            }
            _ if error.is_transient() => (RunState::Waiting, Some(format!("Meta did not answer ({error}); try again."))),
            _ => (RunState::Waiting, Some(format!("Meta refused to register the number: {error}"))),
        },
    };
    engine
        .store
        .set_onboarding_state(
            &run.id,
            OnboardingStep::Register,
            OnboardingStep::Register,
            state,
            problem.as_deref(),
            now_millis(),
        )
        .await?;
    Ok(())
}

/// Reads the number's details, marks it live, and lets the webhooks that
/// waited for it through.
async fn details(engine: &Engine, run: &OnboardingRow) -> Result<Outcome, store::Error> {
    let (phone, token) = match number_token(engine, run).await {
        Ok(found) => found,
        Err(problem) => return Ok(Outcome::Failed(problem)),
    };
    let info = match engine.graph.phone_number(&token, &phone).await {
        Ok(info) => info,
        Err(error) => {
            return graph_failure(engine, Some(&phone), "cannot read the number", &error).await
        }
    };
    engine
        .store
        .number_is_live(
            &phone,
            info.display_phone_number.as_deref(),
            info.verified_name.as_deref(),
            info.quality_rating.as_deref(),
            info.status.as_deref(),
            now_millis(),
        )
        .await?;
    // A first number answers out of the box; messages that waited for a
    // reconnect go now.
    engine
        .store
        .default_bot_to_echo(&run.workspace_id, now_millis())
        .await?;
    engine.live.wake_everywhere(crate::live::Wake::Outbox).await;
    pipeline::route_waiting_events(&engine.store, &phone).await?;
    let actor = match &run.started_by {
        Some(user) => engine
            .store
            .user_email(user)
            .await?
            .map(|email| (user.clone(), email)),
        None => None,
    };
    let detail = json!({
        "phone_number_id": phone,
        "waba_id": run.waba_id,
        "display_phone_number": info.display_phone_number,
        "verified_name": info.verified_name,
        "signup": run.finish_event,
    });
    engine
        .store
        .insert_audit(
            Some(&run.workspace_id),
            actor
                .as_ref()
                .map(|(id, email)| (id.as_str(), email.as_str())),
            "number.connected",
            &detail.to_string(),
            now_millis(),
        )
        .await?;
    Ok(Outcome::Next(OnboardingStep::Live, RunState::Done))
}
