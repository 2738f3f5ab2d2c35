//! Listing the workspace's message templates, as last synced from Meta.

use axum::{
    extract::{rejection::QueryRejection, Query, State},
    http::HeaderMap,
    routing::get,
    Json,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use switchboard::api_keys::READ;

use super::{
    audit, authorize,
    openapi::{query, schema, Operation},
    ApiError, ApiState, Endpoint,
};

/// Which templates to list.
#[derive(Deserialize, JsonSchema)]
pub struct TemplateQuery {
    /// Only this status: `APPROVED`, `PENDING`, `REJECTED`, `PAUSED`, ...
    pub status: Option<String>,
    /// Only names containing this.
    pub name: Option<String>,
}

/// A message template of one of the workspace's WhatsApp Business Accounts.
#[derive(Serialize, JsonSchema)]
pub struct Template {
    pub waba_id: String,
    pub name: String,
    pub language: String,
    /// `UTILITY`, `MARKETING` or `AUTHENTICATION`.
    pub category: String,
    /// Only `APPROVED` templates can be sent.
    pub status: String,
    /// Meta's reason, for rejected templates.
    pub rejected_reason: Option<String>,
    /// Meta's quality score from recipients' feedback: `GREEN`, `YELLOW`,
    /// `RED` or `UNKNOWN`; absent until Meta has scored it.
    pub quality: Option<String>,
    /// Meta's components (header, body, footer, buttons).
    pub components: Value,
}

#[derive(Serialize, JsonSchema)]
pub struct TemplateList {
    pub data: Vec<Template>,
}

static TEMPLATES_DOC: Operation = Operation {
    method: "get",
    path: "/api/v1/templates",
    id: "listTemplates",
    summary: "List message templates",
    description: "Templates of every WhatsApp Business Account the workspace has a number in, \
        as last synced from Meta (on connect, hourly and after every review webhook). \
        Send one with `sendMessage` and a message of type `template`.",
    scope: READ,
    path_params: &[],
    query: Some(query::<TemplateQuery>),
    headers: &[],
    body: None,
    success: (200, "The templates.", schema::<TemplateList>),
    errors: &[],
};

pub(super) fn list() -> Endpoint {
    Endpoint {
        doc: &TEMPLATES_DOC,
        handler: get(list_templates),
    }
}

async fn list_templates(
    State(state): State<ApiState>,
    headers: HeaderMap,
    filter: Result<Query<TemplateQuery>, QueryRejection>,
) -> Result<Json<TemplateList>, ApiError> {
    let caller = authorize(&state, &headers, READ).await?;
    let Query(filter) = filter?;
    let stored = state
        .engine
        .store
        .templates_of_workspace(&caller.workspace_id)
        .await?;
    audit(&state, &caller, "api.templates_listed", json!({})).await?;
    let wanted_status = filter.status.map(|s| s.to_uppercase());
    Ok(Json(TemplateList {
        data: stored
            .into_iter()
            .filter(|t| wanted_status.as_ref().is_none_or(|s| &t.status == s))
            .filter(|t| {
                filter
                    .name
                    .as_ref()
                    .is_none_or(|n| t.name.contains(n.as_str()))
            })
            .map(|t| Template {
                components: serde_json::from_str(&t.components).unwrap_or(Value::Null),
                waba_id: t.waba_id,
                name: t.name,
                language: t.language,
                category: t.category,
                status: t.status,
                rejected_reason: t.rejected_reason,
                quality: t.quality,
            })
            .collect(),
    }))
}
