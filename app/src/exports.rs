//! `GET /contacts/{contact id}/export`: everything held about a contact,
//! as a JSON file to download, for the workspace's admins (the contact
//! panel links to it; the integration API has the same export).

use axum::{
    extract::{Path, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use switchboard::{accounts::Role, data_rights, Engine, Error};

pub fn routes(engine: Engine) -> Router {
    Router::new()
        .route("/contacts/{contact_id}/export", get(export_contact))
        .with_state(engine)
}

async fn export_contact(
    State(engine): State<Engine>,
    headers: HeaderMap,
    Path(contact_id): Path<String>,
) -> Response {
    let caller = match crate::session::caller_of_request(&engine, &headers, Role::Admin).await {
        Ok(caller) => caller,
        Err(status) => return status.into_response(),
    };
    let export = match data_rights::export(&engine.store, &caller.workspace.id, &contact_id).await {
        Ok(export) => export,
        Err(Error::NotFound | Error::Invalid { .. }) => {
            return StatusCode::NOT_FOUND.into_response()
        }
        Err(error) => {
            tracing::error!(%error, "cannot export a contact");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let audited = switchboard::audit::record(
        &engine.store,
        Some(&caller.workspace.id),
        caller.actor(),
        "contact.exported",
        serde_json::json!({}),
    )
    .await;
    if let Err(error) = audited {
        tracing::error!(%error, "cannot audit an export");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let mut response = Json(export).into_response();
    let disposition = format!("attachment; filename=\"contact-{contact_id}.json\"");
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
