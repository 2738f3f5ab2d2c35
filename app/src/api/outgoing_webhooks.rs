//! Outgoing webhooks for admins: endpoints (the secret is shown once, when
//! made or rotated), the delivery log, and redelivery.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::errors::UiError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointView {
    pub id: String,
    pub url: String,
    pub created_at: i64,
    pub previous_secret_until: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryView {
    pub id: i64,
    pub url: String,
    pub event_id: String,
    pub event_type: String,
    pub state: String,
    pub attempts: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingWebhooksView {
    pub endpoints: Vec<EndpointView>,
    pub deliveries: Vec<DeliveryView>,
}

/// A secret, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretView {
    pub endpoint_id: String,
    pub secret: String,
}

#[cfg(feature = "ssr")]
fn endpoint_view(e: switchboard::outgoing_webhooks::Endpoint) -> EndpointView {
    EndpointView {
        id: e.id,
        url: e.url,
        created_at: e.created_at,
        previous_secret_until: e.previous_secret_until,
    }
}

#[server(prefix = "/api", endpoint = "outgoing_webhooks")]
pub async fn outgoing_webhooks() -> Result<OutgoingWebhooksView, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    let endpoints = switchboard::outgoing_webhooks::list(&engine, &caller).await?;
    let deliveries = switchboard::outgoing_webhooks::deliveries(&engine, &caller).await?;
    Ok(OutgoingWebhooksView {
        endpoints: endpoints.into_iter().map(endpoint_view).collect(),
        deliveries: deliveries
            .into_iter()
            .map(|d| DeliveryView {
                id: d.id,
                url: d.url,
                event_id: d.event_id,
                event_type: d.event_type,
                state: d.state.to_string(),
                attempts: d.attempts,
                last_status: d.last_status,
                last_error: d.last_error,
                created_at: d.created_at,
            })
            .collect(),
    })
}

#[server(prefix = "/api", endpoint = "create_endpoint")]
pub async fn create_endpoint(url: String) -> Result<SecretView, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    let (endpoint, secret) = switchboard::outgoing_webhooks::create(&engine, &caller, &url).await?;
    Ok(SecretView {
        endpoint_id: endpoint.id,
        secret,
    })
}

#[server(prefix = "/api", endpoint = "rotate_endpoint_secret")]
pub async fn rotate_endpoint_secret(id: String) -> Result<SecretView, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    let secret = switchboard::outgoing_webhooks::rotate_secret(&engine, &caller, &id).await?;
    Ok(SecretView {
        endpoint_id: id,
        secret,
    })
}

#[server(prefix = "/api", endpoint = "delete_endpoint")]
pub async fn delete_endpoint(id: String) -> Result<(), UiError> {
    let (engine, caller) = crate::session::caller().await?;
    Ok(switchboard::outgoing_webhooks::delete(&engine, &caller, &id).await?)
}

#[server(prefix = "/api", endpoint = "redeliver_event")]
pub async fn redeliver_event(id: i64) -> Result<(), UiError> {
    let (engine, caller) = crate::session::caller().await?;
    Ok(switchboard::outgoing_webhooks::redeliver(&engine, &caller, id).await?)
}
