//! The business profile against the sandbox, on both backends: limits,
//! changed fields only, pictures checked by decoding, an interrupted
//! upload that resumes, drift, and the audit trail.

mod common;

use std::io::Cursor;

use common::meta::{setup, Env};
use image::ImageFormat;
use rules::profile::ProfileFields;
use serde_json::json;
use switchboard::{profile, test_support::TestBackend, Error};

on_both_backends!(
    the_live_profile_loads,
    fields_over_the_limits_never_reach_meta,
    only_changed_fields_are_sent_and_audited,
    rejected_pictures_change_nothing,
    a_picture_uploads_and_is_set,
    an_interrupted_upload_resumes,
    a_change_made_elsewhere_shows_as_drift,
    another_workspace_cannot_edit_the_profile,
);

async fn connected(backend: TestBackend) -> (Env, String) {
    let env = setup(backend).await;
    let phone = env.demo.phone_number_id.clone();
    assert!(env.connect("attempt-p001", &phone).await.is_live());
    (env, phone)
}

fn encoded(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 200]));
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn edited(view: &profile::ProfileView) -> ProfileFields {
    profile::as_fields(&view.live)
}

async fn audit(env: &Env) -> Vec<(String, serde_json::Value)> {
    switchboard::audit::entries(&env.engine.store, &env.caller, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.action, serde_json::from_str(&e.detail).unwrap()))
        .collect()
}

async fn the_live_profile_loads(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let view = profile::load(&env.engine, &env.caller, &phone)
        .await
        .unwrap();
    assert_eq!(view.live.about, "Fresh bread every morning.");
    assert_eq!(view.live.websites, ["https://acme-bakery.example"]);
    assert_eq!(view.live.vertical, "RESTAURANT");
    assert!(view.drift.is_empty(), "nothing saved here yet");
    assert_eq!(
        (view.picture_rules.min_px, view.picture_rules.max_px),
        (192, 640)
    );
}

async fn fields_over_the_limits_never_reach_meta(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let view = profile::load(&env.engine, &env.caller, &phone)
        .await
        .unwrap();
    let cases = [
        (
            ProfileFields {
                about: "a".repeat(140),
                ..edited(&view)
            },
            "about",
        ),
        (
            ProfileFields {
                address: "a".repeat(257),
                ..edited(&view)
            },
            "address",
        ),
        (
            ProfileFields {
                description: "a".repeat(513),
                ..edited(&view)
            },
            "description",
        ),
        (
            ProfileFields {
                email: "not an email".into(),
                ..edited(&view)
            },
            "email",
        ),
        (
            ProfileFields {
                websites: vec!["https://a.example".into(); 3],
                ..edited(&view)
            },
            "websites",
        ),
        (
            ProfileFields {
                websites: vec!["ftp://a.example".into()],
                ..edited(&view)
            },
            "websites",
        ),
        (
            ProfileFields {
                vertical: "BAKERY".into(),
                ..edited(&view)
            },
            "vertical",
        ),
    ];
    for (fields, expected) in cases {
        match profile::save(&env.engine, &env.caller, &phone, fields).await {
            Err(Error::Invalid { field, .. }) => assert_eq!(field, expected),
            other => panic!("{expected}: {other:?}"),
        }
    }
    let after = profile::load(&env.engine, &env.caller, &phone)
        .await
        .unwrap();
    assert_eq!(after.live, view.live, "nothing changed at Meta");
    assert!(audit(&env)
        .await
        .iter()
        .all(|(action, _)| action != "profile.updated"));
}

async fn only_changed_fields_are_sent_and_audited(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let view = profile::load(&env.engine, &env.caller, &phone)
        .await
        .unwrap();
    let unchanged = profile::save(&env.engine, &env.caller, &phone, edited(&view))
        .await
        .unwrap();
    assert!(unchanged.changed.is_empty());

    let fields = ProfileFields {
        about: "Open on Sundays too.".into(),
        websites: vec![
            "https://acme-bakery.example".into(),
            "https://shop.acme-bakery.example".into(),
        ],
        ..edited(&view)
    };
    let saved = profile::save(&env.engine, &env.caller, &phone, fields)
        .await
        .unwrap();
    assert_eq!(saved.changed, ["about", "websites"]);
    assert_eq!(saved.view.live.about, "Open on Sundays too.");
    assert_eq!(saved.view.live.websites.len(), 2);
    let entries = audit(&env).await;
    let (_, detail) = entries
        .iter()
        .find(|(a, _)| a == "profile.updated")
        .expect("audited");
    assert_eq!(detail["before"]["about"], "Fresh bread every morning.");
    assert_eq!(detail["after"]["about"], "Open on Sundays too.");
    assert!(
        detail["after"].get("email").is_none(),
        "unchanged fields are not sent: {detail}"
    );
}

async fn rejected_pictures_change_nothing(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let before = profile::load(&env.engine, &env.caller, &phone)
        .await
        .unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "a GIF",
            b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec(),
            "Only JPEG and PNG",
        ),
        ("too small", encoded(100, 100, ImageFormat::Png), "100×100"),
        ("too large", encoded(800, 700, ImageFormat::Jpeg), "800×700"),
        (
            "text named .png",
            b"hello, I am not a picture".to_vec(),
            "not a picture",
        ),
        (
            "a truncated PNG",
            encoded(300, 300, ImageFormat::Png)[..200].to_vec(),
            "damaged",
        ),
    ];
    for (what, bytes, expected) in cases {
        match profile::replace_picture(&env.engine, &env.caller, &phone, bytes).await {
            Err(Error::Invalid {
                field: "picture",
                message,
            }) => assert!(message.contains(expected), "{what}: {message}"),
            other => panic!("{what}: {other:?}"),
        }
    }
    let after = profile::load(&env.engine, &env.caller, &phone)
        .await
        .unwrap();
    assert_eq!(
        after.live.profile_picture_url,
        before.live.profile_picture_url
    );
}

async fn a_picture_uploads_and_is_set(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    // A PNG whose name says .jpg: the bytes decide, and it goes as a PNG.
    let view = profile::replace_picture(
        &env.engine,
        &env.caller,
        &phone,
        encoded(300, 300, ImageFormat::Png),
    )
    .await
    .unwrap();
    let url = view.live.profile_picture_url.clone().expect("a picture");
    let entries = audit(&env).await;
    let (_, detail) = entries
        .iter()
        .find(|(a, _)| a == "profile.picture_updated")
        .expect("audited");
    assert_eq!(
        (detail["type"].as_str(), detail["after"].as_str()),
        (Some("image/png"), Some(url.as_str()))
    );
    // A second picture replaces the first.
    let again = profile::replace_picture(
        &env.engine,
        &env.caller,
        &phone,
        encoded(640, 480, ImageFormat::Jpeg),
    )
    .await
    .unwrap();
    assert_ne!(
        again.live.profile_picture_url.as_deref(),
        Some(url.as_str())
    );
    assert!(again.drift.is_empty(), "{:?}", again.drift);
}

async fn an_interrupted_upload_resumes(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let bytes = encoded(500, 500, ImageFormat::Png);
    let half = bytes.len() / 2;
    let fault = json!({ "interrupt_next_upload_after": half });
    env.control_call(reqwest::Method::PUT, "/_sandbox/faults", Some(fault))
        .await;
    let view = profile::replace_picture(&env.engine, &env.caller, &phone, bytes)
        .await
        .unwrap();
    assert!(view.live.profile_picture_url.is_some());
    let faults = env
        .control_call(reqwest::Method::GET, "/_sandbox/faults", None)
        .await;
    assert!(
        faults["faults"]["interrupt_next_upload_after"].is_null(),
        "the interruption happened: {faults}"
    );
}

async fn a_change_made_elsewhere_shows_as_drift(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let view = profile::load(&env.engine, &env.caller, &phone)
        .await
        .unwrap();
    profile::save(
        &env.engine,
        &env.caller,
        &phone,
        ProfileFields {
            about: "Saved here.".into(),
            ..edited(&view)
        },
    )
    .await
    .unwrap();
    // Someone edits the profile in Meta's tools.
    let token = env.token_of(&phone).await;
    env.graph(
        reqwest::Method::POST,
        &format!("{phone}/whatsapp_business_profile"),
        &token,
        Some(json!({ "messaging_product": "whatsapp", "about": "Changed in WhatsApp Manager." })),
    )
    .await;
    let drifted = profile::load(&env.engine, &env.caller, &phone)
        .await
        .unwrap();
    assert_eq!(drifted.drift.len(), 1, "{:?}", drifted.drift);
    let drift = &drifted.drift[0];
    assert_eq!(
        (
            drift.field.as_str(),
            drift.saved_here.as_str(),
            drift.live.as_str()
        ),
        ("about", "Saved here.", "Changed in WhatsApp Manager.")
    );
    // Saving again (from the live values) settles it.
    profile::save(&env.engine, &env.caller, &phone, edited(&drifted))
        .await
        .unwrap();
    assert!(profile::load(&env.engine, &env.caller, &phone)
        .await
        .unwrap()
        .drift
        .is_empty());
}

async fn another_workspace_cannot_edit_the_profile(backend: TestBackend) {
    let (env, phone) = connected(backend).await;
    let other = switchboard::accounts::Workspace {
        id: "elsewhere".into(),
        name: "Elsewhere".into(),
    };
    env.engine
        .store
        .insert_workspace(&other, &env.caller.user.id, 0)
        .await
        .unwrap();
    let stranger = switchboard::accounts::Caller {
        workspace: other,
        ..env.caller.clone()
    };
    assert!(matches!(
        profile::load(&env.engine, &stranger, &phone).await,
        Err(Error::NotFound)
    ));
    let view = profile::load(&env.engine, &env.caller, &phone)
        .await
        .unwrap();
    assert!(matches!(
        profile::save(&env.engine, &stranger, &phone, edited(&view)).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        profile::replace_picture(
            &env.engine,
            &stranger,
            &phone,
            encoded(300, 300, ImageFormat::Png)
        )
        .await,
        Err(Error::NotFound)
    ));
}
