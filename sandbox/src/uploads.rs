//! The Resumable Upload API: start a session on the app, send bytes with a
//! `file_offset` header (resuming where an interrupted transfer stopped),
//! read the offset back, and receive the handle `h`.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::{
    error::{GraphError, GraphResult},
    faults,
    graph::{authorized, GraphRequest},
    ids,
    world::UploadSession,
    State,
};

const FILE_TYPES: [&str; 5] = [
    "application/pdf",
    "image/jpeg",
    "image/jpg",
    "image/png",
    "video/mp4",
];

/// `POST /{app-id}/uploads` (or `/app/uploads`).
pub fn start(state: &State, request: &GraphRequest) -> GraphResult<Value> {
    authorized(state, request)?;
    let app_id = state.config().app_id.clone();
    if request.id() != app_id && request.id() != "app" {
        return Err(request.unknown_object());
    }
    request
        .param("file_name")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| GraphError::invalid_parameter("The parameter file_name is required."))?;
    let file_length: usize = request
        .param("file_length")
        .and_then(|l| l.parse().ok())
        .filter(|l| *l > 0)
        .ok_or_else(|| {
            GraphError::invalid_parameter("The parameter file_length must be a positive integer.")
        })?;
    request
        .param("file_type")
        .filter(|t| FILE_TYPES.contains(&t.as_str()))
        .ok_or_else(|| {
            GraphError::invalid_parameter(format!(
                "The parameter file_type must be one of {}.",
                FILE_TYPES.join(", ")
            ))
        })?;
    let id = ids::upload_session(&mut state.rng());
    state.world().uploads.insert(
        id.clone(),
        UploadSession {
            file_length,
            received: Vec::new(),
            handle: None,
        },
    );
    Ok(json!({ "id": id }))
}

fn session_of(state: &State, request: &GraphRequest) -> GraphResult<UploadSession> {
    state
        .world()
        .uploads
        .get(request.id())
        .cloned()
        .ok_or_else(|| request.unknown_object())
}

/// `GET /upload:...`: how many bytes arrived, to resume from there.
pub fn status(state: &State, request: &GraphRequest) -> GraphResult<Value> {
    authorized(state, request)?;
    let session = session_of(state, request)?;
    Ok(json!({ "id": request.id(), "file_offset": session.received.len() }))
}

/// `POST /upload:...` with `file_offset` and the bytes from there on.
pub fn append(state: &State, request: &GraphRequest) -> GraphResult<Value> {
    authorized(state, request)?;
    let session = session_of(state, request)?;
    let offset: usize = request
        .headers
        .get("file_offset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| GraphError::invalid_parameter("The file_offset header is required."))?;
    if offset != session.received.len() {
        return Err(GraphError::invalid_parameter(format!(
            "file_offset {offset} does not match the upload session's offset {}.",
            session.received.len()
        )));
    }
    if offset + request.body.len() > session.file_length {
        return Err(GraphError::invalid_parameter(format!(
            "The upload is longer than the declared file_length {}.",
            session.file_length
        )));
    }
    // An injected interruption keeps part of the bytes and fails the call,
    // as a dropped connection would.
    let mut body = request.body.as_ref();
    let mut interrupted = false;
    if let Some(after_bytes) = faults::take_upload_interruption(state) {
        body = &body[..body.len().min(after_bytes)];
        interrupted = true;
    }
    let mut world = state.world();
    let stored = world.uploads.get_mut(request.id()).expect("checked");
    stored.received.extend_from_slice(body);
    if interrupted {
        return Err(GraphError::oauth(2, "The connection was interrupted.")
            .with_status(StatusCode::SERVICE_UNAVAILABLE));
    }
    if stored.received.len() < stored.file_length {
        return Ok(json!({ "id": request.id(), "file_offset": stored.received.len() }));
    }
    let handle = stored
        .handle
        .clone()
        .unwrap_or_else(|| ids::handle(&mut state.rng()));
    stored.handle = Some(handle.clone());
    world.upload_handles.push(handle.clone());
    Ok(json!({ "h": handle }))
}
