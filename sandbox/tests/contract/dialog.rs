//! When FB.login returns no code, and the OAuth dialog fallback (reference
//! meta-2026 §6): the full-page dialog redirects with a code bound to its
//! exact redirect_uri and PKCE challenge, or with Meta's cancel error;
//! Strict Mode refuses unregistered redirect URIs with a page, never a
//! redirect.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::helpers::{answer, assert_graph_error, World};

const APP: &str = "1000000000000001";
const SECRET: &str = "sandbox-app-secret";
const REDIRECT: &str = "https://app.example/onboarding/callback";
const VERIFIER: &str = "a-sandbox-verifier-that-is-long-enough-for-pkce-0123456789";
const WRONG_VERIFIER: &str = "another-verifier-that-is-long-enough-for-pkce-but-not-ours";

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn allow_redirect(world: &World) {
    let (status, body) = world
        .control(
            "PUT",
            "/_sandbox/app",
            json!({ "redirect_uris": [REDIRECT] }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["redirect_uris"], json!([REDIRECT]));
}

/// The dialog's query, from defaults and `overrides` (a `None` drops the
/// parameter).
fn dialog_url(world: &World, overrides: &[(&str, Option<&str>)]) -> String {
    let challenge = challenge(VERIFIER);
    let extras = r#"{"setup":{},"featureType":"","sessionInfoVersion":"3"}"#;
    let mut params: Vec<(&str, Option<&str>)> = vec![
        ("client_id", Some(APP)),
        ("redirect_uri", Some(REDIRECT)),
        ("config_id", Some("1234567890")),
        ("response_type", Some("code")),
        ("override_default_response_type", Some("true")),
        ("state", Some("csrf nonce/42")),
        ("code_challenge", Some(challenge.as_str())),
        ("code_challenge_method", Some("S256")),
        ("extras", Some(extras)),
    ];
    for (key, value) in overrides {
        match params.iter_mut().find(|(k, _)| k == key) {
            Some(param) => param.1 = *value,
            None => params.push((key, *value)),
        }
    }
    let mut url = url::Url::parse(&format!("{}/v25.0/dialog/oauth", world.base)).unwrap();
    for (key, value) in params {
        if let Some(value) = value {
            url.query_pairs_mut().append_pair(key, value);
        }
    }
    url.to_string()
}

/// Opens the dialog: (status, page, session id if the page has one).
async fn open(url: &str) -> (u16, String, Option<String>) {
    let response = no_redirects().get(url).send().await.unwrap();
    let status = response.status().as_u16();
    assert!(
        response.headers().get("location").is_none(),
        "never a redirect here"
    );
    let page = response.text().await.unwrap();
    let session = page
        .split("\"session\":\"")
        .nth(1)
        .map(|rest| rest.split('"').next().unwrap().to_string());
    (status, page, session)
}

/// Finishes the dialog with the demo's assets; the redirect's location.
async fn finish(world: &World, session: &str) -> String {
    let demo = world.demo().clone();
    let (status, done) = answer(
        world
            .http
            .post(format!("{}/dialog/embedded_signup/finish", world.base))
            .json(&json!({
                "app_id": "ignored", "config_id": "ignored", "dialog_session": session,
                "business": demo.business_id, "waba": demo.waba_id, "phone": demo.new_phone_number_id,
            })),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert!(
        done.get("code").is_none(),
        "the code goes only by redirect: {done}"
    );
    let next = done["continue"].as_str().unwrap();
    let response = no_redirects()
        .get(format!("{}{next}", world.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    response.headers()["location"].to_str().unwrap().to_string()
}

async fn exchange(world: &World, params: &[(&str, &str)]) -> (u16, Value) {
    answer(
        world
            .http
            .get(world.graph("oauth/access_token"))
            .query(params),
    )
    .await
}

/// The dialog's code, after a full run.
async fn dialog_code(world: &World) -> String {
    allow_redirect(world).await;
    let (status, _, session) = open(&dialog_url(world, &[])).await;
    assert_eq!(status, 200);
    let location = finish(world, &session.unwrap()).await;
    let query = location.split_once('?').unwrap().1;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned()
}

#[tokio::test]
async fn the_dialog_redirects_with_the_code_and_state_exactly() {
    let world = World::start().await;
    allow_redirect(&world).await;
    let (status, page, session) = open(&dialog_url(&world, &[])).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Connect your business to WhatsApp"),
        "the signup UI"
    );
    assert!(page.contains("Acme Bakery"));
    let session = session.unwrap();
    let location = finish(&world, &session).await;
    let (base, query) = location.split_once('?').unwrap();
    assert_eq!(base, REDIRECT);
    let code = query
        .strip_prefix("code=")
        .and_then(|rest| rest.strip_suffix("&state=csrf+nonce%2F42"))
        .unwrap_or_else(|| panic!("{location}"));
    assert!(code.starts_with("AQB"), "{location}");

    // The same redirect_uri and the verifier (the secret may be left out
    // with a verifier) exchange it.
    let (status, token) = exchange(
        &world,
        &[
            ("client_id", APP),
            ("redirect_uri", REDIRECT),
            ("code", code),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(token["token_type"], "bearer");
    let (_, debug) = answer(world.http.get(world.graph("debug_token")).query(&[
        ("input_token", token["access_token"].as_str().unwrap()),
        ("access_token", &format!("{APP}|{SECRET}")),
    ]))
    .await;
    let management = debug["data"]["granular_scopes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["scope"] == "whatsapp_business_management")
        .unwrap()
        .clone();
    assert_eq!(management["target_ids"], json!([world.demo().waba_id]));
    // The session is spent.
    let again = no_redirects()
        .get(format!(
            "{}/dialog/oauth/continue?session={session}",
            world.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);
}

#[tokio::test]
async fn cancelling_redirects_with_metas_error_parameters() {
    let world = World::start().await;
    allow_redirect(&world).await;
    let (_, _, session) = open(&dialog_url(&world, &[("state", Some("s1"))])).await;
    let response = no_redirects()
        .get(format!(
            "{}/dialog/oauth/cancel?session={}",
            world.base,
            session.unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert_eq!(
        response.headers()["location"].to_str().unwrap(),
        format!("{REDIRECT}?error=access_denied&error_code=200&error_description=Permissions+error&error_reason=user_denied&state=s1")
    );
}

#[tokio::test]
async fn bad_dialog_requests_get_an_error_page_and_no_redirect() {
    let world = World::start().await;
    // No Valid OAuth Redirect URIs yet: every dialog is blocked.
    let (status, page, session) = open(&dialog_url(&world, &[])).await;
    assert_eq!(status, 400);
    assert!(page.contains("URL blocked"), "{page}");
    assert!(session.is_none());
    allow_redirect(&world).await;
    type Overrides<'a> = &'a [(&'a str, Option<&'a str>)];
    let cases: [(Overrides, &str); 8] = [
        (
            &[(
                "redirect_uri",
                Some("https://app.example/onboarding/callback/"),
            )],
            "URL blocked",
        ),
        (
            &[("redirect_uri", Some("https://evil.example/cb"))],
            "URL blocked",
        ),
        (&[("redirect_uri", None)], "URL blocked"),
        (&[("client_id", Some("42"))], "Invalid App ID"),
        (&[("config_id", None)], "configuration"),
        (&[("config_id", Some("abc"))], "configuration"),
        (&[("response_type", Some("token"))], "response_type"),
        (
            &[("code_challenge_method", Some("S512"))],
            "code_challenge_method",
        ),
    ];
    for (overrides, says) in cases {
        let (status, page, session) = open(&dialog_url(&world, overrides)).await;
        assert_eq!(status, 400, "{overrides:?}");
        assert!(page.contains(says), "{overrides:?}: {page}");
        assert!(session.is_none(), "{overrides:?}");
    }
    let (status, page, _) = open(&dialog_url(&world, &[("extras", Some("{not json"))])).await;
    assert_eq!(status, 400);
    assert!(page.contains("extras"));
    // The app's settings check the URIs they take.
    let (status, _) = world
        .control(
            "PUT",
            "/_sandbox/app",
            json!({ "redirect_uris": ["not a url"] }),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_exchange_needs_the_same_redirect_uri_and_the_verifier() {
    let world = World::start().await;
    let code = dialog_code(&world).await;
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut params = vec![
            ("client_id", APP),
            ("client_secret", SECRET),
            ("code", code.as_str()),
        ];
        params.extend_from_slice(extra);
        params
    };
    let mismatch = "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request";
    for params in [
        with(&[("code_verifier", VERIFIER)]),
        with(&[
            ("redirect_uri", "https://app.example/other"),
            ("code_verifier", VERIFIER),
        ]),
    ] {
        let refused = exchange(&world, &params).await;
        assert_graph_error(&refused, 400, 100, None);
        assert_eq!(refused.1["error"]["message"], mismatch);
        assert_eq!(refused.1["error"]["type"], "OAuthException");
    }
    // The verifier is missing, or is not the challenge's.
    let missing = with(&[("redirect_uri", REDIRECT)]);
    assert_graph_error(&exchange(&world, &missing).await, 400, 100, None);
    let wrong = with(&[
        ("redirect_uri", REDIRECT),
        ("code_verifier", WRONG_VERIFIER),
    ]);
    assert_graph_error(&exchange(&world, &wrong).await, 400, 100, None);
    // None of these used the code up; the right exchange does, once.
    let right = with(&[("redirect_uri", REDIRECT), ("code_verifier", VERIFIER)]);
    assert_eq!(exchange(&world, &right).await.0, 200);
    let reused = exchange(&world, &right).await;
    assert_graph_error(&reused, 400, 100, Some(36009));
}

#[tokio::test]
async fn a_dialog_code_lives_30_seconds_and_plain_challenges_work() {
    let world = World::start().await;
    allow_redirect(&world).await;
    let plain = dialog_url(
        &world,
        &[
            ("code_challenge", Some(VERIFIER)),
            ("code_challenge_method", Some("plain")),
        ],
    );
    let (_, _, session) = open(&plain).await;
    let location = finish(&world, &session.unwrap()).await;
    let code = location
        .split_once("code=")
        .unwrap()
        .1
        .split('&')
        .next()
        .unwrap()
        .to_string();
    world.advance_clock(31).await;
    let expired = exchange(
        &world,
        &[
            ("client_id", APP),
            ("client_secret", SECRET),
            ("redirect_uri", REDIRECT),
            ("code", &code),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_graph_error(&expired, 400, 100, Some(36007));

    // Without PKCE the code needs only the secret and the redirect_uri.
    let no_pkce = dialog_url(
        &world,
        &[
            ("code_challenge", None),
            ("code_challenge_method", None),
            ("state", None),
        ],
    );
    let (_, _, session) = open(&no_pkce).await;
    let location = finish(&world, &session.unwrap()).await;
    assert!(!location.contains("state="), "{location}");
    let code = location.split_once("code=").unwrap().1.to_string();
    // Without PKCE proof the secret cannot be left out.
    let no_secret = exchange(
        &world,
        &[
            ("client_id", APP),
            ("redirect_uri", REDIRECT),
            ("code", &code),
        ],
    )
    .await;
    assert_graph_error(&no_secret, 400, 1, None);
    let (status, body) = exchange(
        &world,
        &[
            ("client_id", APP),
            ("client_secret", SECRET),
            ("redirect_uri", REDIRECT),
            ("code", &code),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn sdk_codes_still_take_no_redirect_uri() {
    let world = World::start().await;
    let code = world.code().await;
    let refused = exchange(
        &world,
        &[
            ("client_id", APP),
            ("client_secret", SECRET),
            ("redirect_uri", REDIRECT),
            ("code", &code),
        ],
    )
    .await;
    assert_graph_error(&refused, 400, 100, None);
    assert!(world.exchange(&code).await["access_token"].is_string());
}

#[tokio::test]
async fn fb_login_can_be_made_to_lose_its_code_while_the_flow_completes() {
    let world = World::start().await;
    let popup_url = format!(
        "{}/dialog/embedded_signup?app_id={APP}&config_id=1",
        world.base
    );
    let page = world
        .http
        .get(&popup_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("the browser loses the code"));
    assert!(page.contains("\"fb_login_loses_code\":false"));
    let (status, settings) = world
        .control(
            "PUT",
            "/_sandbox/app",
            json!({ "fb_login_loses_code": true }),
        )
        .await;
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings["fb_login_loses_code"], true);
    // Other settings stay as they were.
    assert_eq!(settings["require_app_secret"], false);
    let page = world
        .http
        .get(&popup_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("\"fb_login_loses_code\":true"));
    let (_, state) = world.control("GET", "/_sandbox/state", Value::Null).await;
    assert_eq!(state["app"]["fb_login_loses_code"], true);
    // The SDK reports a login without a code as status unknown.
    let sdk = world
        .http
        .get(format!("{}/sdk.js", world.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(sdk.contains("status: \"unknown\", authResponse: null"));
    // Meta's side still completes: the number joins the WABA.
    let demo = world.demo().clone();
    let (status, done) = answer(
        world
            .http
            .post(format!("{}/dialog/embedded_signup/finish", world.base))
            .json(&json!({
                "app_id": APP, "config_id": "7", "business": demo.business_id, "waba": demo.waba_id,
                "phone": "__new", "new_phone": "15559001000", "new_phone_name": "Lost Code Shop",
            })),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    let (_, numbers) = world
        .call("GET", &format!("{}/phone_numbers", demo.waba_id), None)
        .await;
    assert!(numbers["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["display_phone_number"] == "15559001000"));
    let unknown = world
        .control(
            "PUT",
            "/_sandbox/app",
            json!({ "favourite_colour": "blue" }),
        )
        .await;
    assert_eq!(unknown.0, 400);
}
