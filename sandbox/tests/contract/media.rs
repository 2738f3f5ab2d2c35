use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

use crate::helpers::{answer, assert_graph_error, World};

async fn upload(world: &World, mime: &str, bytes: Vec<u8>) -> (u16, Value) {
    let form = Form::new().text("messaging_product", "whatsapp").part(
        "file",
        Part::bytes(bytes).file_name("file").mime_str(mime).unwrap(),
    );
    answer(
        world
            .http
            .post(world.graph(&format!("{}/media", world.demo().phone_number_id)))
            .bearer_auth(&world.token)
            .multipart(form),
    )
    .await
}

#[tokio::test]
async fn upload_describe_download_and_delete() {
    let world = World::start().await;
    let (status, body) = upload(&world, "image/png", b"\x89PNG fake image".to_vec()).await;
    assert_eq!(status, 200, "{body}");
    let id = body["id"].as_str().unwrap().to_string();

    let (status, info) = world.call("GET", &id, None).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["mime_type"], "image/png");
    assert_eq!(info["file_size"], 15);
    assert_eq!(info["messaging_product"], "whatsapp");
    let url = info["url"].as_str().unwrap().to_string();

    // The download needs the bearer token.
    assert_eq!(world.http.get(&url).send().await.unwrap().status(), 401);
    let file = world
        .http
        .get(&url)
        .bearer_auth(&world.token)
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 200);
    assert_eq!(file.headers()["content-type"], "image/png");
    assert_eq!(file.bytes().await.unwrap().as_ref(), b"\x89PNG fake image");

    // The URL lives five minutes.
    world.advance_clock(301).await;
    assert_eq!(
        world
            .http
            .get(&url)
            .bearer_auth(&world.token)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    assert_eq!(
        world.call("DELETE", &id, None).await,
        (200, json!({ "success": true }))
    );
    assert_graph_error(&world.call("GET", &id, None).await, 400, 100, Some(33));
}

#[tokio::test]
async fn uploads_are_checked_for_type_and_size() {
    let world = World::start().await;
    assert_graph_error(
        &upload(&world, "application/x-msdownload", b"MZ".to_vec()).await,
        400,
        131053,
        None,
    );
    assert_graph_error(
        &upload(&world, "image/jpeg", vec![0; (5 << 20) + 1]).await,
        400,
        131053,
        None,
    );
    assert_graph_error(
        &upload(&world, "image/jpeg", Vec::new()).await,
        400,
        131053,
        None,
    );
}

#[tokio::test]
async fn uploaded_media_can_be_sent_by_id() {
    let world = World::start().await;
    world.customer_writes("send me the menu").await;
    let (_, body) = upload(&world, "application/pdf", b"%PDF-1.4 menu".to_vec()).await;
    let to = world.demo().customer_wa_id.clone();
    let message = json!({ "messaging_product": "whatsapp", "to": to, "type": "document",
        "document": { "id": body["id"], "filename": "menu.pdf", "caption": "Our menu" } });
    let (status, sent) = world
        .call(
            "POST",
            &format!("{}/messages", world.demo().phone_number_id),
            Some(message),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
}

#[tokio::test]
async fn inbound_media_can_be_fetched_by_the_business() {
    let world = World::start().await;
    let wa_id = world.demo().customer_wa_id.clone();
    let (status, _) = world
        .control(
            "POST",
            &format!("/_sandbox/customers/{wa_id}/messages"),
            json!({ "type": "image", "image": {}, "data_base64": "aGVsbG8=" }),
        )
        .await;
    assert_eq!(status, 200);
    let bodies = world.receiver.wait_for(1).await;
    let id = bodies[0]["entry"][0]["changes"][0]["value"]["messages"][0]["image"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, info) = world.call("GET", &id, None).await;
    let bytes = world
        .http
        .get(info["url"].as_str().unwrap())
        .bearer_auth(&world.token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(bytes.as_ref(), b"hello");
}
