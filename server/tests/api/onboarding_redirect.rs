//! `/onboarding/meta/start` and `/onboarding/meta/callback`: the OAuth
//! redirect path's routes, in demo mode against the in-process sandbox's
//! dialog (which the server registers its callback with, as an operator
//! does in Meta's App Dashboard).

use serde_json::json;
use switchboard::test_support::TestBackend;
use url::Url;

use crate::helpers::{member, owner, spawn_app, TestApp, Visitor};

/// Where a 303 sends the browser, and that nothing keeps it.
fn see_other(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.headers()["location"].to_str().unwrap().to_string()
}

/// Goes through the sandbox's dialog at `dialog` and finishes it with the
/// demo's new number: the path and query Meta sends the browser back to.
async fn through_dialog(app: &TestApp, dialog: &str) -> String {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = browser.get(dialog).send().await.unwrap();
    assert_eq!(page.status(), 200, "the dialog opens: not URL blocked");
    let page = page.text().await.unwrap();
    let session = page
        .split("\"session\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    let sandbox = app.graph_base_url.trim_end_matches('/');
    let state: serde_json::Value = browser
        .get(format!("{sandbox}/_sandbox/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let demo = &state["demo"];
    let done: serde_json::Value = browser
        .post(format!("{sandbox}/dialog/embedded_signup/finish"))
        .json(&json!({
            "app_id": "", "config_id": "", "dialog_session": session,
            "business": demo["business_id"], "waba": demo["waba_id"], "phone": demo["new_phone_number_id"],
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let next = done["continue"]
        .as_str()
        .unwrap_or_else(|| panic!("the page goes on: {done}"));
    let back = browser
        .get(format!("{sandbox}{next}"))
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 302);
    let back = Url::parse(back.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(back.path(), "/onboarding/meta/callback");
    format!("{}?{}", back.path(), back.query().unwrap())
}

#[tokio::test]
async fn an_admin_goes_to_metas_dialog_and_comes_back_to_a_run() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let mut owner: Visitor = owner(&app).await;

    let start = owner.page("/onboarding/meta/start?business_app=0").await;
    let dialog = see_other(&start);
    let url = Url::parse(&dialog).unwrap();
    let sandbox = Url::parse(&app.graph_base_url).unwrap();
    assert_eq!(
        url.origin(),
        sandbox.origin(),
        "demo mode: the sandbox's dialog"
    );
    assert_eq!(url.path(), "/v25.0/dialog/oauth");
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));
    assert!(param("redirect_uri")
        .unwrap()
        .ends_with("/onboarding/meta/callback"));

    let callback = through_dialog(&app, &dialog).await;
    let back = owner.page(&callback).await;
    let to = see_other(&back);
    let run = to
        .strip_prefix("/onboarding?run=")
        .unwrap_or_else(|| panic!("to the run: {to}"));
    let (status, progress) = owner.call("onboarding_progress", &[("id", run)]).await;
    assert_eq!(status, 200, "{progress}");
    let progress: serde_json::Value = serde_json::from_str(&progress).unwrap();
    assert_eq!(progress["id"], run);

    // The same way back again is a replay.
    let replay = owner.page(&callback).await;
    assert_eq!(see_other(&replay), "/onboarding?signup_error=state_used");
    // A made-up state.
    let forged = callback.replace("state=", "state=x");
    assert_eq!(
        see_other(&owner.page(&forged).await),
        "/onboarding?signup_error=state_unknown"
    );
    // Meta's cancel, with no state of ours.
    let cancelled = owner
        .page("/onboarding/meta/callback?error=access_denied&error_reason=user_denied&error_description=Permissions+error")
        .await;
    assert_eq!(
        see_other(&cancelled),
        "/onboarding?signup_error=user_denied"
    );
    let (status, text) = owner
        .call("signup_error_message", &[("code", "user_denied")])
        .await;
    assert_eq!(status, 200);
    assert!(text.contains("cancelled"), "{text}");
}

#[tokio::test]
async fn only_signed_in_admins_start_or_finish() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let anonymous = Visitor::new(&app);
    for path in [
        "/onboarding/meta/start",
        "/onboarding/meta/callback?code=c&state=s",
    ] {
        assert_eq!(see_other(&anonymous.page(path).await), "/sign-in", "{path}");
    }
    let mut owner = owner(&app).await;
    let agent = member(&app, &mut owner, "agent@example.com", "agent").await;
    for path in [
        "/onboarding/meta/start?business_app=1",
        "/onboarding/meta/callback?code=c&state=s",
    ] {
        assert_eq!(agent.page(path).await.status(), 403, "{path}");
    }
    assert_eq!(
        owner
            .page("/onboarding/meta/start?business_app=yes")
            .await
            .status(),
        400
    );
}
