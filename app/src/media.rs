//! `GET /media/{number}/{media id}`: a customer's file, for members of the
//! workspace it was sent to. Only images, audio and video are served
//! inline; anything else downloads as bytes, so a file can never run as a
//! page of this site.

use axum::{
    extract::{Path, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use switchboard::{accounts::Role, Engine};

pub fn routes(engine: Engine) -> Router {
    Router::new()
        .route("/media/{phone_number_id}/{media_id}", get(media_file))
        .with_state(engine)
}

/// The type to serve a file as, and whether it may show inline.
fn served_as(mime_type: Option<&str>) -> (&'static str, bool) {
    const INLINE: [&str; 10] = [
        "image/jpeg",
        "image/png",
        "image/webp",
        "audio/aac",
        "audio/mpeg",
        "audio/mp4",
        "audio/ogg",
        "audio/amr",
        "video/mp4",
        "video/3gpp",
    ];
    let essence = mime_type
        .and_then(|m| m.split(';').next())
        .map(str::trim)
        .unwrap_or_default();
    match INLINE.iter().find(|t| **t == essence) {
        Some(t) => (*t, true),
        None => ("application/octet-stream", false),
    }
}

async fn media_file(
    State(engine): State<Engine>,
    headers: HeaderMap,
    Path((phone_number_id, media_id)): Path<(String, String)>,
) -> Response {
    let caller = match crate::session::caller_of_request(&engine, &headers, Role::Viewer).await {
        Ok(caller) => caller,
        Err(status) => return status.into_response(),
    };
    let file = match engine
        .store
        .media_file(&caller.workspace.id, &phone_number_id, &media_id)
        .await
    {
        Ok(Some(file)) => file,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(error) => {
            tracing::error!(%error, "cannot read a media file");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let (content_type, inline) = served_as(file.mime_type.as_deref());
    let disposition = if inline { "inline" } else { "attachment" };
    let mut response = file.bytes.into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_DISPOSITION, disposition),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; sandbox",
        ),
        (header::CACHE_CONTROL, "private, max-age=3600"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::served_as;

    #[test]
    fn only_media_types_show_inline() {
        assert_eq!(served_as(Some("image/jpeg")), ("image/jpeg", true));
        assert_eq!(
            served_as(Some("audio/ogg; codecs=opus")),
            ("audio/ogg", true)
        );
        assert_eq!(
            served_as(Some("text/html")),
            ("application/octet-stream", false)
        );
        assert_eq!(
            served_as(Some("application/pdf")),
            ("application/octet-stream", false)
        );
        assert_eq!(served_as(None), ("application/octet-stream", false));
    }
}
