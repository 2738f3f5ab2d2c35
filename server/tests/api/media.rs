//! `/media/...`: a customer's file for the members of its workspace only,
//! and never served as something a browser would run.

use switchboard::test_support::TestBackend;

use crate::helpers::{member_elsewhere, owner, spawn_app, Visitor};

const PHONE: &str = "106540352242922";

async fn keep_file(
    app: &crate::helpers::TestApp,
    workspace: &str,
    media_id: &str,
    mime: &str,
    bytes: &[u8],
) {
    let url = app.db.url.as_str().to_string();
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query(
        "INSERT INTO inbound_media (phone_number_id, media_id, workspace_id, wamid, mime_type, state, next_attempt_at, size, bytes, created_at)
         VALUES ($1, $2, $3, $4, $5, 'stored', 0, $6, $7, 0)",
    )
    .bind(PHONE).bind(media_id).bind(workspace).bind(format!("wamid.{media_id}")).bind(mime)
    .bind(bytes.len() as i64).bind(bytes)
    .execute(&pool).await.unwrap();
}

#[tokio::test]
async fn files_are_served_to_their_workspace_only_and_never_as_pages() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let mut owner = owner(&app).await;
    let (_, welcome) = owner.call("welcome", &[]).await;
    let workspace = serde_json::from_str::<serde_json::Value>(&welcome).unwrap()["me"]["current"]
        ["id"]
        .as_str()
        .unwrap()
        .to_string();
    keep_file(&app, &workspace, "111", "image/jpeg", b"\xff\xd8jpeg bytes").await;
    keep_file(
        &app,
        &workspace,
        "222",
        "text/html",
        b"<script>alert(1)</script>",
    )
    .await;

    let photo = owner.page(&format!("/media/{PHONE}/111")).await;
    assert_eq!(photo.status(), 200);
    assert_eq!(photo.headers()["content-type"], "image/jpeg");
    assert_eq!(photo.headers()["x-content-type-options"], "nosniff");
    assert_eq!(photo.bytes().await.unwrap().as_ref(), b"\xff\xd8jpeg bytes");

    let page = owner.page(&format!("/media/{PHONE}/222")).await;
    assert_eq!(page.headers()["content-type"], "application/octet-stream");
    assert_eq!(page.headers()["content-disposition"], "attachment");
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("sandbox"));

    assert_eq!(
        Visitor::new(&app)
            .page(&format!("/media/{PHONE}/111"))
            .await
            .status(),
        401
    );
    assert_eq!(
        owner.page(&format!("/media/{PHONE}/999")).await.status(),
        404
    );
    let stranger = member_elsewhere(&app, &mut owner, "s@example.com", "viewer").await;
    assert_eq!(
        stranger.page(&format!("/media/{PHONE}/111")).await.status(),
        404
    );
}
