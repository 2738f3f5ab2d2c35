//! The OAuth redirect path of Embedded Signup (Meta's dialog as a page,
//! with `state` and PKCE), against the sandbox's dialog over loopback
//! HTTP, on both backends: the dialog is driven as a browser drives it
//! (its page, its finish call, its redirect), and the callback's query
//! goes to the engine as the server's route passes it.

mod common;

use common::meta::{engine_for, setup, Env, PIN};
use serde_json::json;
use switchboard::{
    accounts::{self, token_hash, Caller, Role},
    config::TwoFactorPolicy,
    numbers::NumberStatus,
    onboarding::{
        self,
        redirect::{self, Callback, CallbackError, Refusal},
        Awaiting, OnboardingStep, Progress, RunState, FINISH_ONLY_WABA,
        FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING,
    },
    store::Store,
    test_support::TestBackend,
    tokens,
    vault::{generate_key_entry, KeyRing},
};
use url::Url;

on_both_backends!(
    the_redirect_path_onboards_a_number_with_state_and_pkce,
    a_business_app_number_onboards_through_the_redirect_path,
    a_replayed_state_is_refused_and_audited,
    a_forged_or_missing_state_is_refused_and_audited,
    a_state_of_another_user_or_workspace_is_refused,
    an_expired_state_is_refused,
    a_state_without_its_verifier_is_refused,
    the_person_cancelling_shows_metas_reason_and_spends_the_state,
    a_code_meta_refuses_fails_the_run_at_the_exchange,
    a_redirect_under_way_survives_a_key_rotation,
);

/// A client that shows redirects instead of following them, as the test
/// reads each hop.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The app's Valid OAuth Redirect URIs name this installation's callback
/// (Strict Mode).
async fn allow_callback(env: &Env) {
    let uri = redirect::redirect_uri(&env.engine.config);
    env.control_call(
        reqwest::Method::PUT,
        "/_sandbox/app",
        Some(json!({ "redirect_uris": [uri] })),
    )
    .await;
}

fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Starts a redirect for `caller`, with the callback registered at Meta:
/// the dialog's URL.
async fn start(env: &Env, caller: &Caller, business_app: bool) -> Url {
    allow_callback(env).await;
    redirect::start(&env.engine, caller, business_app)
        .await
        .unwrap()
}

async fn progress(env: &Env, run: &str) -> Progress {
    onboarding::progress(&env.engine, &env.caller, run)
        .await
        .unwrap()
}

/// Opens Meta's dialog at `url` as the browser would: its page, and the
/// dialog session the page carries.
async fn open_dialog(url: &Url) -> String {
    let response = browser().get(url.as_str()).send().await.unwrap();
    let status = response.status();
    let page = response.text().await.unwrap();
    assert_eq!(status, 200, "the dialog's page: {page}");
    page.split("\"session\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page names its dialog session")
        .to_string()
}

/// Follows one redirect of the sandbox's: where it sends the browser.
async fn location_after(env: &Env, path: &str) -> Url {
    let response = browser()
        .get(format!("{}{path}", env.sandbox.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302, "{path}");
    let location = response.headers()["location"].to_str().unwrap();
    Url::parse(location).unwrap()
}

/// Finishes the dialog's signup with `assets` (the page's form fields):
/// Meta's redirect back to the callback.
async fn finish_dialog(env: &Env, session: &str, assets: serde_json::Value) -> Url {
    let mut body = json!({ "app_id": "", "config_id": "", "dialog_session": session });
    for (key, value) in assets.as_object().unwrap() {
        body[key] = value.clone();
    }
    let answer = env.control("/dialog/embedded_signup/finish", body).await;
    assert!(answer.get("code").is_none(), "the code goes by redirect");
    let next = answer["continue"].as_str().expect("where the page goes");
    location_after(env, next).await
}

/// The callback's query as the route reads it.
fn callback_of(location: &Url) -> Callback {
    Callback {
        code: param(location, "code"),
        state: param(location, "state"),
        error: param(location, "error"),
        error_reason: param(location, "error_reason"),
        error_description: param(location, "error_description"),
    }
}

/// The demo's business, WABA and its new (unregistered) number.
fn demo_assets(env: &Env) -> serde_json::Value {
    json!({
        "business": env.demo.business_id,
        "waba": env.demo.waba_id,
        "phone": env.demo.new_phone_number_id,
    })
}

/// Starts a redirect and comes back from Meta's dialog with `assets`: the
/// callback's query.
async fn through_dialog(env: &Env, caller: &Caller, assets: serde_json::Value) -> Callback {
    let dialog = start(env, caller, false).await;
    let session = open_dialog(&dialog).await;
    callback_of(&finish_dialog(env, &session, assets).await)
}

/// The owner's trip through the dialog with the demo's assets.
async fn come_back(env: &Env) -> Callback {
    through_dialog(env, &env.caller, demo_assets(env)).await
}

/// How the callback's state is stored.
fn hash_of(callback: &Callback) -> String {
    token_hash(callback.state.as_deref().expect("a state"))
}

async fn refusal_reasons(env: &Env) -> Vec<String> {
    switchboard::audit::entries(&env.engine.store, &env.caller, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "onboarding.refused")
        .map(|e| {
            let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap();
            detail["reason"].as_str().unwrap().to_string()
        })
        .collect()
}

/// Why `caller` coming back with `callback` is refused.
async fn refusal(env: &Env, caller: &Caller, callback: &Callback) -> Refusal {
    match redirect::finish(&env.engine, caller, callback).await {
        Err(CallbackError::Refused(refusal)) => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Changes the stored row of the callback's state (`assignments` as in
/// SQL's SET), on whichever backend: test plumbing for the times and seals
/// a test cannot wait for or break otherwise.
async fn set_on_state(env: &Env, callback: &Callback, assignments: &str) {
    let sql = format!(
        "UPDATE oauth_states SET {assignments} WHERE state_hash = '{}'",
        hash_of(callback)
    );
    match &env.engine.store {
        Store::Sqlite(db) => sqlx::query(&sql).execute(db.pool()).await.map(|_| ()),
        Store::Postgres(db) => sqlx::query(&sql).execute(db.pool()).await.map(|_| ()),
    }
    .unwrap();
}

async fn the_redirect_path_onboards_a_number_with_state_and_pkce(backend: TestBackend) {
    let env = setup(backend).await;
    let dialog = start(&env, &env.caller, false).await;

    // The dialog's URL: the sandbox's in demo mode, Meta's parameters.
    let sandbox = Url::parse(&env.sandbox.base_url()).unwrap();
    assert_eq!(dialog.origin(), sandbox.origin());
    assert_eq!(dialog.path(), "/v25.0/dialog/oauth");
    let config = &env.engine.config;
    for (name, value) in [
        ("client_id", config.meta.app_id.as_str()),
        ("config_id", config.meta.config_id.as_str()),
        ("response_type", "code"),
        ("override_default_response_type", "true"),
        ("code_challenge_method", "S256"),
        (
            "redirect_uri",
            "http://127.0.0.1:3000/onboarding/meta/callback",
        ),
    ] {
        assert_eq!(param(&dialog, name).as_deref(), Some(value), "{name}");
    }
    let extras: serde_json::Value =
        serde_json::from_str(&param(&dialog, "extras").unwrap()).unwrap();
    assert_eq!(
        extras,
        json!({ "setup": {}, "featureType": "", "sessionInfoVersion": "3" })
    );
    let state = param(&dialog, "state").unwrap();
    let challenge = param(&dialog, "code_challenge").unwrap();
    assert_eq!(state.len(), 43);
    assert_eq!(challenge.len(), 43, "base64url of SHA-256, no padding");
    // Server-side: the state's hash only, the verifier sealed.
    let stored = env
        .engine
        .store
        .oauth_state(&token_hash(&state))
        .await
        .unwrap()
        .expect("the state is stored by its hash");
    assert_eq!(stored.user_id, env.caller.user.id);
    assert!(!stored.business_app);
    let sealed = stored.verifier.expect("the verifier is kept, sealed");
    assert_eq!(sealed.key_id, "k1");
    assert!(env
        .engine
        .store
        .oauth_state(&state)
        .await
        .unwrap()
        .is_none());

    // Meta's dialog, as the browser goes through it.
    let session = open_dialog(&dialog).await;
    let back = finish_dialog(&env, &session, demo_assets(&env)).await;
    assert_eq!(
        back.as_str().split('?').next(),
        Some(redirect::redirect_uri(config).as_str())
    );
    assert_eq!(param(&back, "state").as_deref(), Some(state.as_str()));
    let run = redirect::finish(&env.engine, &env.caller, &callback_of(&back))
        .await
        .expect("the callback starts a run");

    // Used once, and the verifier gone with it.
    let used = env
        .engine
        .store
        .oauth_state(&token_hash(&state))
        .await
        .unwrap()
        .unwrap();
    assert!(used.used_at.is_some());
    assert_eq!(used.verifier, None);

    // The WABA came from debug_token; it has two numbers not connected
    // here, so the person picks (no signup message named one).
    env.advance_onboarding().await;
    let picking = progress(&env, &run).await;
    assert_eq!(picking.waiting_for, Some(Awaiting::Number), "{picking:?}");
    assert_eq!(picking.waba_id.as_deref(), Some(env.demo.waba_id.as_str()));
    let mut offered: Vec<&str> = picking
        .choices
        .iter()
        .map(|c| c.phone_number_id.as_str())
        .collect();
    offered.sort();
    let mut demo_numbers = [
        env.demo.phone_number_id.as_str(),
        env.demo.new_phone_number_id.as_str(),
    ];
    demo_numbers.sort();
    assert_eq!(offered, demo_numbers);
    let stored_run = env.engine.store.onboarding(&run).await.unwrap().unwrap();
    assert_eq!(stored_run.finish_event.as_deref(), Some(FINISH_ONLY_WABA));

    onboarding::choose_number(
        &env.engine,
        &env.caller,
        &run,
        &env.demo.new_phone_number_id,
    )
    .await
    .unwrap();
    env.advance_onboarding().await;
    let at_pin = progress(&env, &run).await;
    assert_eq!(at_pin.waiting_for, Some(Awaiting::Pin), "{at_pin:?}");
    onboarding::submit_pin(&env.engine, &env.caller, &run, PIN)
        .await
        .unwrap();
    env.advance_onboarding().await;
    let live = progress(&env, &run).await;
    assert!(live.is_live(), "{live:?}");
    assert_eq!(
        env.status_of(&env.demo.new_phone_number_id).await,
        NumberStatus::Live
    );
    assert!(env.audited("number.connected").await);
    assert!(refusal_reasons(&env).await.is_empty());
}

async fn a_business_app_number_onboards_through_the_redirect_path(backend: TestBackend) {
    let env = setup(backend).await;
    let dialog = start(&env, &env.caller, true).await;
    let extras: serde_json::Value =
        serde_json::from_str(&param(&dialog, "extras").unwrap()).unwrap();
    assert_eq!(extras["featureType"], "whatsapp_business_app_onboarding");

    // A new WABA holding only the app's number: the run takes it.
    let session = open_dialog(&dialog).await;
    let back = finish_dialog(
        &env,
        &session,
        json!({
            "business": env.demo.business_id,
            "waba": "__new",
            "new_waba": "Acme on the app",
            "app_number": "__new",
            "new_app_number": "15550007777",
            "new_app_number_name": "Acme Bakery",
        }),
    )
    .await;
    let run = redirect::finish(&env.engine, &env.caller, &callback_of(&back))
        .await
        .unwrap();
    env.advance_onboarding().await;
    let live = progress(&env, &run).await;
    assert!(live.business_app, "{live:?}");
    assert!(live.is_live(), "no PIN for a business app number: {live:?}");
    let stored_run = env.engine.store.onboarding(&run).await.unwrap().unwrap();
    assert_eq!(
        stored_run.finish_event.as_deref(),
        Some(FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING)
    );
    let phone = live.phone_number_id.unwrap();
    assert_eq!(env.status_of(&phone).await, NumberStatus::Live);
}

async fn a_replayed_state_is_refused_and_audited(backend: TestBackend) {
    let env = setup(backend).await;
    let callback = come_back(&env).await;
    let first = redirect::finish(&env.engine, &env.caller, &callback)
        .await
        .unwrap();
    assert_eq!(
        refusal(&env, &env.caller, &callback).await,
        Refusal::StateUsed
    );
    assert_eq!(refusal_reasons(&env).await, ["state_used"]);
    // No second run: the latest is still the first.
    assert_eq!(env.latest().await.id, first);

    // Two callbacks racing with one fresh state: exactly one run.
    let callback = come_back(&env).await;
    let (a, b) = tokio::join!(
        redirect::finish(&env.engine, &env.caller, &callback),
        redirect::finish(&env.engine, &env.caller, &callback),
    );
    let outcomes = [a, b];
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1);
    assert!(outcomes
        .iter()
        .any(|o| matches!(o, Err(CallbackError::Refused(Refusal::StateUsed)))));
}

async fn a_forged_or_missing_state_is_refused_and_audited(backend: TestBackend) {
    let env = setup(backend).await;
    let real = come_back(&env).await;
    let forged = Callback {
        state: Some("a-state-this-installation-never-made-000000".into()),
        ..real.clone()
    };
    assert_eq!(
        refusal(&env, &env.caller, &forged).await,
        Refusal::StateUnknown
    );
    let absurd = Callback {
        state: Some("x".repeat(10_000)),
        ..real.clone()
    };
    assert_eq!(
        refusal(&env, &env.caller, &absurd).await,
        Refusal::StateUnknown
    );
    let missing = Callback {
        state: None,
        ..real.clone()
    };
    assert_eq!(
        refusal(&env, &env.caller, &missing).await,
        Refusal::StateMissing
    );
    assert_eq!(
        refusal_reasons(&env).await,
        ["state_missing", "state_unknown", "state_unknown"],
        "newest first"
    );
    // No code at all is bad input, not an attack: not audited, and the
    // state stays for the real callback.
    let no_code = Callback {
        code: None,
        ..real.clone()
    };
    assert!(matches!(
        redirect::finish(&env.engine, &env.caller, &no_code).await,
        Err(CallbackError::NoCode)
    ));
    assert_eq!(refusal_reasons(&env).await.len(), 3);
    redirect::finish(&env.engine, &env.caller, &real)
        .await
        .expect("the real callback still works");
}

/// A second admin of the workspace, signed up through an invitation.
async fn second_admin(env: &Env) -> Caller {
    let invite = accounts::invite(&env.engine.store, &env.caller, Role::Admin)
        .await
        .unwrap();
    let token = accounts::sign_up_with_invite(
        &env.engine.store,
        &invite,
        "ana@example.com",
        "Ana",
        "a long enough password",
    )
    .await
    .unwrap();
    accounts::authenticate(&env.engine.store, &token.0, TwoFactorPolicy::Optional)
        .await
        .unwrap()
        .caller()
        .unwrap()
}

async fn a_state_of_another_user_or_workspace_is_refused(backend: TestBackend) {
    let env = setup(backend).await;
    let ana = second_admin(&env).await;
    assert_eq!(ana.workspace.id, env.caller.workspace.id);
    let owners = come_back(&env).await;
    // Ana comes back with the owner's code and state (a login CSRF).
    assert_eq!(
        refusal(&env, &ana, &owners).await,
        Refusal::StateOfAnotherUser
    );
    // The owner, acting in another workspace of theirs.
    let elsewhere = env.in_another_workspace().await;
    assert_eq!(
        refusal(&env, &elsewhere, &owners).await,
        Refusal::StateOfAnotherWorkspace
    );
    assert_eq!(refusal_reasons(&env).await, ["state_other_user"]);
    // Neither spent it: the owner, here, still can.
    redirect::finish(&env.engine, &env.caller, &owners)
        .await
        .expect("the state is still the owner's to use");
}

async fn an_expired_state_is_refused(backend: TestBackend) {
    let env = setup(backend).await;
    let callback = come_back(&env).await;
    // Ten minutes and a second have passed since the start.
    let ms = redirect::STATE_TTL_MS + 1000;
    set_on_state(
        &env,
        &callback,
        &format!("created_at = created_at - {ms}, expires_at = expires_at - {ms}"),
    )
    .await;
    let hash = hash_of(&callback);
    assert_eq!(
        refusal(&env, &env.caller, &callback).await,
        Refusal::StateExpired
    );
    assert_eq!(refusal_reasons(&env).await, ["state_expired"]);
    let stored = env.engine.store.oauth_state(&hash).await.unwrap().unwrap();
    assert_eq!(stored.used_at, None, "an expired state is not taken");
}

async fn a_state_without_its_verifier_is_refused(backend: TestBackend) {
    let env = setup(backend).await;
    // Gone from the row.
    let callback = come_back(&env).await;
    set_on_state(
        &env,
        &callback,
        "key_id = NULL, nonce = NULL, ciphertext = NULL",
    )
    .await;
    assert_eq!(
        refusal(&env, &env.caller, &callback).await,
        Refusal::VerifierMissing
    );
    // Sealed for another state's row: it does not open here.
    let first = come_back(&env).await;
    let second = come_back(&env).await;
    let first_hash = hash_of(&first);
    let from_first = |column: &str| {
        format!("{column} = (SELECT {column} FROM oauth_states WHERE state_hash = '{first_hash}')")
    };
    let columns = ["key_id", "nonce", "ciphertext"].map(from_first).join(", ");
    set_on_state(&env, &second, &columns).await;
    assert_eq!(
        refusal(&env, &env.caller, &second).await,
        Refusal::VerifierMissing
    );
    assert_eq!(
        refusal_reasons(&env).await,
        ["verifier_missing", "verifier_missing"]
    );
    // Either way the state is spent.
    assert_eq!(
        refusal(&env, &env.caller, &second).await,
        Refusal::StateUsed
    );
}

async fn the_person_cancelling_shows_metas_reason_and_spends_the_state(backend: TestBackend) {
    let env = setup(backend).await;
    let dialog = start(&env, &env.caller, false).await;
    let session = open_dialog(&dialog).await;
    let back = location_after(&env, &format!("/dialog/oauth/cancel?session={session}")).await;
    let callback = callback_of(&back);
    assert!(callback.code.is_none());
    let ended = redirect::finish(&env.engine, &env.caller, &callback).await;
    let Err(error @ CallbackError::Ended { .. }) = ended else {
        panic!("expected Meta's ending, got {ended:?}");
    };
    let reason = error.signup_error().unwrap();
    assert_eq!(reason, "user_denied");
    assert!(redirect::signup_error_message(&reason).contains("cancelled"));
    assert!(
        refusal_reasons(&env).await.is_empty(),
        "a cancel is not an attack"
    );
    // The state is done with: coming back with it again is a replay.
    let again = Callback {
        code: Some("a-code".into()),
        state: callback.state.clone(),
        ..Callback::default()
    };
    assert_eq!(refusal(&env, &env.caller, &again).await, Refusal::StateUsed);
    assert_eq!(
        onboarding::latest(&env.engine, &env.caller)
            .await
            .unwrap()
            .map(|run| run.id),
        None,
        "no run was started"
    );
}

async fn a_code_meta_refuses_fails_the_run_at_the_exchange(backend: TestBackend) {
    let env = setup(backend).await;
    let mut callback = come_back(&env).await;
    // Meta's code, more than 30 seconds old by the time it is exchanged.
    env.control("/_sandbox/clock/advance", json!({ "seconds": 31 }))
        .await;
    let run = redirect::finish(&env.engine, &env.caller, &callback)
        .await
        .unwrap();
    let failed = progress(&env, &run).await;
    assert_eq!(
        (failed.step, failed.state),
        (OnboardingStep::Exchange, RunState::Failed)
    );
    assert!(failed.problem.unwrap().contains("expired"));
    // An SDK code (bound to no redirect_uri) is refused by Meta too.
    let fresh = come_back(&env).await;
    callback.state = fresh.state;
    callback.code = Some(env.code().await);
    let run = redirect::finish(&env.engine, &env.caller, &callback)
        .await
        .unwrap();
    let failed = progress(&env, &run).await;
    assert_eq!(failed.state, RunState::Failed, "{failed:?}");
}

async fn a_redirect_under_way_survives_a_key_rotation(backend: TestBackend) {
    let env = setup(backend).await;
    let callback = come_back(&env).await;
    let new_key = generate_key_entry("k2");
    let ring_of =
        |keys: &str| KeyRing::new(switchboard::config::parse_key_ring(keys).unwrap()).unwrap();
    // The old key still seals the verifier: dropping it now is refused.
    assert!(
        tokens::check_key_ring(&env.engine.store, &ring_of(&new_key))
            .await
            .is_err()
    );
    let both = format!("{new_key},{}", env.keys);
    let report = tokens::rotate_keys(&env.engine.store, &ring_of(&both))
        .await
        .unwrap();
    assert_eq!(report.resealed, 1, "the verifier, resealed");
    tokens::check_key_ring(&env.engine.store, &ring_of(&new_key))
        .await
        .expect("nothing needs the old key any more");
    let rotated = engine_for(&env.db, &env.sandbox, &new_key).await;
    let run = redirect::finish(&rotated, &env.caller, &callback)
        .await
        .expect("the verifier opens under the new key");
    let stored = rotated.store.onboarding(&run).await.unwrap().unwrap();
    assert_eq!(stored.step, OnboardingStep::Verify, "{stored:?}");
}
