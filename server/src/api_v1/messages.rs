//! Sending a message and reading its state.

use axum::{
    body::Bytes,
    extract::{rejection::BytesRejection, Path, State},
    http::{HeaderMap, StatusCode},
    routing::{get, post},
    Json,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard::{
    api_keys::{READ, SEND},
    conversations,
    outbox::{self, Content, Origin, OutboundMessage},
};

use super::{
    audit, authorize,
    openapi::{schema, Operation, Param, OUTBOX_ID},
    ApiError, ApiState, Endpoint,
};

/// A message for a customer, sent from one of the workspace's numbers.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// The workspace's number to send from.
    #[schemars(pattern(r"^[0-9]{1,32}$"))]
    pub phone_number_id: String,
    /// The customer: their WhatsApp phone number, digits only (`wa_id`);
    /// their business-scoped user id (BSUID, like `US.13491208655302741918`),
    /// for customers whose phone Meta withholds; or a contact id (`ct_…`,
    /// a conversation's `contact.id`). The message goes by phone when one
    /// is known for the customer, else by BSUID.
    #[schemars(pattern(r"^([0-9]{5,20}|[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}|ct_[0-9a-f]{32})$"))]
    pub to: String,
    pub message: Content,
    /// The wamid of the message this one answers (shown quoted).
    #[serde(default)]
    pub reply_to: Option<String>,
}

/// The message is queued; the outbox sends it at the number's pace.
#[derive(Serialize, JsonSchema)]
pub struct Accepted {
    /// Read its state at `/api/v1/messages/{id}`.
    pub id: i64,
    /// Always `queued` here.
    pub state: String,
    /// True when this answers a retry under the same `Idempotency-Key`.
    pub replayed: bool,
}

/// Where a message is: the outbox's state, then Meta's status.
#[derive(Serialize, JsonSchema)]
pub struct MessageState {
    pub id: i64,
    /// `queued`, `sent`, `failed` or `needs_template`.
    pub state: String,
    /// Meta's id once Meta accepted it.
    pub wamid: Option<String>,
    /// Meta's latest status: `sent`, `delivered`, `read` or `failed`.
    pub status: Option<String>,
    pub attempts: i64,
    /// Why it failed, as Meta said.
    pub error: Option<SendError>,
}

#[derive(Serialize, JsonSchema)]
pub struct SendError {
    pub meta_code: Option<i64>,
    pub title: Option<String>,
}

static SEND_DOC: Operation = Operation {
    method: "post",
    path: "/api/v1/messages",
    id: "sendMessage",
    summary: "Send a message",
    description: "Queues any message the outbox sends: text, image, video, audio, document, \
        template, buttons, list, request_contact_info (asks the customer to share their phone), \
        reaction, mark_read. Outside the customer's 24-hour window only \
        templates are delivered. `to` is a phone, a BSUID or a contact id; an authentication \
        template to a customer whose phone is not known is refused (Meta sends those to phones only). Retry with the same `Idempotency-Key` and the same body to get \
        the same message back instead of a second one.",
    scope: SEND,
    path_params: &[],
    query: None,
    headers: &[Param {
        name: "Idempotency-Key",
        description: "1 to 255 visible characters; the same key and body again return the first answer.",
        schema: r#"{"type": "string", "pattern": "^[!-~]([ -~]{0,253}[!-~])?$"}"#,
    }],
    body: Some(schema::<SendRequest>),
    success: (202, "Queued.", schema::<Accepted>),
    errors: &[
        (400, "Malformed JSON (`malformed_json`) or a bad `Idempotency-Key`."),
        (404, "The number is not this workspace's (`not_found`)."),
        (413, "The body is over 64 KB (`payload_too_large`)."),
        (
            422,
            "Invalid message (`invalid_request`) or the key reused for another body (`idempotency_key_reused`).",
        ),
    ],
};

pub(super) fn send() -> Endpoint {
    Endpoint {
        doc: &SEND_DOC,
        handler: post(send_message),
    }
}

static STATUS_DOC: Operation = Operation {
    method: "get",
    path: "/api/v1/messages/{id}",
    id: "getMessage",
    summary: "Read a sent message's state",
    description: "The outbox's state of a message sent through this API or the app, and Meta's latest status for it.",
    scope: READ,
    path_params: &[Param {
        name: "id",
        description: "The id `sendMessage` answered.",
        schema: OUTBOX_ID,
    }],
    query: None,
    headers: &[],
    body: None,
    success: (200, "The message's state.", schema::<MessageState>),
    errors: &[(404, "No such message in this workspace (`not_found`).")],
};

pub(super) fn status() -> Endpoint {
    Endpoint {
        doc: &STATUS_DOC,
        handler: get(message_status),
    }
}

async fn send_message(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let caller = authorize(&state, &headers, SEND).await?;
    let request: SendRequest = serde_json::from_slice(&body?)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", e.to_string()))?;
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => match value.to_str() {
            // As documented: visible ASCII and spaces, no tab.
            Ok(key)
                if !key.is_empty()
                    && key.len() <= 255
                    && key.bytes().all(|b| (0x20..=0x7e).contains(&b)) =>
            {
                Some(format!("api:{key}"))
            }
            _ => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_idempotency_key",
                    "Idempotency-Key is 1 to 255 visible characters.",
                ))
            }
        },
    };
    let message = OutboundMessage {
        phone_number_id: request.phone_number_id,
        recipient: request.to,
        content: request.message,
        context_wamid: request.reply_to,
    };
    let (id, fresh) = outbox::queue(
        &state.engine,
        &caller.workspace_id,
        None,
        &message,
        Origin::Api,
        idempotency_key.as_deref(),
    )
    .await?;
    if !fresh {
        // The same key again: the same request gets the same answer;
        // another request under it is refused.
        let entry = state
            .engine
            .store
            .outbox_entry(&caller.workspace_id, id)
            .await?
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::CONFLICT,
                    "idempotency_conflict",
                    "The earlier request is gone.",
                )
            })?;
        // The same customer, however the request named them.
        let named = conversations::contact_of(
            &state.engine.store,
            &caller.workspace_id,
            &message.phone_number_id,
            &message.recipient,
        )
        .await?
        .map(|contact| contact.id);
        let same = entry.phone_number_id == message.phone_number_id
            && named.is_some()
            && named == entry.contact_id
            && serde_json::from_str::<Content>(&entry.content)
                .ok()
                .as_ref()
                == Some(&message.content);
        if !same {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "This Idempotency-Key was used for another request.",
            ));
        }
    }
    audit(
        &state,
        &caller,
        "api.message_queued",
        json!({ "outbox_id": id, "replayed": !fresh }),
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            id,
            state: switchboard::store::OutboxState::Queued.to_string(),
            replayed: !fresh,
        }),
    ))
}

async fn message_status(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<MessageState>, ApiError> {
    let caller = authorize(&state, &headers, READ).await?;
    let id: i64 = id.parse().map_err(|_| ApiError::not_found("message"))?;
    let store = &state.engine.store;
    let entry = store
        .outbox_entry(&caller.workspace_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("message"))?;
    let status = match &entry.wamid {
        Some(wamid) => store.delivery_status(&entry.phone_number_id, wamid).await?,
        None => None,
    };
    audit(
        &state,
        &caller,
        "api.message_read",
        json!({ "outbox_id": id }),
    )
    .await?;
    Ok(Json(MessageState {
        id: entry.id,
        state: entry.state.to_string(),
        wamid: entry.wamid,
        status,
        attempts: entry.attempts,
        error: (entry.error_code.is_some() || entry.error_title.is_some()).then_some(SendError {
            meta_code: entry.error_code,
            title: entry.error_title,
        }),
    }))
}
