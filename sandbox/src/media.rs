//! Media: upload (multipart), `GET /{media-id}` with a download URL that
//! lives five minutes, the download itself (bearer required), delete.

use axum::{
    extract::{Query, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing, Router,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::{
    auth,
    error::{GraphError, GraphResult},
    graph::{authorized, GraphRequest},
    ids, phones,
    world::{Media, MediaUrl, Millis},
    State as AppState,
};

const URL_TTL_MS: Millis = 5 * 60 * 1000;

/// Accepted MIME types and their size limits in bytes.
const LIMITS: [(&str, usize); 15] = [
    ("audio/aac", 16 << 20),
    ("audio/amr", 16 << 20),
    ("audio/mpeg", 16 << 20),
    ("audio/mp4", 16 << 20),
    ("audio/ogg", 16 << 20),
    ("text/plain", 100 << 20),
    ("application/pdf", 100 << 20),
    ("application/msword", 100 << 20),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        100 << 20,
    ),
    ("application/vnd.ms-excel", 100 << 20),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        100 << 20,
    ),
    ("image/jpeg", 5 << 20),
    ("image/png", 5 << 20),
    ("image/webp", 500 << 10),
    ("video/mp4", 16 << 20),
];

pub fn routes() -> Router<AppState> {
    Router::new().route("/_media/download", routing::get(download))
}

fn upload_error(details: impl Into<String>) -> GraphError {
    GraphError::whatsapp(
        StatusCode::BAD_REQUEST,
        131053,
        "Media upload error",
        details,
    )
}

pub async fn upload(state: &AppState, request: &GraphRequest) -> GraphResult<Value> {
    let token = authorized(state, request)?;
    let phone = phones::visible_phone(state, request, &token)?;
    let not_multipart =
        || GraphError::invalid_parameter("The request must be multipart/form-data with a file.");
    let content_type = request
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(not_multipart)?;
    let boundary = multer::parse_boundary(content_type).map_err(|_| not_multipart())?;
    let body = request.body.clone();
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut form = multer::Multipart::new(stream, boundary);

    let mut product = None;
    let mut file: Option<(String, Vec<u8>)> = None;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| GraphError::invalid_parameter(format!("Malformed multipart body: {e}")))?
    {
        match field.name().unwrap_or_default() {
            "messaging_product" => product = field.text().await.ok(),
            "file" => {
                let mime = field
                    .content_type()
                    .map(|m| m.to_string())
                    .unwrap_or_else(|| "application/octet-stream".into());
                let bytes = field.bytes().await.map_err(|e| {
                    GraphError::invalid_parameter(format!("Malformed file part: {e}"))
                })?;
                file = Some((mime, bytes.to_vec()));
            }
            _ => {}
        }
    }
    if product.as_deref() != Some("whatsapp") {
        return Err(GraphError::invalid_parameter(
            "The parameter messaging_product is required.",
        ));
    }
    let (mime, bytes) =
        file.ok_or_else(|| GraphError::invalid_parameter("The parameter file is required."))?;
    let base_mime = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let limit = LIMITS
        .iter()
        .find(|(m, _)| *m == base_mime)
        .map(|(_, limit)| *limit)
        .ok_or_else(|| upload_error(format!("Unsupported file type {mime}.")))?;
    if bytes.is_empty() || bytes.len() > limit {
        return Err(upload_error(format!(
            "The file is {} bytes; {mime} allows 1 to {limit}.",
            bytes.len()
        )));
    }
    let id = ids::numeric(&mut state.rng());
    state.world().media.insert(
        id.clone(),
        Media {
            id: id.clone(),
            phone_id: phone.id,
            mime_type: mime,
            sha256: STANDARD.encode(Sha256::digest(&bytes)),
            bytes,
        },
    );
    Ok(json!({ "id": id }))
}

pub fn is_media(state: &AppState, id: &str) -> bool {
    state.world().media.contains_key(id)
}

/// The media in the path, if the token's WABAs own its number.
fn visible_media(state: &AppState, request: &GraphRequest) -> GraphResult<Media> {
    let token = authorized(state, request)?;
    let world = state.world();
    let media = world
        .media
        .get(request.id())
        .ok_or_else(|| request.unknown_object())?;
    let owner = world.phones.get(&media.phone_id).map(|p| p.waba_id.clone());
    if !owner.is_some_and(|waba| token.may_manage_waba(&waba)) {
        return Err(request.unknown_object());
    }
    if let Some(phone) = request.param("phone_number_id") {
        if phone != media.phone_id {
            return Err(GraphError::invalid_parameter(
                "The media does not belong to this phone number.",
            ));
        }
    }
    Ok(media.clone())
}

pub fn get(state: &AppState, request: &GraphRequest) -> GraphResult<Value> {
    let media = visible_media(state, request)?;
    let key = ids::opaque(&mut state.rng(), 40);
    let expires_at = state.clock.now() + URL_TTL_MS;
    state.world().media_urls.insert(
        key.clone(),
        MediaUrl {
            media_id: media.id.clone(),
            expires_at,
        },
    );
    Ok(json!({
        "messaging_product": "whatsapp",
        "url": format!("{}/_media/download?mid={key}&ext={}", state.base_url, expires_at / 1000),
        "mime_type": media.mime_type,
        "sha256": media.sha256,
        "file_size": media.bytes.len(),
        "id": media.id,
    }))
}

pub fn delete(state: &AppState, request: &GraphRequest) -> GraphResult<Value> {
    let media = visible_media(state, request)?;
    let mut world = state.world();
    world.media.remove(&media.id);
    world.media_urls.retain(|_, url| url.media_id != media.id);
    Ok(json!({ "success": true }))
}

#[derive(serde::Deserialize)]
struct DownloadQuery {
    mid: String,
}

/// The download: needs the bearer token, and the URL's five minutes.
async fn download(
    State(state): State<AppState>,
    Query(query): Query<DownloadQuery>,
    headers: HeaderMap,
) -> Response {
    let now = state.clock.now();
    let world = state.world();
    let Some(presented) = auth::presented_token(&headers, &[]) else {
        return (StatusCode::UNAUTHORIZED, "a bearer token is required").into_response();
    };
    let token = match auth::require(&world, Some(&presented), now) {
        Ok(token) => token,
        Err(error) => return error.into_response(),
    };
    let found = world
        .media_urls
        .get(&query.mid)
        .filter(|url| url.expires_at > now)
        .and_then(|url| world.media.get(&url.media_id));
    let Some(media) = found else {
        return (StatusCode::NOT_FOUND, "URL expired or unknown").into_response();
    };
    let owner = world.phones.get(&media.phone_id).map(|p| p.waba_id.clone());
    if !owner.is_some_and(|waba| token.may_manage_waba(&waba)) {
        return (StatusCode::FORBIDDEN, "forbidden").into_response();
    }
    (
        [(header::CONTENT_TYPE, media.mime_type.clone())],
        media.bytes.clone(),
    )
        .into_response()
}
