//! The webhook journal's problems, for admins: dead letters, rejected
//! bodies, unrouted changes; and replay.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::errors::UiError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventView {
    pub id: i64,
    pub received_at: i64,
    pub attempts: i64,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnroutedView {
    pub event_id: i64,
    pub phone_number_id: String,
    pub waba_id: String,
    pub received_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttentionView {
    pub dead: Vec<EventView>,
    pub rejected: Vec<EventView>,
    pub unrouted: Vec<UnroutedView>,
    pub pending: i64,
    /// The installation's operator sees every event; other admins only
    /// the dead letters about their numbers.
    pub operator: bool,
}

#[server(prefix = "/api", endpoint = "webhook_attention")]
pub async fn webhook_attention() -> Result<AttentionView, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    let attention = switchboard::pipeline::attention(&engine.store, &caller).await?;
    let events = |list: Vec<switchboard::store::EventSummary>| {
        list.into_iter()
            .map(|e| EventView {
                id: e.id,
                received_at: e.received_at,
                attempts: e.attempts,
                reason: e.last_error.unwrap_or_default(),
            })
            .collect()
    };
    Ok(AttentionView {
        dead: events(attention.dead),
        rejected: events(attention.rejected),
        unrouted: attention
            .unrouted
            .into_iter()
            .map(|u| UnroutedView {
                event_id: u.event_id,
                phone_number_id: u.phone_number_id.unwrap_or_else(|| "(none)".into()),
                waba_id: u.waba_id,
                received_at: u.received_at,
            })
            .collect(),
        pending: attention.pending,
        operator: attention.operator,
    })
}

/// Replays one dead letter, or all of them when `event_id` is empty.
#[server(prefix = "/api", endpoint = "replay_webhooks")]
pub async fn replay_webhooks(event_id: Option<i64>) -> Result<u64, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    Ok(switchboard::pipeline::replay_for(&engine.store, &caller, event_id).await?)
}
