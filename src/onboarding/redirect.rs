//! The OAuth redirect path of Embedded Signup: Meta's dialog opened as a
//! page (no JS SDK), for when `FB.login` ends without a code (a blocked
//! popup, an in-app browser, an opener policy) or the person prefers it.
//!
//! [`start`] makes a `state` (single use, for the signed-in admin in their
//! workspace, 10 minutes) and a PKCE `code_verifier` (RFC 7636), keeps
//! them server-side (the state as a hash, the verifier sealed by the
//! vault) and returns the dialog's URL, which carries the state and the
//! verifier's S256 challenge. Meta sends the browser back to
//! `{PUBLIC_URL}/onboarding/meta/callback`; [`finish`] takes the state
//! (one conditional UPDATE decides, so two instances never both do),
//! exchanges the code at once with the same `redirect_uri` and the
//! verifier, and starts an onboarding run. No `WA_EMBEDDED_SIGNUP`
//! message comes this way, so the WABA comes from `debug_token`'s grants
//! and the numbers from the WABA; the run's steps do the rest.
//!
//! Never logged, never put in a URL we make: the code, the verifier, the
//! state and the token.

use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use url::Url;

use super::{keep_grant, steps, Choice, FINISH_ONLY_WABA, FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING};
use crate::{
    accounts::{new_token, token_hash, Caller, Role},
    audit,
    config::Config,
    secret::Secret,
    store::{now_millis, NewOauthState, OnboardingRow, OnboardingStep, RunState},
    vault::binding,
    Engine, Error,
};

/// How long a started redirect may take to come back.
pub const STATE_TTL_MS: i64 = 10 * 60 * 1000;
/// Where Meta sends the browser back (after `PUBLIC_URL`); it must be
/// among the app's Valid OAuth Redirect URIs.
pub const CALLBACK_PATH: &str = "/onboarding/meta/callback";
/// The `featureType` of a WhatsApp Business app number (coexistence).
const BUSINESS_APP_FEATURE: &str = "whatsapp_business_app_onboarding";
/// Longer than any state [`start`] makes: anything longer is not ours.
const MAX_STATE_LEN: usize = 128;

/// The `redirect_uri` of this installation, the same string for the
/// dialog and the exchange (Strict Mode compares them exactly).
pub fn redirect_uri(config: &Config) -> String {
    format!(
        "{}{CALLBACK_PATH}",
        config.public_url.as_str().trim_end_matches('/')
    )
}

/// What a sealed verifier is bound to: its workspace and its state.
pub fn verifier_binding(workspace_id: &str, state_hash: &str) -> Vec<u8> {
    binding(workspace_id, &format!("oauth_state:{state_hash}"))
}

/// The S256 challenge of a verifier: BASE64URL(SHA256(verifier)), no
/// padding (RFC 7636 §4.2).
pub fn code_challenge(verifier: &str) -> String {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Meta's dialog for this installation's app and Embedded Signup
/// configuration, as a page.
pub fn dialog_url(
    config: &Config,
    redirect_uri: &str,
    state: &str,
    challenge: &str,
    business_app: bool,
) -> Result<Url, Error> {
    let base = format!(
        "{}/{}/dialog/oauth",
        config.dialog_base(),
        config.graph_version
    );
    let mut url = Url::parse(&base).map_err(|e| {
        Error::invalid(
            "dialog",
            format!("Meta's dialog address `{base}` is not a URL: {e}"),
        )
    })?;
    let extras = json!({
        "setup": {},
        "featureType": if business_app { BUSINESS_APP_FEATURE } else { "" },
        "sessionInfoVersion": "3",
    });
    url.query_pairs_mut()
        .append_pair("client_id", &config.meta.app_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("config_id", &config.meta.config_id)
        .append_pair("response_type", "code")
        .append_pair("override_default_response_type", "true")
        .append_pair("state", state)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("extras", &extras.to_string());
    Ok(url)
}

/// Starts a redirect for the caller (admins only): stores a fresh state
/// and verifier and returns Meta's dialog URL to send the browser to.
/// `business_app`: onboard a WhatsApp Business app number (coexistence).
pub async fn start(engine: &Engine, caller: &Caller, business_app: bool) -> Result<Url, Error> {
    caller.require(Role::Admin)?;
    // 32 bytes from the OS's CSPRNG, base64url: 43 characters of RFC
    // 7636's unreserved set, as a verifier must be.
    let (state, state_hash) = new_token();
    let (verifier, _) = new_token();
    let workspace_id = caller.workspace.id.as_str();
    let redirect_uri = redirect_uri(&engine.config);
    let url = dialog_url(
        &engine.config,
        &redirect_uri,
        &state,
        &code_challenge(&verifier),
        business_app,
    )?;
    let sealed = engine
        .vault
        .seal(&verifier, &verifier_binding(workspace_id, &state_hash));
    let now = now_millis();
    engine
        .store
        .insert_oauth_state(&NewOauthState {
            state_hash: &state_hash,
            user_id: &caller.user.id,
            workspace_id,
            business_app,
            redirect_uri: &redirect_uri,
            verifier: &sealed,
            created_at: now,
            expires_at: now + STATE_TTL_MS,
        })
        .await?;
    Ok(url)
}

/// What Meta puts on the callback's query: `code` and `state`, or
/// `error`, `error_reason`, `error_description` and `state`.
#[derive(Clone, Default, Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_reason: Option<String>,
    pub error_description: Option<String>,
}

/// The code and the state are secrets: never printed.
impl std::fmt::Debug for Callback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let given = |value: &Option<String>| value.as_ref().map(|_| "[redacted]");
        f.debug_struct("Callback")
            .field("code", &given(&self.code))
            .field("state", &given(&self.state))
            .field("error", &self.error)
            .field("error_reason", &self.error_reason)
            .finish_non_exhaustive()
    }
}

/// Why a callback was refused as not ours: each is audited
/// (`onboarding.refused`), since someone may be replaying or forging one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    StateMissing,
    /// Never made here (forged, or mangled).
    StateUnknown,
    /// Taken before: a replay.
    StateUsed,
    StateExpired,
    StateOfAnotherUser,
    StateOfAnotherWorkspace,
    /// The state is ours but its verifier is gone or does not open.
    VerifierMissing,
}

impl Refusal {
    /// The short reason, for the audit log and the page's `signup_error`.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::StateMissing => "state_missing",
            Refusal::StateUnknown => "state_unknown",
            Refusal::StateUsed => "state_used",
            Refusal::StateExpired => "state_expired",
            Refusal::StateOfAnotherUser => "state_other_user",
            Refusal::StateOfAnotherWorkspace => "state_other_workspace",
            Refusal::VerifierMissing => "verifier_missing",
        }
    }
}

/// Why a callback started no run.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// Meta's dialog ended without a code: the person cancelled
    /// (`user_denied`) or Meta stopped it. Not an attack; not audited.
    #[error("Meta's dialog ended without connecting ({reason})")]
    Ended {
        /// Meta's `error_reason` (else `error`), if it is a plain word.
        reason: String,
    },
    /// Meta's answer carried neither a code nor an error.
    #[error("Meta's answer carries no sign-in code")]
    NoCode,
    #[error("the sign-in could not be accepted ({})", .0.reason())]
    Refused(Refusal),
    #[error(transparent)]
    Engine(#[from] Error),
}

impl From<crate::store::Error> for CallbackError {
    fn from(error: crate::store::Error) -> Self {
        Self::Engine(error.into())
    }
}

impl CallbackError {
    /// The short reason the page is sent with (`signup_error`), or `None`
    /// when the caller may not be here at all (no session, not an admin).
    pub fn signup_error(&self) -> Option<String> {
        match self {
            CallbackError::Ended { reason } => Some(reason.clone()),
            CallbackError::NoCode => Some("code_missing".into()),
            CallbackError::Refused(refusal) => Some(refusal.reason().into()),
            CallbackError::Engine(Error::Unauthenticated | Error::Forbidden) => None,
            CallbackError::Engine(_) => Some("failed".into()),
        }
    }
}

/// What the page says for a `signup_error` it was sent with. Only these
/// texts are shown: the parameter is in a URL anyone can make, so its
/// value chooses a sentence and is never shown as it came (except a
/// plain word of Meta's, quoted).
pub fn signup_error_message(code: &str) -> String {
    match code {
        "state_missing" | "state_unknown" => {
            "That sign-in did not start here. Start connecting WhatsApp again from this page.".into()
        }
        "state_used" => "That sign-in was already used. Start connecting WhatsApp again.".into(),
        "state_expired" => {
            "The sign-in with Facebook took longer than 10 minutes. Start connecting WhatsApp again.".into()
        }
        "state_other_user" | "state_other_workspace" => {
            "That sign-in was started by another person or in another workspace. Start connecting WhatsApp again here.".into()
        }
        "verifier_missing" => {
            "Switchboard could not finish the sign-in it started (its sealed key is missing). Start connecting WhatsApp again.".into()
        }
        "code_missing" => {
            "Meta's answer carried no sign-in code. Start connecting WhatsApp again.".into()
        }
        "user_denied" | "access_denied" => format!(
            "You cancelled on Facebook before WhatsApp was connected (Meta: {code}). Start again whenever you are ready."
        ),
        other => match meta_word(Some(other)) {
            Some(word) if word != "failed" => {
                format!("Meta ended the signup without connecting (Meta: {word}). Start connecting WhatsApp again.")
            }
            _ => "Connecting WhatsApp could not finish. Try again.".into(),
        },
    }
}

/// A plain word of Meta's (`user_denied`), or `None` for anything else.
fn meta_word(value: Option<&str>) -> Option<String> {
    let value = value?.trim();
    let plain = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    plain.then(|| value.to_string())
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// The callback: takes the state, exchanges the code and starts the
/// run; returns the run's id. A state that is missing, unknown, used,
/// expired, someone else's or without its verifier is refused and
/// audited; Meta's `error` (the person cancelled) is passed on as Meta's
/// reason.
pub async fn finish(
    engine: &Engine,
    caller: &Caller,
    callback: &Callback,
) -> Result<String, CallbackError> {
    caller.require(Role::Admin)?;
    let state = given(&callback.state);
    if let Some(error) = given(&callback.error) {
        // Nothing to exchange. The state, if it is this person's, is
        // spent; anyone's else stays as it was.
        if let Some(state) = state.filter(|s| s.len() <= MAX_STATE_LEN) {
            let now = now_millis();
            engine
                .store
                .take_oauth_state(
                    &token_hash(state),
                    &caller.user.id,
                    &caller.workspace.id,
                    now,
                )
                .await?;
        }
        let reason = meta_word(given(&callback.error_reason))
            .or_else(|| meta_word(Some(error)))
            .unwrap_or_else(|| "error".into());
        tracing::info!(%reason, "Meta's dialog ended without a code");
        return Err(CallbackError::Ended { reason });
    }
    let Some(state) = state else {
        return Err(refuse(engine, caller, Refusal::StateMissing).await);
    };
    let code = given(&callback.code)
        .and_then(|code| super::checked_code(code).ok())
        .ok_or(CallbackError::NoCode)?;
    if state.len() > MAX_STATE_LEN {
        return Err(refuse(engine, caller, Refusal::StateUnknown).await);
    }
    let state_hash = token_hash(state);
    let workspace_id = caller.workspace.id.as_str();
    let now = now_millis();
    let Some(taken) = engine
        .store
        .take_oauth_state(&state_hash, &caller.user.id, workspace_id, now)
        .await?
    else {
        let why = why_not_taken(engine, caller, &state_hash).await?;
        return Err(refuse(engine, caller, why).await);
    };
    let verifier = taken.verifier.as_ref().and_then(|sealed| {
        engine
            .vault
            .open(sealed, &verifier_binding(workspace_id, &state_hash))
            .ok()
    });
    // Needed once, now: nothing is left to steal from the row.
    engine.store.forget_oauth_verifier(&state_hash).await?;
    let Some(verifier) = verifier else {
        return Err(refuse(engine, caller, Refusal::VerifierMissing).await);
    };

    let attempt = format!("redirect-{}", uuid::Uuid::new_v4().simple());
    let run = engine
        .store
        .start_onboarding(workspace_id, &attempt, Some(&caller.user.id), now_millis())
        .await?;
    // At once: the code lasts seconds.
    let exchanged = engine
        .graph
        .exchange_redirect_code(code, &taken.redirect_uri, &verifier)
        .await;
    if let Some(token) = keep_grant(engine, &run, exchanged).await? {
        let event = if taken.business_app {
            FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING
        } else {
            FINISH_ONLY_WABA
        };
        find_assets(engine, &run, event, &token).await?;
        engine
            .live
            .wake_everywhere(crate::live::Wake::Onboarding)
            .await;
    }
    Ok(run.id)
}

/// Why the state could not be taken for the caller.
async fn why_not_taken(
    engine: &Engine,
    caller: &Caller,
    state_hash: &str,
) -> Result<Refusal, CallbackError> {
    let Some(stored) = engine.store.oauth_state(state_hash).await? else {
        return Ok(Refusal::StateUnknown);
    };
    Ok(if stored.user_id != caller.user.id {
        Refusal::StateOfAnotherUser
    } else if stored.workspace_id != caller.workspace.id.as_str() {
        Refusal::StateOfAnotherWorkspace
    } else if stored.used_at.is_some() {
        Refusal::StateUsed
    } else {
        Refusal::StateExpired
    })
}

/// Audits a refused callback in the caller's workspace, and says why.
async fn refuse(engine: &Engine, caller: &Caller, refusal: Refusal) -> CallbackError {
    tracing::warn!(reason = refusal.reason(), "OAuth callback refused");
    let detail = json!({ "reason": refusal.reason(), "path": "oauth_redirect" });
    match audit::record_by(&engine.store, caller, "onboarding.refused", detail).await {
        Ok(()) => CallbackError::Refused(refusal),
        Err(error) => error.into(),
    }
}

/// The assets of a redirect run, from the token itself: the WABAs its
/// `whatsapp_business_management` grant names. One WABA: the run goes on
/// as a signup that named it (the verify step picks its one new number or
/// offers a choice). Several: their new numbers are offered together
/// (one alone is taken). None: the run fails, saying so.
async fn find_assets(
    engine: &Engine,
    run: &OnboardingRow,
    event: &str,
    token: &Secret<String>,
) -> Result<(), Error> {
    let fail = |problem: String| async move {
        tracing::warn!(onboarding = %run.id, %problem, "redirect run found no assets");
        engine
            .store
            .set_onboarding_state(
                &run.id,
                OnboardingStep::Verify,
                OnboardingStep::Verify,
                RunState::Failed,
                Some(&problem),
                now_millis(),
            )
            .await
            .map(|_| ())
            .map_err(Error::from)
    };
    let info = match engine.graph.debug_token(token).await {
        Ok(info) => info,
        Err(error) => {
            return fail(format!(
                "Meta could not check the new token ({error}); start the connection again"
            ))
            .await
        }
    };
    let wabas = info.granted_wabas();
    let now = now_millis();
    match wabas.as_slice() {
        [] if !info.is_valid => fail(format!(
            "Meta says the new token is not valid ({}); start the connection again",
            info.error.as_deref().unwrap_or("no reason given")
        ))
        .await,
        [] => fail(
            "Meta's token names no WhatsApp Business Account; connect again and choose one in Meta's dialog"
                .into(),
        )
        .await,
        [waba_id] => {
            engine
                .store
                .save_signup_data(&run.id, event, waba_id, None, None, now)
                .await?;
            Ok(())
        }
        several => {
            let mut choices = Vec::new();
            for waba_id in several {
                let phones = match engine.graph.waba_phone_numbers(token, waba_id).await {
                    Ok(phones) => phones,
                    Err(error) => {
                        return fail(format!(
                            "cannot read the numbers of WhatsApp Business Account {waba_id}: {error}"
                        ))
                        .await
                    }
                };
                let fresh = steps::fresh_numbers(engine, &run.workspace_id, &phones).await?;
                choices.extend(fresh.iter().map(|phone| Choice::of(waba_id, phone)));
            }
            match choices.as_slice() {
                [] => fail(format!(
                    "none of the {} WhatsApp Business Accounts granted has a number to connect yet; add one in WhatsApp Manager, then connect again",
                    several.len()
                ))
                .await,
                [one] => {
                    engine
                        .store
                        .save_signup_data(
                            &run.id,
                            event,
                            &one.waba_id,
                            Some(&one.phone_number_id),
                            None,
                            now,
                        )
                        .await?;
                    Ok(())
                }
                _ => {
                    let json = serde_json::to_string(&choices).expect("choices serialize");
                    engine
                        .store
                        .offer_signup_choices(&run.id, event, &json, now)
                        .await?;
                    Ok(())
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_rfc_7636_s256() {
        // RFC 7636 Appendix B.
        assert_eq!(
            code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifiers_are_43_unreserved_characters_and_differ() {
        let (a, _) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        for verifier in [a, b] {
            assert_eq!(verifier.len(), 43);
            assert!(verifier
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"-._~".contains(&c)));
        }
    }

    #[test]
    fn only_plain_words_of_meta_are_quoted() {
        assert_eq!(
            meta_word(Some("user_denied")).as_deref(),
            Some("user_denied")
        );
        assert_eq!(meta_word(Some("Call +1 555 0100")), None);
        assert_eq!(meta_word(Some("")), None);
        assert!(signup_error_message("user_denied").contains("cancelled"));
        assert_eq!(
            signup_error_message("<script>"),
            "Connecting WhatsApp could not finish. Try again."
        );
        assert!(signup_error_message("state_used").contains("already used"));
    }
}
