//! Customers' media against the sandbox, on both backends: fetched while
//! Meta's URL lasts and kept, refused over the size limit with the reason,
//! and listed with the thread.

mod common;

use std::time::Duration;

use base64::{engine::general_purpose::STANDARD, Engine as _};
use common::{
    live::eventually,
    meta::{setup_with, Env},
};
use serde_json::json;
use switchboard::{store::MediaState, test_support::TestBackend};

on_both_backends!(
    a_customers_photo_is_kept_and_listed_with_the_thread,
    a_file_over_the_limit_is_refused_with_the_reason,
);

const CUSTOMER: &str = "15550003333";
const WAIT: Duration = Duration::from_secs(20);

async fn media_states(env: &Env, phone: &str) -> Vec<MediaState> {
    let Some(contact) = env.find_contact(phone, CUSTOMER).await else {
        return Vec::new(); // the message is not stored yet
    };
    env.engine
        .store
        .media_of_thread(&env.caller.workspace.id, phone, &contact.id)
        .await
        .unwrap()
}

async fn send_photo(env: &Env, phone: &str, bytes: &[u8]) -> String {
    env.customer_writes(
        phone,
        CUSTOMER,
        json!({ "type": "image", "image": { "caption": "my order" }, "data_base64": STANDARD.encode(bytes) }),
    )
    .await
}

async fn a_customers_photo_is_kept_and_listed_with_the_thread(backend: TestBackend) {
    let env = setup_with(backend, |_| {}).await;
    let phone = env.demo.phone_number_id.clone();
    assert_eq!(
        env.connect("attempt-0001", &phone).await.state,
        switchboard::onboarding::RunState::Done
    );
    let running = env.run().await;
    let photo: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let wamid = send_photo(&env, &phone, &photo).await;
    eventually("the photo stored", WAIT, || async {
        media_states(&env, &phone)
            .await
            .first()
            .is_some_and(|m| m.state == switchboard::store::FileState::Stored)
    })
    .await;
    let state = media_states(&env, &phone).await.remove(0);
    assert_eq!(state.wamid, wamid);
    assert_eq!(state.size, Some(photo.len() as i64));
    let file = env
        .engine
        .store
        .media_file(&env.caller.workspace.id, &phone, &state.media_id)
        .await
        .unwrap()
        .expect("kept");
    assert_eq!(file.bytes, photo, "byte for byte");
    assert_eq!(file.mime_type.as_deref(), Some("image/jpeg"));
    // Another workspace's id finds nothing.
    assert!(env
        .engine
        .store
        .media_file("another-workspace", &phone, &state.media_id)
        .await
        .unwrap()
        .is_none());
    running.stop().await;
}

async fn a_file_over_the_limit_is_refused_with_the_reason(backend: TestBackend) {
    let env = setup_with(backend, |config| config.inbound_media_max_bytes = 10_000).await;
    let phone = env.demo.phone_number_id.clone();
    assert_eq!(
        env.connect("attempt-0001", &phone).await.state,
        switchboard::onboarding::RunState::Done
    );
    let running = env.run().await;
    send_photo(&env, &phone, &vec![7u8; 20_000]).await;
    eventually("the photo refused", WAIT, || async {
        media_states(&env, &phone)
            .await
            .first()
            .is_some_and(|m| m.state == switchboard::store::FileState::Failed)
    })
    .await;
    let state = media_states(&env, &phone).await.remove(0);
    assert!(state.error.unwrap().contains("limit"), "the reason is kept");
    assert!(env
        .engine
        .store
        .media_file(&env.caller.workspace.id, &phone, &state.media_id)
        .await
        .unwrap()
        .is_none());
    // The message itself is there, whatever became of its file.
    assert_eq!(
        env.engine
            .store
            .count_messages(&env.caller.workspace.id)
            .await
            .unwrap(),
        1
    );
    running.stop().await;
}
