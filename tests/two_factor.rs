//! Two-factor sign-in on both backends: enrolment, the second step with
//! an app's code or a recovery code, replays and guesses refused, the
//! operator's requirement for owners, key rotation, and the audit trail.

mod common;

use switchboard::{
    accounts::{
        self, totp::TotpSecret, two_factor, Role, Session, SessionToken, SignInOutcome, SignUp,
    },
    audit,
    config::{parse_key_ring, TwoFactorPolicy},
    store::{now_millis, Store},
    test_support::{TestBackend, TestDatabase},
    tokens,
    vault::{generate_key_entry, KeyRing},
    Error,
};

on_both_backends!(
    an_app_is_enrolled_then_asked_for_at_every_sign_in,
    a_recovery_code_signs_in_once,
    guessing_codes_ends_the_sign_in_and_counts_as_failures,
    owners_must_enrol_when_the_operator_requires_it,
    rotating_keys_reseals_the_secret,
);

const PASSWORD: &str = "a long enough password";
const EMAIL: &str = "owner@example.com";
const ADDRESS: &str = "192.0.2.10";

struct Setup {
    _db: TestDatabase,
    store: Store,
    ring: KeyRing,
    keys: String,
    owner: Session,
}

async fn setup(backend: TestBackend) -> Setup {
    let db = TestDatabase::create(backend).await;
    let store = db.open_store().await;
    let keys = generate_key_entry("k1");
    let ring = KeyRing::new(parse_key_ring(&keys).unwrap()).unwrap();
    let token = accounts::sign_up_owner(
        &store,
        &SignUp {
            email: EMAIL,
            name: "Olive Owner",
            password: PASSWORD,
            workspace_name: "Acme",
        },
    )
    .await
    .unwrap();
    let owner = session(&store, &token, TwoFactorPolicy::Optional).await;
    Setup {
        _db: db,
        store,
        ring,
        keys,
        owner,
    }
}

async fn session(store: &Store, token: &SessionToken, policy: TwoFactorPolicy) -> Session {
    accounts::authenticate(store, &token.0, policy)
        .await
        .unwrap()
}

fn step_now() -> i64 {
    now_millis() / 1000 / switchboard::accounts::totp::STEP_SECS
}

/// Enrols the owner's app; returns its secret and the recovery codes.
async fn enrol(s: &Setup, session: &Session) -> (TotpSecret, Vec<String>) {
    let enrolment = two_factor::begin(&s.store, &s.ring, session, PASSWORD)
        .await
        .unwrap();
    let secret = TotpSecret::from_base32(enrolment.secret.expose()).unwrap();
    assert!(enrolment
        .uri
        .expose()
        .starts_with("otpauth://totp/Switchboard"));
    let codes = two_factor::confirm(&s.store, &s.ring, session, &secret.code_at_step(step_now()))
        .await
        .unwrap();
    (secret, codes.0)
}

async fn password_step(s: &Setup, address: &str) -> String {
    match accounts::sign_in(&s.store, EMAIL, PASSWORD, address)
        .await
        .unwrap()
    {
        SignInOutcome::SecondFactorNeeded(challenge) => challenge.0,
        SignInOutcome::SignedIn(..) => panic!("signed in without a second factor"),
    }
}

async fn an_app_is_enrolled_then_asked_for_at_every_sign_in(backend: TestBackend) {
    let s = setup(backend).await;
    let (other, _) = accounts::sign_in(&s.store, EMAIL, PASSWORD, ADDRESS)
        .await
        .unwrap()
        .signed_in()
        .expect("no second factor yet");

    // Enrolling needs the password, not only the session.
    assert!(
        two_factor::begin(&s.store, &s.ring, &s.owner, "wrong password")
            .await
            .is_err()
    );
    let enrolment = two_factor::begin(&s.store, &s.ring, &s.owner, PASSWORD)
        .await
        .unwrap();
    let secret = TotpSecret::from_base32(enrolment.secret.expose()).unwrap();
    // A wrong first code leaves two-factor off.
    let wrong = two_factor::confirm(&s.store, &s.ring, &s.owner, "000000").await;
    assert!(
        matches!(wrong, Err(Error::Invalid { field: "code", .. })),
        "{wrong:?}"
    );
    let confirmed_step = step_now();
    let codes = two_factor::confirm(
        &s.store,
        &s.ring,
        &s.owner,
        &secret.code_at_step(confirmed_step),
    )
    .await
    .unwrap();
    assert_eq!(codes.0.len(), 10);
    // Turning it on signed the other session out, and kept this one.
    assert!(matches!(
        accounts::authenticate(&s.store, &other.0, TwoFactorPolicy::Optional).await,
        Err(Error::Unauthenticated)
    ));
    let status = two_factor::two_factor_status(&s.store, TwoFactorPolicy::Optional, &s.owner)
        .await
        .unwrap();
    assert!(status.enabled && !status.required);
    assert_eq!(status.recovery_codes_left, 10);
    // A second enrolment cannot replace a confirmed one.
    assert!(two_factor::begin(&s.store, &s.ring, &s.owner, PASSWORD)
        .await
        .is_err());

    // The password alone no longer signs in.
    let challenge = password_step(&s, ADDRESS).await;
    let wrong = accounts::complete_sign_in(&s.store, &s.ring, &challenge, "123456", ADDRESS).await;
    assert!(matches!(wrong, Err(Error::Invalid { field: "code", .. })));
    // The code confirming the app was used: it does not sign in again.
    let replayed = accounts::complete_sign_in(
        &s.store,
        &s.ring,
        &challenge,
        &secret.code_at_step(confirmed_step),
        ADDRESS,
    )
    .await;
    assert!(replayed.is_err(), "a used code signed in");
    let next = secret.code_at_step(step_now() + 1);
    let (token, user) = accounts::complete_sign_in(&s.store, &s.ring, &challenge, &next, ADDRESS)
        .await
        .unwrap();
    assert_eq!(user.email, EMAIL);
    session(&s.store, &token, TwoFactorPolicy::Optional).await;
    // The finished sign-in is gone, and the code with it.
    let again = accounts::complete_sign_in(&s.store, &s.ring, &challenge, &next, ADDRESS).await;
    assert!(matches!(again, Err(Error::Invalid { .. })));
    let fresh = password_step(&s, ADDRESS).await;
    assert!(
        accounts::complete_sign_in(&s.store, &s.ring, &fresh, &next, ADDRESS)
            .await
            .is_err(),
        "the same code signed in twice"
    );

    // Turning it off needs the password; then the password alone works.
    assert!(two_factor::disable(
        &s.store,
        TwoFactorPolicy::Optional,
        &s.owner,
        "wrong password"
    )
    .await
    .is_err());
    two_factor::disable(&s.store, TwoFactorPolicy::Optional, &s.owner, PASSWORD)
        .await
        .unwrap();
    assert!(accounts::sign_in(&s.store, EMAIL, PASSWORD, "192.0.2.11")
        .await
        .unwrap()
        .signed_in()
        .is_some());

    // Audited, with neither the secret nor a code in the log.
    let caller = s.owner.caller().unwrap();
    let entries = audit::entries(&s.store, &caller, 100).await.unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    for action in [
        "two_factor.enabled",
        "two_factor.disabled",
        "sign_in.second_factor_failed",
    ] {
        assert!(
            actions.contains(&action),
            "{action} missing from {actions:?}"
        );
    }
    assert!(entries
        .iter()
        .any(|e| e.action == "sign_in" && e.detail.contains("\"second_factor\":\"app\"")));
    let log = format!("{entries:?}");
    assert!(!log.contains(enrolment.secret.expose().as_str()));
    assert!(!log.contains(&next));
    assert!(!codes.0.iter().any(|c| log.contains(c.as_str())));
}

async fn a_recovery_code_signs_in_once(backend: TestBackend) {
    let s = setup(backend).await;
    let (_, codes) = enrol(&s, &s.owner).await;
    let challenge = password_step(&s, ADDRESS).await;
    // Typed as people type them: capitals, a space for the dash.
    let typed = codes[3].to_uppercase().replace('-', " ");
    accounts::complete_sign_in(&s.store, &s.ring, &challenge, &typed, ADDRESS)
        .await
        .unwrap();
    let challenge = password_step(&s, ADDRESS).await;
    assert!(
        accounts::complete_sign_in(&s.store, &s.ring, &challenge, &codes[3], ADDRESS)
            .await
            .is_err(),
        "a recovery code signed in twice"
    );
    let status = two_factor::two_factor_status(&s.store, TwoFactorPolicy::Optional, &s.owner)
        .await
        .unwrap();
    assert_eq!(status.recovery_codes_left, 9);

    // New codes replace the old ones, with the password.
    assert!(
        two_factor::renew_recovery_codes(&s.store, &s.owner, "wrong password")
            .await
            .is_err()
    );
    let renewed = two_factor::renew_recovery_codes(&s.store, &s.owner, PASSWORD)
        .await
        .unwrap();
    assert!(
        accounts::complete_sign_in(&s.store, &s.ring, &challenge, &codes[4], ADDRESS)
            .await
            .is_err(),
        "an old recovery code still works"
    );
    accounts::complete_sign_in(&s.store, &s.ring, &challenge, &renewed.0[0], ADDRESS)
        .await
        .unwrap();
    let entries = audit::entries(&s.store, &s.owner.caller().unwrap(), 100)
        .await
        .unwrap();
    assert!(entries
        .iter()
        .any(|e| e.action == "sign_in" && e.detail.contains("recovery_code")));
    assert!(entries
        .iter()
        .any(|e| e.action == "two_factor.recovery_codes_renewed"));
}

async fn guessing_codes_ends_the_sign_in_and_counts_as_failures(backend: TestBackend) {
    let s = setup(backend).await;
    let (secret, _) = enrol(&s, &s.owner).await;
    let challenge = password_step(&s, ADDRESS).await;
    for guess in ["111111", "222222", "333333", "444444", "555555"] {
        assert!(
            accounts::complete_sign_in(&s.store, &s.ring, &challenge, guess, ADDRESS)
                .await
                .is_err()
        );
    }
    // Five tries: the half-done sign-in is over, even for the right code.
    let right = secret.code_at_step(step_now() + 1);
    let over = accounts::complete_sign_in(&s.store, &s.ring, &challenge, &right, ADDRESS).await;
    assert!(
        matches!(&over, Err(Error::Invalid { message, .. }) if message.contains("expired")),
        "{over:?}"
    );
    // And each wrong code counted like a wrong password from that address.
    let locked = accounts::sign_in(&s.store, EMAIL, PASSWORD, ADDRESS).await;
    assert!(
        matches!(locked, Err(Error::RateLimited { .. })),
        "{locked:?}"
    );
    // A right password does not reset the wrong codes: fresh half-done
    // sign-ins from fresh addresses run into the person's own limit.
    let mut limited = false;
    for round in 0..4 {
        let address = format!("198.51.100.{round}");
        let challenge = password_step(&s, &address).await;
        for _ in 0..4 {
            match accounts::complete_sign_in(&s.store, &s.ring, &challenge, "999999", &address)
                .await
            {
                Err(Error::RateLimited { .. }) => limited = true,
                other => assert!(other.is_err()),
            }
        }
    }
    assert!(limited, "wrong codes were never limited across sign-ins");
    // A made-up challenge opens nothing.
    let made_up =
        accounts::complete_sign_in(&s.store, &s.ring, "made-up", &right, "192.0.2.99").await;
    assert!(matches!(made_up, Err(Error::Invalid { .. })));
}

async fn owners_must_enrol_when_the_operator_requires_it(backend: TestBackend) {
    let s = setup(backend).await;
    let required = TwoFactorPolicy::RequiredForOwners;
    // An admin of the workspace is not held to it.
    let invite = accounts::invite(&s.store, &s.owner.caller().unwrap(), Role::Admin)
        .await
        .unwrap();
    let admin_token = accounts::sign_up_with_invite(
        &s.store,
        &invite,
        "admin@example.com",
        "Ada Admin",
        PASSWORD,
    )
    .await
    .unwrap();
    let admin = session(&s.store, &admin_token, required).await;
    assert_eq!(admin.caller().unwrap().role, Role::Admin);

    let token = accounts::sign_in(&s.store, EMAIL, PASSWORD, ADDRESS)
        .await
        .unwrap()
        .signed_in()
        .unwrap();
    let owner = session(&s.store, &token.0, required).await;
    assert!(matches!(owner.caller(), Err(Error::SecondFactorRequired)));
    let status = two_factor::two_factor_status(&s.store, required, &owner)
        .await
        .unwrap();
    assert!(status.required && !status.enabled);

    enrol(&s, &owner).await;
    let owner = session(&s.store, &token.0, required).await;
    assert_eq!(owner.caller().unwrap().role, Role::Owner);
    // An owner cannot turn it off while it is required.
    let refused = two_factor::disable(&s.store, required, &owner, PASSWORD).await;
    assert!(matches!(refused, Err(Error::Invalid { .. })));
    assert!(
        two_factor::two_factor_status(&s.store, required, &owner)
            .await
            .unwrap()
            .enabled
    );
}

async fn rotating_keys_reseals_the_secret(backend: TestBackend) {
    let s = setup(backend).await;
    let (secret, _) = enrol(&s, &s.owner).await;
    let rotated_keys = format!("{},{}", generate_key_entry("k2"), s.keys);
    let rotated = KeyRing::new(parse_key_ring(&rotated_keys).unwrap()).unwrap();
    let report = tokens::rotate_keys(&s.store, &rotated).await.unwrap();
    assert_eq!(report.resealed, 1);
    // The old key can go: the secret opens with the new one alone, and
    // a ring without the new key is refused.
    let new_only =
        KeyRing::new(parse_key_ring(rotated_keys.split(',').next().unwrap()).unwrap()).unwrap();
    tokens::check_key_ring(&s.store, &new_only).await.unwrap();
    assert!(tokens::check_key_ring(&s.store, &s.ring).await.is_err());
    let challenge = password_step(&s, ADDRESS).await;
    accounts::complete_sign_in(
        &s.store,
        &new_only,
        &challenge,
        &secret.code_at_step(step_now() + 1),
        ADDRESS,
    )
    .await
    .unwrap();
}
