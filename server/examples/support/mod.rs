//! What the examples share: an owner with a number connected through
//! Embedded Signup against the sandbox, as a person would connect it.

use std::time::Duration;

use serde_json::{json, Value};
use switchboard::{
    accounts::{self, Caller, Role, SignUp},
    onboarding::{self, Awaiting, RunState, SignupData},
    Engine,
};

/// The PIN the examples register numbers with.
pub const PIN: &str = "135790";

/// Signs up an owner and connects the sandbox's demo number through the
/// onboarding state machine (the engine's workers must be running).
/// Returns the owner and the number's id.
pub async fn connect_demo_number(
    engine: &Engine,
    http: &reqwest::Client,
    sandbox: &str,
) -> (Caller, String) {
    let user = accounts::create_admin(
        &engine.store,
        &SignUp {
            email: "bench@example.com",
            name: "Bench",
            password: "a long enough password",
            workspace_name: "Bench",
        },
    )
    .await
    .expect("owner");
    let membership = engine.store.memberships_of(&user.id).await.unwrap()[0].clone();
    let caller = Caller {
        user,
        workspace: membership.workspace,
        role: Role::Owner,
    };
    let control = |path: &str| format!("{sandbox}{path}");
    let state: Value = http
        .get(control("/_sandbox/state"))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("sandbox state")
        .json()
        .await
        .expect("JSON");
    let code: Value = http
        .post(control("/_sandbox/codes"))
        .json(&json!({}))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("a code")
        .json()
        .await
        .expect("JSON");
    let demo = &state["demo"];
    let phone = demo["phone_number_id"]
        .as_str()
        .expect("demo number")
        .to_string();
    let attempt = "attempt-bench-0001";
    onboarding::submit_code(
        engine,
        &caller,
        attempt,
        code["code"].as_str().expect("code"),
    )
    .await
    .expect("code accepted");
    let signup = SignupData {
        event: "FINISH".into(),
        waba_id: demo["waba_id"].as_str().expect("demo WABA").to_string(),
        phone_number_id: Some(phone.clone()),
        business_id: demo["business_id"].as_str().map(str::to_string),
    };
    onboarding::submit_signup(engine, &caller, attempt, &signup)
        .await
        .expect("signup accepted");
    for _ in 0..200 {
        let progress = onboarding::latest(engine, &caller).await.unwrap().unwrap();
        if progress.state == RunState::Done {
            return (caller, phone);
        }
        if progress.waiting_for == Some(Awaiting::Pin) {
            onboarding::submit_pin(engine, &caller, &progress.id, PIN)
                .await
                .expect("PIN accepted");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the number did not connect");
}
