//! Who may call what: every server function refuses anonymous callers and
//! callers from another workspace, and changes nothing when it refuses.

use serde_json::Value;
use switchboard::test_support::TestBackend;

use crate::helpers::{member, member_elsewhere, owner, spawn_app, TestApp, Visitor};

/// A server function's name, whether it is public, and arguments it takes.
type ServerFunction = (&'static str, bool, &'static [(&'static str, &'static str)]);

/// Every server function. A new one must be added here (the first test
/// fails if not).
const SERVER_FUNCTIONS: &[ServerFunction] = &[
    ("installation_status", true, &[]),
    ("welcome", true, &[]),
    (
        "sign_up_owner",
        true,
        &[
            ("email", "x@example.com"),
            ("name", "X"),
            ("password", "long enough pw"),
            ("workspace_name", "X"),
        ],
    ),
    (
        "sign_in",
        true,
        &[("email", "x@example.com"), ("password", "long enough pw")],
    ),
    ("invite_details", true, &[("token", "no-such-invite")]),
    (
        "sign_up_with_invite",
        true,
        &[
            ("token", "no-such-invite"),
            ("email", "y@example.com"),
            ("name", "Y"),
            ("password", "long enough pw"),
        ],
    ),
    ("complete_sign_in", true, &[("code", "123456")]),
    ("sign_out", false, &[]),
    ("two_factor_status", false, &[]),
    ("begin_two_factor", false, &[("password", "long enough pw")]),
    ("confirm_two_factor", false, &[("code", "123456")]),
    (
        "disable_two_factor",
        false,
        &[("password", "long enough pw")],
    ),
    (
        "renew_recovery_codes",
        false,
        &[("password", "long enough pw")],
    ),
    (
        "change_password",
        false,
        &[
            ("current_password", "long enough pw"),
            ("new_password", "another long pw"),
        ],
    ),
    ("switch_workspace", false, &[("workspace_id", "w")]),
    ("create_workspace", false, &[("name", "Mine")]),
    ("accept_invite", false, &[("token", "no-such-invite")]),
    ("list_members", false, &[]),
    ("invite_member", false, &[("role", "admin")]),
    (
        "change_member_role",
        false,
        &[("user_id", "u"), ("role", "owner")],
    ),
    ("remove_member", false, &[("user_id", "u")]),
    ("list_invites", false, &[]),
    ("revoke_invite", false, &[("id", "x")]),
    ("audit_log", false, &[]),
    ("cost_ledger", false, &[]),
    ("load_rate_card", false, &[("rate_card", "x")]),
    ("api_document", false, &[]),
    ("list_templates", false, &[]),
    (
        "delete_template",
        false,
        &[("phone_number_id", "106540352242922"), ("name", "x")],
    ),
    ("list_conversations", false, &[]),
    (
        "conversation_thread",
        false,
        &[
            ("phone_number_id", "106540352242922"),
            ("customer", "16505551234"),
        ],
    ),
    (
        "erase_contact",
        false,
        &[("contact_id", "ct_00000000000000000000000000000000")],
    ),
    ("webhook_attention", false, &[]),
    ("replay_webhooks", false, &[]),
    ("signup_settings", false, &[]),
    ("signup_error_message", false, &[("code", "state_used")]),
    (
        "submit_signup_code",
        false,
        &[("attempt", "attempt-0001"), ("code", "AQB-code")],
    ),
    (
        "submit_signup_finish",
        false,
        &[
            ("attempt", "attempt-0001"),
            ("event", "FINISH"),
            ("waba_id", "524126980791429"),
        ],
    ),
    (
        "submit_signup_pin",
        false,
        &[("id", "x"), ("pin", "123456")],
    ),
    (
        "choose_signup_number",
        false,
        &[("id", "x"), ("phone_number_id", "106540352242922")],
    ),
    (
        "request_verification_code",
        false,
        &[("id", "x"), ("method", "SMS")],
    ),
    (
        "submit_verification_code",
        false,
        &[("id", "x"), ("code", "123456")],
    ),
    ("retry_onboarding", false, &[("id", "x")]),
    ("onboarding_progress", false, &[]),
    ("list_numbers", false, &[]),
    ("expiring_tokens", false, &[]),
    (
        "disconnect_number",
        false,
        &[
            ("phone_number_id", "106540352242922"),
            ("deregister", "false"),
        ],
    ),
    (
        "load_profile",
        false,
        &[("phone_number_id", "106540352242922")],
    ),
    (
        "save_profile",
        false,
        &[
            ("phone_number_id", "106540352242922"),
            (
                "form",
                r#"{"about":"a","address":"","description":"","email":"","websites":[],"vertical":""}"#,
            ),
        ],
    ),
    (
        "upload_profile_picture",
        false,
        &[("phone_number_id", "106540352242922"), ("picture", "x")],
    ),
    (
        "send_reply",
        false,
        &[
            ("phone_number_id", "106540352242922"),
            ("customer", "16505551234"),
            ("text", "hello"),
            ("key", "k1"),
        ],
    ),
    (
        "request_phone",
        false,
        &[
            ("phone_number_id", "106540352242922"),
            ("customer", "16505551234"),
            ("key", "k1"),
        ],
    ),
    (
        "send_file",
        false,
        &[
            ("phone_number_id", "106540352242922"),
            ("customer", "16505551234"),
            ("key", "k1"),
            ("file", "x"),
        ],
    ),
    (
        "reply_templates",
        false,
        &[("phone_number_id", "106540352242922")],
    ),
    (
        "send_template",
        false,
        &[
            ("phone_number_id", "106540352242922"),
            ("customer", "16505551234"),
            ("name", "hello_world"),
            ("language", "en_US"),
            ("header_values", "[]"),
            ("values", "[]"),
            ("key", "k1"),
        ],
    ),
    (
        "set_send_rate",
        false,
        &[("phone_number_id", "106540352242922"), ("rate", "100")],
    ),
    (
        "resume_number",
        false,
        &[("phone_number_id", "106540352242922")],
    ),
    (
        "number_health",
        false,
        &[("phone_number_id", "106540352242922")],
    ),
    (
        "fix_number_health",
        false,
        &[("phone_number_id", "106540352242922"), ("fix", "refresh")],
    ),
    ("list_api_keys", false, &[]),
    ("create_api_key", false, &[("name", "CRM"), ("send", "on")]),
    ("revoke_api_key", false, &[("id", "key_x")]),
    ("bot_settings", false, &[]),
    ("outgoing_webhooks", false, &[]),
    (
        "create_endpoint",
        false,
        &[("url", "https://example.com/hook")],
    ),
    ("rotate_endpoint_secret", false, &[("id", "ep_x")]),
    ("delete_endpoint", false, &[("id", "ep_x")]),
    ("redeliver_event", false, &[("id", "1")]),
    (
        "create_template",
        false,
        &[(
            "form",
            r#"{"phone_number_id":"106540352242922","name":"x","language":"en_US","category":"UTILITY","header":"","header_example":"","body":"Hi","body_examples":[],"footer":"","quick_replies":[],"url_text":"","url":"","url_example":"","call_text":"","call_number":""}"#,
        )],
    ),
    (
        "edit_template",
        false,
        &[(
            "form",
            r#"{"phone_number_id":"106540352242922","name":"x","language":"en_US","category":"UTILITY","header":"","header_example":"","body":"Hi","body_examples":[],"footer":"","quick_replies":[],"url_text":"","url":"","url_example":"","call_text":"","call_number":""}"#,
        )],
    ),
    (
        "save_bot",
        false,
        &[(
            "form",
            r#"{"kind":"echo","rules":[],"default_reply":"","hours":null,"quiet_after_app_minutes":"30","can_edit":true}"#,
        )],
    ),
];

#[test]
fn every_server_function_is_listed_here() {
    let mut registered: Vec<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.trim_start_matches("/api/").to_string())
        .collect();
    registered.sort();
    let mut listed: Vec<String> = SERVER_FUNCTIONS
        .iter()
        .map(|(name, _, _)| name.to_string())
        .collect();
    listed.sort();
    assert_eq!(
        registered, listed,
        "add new server functions to SERVER_FUNCTIONS"
    );
}

async fn members_as_seen_by(owner: &mut Visitor) -> Vec<Value> {
    let (status, body) = owner.call("list_members", &[]).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test]
async fn anonymous_callers_are_refused_and_nothing_changes() {
    let app: TestApp = spawn_app(TestBackend::Sqlite).await;
    let mut owner = owner(&app).await;
    let before = members_as_seen_by(&mut owner).await;
    let mut anonymous = Visitor::new(&app);
    for (name, public, args) in SERVER_FUNCTIONS.iter().filter(|(_, public, _)| !public) {
        let (status, body) = anonymous.call(name, args).await;
        assert_eq!(status, 401, "{name} (public: {public}) answered {body}");
        assert!(anonymous.cookie.is_none());
    }
    assert_eq!(members_as_seen_by(&mut owner).await, before);
}

#[tokio::test]
async fn another_workspaces_member_cannot_reach_in() {
    let app = spawn_app(TestBackend::Postgres).await;
    let mut owner = owner(&app).await;
    let _victim = member(&app, &mut owner, "victim@example.com", "agent").await;
    let mut stranger = member_elsewhere(&app, &mut owner, "stranger@example.com", "viewer").await;
    // The owner removes the stranger from Acme: now they only have Elsewhere.
    let members = members_as_seen_by(&mut owner).await;
    let id_of = |email: &str| {
        members.iter().find(|m| m["email"] == email).unwrap()["user_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (victim_id, stranger_id) = (id_of("victim@example.com"), id_of("stranger@example.com"));
    assert_eq!(
        owner
            .call("remove_member", &[("user_id", &stranger_id)])
            .await
            .0,
        200
    );
    let before = members_as_seen_by(&mut owner).await;

    let (_, welcome) = owner.call("welcome", &[]).await;
    let acme_id = serde_json::from_str::<Value>(&welcome).unwrap()["me"]["current"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    assert_eq!(
        stranger
            .call(
                "change_member_role",
                &[("user_id", &victim_id), ("role", "viewer")]
            )
            .await
            .0,
        404
    );
    assert_eq!(
        stranger
            .call("remove_member", &[("user_id", &victim_id)])
            .await
            .0,
        404
    );
    assert_eq!(
        stranger
            .call("switch_workspace", &[("workspace_id", &acme_id)])
            .await
            .0,
        403
    );
    let (status, theirs) = stranger.call("list_members", &[]).await;
    assert_eq!(status, 200);
    assert!(!theirs.contains("victim@example.com"), "{theirs}");
    let (status, log) = stranger.call("audit_log", &[]).await;
    assert_eq!(status, 200);
    assert!(!log.contains("victim"), "{log}");

    assert_eq!(
        members_as_seen_by(&mut owner).await,
        before,
        "nothing changed"
    );
}

#[tokio::test]
async fn roles_limit_what_members_may_do() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let mut owner = owner(&app).await;
    let mut viewer = member(&app, &mut owner, "viewer@example.com", "viewer").await;
    let mut admin = member(&app, &mut owner, "admin@example.com", "admin").await;
    for (name, args) in [
        ("list_members", &[][..]),
        ("invite_member", &[("role", "agent")][..]),
        ("list_invites", &[][..]),
        ("revoke_invite", &[("id", "x")][..]),
        ("audit_log", &[][..]),
        ("cost_ledger", &[][..]),
        ("load_rate_card", &[("rate_card", "x")][..]),
        (
            "erase_contact",
            &[("contact_id", "ct_00000000000000000000000000000000")][..],
        ),
        (
            "request_phone",
            &[
                ("phone_number_id", "106540352242922"),
                ("customer", "16505551234"),
                ("key", "k1"),
            ][..],
        ),
    ] {
        let (status, body) = viewer.call(name, args).await;
        assert_eq!(status, 403, "{name}: {body}");
    }
    // Only admins erase customers, or resume a number Meta paused, or
    // see costs and load a rate card.
    let mut agent = member(&app, &mut owner, "agent@example.com", "agent").await;
    for (name, args) in [
        ("cost_ledger", &[][..]),
        ("load_rate_card", &[("rate_card", "x")][..]),
        // Connecting numbers is for admins, whatever the step.
        (
            "choose_signup_number",
            &[("id", "x"), ("phone_number_id", "106540352242922")][..],
        ),
        (
            "request_verification_code",
            &[("id", "x"), ("method", "SMS")][..],
        ),
        (
            "submit_verification_code",
            &[("id", "x"), ("code", "123456")][..],
        ),
    ] {
        let (status, body) = agent.call(name, args).await;
        assert_eq!(status, 403, "{name}: {body}");
    }
    assert_eq!(admin.call("cost_ledger", &[]).await.0, 200);
    let (status, body) = admin
        .call(
            "load_rate_card",
            &[("rate_card", "Market,Currency,Marketing\nIndia,INR,abc\n")],
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Line 2: the marketing rate"), "{body}");
    let (status, body) = admin
        .call(
            "load_rate_card",
            &[("rate_card", "Market,Currency,Marketing\nIndia,INR,0.78\n")],
        )
        .await;
    assert_eq!(
        (status, body.as_str()),
        (200, "\"Rate card loaded: 1 market.\"")
    );
    let (status, body) = agent
        .call("resume_number", &[("phone_number_id", "106540352242922")])
        .await;
    assert_eq!(status, 403, "{body}");
    // Tokens about to end are the admins' to act on (they reconnect);
    // agents and viewers are not asked, and may not ask.
    for who in [&mut agent, &mut viewer] {
        let (status, body) = who.call("expiring_tokens", &[]).await;
        assert_eq!(status, 403, "{body}");
    }
    let (status, body) = admin.call("expiring_tokens", &[]).await;
    assert_eq!((status, body.as_str()), (200, "[]"));
    // The connection doctor reads the token's scopes: admins only.
    for (name, args) in [
        (
            "number_health",
            &[("phone_number_id", "106540352242922")][..],
        ),
        (
            "fix_number_health",
            &[("phone_number_id", "106540352242922"), ("fix", "refresh")][..],
        ),
    ] {
        let (status, body) = agent.call(name, args).await;
        assert_eq!(status, 403, "{name}: {body}");
    }
    let (status, body) = agent
        .call(
            "erase_contact",
            &[("contact_id", "ct_00000000000000000000000000000000")],
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let export = "/contacts/ct_00000000000000000000000000000000/export";
    assert_eq!(agent.page(export).await.status(), 403);
    assert_eq!(Visitor::new(&app).page(export).await.status(), 401);
    assert_eq!(admin.page(export).await.status(), 404, "no such contact");
    // Viewers read conversations and templates, but make and delete none.
    assert_eq!(viewer.call("list_conversations", &[]).await.0, 200);
    assert_eq!(viewer.call("list_templates", &[]).await.0, 200);
    let template = r#"{"phone_number_id":"106540352242922","name":"x","language":"en_US","category":"UTILITY","header":"","header_example":"","body":"Hi","body_examples":[],"footer":"","quick_replies":[],"url_text":"","url":"","url_example":"","call_text":"","call_number":""}"#;
    for made in ["create_template", "edit_template"] {
        assert_eq!(
            viewer.call(made, &[("form", template)]).await.0,
            403,
            "{made}"
        );
    }
    assert_eq!(
        viewer
            .call(
                "delete_template",
                &[("phone_number_id", "106540352242922"), ("name", "x")]
            )
            .await
            .0,
        403
    );
    // An admin may invite, but not an owner.
    assert_eq!(
        admin.call("invite_member", &[("role", "agent")]).await.0,
        200
    );
    assert_eq!(
        admin.call("invite_member", &[("role", "owner")]).await.0,
        403
    );
    let before = members_as_seen_by(&mut owner).await;
    let owner_id = before.iter().find(|m| m["role"] == "owner").unwrap()["user_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        admin
            .call("remove_member", &[("user_id", &owner_id)])
            .await
            .0,
        403
    );
    assert_eq!(members_as_seen_by(&mut owner).await, before);
}

#[tokio::test]
async fn cross_origin_calls_are_refused() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let client = reqwest::Client::new();
    let call = |origin: Option<&'static str>| {
        let mut request = client
            .post(format!("{}/api/sign_in", app.base))
            .form(&[("email", "a@example.com"), ("password", "whatever123")]);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    assert_eq!(
        call(Some("https://evil.example")).await.unwrap().status(),
        403
    );
    assert_eq!(call(None).await.unwrap().status(), 403);
    let own = client
        .post(format!("{}/api/sign_in", app.base))
        .header("origin", &app.base)
        .form(&[("email", "a@example.com"), ("password", "whatever123")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        own.status(),
        400,
        "reaches the function, which refuses the credentials"
    );
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_lax() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let response = reqwest::Client::new()
        .post(format!("{}/api/sign_up_owner", app.base))
        .header("origin", &app.base)
        .form(&[
            ("email", "o@example.com"),
            ("name", "O"),
            ("password", "long enough pw"),
            ("workspace_name", "W"),
        ])
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("sb_session="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http in tests: {cookie}");
}

#[tokio::test]
async fn pages_carry_a_nonce_csp_and_security_headers() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let owner = owner(&app).await;
    let home = owner.page("/").await;
    let csp = home.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    for header in [
        "x-content-type-options",
        "referrer-policy",
        "x-frame-options",
    ] {
        assert!(home.headers().contains_key(header), "{header}");
    }
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap()
        .to_string();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let sandbox = app.graph_base_url.clone();
    let sandbox_origin = sandbox.trim_end_matches('/');
    assert!(
        !csp.contains(sandbox_origin),
        "only onboarding may load the SDK: {csp}"
    );
    let html = home.text().await.unwrap();
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "scripts carry the nonce"
    );

    let onboarding = owner.page("/onboarding").await;
    let csp = onboarding.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains(sandbox_origin), "{csp}");
    assert!(!csp.contains(&nonce), "a fresh nonce per response");

    let health = app.get("/healthz").await;
    assert_eq!(
        health.headers()["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
    assert_eq!(health.headers()["x-content-type-options"], "nosniff");
}
