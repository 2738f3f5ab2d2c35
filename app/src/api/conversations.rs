//! Conversations and their threads (everyone in the workspace).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::errors::UiError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationView {
    pub phone_number_id: String,
    pub customer: String,
    pub name: String,
    pub messages: i64,
    pub last_at: i64,
    pub last_summary: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineView {
    pub wamid: String,
    pub inbound: bool,
    pub summary: String,
    pub sent_at: i64,
    pub status: Option<String>,
}

#[server(prefix = "/api", endpoint = "list_conversations")]
pub async fn list_conversations() -> Result<Vec<ConversationView>, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    let list = switchboard::conversations::list(&engine.store, &caller).await?;
    Ok(list
        .into_iter()
        .map(|c| ConversationView {
            name: c
                .customer_name
                .clone()
                .unwrap_or_else(|| format!("+{}", c.customer)),
            phone_number_id: c.phone_number_id,
            customer: c.customer,
            messages: c.messages,
            last_at: c.last_at,
            last_summary: c.last_summary,
        })
        .collect())
}

#[server(prefix = "/api", endpoint = "conversation_thread")]
pub async fn conversation_thread(
    phone_number_id: String,
    customer: String,
) -> Result<Vec<LineView>, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    let lines =
        switchboard::conversations::thread(&engine.store, &caller, &phone_number_id, &customer)
            .await?;
    Ok(lines
        .into_iter()
        .map(|l| LineView {
            inbound: l.direction == "inbound",
            wamid: l.wamid,
            summary: l.summary,
            sent_at: l.sent_at,
            status: l.status,
        })
        .collect())
}
