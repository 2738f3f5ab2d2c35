//! A contact's data rights: export everything held about them, or erase
//! them (keys with the `privacy` scope).

use axum::{
    extract::{rejection::PathRejection, Path, State},
    http::HeaderMap,
    routing::{delete, get},
    Json,
};
use serde_json::json;
use switchboard::{
    api_keys::PRIVACY,
    data_rights::{self, ContactExport, ErasureReport},
};

use super::{
    audit, authorize,
    openapi::{schema, Operation, Param, CONTACT_ID},
    ApiError, ApiState, Endpoint,
};

const CONTACT_PARAM: Param = Param {
    name: "contact_id",
    description:
        "Switchboard's id of the contact (the `contact.id` of messages and conversations).",
    schema: CONTACT_ID,
};

static EXPORT_DOC: Operation = Operation {
    method: "get",
    path: "/api/v1/contacts/{contact_id}/export",
    id: "exportContact",
    summary: "Export a contact's data",
    description: "Everything Switchboard holds about one contact: the ids Meta knew them by, \
        every message with its receipts, what was queued to them, and their files (base64).",
    scope: PRIVACY,
    path_params: &[CONTACT_PARAM],
    query: None,
    headers: &[],
    body: None,
    success: (200, "The contact's data.", schema::<ContactExport>),
    errors: &[
        (404, "No such contact in this workspace (`not_found`)."),
        (422, "Not a contact id (`invalid_request`)."),
    ],
};

static ERASE_DOC: Operation = Operation {
    method: "delete",
    path: "/api/v1/contacts/{contact_id}",
    id: "eraseContact",
    summary: "Erase a contact",
    description: "Deletes the contact and everything held about them (messages, receipts, files, \
        queued messages, events for your endpoints, raw webhooks naming them). Webhooks Meta sent \
        before the erasure that arrive again do not bring them back; a message they send later \
        starts a new contact. The audit log keeps only the counts.",
    scope: PRIVACY,
    path_params: &[CONTACT_PARAM],
    query: None,
    headers: &[],
    body: None,
    success: (200, "What was deleted, by kind.", schema::<ErasureReport>),
    errors: &[
        (404, "No such contact in this workspace (`not_found`)."),
        (422, "Not a contact id (`invalid_request`)."),
    ],
};

pub(super) fn export() -> Endpoint {
    Endpoint {
        doc: &EXPORT_DOC,
        handler: get(export_contact),
    }
}

pub(super) fn erase() -> Endpoint {
    Endpoint {
        doc: &ERASE_DOC,
        handler: delete(erase_contact),
    }
}

async fn export_contact(
    State(state): State<ApiState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<ContactExport>, ApiError> {
    let caller = authorize(&state, &headers, PRIVACY).await?;
    let Path(contact_id) = path?;
    let export =
        data_rights::export(&state.engine.store, &caller.workspace_id, &contact_id).await?;
    audit(&state, &caller, "api.contact_exported", json!({})).await?;
    Ok(Json(export))
}

async fn erase_contact(
    State(state): State<ApiState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<ErasureReport>, ApiError> {
    let caller = authorize(&state, &headers, PRIVACY).await?;
    let Path(contact_id) = path?;
    let report = data_rights::erase(
        &state.engine.store,
        &caller.workspace_id,
        &contact_id,
        None,
        Some(&caller.key_id),
    )
    .await?;
    Ok(Json(report))
}
