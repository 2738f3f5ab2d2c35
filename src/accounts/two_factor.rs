//! Two-factor sign-in: a TOTP app enrolled per person, single-use recovery
//! codes, and the second step of signing in. The secret is sealed by the
//! token vault; codes and recovery codes are good once; every change is
//! audited without the secret or a code in it.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use serde_json::json;

use super::{
    credentials::{new_token, token_hash, verify_password},
    sessions::{audit_for_user, start_session},
    totp::TotpSecret,
    Error, Session, SessionToken, User,
};
use crate::{
    config::TwoFactorPolicy,
    secret::Secret,
    store::{now_millis, Role, Store},
    vault::{KeyRing, Sealed},
};

/// How long the second step may follow the password.
pub const CHALLENGE_TTL_MS: i64 = 5 * 60 * 1000;
/// Codes tried on one half-done sign-in before the password is asked again.
const CHALLENGE_ATTEMPTS: i64 = 5;
/// Wrong codes one person may get in the sign-in window, from anywhere and
/// over any number of half-done sign-ins: a right password never resets
/// this, only a right code does.
const MAX_SECOND_FACTOR_FAILURES: i64 = 10;

fn second_factor_key(user_id: &str) -> String {
    format!("second_factor:{user_id}")
}
const RECOVERY_CODES: usize = 10;
/// The name authenticator apps show for the account.
const ISSUER: &str = "Switchboard";

/// What a TOTP secret's ciphertext is bound to (a copied row fails to open).
pub(crate) fn secret_binding(user_id: &str) -> Vec<u8> {
    format!("switchboard/totp/v1\0{user_id}").into_bytes()
}

/// The token of a sign-in waiting for its second factor (a cookie holds
/// it); only its hash is stored.
#[derive(Clone)]
pub struct ChallengeToken(pub String);

impl std::fmt::Debug for ChallengeToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChallengeToken([redacted])")
    }
}

/// How a password sign-in ends: signed in, or a code is needed first.
#[derive(Debug)]
pub enum SignInOutcome {
    SignedIn(SessionToken, User),
    SecondFactorNeeded(ChallengeToken),
}

impl SignInOutcome {
    /// The session, when no second factor was asked for.
    pub fn signed_in(self) -> Option<(SessionToken, User)> {
        match self {
            Self::SignedIn(token, user) => Some((token, user)),
            Self::SecondFactorNeeded(_) => None,
        }
    }
}

/// A new enrolment, shown once to the person setting up their app.
pub struct Enrolment {
    /// Base32, for typing into the app.
    pub secret: Secret<String>,
    /// `otpauth://` link, for the QR code.
    pub uri: Secret<String>,
}

/// Recovery codes, shown once; only their hashes are kept.
pub struct RecoveryCodes(pub Vec<String>);

impl std::fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecoveryCodes([{} redacted])", self.0.len())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TwoFactorStatus {
    pub enabled: bool,
    pub recovery_codes_left: i64,
    /// The operator requires it of this person (an owner somewhere).
    pub required: bool,
}

/// Whether `policy` requires a second factor of someone with `role`.
pub fn required_for(policy: TwoFactorPolicy, role: Role) -> bool {
    policy == TwoFactorPolicy::RequiredForOwners && role == Role::Owner
}

async fn required_of(store: &Store, policy: TwoFactorPolicy, user_id: &str) -> Result<bool, Error> {
    Ok(store
        .memberships_of(user_id)
        .await?
        .iter()
        .any(|m| required_for(policy, m.role)))
}

pub async fn two_factor_status(
    store: &Store,
    policy: TwoFactorPolicy,
    session: &Session,
) -> Result<TwoFactorStatus, Error> {
    let enabled = store
        .second_factor(&session.user.id)
        .await?
        .is_some_and(|f| f.confirmed);
    Ok(TwoFactorStatus {
        enabled,
        recovery_codes_left: if enabled {
            store.recovery_codes_left(&session.user.id).await?
        } else {
            0
        },
        required: required_of(store, policy, &session.user.id).await?,
    })
}

/// Starts enrolling an app: a new secret, pending until [`confirm`]ed.
/// Starting again replaces a pending secret; a confirmed one stays.
pub async fn begin(
    store: &Store,
    ring: &KeyRing,
    session: &Session,
    password: &str,
) -> Result<Enrolment, Error> {
    // A stolen session alone cannot bind its own app (and then lock the
    // owner out by signing every other session out).
    check_password(store, session, password).await?;
    let secret = TotpSecret::generate();
    let text = secret.to_base32();
    let sealed = ring.seal(&text, &secret_binding(&session.user.id));
    if !store
        .begin_second_factor(&session.user.id, &sealed, now_millis())
        .await?
    {
        return Err(Error::invalid(
            "code",
            "two-factor sign-in is on already; turn it off first to enrol another app",
        ));
    }
    Ok(Enrolment {
        uri: Secret::new(secret.otpauth_uri(ISSUER, &session.user.email)),
        secret: Secret::new(text),
    })
}

/// Confirms the pending enrolment with a code from the app: two-factor is
/// on, every other session of the person is signed out, and the recovery
/// codes are returned (once).
pub async fn confirm(
    store: &Store,
    ring: &KeyRing,
    session: &Session,
    code: &str,
) -> Result<RecoveryCodes, Error> {
    let user_id = &session.user.id;
    let pending = store
        .second_factor(user_id)
        .await?
        .filter(|f| !f.confirmed)
        .ok_or_else(|| Error::invalid("code", "start the set-up first"))?;
    let secret = open(ring, user_id, &pending.sealed)?;
    let step = secret
        .matching_step(code, now_millis() / 1000)
        .ok_or_else(|| Error::invalid("code", "that code does not match; check the app's clock"))?;
    let codes = new_recovery_codes();
    let now = now_millis();
    if !store
        .confirm_second_factor(user_id, &pending.sealed, step, &hashes(&codes), now)
        .await?
    {
        return Err(Error::invalid(
            "code",
            "the set-up was started again elsewhere; use the newest code",
        ));
    }
    store
        .revoke_other_sessions(user_id, session.token_hash(), now)
        .await?;
    audit_for_user(store, &session.user, "two_factor.enabled", json!({})).await?;
    Ok(codes)
}

/// Turns two-factor off, with the password; refused where the operator
/// requires it of this person.
pub async fn disable(
    store: &Store,
    policy: TwoFactorPolicy,
    session: &Session,
    password: &str,
) -> Result<(), Error> {
    check_password(store, session, password).await?;
    if required_of(store, policy, &session.user.id).await? {
        return Err(Error::invalid(
            "password",
            "this installation requires two-factor sign-in of owners",
        ));
    }
    store.delete_second_factor(&session.user.id).await?;
    audit_for_user(store, &session.user, "two_factor.disabled", json!({})).await?;
    Ok(())
}

/// New recovery codes, with the password; the old ones stop working.
pub async fn renew_recovery_codes(
    store: &Store,
    session: &Session,
    password: &str,
) -> Result<RecoveryCodes, Error> {
    check_password(store, session, password).await?;
    if !store
        .second_factor(&session.user.id)
        .await?
        .is_some_and(|f| f.confirmed)
    {
        return Err(Error::invalid("password", "two-factor sign-in is off"));
    }
    let codes = new_recovery_codes();
    store
        .replace_recovery_codes(&session.user.id, &hashes(&codes))
        .await?;
    audit_for_user(
        store,
        &session.user,
        "two_factor.recovery_codes_renewed",
        json!({}),
    )
    .await?;
    Ok(codes)
}

/// After a right password: the half-done sign-in, if the person has
/// two-factor on.
pub(super) async fn challenge_if_enrolled(
    store: &Store,
    user: &User,
) -> Result<Option<ChallengeToken>, Error> {
    if !store
        .second_factor(&user.id)
        .await?
        .is_some_and(|f| f.confirmed)
    {
        return Ok(None);
    }
    let (token, hash) = new_token();
    store
        .insert_sign_in_challenge(&hash, &user.id, now_millis() + CHALLENGE_TTL_MS)
        .await?;
    Ok(Some(ChallengeToken(token)))
}

/// The second step of signing in: a code from the app, or a recovery
/// code. Five wrong tries end the half-done sign-in; each also counts as a
/// failed sign-in from `address`.
pub async fn complete_sign_in(
    store: &Store,
    ring: &KeyRing,
    challenge: &str,
    code: &str,
    address: &str,
) -> Result<(SessionToken, User), Error> {
    let now = now_millis();
    let hash = token_hash(challenge);
    let expired = || Error::invalid("code", "this sign-in expired; enter your password again");
    let user_id = store
        .take_sign_in_challenge_attempt(&hash, CHALLENGE_ATTEMPTS, now)
        .await?
        .ok_or_else(expired)?;
    let user = store.user(&user_id).await?.ok_or_else(expired)?;
    let factor = store.second_factor(&user_id).await?.filter(|f| f.confirmed);
    let Some(factor) = factor else {
        // Turned off meanwhile: the password alone was enough after all.
        return finish(store, &hash, &user, "none", address).await;
    };
    // Counted before the code is checked (a parallel burst cannot pass
    // the limit), taken back by a right code.
    super::sessions::take_attempt(
        store,
        &second_factor_key(&user_id),
        MAX_SECOND_FACTOR_FAILURES,
        now,
    )
    .await?;
    // A secret this server cannot open leaves the recovery codes.
    let step = match open(ring, &user_id, &factor.sealed) {
        Ok(secret) => secret.matching_step(code, now / 1000),
        Err(_) => None,
    };
    let used = match step {
        Some(step) if store.take_second_factor_step(&user_id, step).await? => Some("app"),
        _ => match recovery_code_hash(code) {
            Some(hash) if store.use_recovery_code(&user_id, &hash, now).await? => {
                Some("recovery_code")
            }
            _ => None,
        },
    };
    let Some(used) = used else {
        super::sessions::count_failure(store, &user.email, address, now).await?;
        audit_for_user(
            store,
            &user,
            "sign_in.second_factor_failed",
            json!({ "address": address }),
        )
        .await?;
        return Err(Error::invalid(
            "code",
            "that code is not right (or was used already)",
        ));
    };
    finish(store, &hash, &user, used, address).await
}

async fn finish(
    store: &Store,
    challenge_hash: &str,
    user: &User,
    second_factor: &str,
    address: &str,
) -> Result<(SessionToken, User), Error> {
    store
        .delete_sign_in_challenge(challenge_hash, now_millis())
        .await?;
    store
        .clear_sign_in_failures(&second_factor_key(&user.id))
        .await?;
    let token = start_session(store, user).await?;
    audit_for_user(
        store,
        user,
        "sign_in",
        json!({ "address": address, "second_factor": second_factor }),
    )
    .await?;
    Ok((token, user.clone()))
}

fn open(ring: &KeyRing, user_id: &str, sealed: &Sealed) -> Result<TotpSecret, Error> {
    let text = ring
        .open(sealed, &secret_binding(user_id))
        .map_err(|error| {
            tracing::error!(%error, "a two-factor secret does not open");
            Error::invalid(
                "code",
                "your two-factor secret cannot be read on this server; use a recovery code",
            )
        })?;
    TotpSecret::from_base32(text.expose())
        .ok_or_else(|| Error::invalid("code", "stored secret is unreadable"))
}

async fn check_password(store: &Store, session: &Session, password: &str) -> Result<(), Error> {
    let stored = store
        .password_hash(&session.user.id)
        .await?
        .ok_or(Error::Unauthenticated)?;
    if verify_password(password, &stored).await {
        Ok(())
    } else {
        Err(Error::invalid("password", "the password is incorrect"))
    }
}

/// Ten codes of ten characters from an alphabet without look-alikes,
/// written `xxxxx-xxxxx`.
fn new_recovery_codes() -> RecoveryCodes {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let codes = (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; 10];
            OsRng.fill_bytes(&mut bytes);
            let chars: String = bytes
                .iter()
                .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
                .collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect();
    RecoveryCodes(codes)
}

fn hashes(codes: &RecoveryCodes) -> Vec<String> {
    codes
        .0
        .iter()
        .filter_map(|c| recovery_code_hash(c))
        .collect()
}

/// The stored form of a recovery code as typed (case, dashes and spaces
/// ignored); None for what cannot be one.
fn recovery_code_hash(typed: &str) -> Option<String> {
    let plain: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (plain.len() == 10).then(|| token_hash(&format!("recovery:{plain}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_distinct_and_read_as_typed() {
        let codes = new_recovery_codes();
        assert_eq!(codes.0.len(), RECOVERY_CODES);
        let unique: std::collections::HashSet<_> = codes.0.iter().collect();
        assert_eq!(unique.len(), RECOVERY_CODES);
        let code = &codes.0[0];
        assert_eq!(code.len(), 11);
        let typed = code.to_uppercase().replace('-', " ");
        assert_eq!(recovery_code_hash(&typed), recovery_code_hash(code));
        assert_eq!(recovery_code_hash("123456"), None);
        assert!(!format!("{codes:?}").contains(code.as_str()));
    }
}
