//! `appsecret_proof` on every Graph call made with a business's token:
//! with the sandbox's *Require App Secret* on from the start, a number
//! connects, a customer is answered, the profile and its picture change
//! (through the resumable upload API), templates sync, and nothing is
//! refused.

mod common;

use std::io::Cursor;

use common::meta::setup;
use serde_json::json;
use switchboard::{
    outbox::{Content, OutboundMessage},
    profile,
    test_support::TestBackend,
};

on_both_backends!(every_call_with_a_business_token_carries_its_proof,);

fn png(side: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(side, side, |x, y| image::Rgb([x as u8, y as u8, 90]));
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

async fn every_call_with_a_business_token_carries_its_proof(backend: TestBackend) {
    let env = setup(backend).await;
    env.control_call(
        reqwest::Method::PUT,
        "/_sandbox/app",
        Some(json!({ "require_app_secret": true })),
    )
    .await;
    let phone = env.demo.phone_number_id.clone();
    let progress = env.connect("attempt-proof-1", &phone).await;
    assert!(progress.is_live(), "{progress:?}");

    let running = env.run().await;
    let customer = env.demo.customer_wa_id.clone();
    env.customer_writes(
        &phone,
        &customer,
        json!({ "type": "text", "text": { "body": "hi" } }),
    )
    .await;
    env.drain().await;
    env.agent_send(&OutboundMessage {
        phone_number_id: phone.clone(),
        recipient: customer.clone(),
        content: Content::text("answered with a proof"),
        context_wamid: None,
    })
    .await
    .expect("queued");
    env.drain().await;
    let received = env.received(&phone, &customer).await;
    assert!(
        received
            .iter()
            .any(|line| line["message"]["text"]["body"] == "answered with a proof"),
        "{received:?}"
    );

    let view = profile::load(&env.engine, &env.caller, &phone)
        .await
        .expect("the profile reads");
    let mut fields = profile::as_fields(&view.live);
    fields.about = "Proven".into();
    profile::save(&env.engine, &env.caller, &phone, fields)
        .await
        .expect("the profile saves");
    profile::replace_picture(&env.engine, &env.caller, &phone, png(300))
        .await
        .expect("the picture uploads through the resumable upload API");
    switchboard::templates::sync::sync_waba(&env.engine, &env.demo.waba_id)
        .await
        .expect("templates sync");
    running.stop().await;
}
