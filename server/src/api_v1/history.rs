//! Reading conversations and their messages, a page at a time.

use axum::{
    extract::{
        rejection::{PathRejection, QueryRejection},
        Path, Query, State,
    },
    http::HeaderMap,
    routing::{get, post},
    Json,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use switchboard::{
    api_keys::READ,
    contacts::ContactObject,
    conversations::{self, error_text, CONVERSATION_CURSOR, MESSAGE_CURSOR},
    store::MessageRecord,
};

use super::{
    audit, authorize,
    openapi::{query, schema, Operation, Param, CUSTOMER, PHONE_NUMBER_ID},
    ApiError, ApiState, Endpoint,
};

/// Which page of conversations to read.
#[derive(Deserialize, JsonSchema)]
pub struct ConversationPageQuery {
    /// Items per page, 1 to 100.
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = 100), default = "default_limit")]
    pub limit: i64,
    /// `next_cursor` of the page before; none for the first page.
    #[schemars(pattern(CONVERSATION_CURSOR))]
    pub cursor: Option<String>,
}

/// Which page of messages to read.
#[derive(Deserialize, JsonSchema)]
pub struct MessagePageQuery {
    /// Items per page, 1 to 100.
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = 100), default = "default_limit")]
    pub limit: i64,
    /// `next_cursor` of the page before; none for the first page.
    #[schemars(pattern(MESSAGE_CURSOR))]
    pub cursor: Option<String>,
}

fn default_limit() -> i64 {
    25
}

/// A customer's conversation with one of the workspace's numbers.
#[derive(Serialize, JsonSchema)]
pub struct Conversation {
    pub phone_number_id: String,
    /// Where messages to the customer go: their phone (`wa_id`) when
    /// known, else their BSUID. Either works in the messages path.
    pub customer: String,
    /// The profile name the customer gave WhatsApp, if known.
    pub customer_name: Option<String>,
    pub contact: ContactObject,
    pub messages: i64,
    /// Unix time in milliseconds of the latest message.
    pub last_at: i64,
    pub last_summary: String,
    /// The customer's messages since someone in the workspace last read
    /// the conversation (on the Conversations page, or with
    /// `markConversationRead`). History imported from the WhatsApp
    /// Business app never counts.
    pub unread: i64,
    /// Unix time in milliseconds when the customer service window closes
    /// (their last message + 24 hours): free-form messages are possible
    /// until then, templates only after. Absent if the customer never
    /// wrote.
    pub window_ends_at: Option<i64>,
}

/// A conversation marked read.
#[derive(Serialize, JsonSchema)]
pub struct ConversationRead {
    pub phone_number_id: String,
    pub contact: ContactObject,
    /// Always 0: nothing in it is unread now.
    pub unread: i64,
}

/// Conversations, the most recently active first.
#[derive(Serialize, JsonSchema)]
pub struct ConversationPage {
    pub data: Vec<Conversation>,
    /// Pass as `cursor` for the next page; none on the last page.
    pub next_cursor: Option<String>,
}

/// A message of a conversation, received or sent.
#[derive(Serialize, JsonSchema)]
pub struct Message {
    /// Meta's message id (wamid).
    pub id: String,
    /// `inbound` (from the customer) or `outbound`.
    pub direction: String,
    /// For a number on the WhatsApp Business app: `history` (imported from
    /// the app's chat history) or `business_app` (sent from the app);
    /// absent for messages through the Cloud API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// `text`, `image`, `template`, `interactive`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// A one-line text form of it.
    pub summary: String,
    /// Unix time in milliseconds.
    pub sent_at: i64,
    /// For outbound messages, Meta's latest status.
    pub status: Option<String>,
    /// Why it failed, as Meta said.
    pub error: Option<String>,
    /// The message itself: Meta's webhook object for inbound messages,
    /// the message as queued for outbound ones.
    pub payload: Value,
    /// The conversation's customer.
    pub contact: ContactObject,
}

/// Messages, the newest first.
#[derive(Serialize, JsonSchema)]
pub struct MessagePage {
    pub data: Vec<Message>,
    /// Pass as `cursor` for the next (older) page; none on the last page.
    pub next_cursor: Option<String>,
}

static CONVERSATIONS_DOC: Operation = Operation {
    method: "get",
    path: "/api/v1/conversations",
    id: "listConversations",
    summary: "List conversations",
    description: "The workspace's conversations, the most recently active first, a page at a time.",
    scope: READ,
    path_params: &[],
    query: Some(query::<ConversationPageQuery>),
    headers: &[],
    body: None,
    success: (200, "A page of conversations.", schema::<ConversationPage>),
    errors: &[(422, "A bad `limit` or `cursor` (`invalid_request`).")],
};

pub(super) fn conversations() -> Endpoint {
    Endpoint {
        doc: &CONVERSATIONS_DOC,
        handler: get(list_conversations),
    }
}

static MESSAGES_DOC: Operation = Operation {
    method: "get",
    path: "/api/v1/conversations/{phone_number_id}/{customer}/messages",
    id: "listMessages",
    summary: "List a conversation's messages",
    description:
        "Messages received from and sent to one customer on one number, the newest first. \
        Messages still waiting in the outbox are not listed; read them with `getMessage`.",
    scope: READ,
    path_params: &[
        Param {
            name: "phone_number_id",
            description: "The workspace's number.",
            schema: PHONE_NUMBER_ID,
        },
        Param {
            name: "customer",
            description: "The customer: a phone number (`wa_id`), a BSUID (current or one the customer had before) or a contact id (`ct_…`).",
            schema: CUSTOMER,
        },
    ],
    query: Some(query::<MessagePageQuery>),
    headers: &[],
    body: None,
    success: (200, "A page of messages.", schema::<MessagePage>),
    errors: &[(422, "A bad `limit` or `cursor` (`invalid_request`).")],
};

static READ_DOC: Operation = Operation {
    method: "post",
    path: "/api/v1/conversations/{phone_number_id}/{customer}/read",
    id: "markConversationRead",
    summary: "Mark a conversation read",
    description:
        "Sets the conversation's `unread` count to 0, as opening it on the Conversations page does, \
        for integrations that show conversations to people. Listing its messages does not mark it \
        read. Nothing is sent to the customer (no read receipt).",
    scope: READ,
    path_params: &[
        Param {
            name: "phone_number_id",
            description: "The workspace's number.",
            schema: PHONE_NUMBER_ID,
        },
        Param {
            name: "customer",
            description: "The customer: a phone number (`wa_id`), a BSUID (current or one the customer had before) or a contact id (`ct_…`).",
            schema: CUSTOMER,
        },
    ],
    query: None,
    headers: &[],
    body: None,
    success: (200, "The conversation, read.", schema::<ConversationRead>),
    errors: &[
        (404, "No such number in this workspace, or no such customer of it (`not_found`)."),
        (422, "A malformed `phone_number_id` or `customer` (`invalid_request`)."),
    ],
};

pub(super) fn mark_read() -> Endpoint {
    Endpoint {
        doc: &READ_DOC,
        handler: post(mark_conversation_read),
    }
}

pub(super) fn messages() -> Endpoint {
    Endpoint {
        doc: &MESSAGES_DOC,
        handler: get(list_messages),
    }
}

async fn list_conversations(
    State(state): State<ApiState>,
    headers: HeaderMap,
    page: Result<Query<ConversationPageQuery>, QueryRejection>,
) -> Result<Json<ConversationPage>, ApiError> {
    let caller = authorize(&state, &headers, READ).await?;
    let Query(page) = page?;
    let found = conversations::conversations_page(
        &state.engine.store,
        &caller.workspace_id,
        page.limit,
        page.cursor.as_deref(),
    )
    .await?;
    audit(&state, &caller, "api.conversations_listed", json!({})).await?;
    Ok(Json(ConversationPage {
        data: found
            .items
            .into_iter()
            .map(|c| Conversation {
                phone_number_id: c.phone_number_id,
                customer: c
                    .contact
                    .address()
                    .map_or_else(|| c.contact.id.to_string(), |a| a.as_str().to_string()),
                customer_name: c.contact.profile_name.clone(),
                contact: ContactObject::from(&c.contact),
                messages: c.messages,
                last_at: c.last_at,
                last_summary: c.last_summary,
                unread: c.unread,
                window_ends_at: c.window_ends_at,
            })
            .collect(),
        next_cursor: found.next_cursor,
    }))
}

async fn list_messages(
    State(state): State<ApiState>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    page: Result<Query<MessagePageQuery>, QueryRejection>,
) -> Result<Json<MessagePage>, ApiError> {
    let caller = authorize(&state, &headers, READ).await?;
    let Path((phone_number_id, customer)) = path?;
    let Query(page) = page?;
    let (contact, found) = conversations::messages_page(
        &state.engine.store,
        &caller.workspace_id,
        &phone_number_id,
        &customer,
        page.limit,
        page.cursor.as_deref(),
    )
    .await?;
    audit(
        &state,
        &caller,
        "api.messages_listed",
        json!({ "phone_number_id": phone_number_id }),
    )
    .await?;
    let contact = contact.as_ref().map(ContactObject::from);
    Ok(Json(MessagePage {
        data: found
            .items
            .into_iter()
            .filter_map(|record| Some(message(record, contact.clone()?)))
            .collect(),
        next_cursor: found.next_cursor,
    }))
}

async fn mark_conversation_read(
    State(state): State<ApiState>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<ConversationRead>, ApiError> {
    let caller = authorize(&state, &headers, READ).await?;
    let Path((phone_number_id, customer)) = path?;
    let contact = conversations::mark_read(
        &state.engine.store,
        &caller.workspace_id,
        &phone_number_id,
        &customer,
    )
    .await?;
    audit(
        &state,
        &caller,
        "api.conversation_read",
        json!({ "phone_number_id": phone_number_id, "contact_id": contact.id }),
    )
    .await?;
    Ok(Json(ConversationRead {
        phone_number_id,
        contact: ContactObject::from(&contact),
        unread: 0,
    }))
}

fn message(record: MessageRecord, contact: ContactObject) -> Message {
    Message {
        contact,
        id: record.wamid,
        direction: record.direction,
        origin: record.origin.map(|o| o.to_string()),
        kind: record.kind,
        summary: record.summary,
        sent_at: record.sent_at,
        status: record.status,
        error: error_text(record.error_code, record.error_title),
        // Stored as written; a row that is not JSON is still shown.
        payload: serde_json::from_str(&record.payload).unwrap_or(Value::String(record.payload)),
    }
}
