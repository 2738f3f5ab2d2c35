use serde_json::{json, Value};

use crate::helpers::{answer, assert_graph_error, World};

async fn start_session(world: &World, length: usize) -> String {
    let path = format!("app/uploads?file_name=logo.png&file_length={length}&file_type=image/png");
    let (status, body) = world.call("POST", &path, None).await;
    assert_eq!(status, 200, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("upload:"));
    id
}

async fn send_bytes(world: &World, session: &str, offset: usize, bytes: &[u8]) -> (u16, Value) {
    answer(
        world
            .http
            .post(world.graph(session))
            .header("authorization", format!("OAuth {}", world.token))
            .header("file_offset", offset.to_string())
            .body(bytes.to_vec()),
    )
    .await
}

#[tokio::test]
async fn an_upload_returns_a_handle_the_profile_accepts() {
    let world = World::start().await;
    let picture = vec![7u8; 1000];
    let session = start_session(&world, picture.len()).await;
    let (status, body) = send_bytes(&world, &session, 0, &picture).await;
    assert_eq!(status, 200, "{body}");
    let handle = body["h"].as_str().unwrap().to_string();

    let path = format!("{}/whatsapp_business_profile", world.demo().phone_number_id);
    let update = json!({ "messaging_product": "whatsapp", "profile_picture_handle": handle });
    assert_eq!(world.call("POST", &path, Some(update)).await.0, 200);
    let (_, profile) = world
        .call("GET", &format!("{path}?fields=profile_picture_url"), None)
        .await;
    assert!(profile["data"][0]["profile_picture_url"]
        .as_str()
        .unwrap()
        .ends_with(".jpg"));
}

#[tokio::test]
async fn an_interrupted_upload_resumes_from_the_reported_offset() {
    let world = World::start().await;
    let picture: Vec<u8> = (0..4000u32).map(|i| (i % 251) as u8).collect();
    let session = start_session(&world, picture.len()).await;
    world
        .control(
            "PUT",
            "/_sandbox/faults",
            json!({ "interrupt_next_upload_after": 1500 }),
        )
        .await;

    let (status, _) = send_bytes(&world, &session, 0, &picture).await;
    assert_eq!(status, 503, "the transfer broke");
    let (status, progress) = world.call("GET", &session, None).await;
    assert_eq!(status, 200);
    assert_eq!(progress["file_offset"], 1500);

    // Resending from the start is refused; resuming from 1500 completes.
    assert_graph_error(
        &send_bytes(&world, &session, 0, &picture).await,
        400,
        100,
        None,
    );
    let (status, body) = send_bytes(&world, &session, 1500, &picture[1500..]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["h"].is_string());
}

#[tokio::test]
async fn sessions_check_their_parameters() {
    let world = World::start().await;
    // A type Meta does not take, an empty file, an id that is not an app.
    for (path, subcode) in [
        (
            "app/uploads?file_name=a.gif&file_length=10&file_type=image/gif",
            None,
        ),
        (
            "app/uploads?file_name=a.png&file_length=0&file_type=image/png",
            None,
        ),
        (
            "99999/uploads?file_name=a.png&file_length=5&file_type=image/png",
            Some(33),
        ),
    ] {
        assert_graph_error(&world.call("POST", path, None).await, 400, 100, subcode);
    }
    let by_app_id = world
        .call(
            "POST",
            "1000000000000001/uploads?file_name=a.png&file_length=5&file_type=image/png",
            None,
        )
        .await;
    assert_eq!(by_app_id.0, 200);
    let session = start_session(&world, 4).await;
    assert_graph_error(
        &send_bytes(&world, &session, 0, b"too long").await,
        400,
        100,
        None,
    );
}
