//! Listing the workspace's numbers.

use axum::{extract::State, http::HeaderMap, routing::get, Json};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::json;
use switchboard::api_keys::READ;

use super::{
    audit, authorize,
    openapi::{schema, Operation},
    ApiError, ApiState, Endpoint,
};

/// A WhatsApp number connected to the workspace.
#[derive(Serialize, JsonSchema)]
pub struct Number {
    /// Meta's id of the number; send from it with `phone_number_id`.
    pub phone_number_id: String,
    /// The WhatsApp Business Account it belongs to.
    pub waba_id: String,
    pub display_phone_number: Option<String>,
    pub verified_name: Option<String>,
    /// Meta's quality rating: `GREEN`, `YELLOW`, `RED` or `UNKNOWN`.
    pub quality_rating: Option<String>,
    /// `live` numbers send; others (`reconnect_needed`, `paused_by_meta`,
    /// `disabled_by_meta`, `offboarded`, `reconnecting`, `disconnected`, or
    /// still connecting) do not: their messages wait.
    pub status: String,
    /// Messages per second the outbox sends from it.
    pub send_rate: i64,
    /// The business keeps using the WhatsApp Business app on it
    /// (coexistence): at most 20 messages per second.
    pub business_app: bool,
}

#[derive(Serialize, JsonSchema)]
pub struct NumberList {
    pub data: Vec<Number>,
}

static NUMBERS_DOC: Operation = Operation {
    method: "get",
    path: "/api/v1/numbers",
    id: "listNumbers",
    summary: "List numbers",
    description: "Every number connected to the workspace, with its state.",
    scope: READ,
    path_params: &[],
    query: None,
    headers: &[],
    body: None,
    success: (200, "The workspace's numbers.", schema::<NumberList>),
    errors: &[],
};

pub(super) fn list() -> Endpoint {
    Endpoint {
        doc: &NUMBERS_DOC,
        handler: get(list_numbers),
    }
}

async fn list_numbers(
    State(state): State<ApiState>,
    headers: HeaderMap,
) -> Result<Json<NumberList>, ApiError> {
    let caller = authorize(&state, &headers, READ).await?;
    let numbers = state
        .engine
        .store
        .numbers_of(&caller.workspace_id.as_str().into())
        .await?;
    audit(&state, &caller, "api.numbers_listed", json!({})).await?;
    Ok(Json(NumberList {
        data: numbers
            .into_iter()
            .map(|n| Number {
                phone_number_id: n.phone_number_id.into_string(),
                waba_id: n.waba_id.into_string(),
                display_phone_number: n.display_phone_number,
                verified_name: n.verified_name,
                quality_rating: n.quality_rating,
                status: n.status.to_string(),
                send_rate: n.send_rate,
                business_app: n.business_app_since.is_some(),
            })
            .collect(),
    }))
}
