//! Switchboard's engine: everything that is not UI. The server and the UI's
//! server functions call into it; it never imports either of them, nor the
//! sandbox.

pub mod accounts;
pub mod api_keys;
pub mod audit;
pub mod bot;
pub mod config;
pub mod conversations;
pub mod graph;
pub mod media;
pub mod numbers;
pub mod onboarding;
pub mod outbox;
pub mod outgoing;
pub mod pipeline;
pub mod profile;
pub mod secret;
pub mod store;
pub mod templates;
pub mod tokens;
pub mod vault;
pub mod webhook;

#[cfg(any(test, feature = "test-support"))]
pub mod test_support;

use std::sync::Arc;

use tokio::sync::Notify;

/// What the server and the UI's server functions share: configuration,
/// store, token vault and the Graph client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Engine {
    pub config: Arc<config::Config>,
    pub store: store::Store,
    pub vault: Arc<vault::KeyRing>,
    pub graph: graph::GraphClient,
    /// Wakes the onboarding worker when a run becomes ready.
    pub onboarding_ready: Arc<Notify>,
    /// Wakes the sender when a message is queued.
    pub outbox_wake: Arc<Notify>,
    /// Wakes the outgoing webhooks' delivery worker.
    pub deliveries_wake: Arc<Notify>,
    /// Wakes the inbound media downloader.
    pub media_wake: Arc<Notify>,
}

impl Engine {
    /// `None` when the configuration does not say where Meta is or which
    /// app to speak as (demo mode fills both in before calling this).
    pub fn new(config: config::Config, store: store::Store, vault: vault::KeyRing) -> Option<Self> {
        let graph = graph::GraphClient::from_config(&config)?;
        Some(Self {
            config: Arc::new(config),
            store,
            vault: Arc::new(vault),
            graph,
            onboarding_ready: Arc::new(Notify::new()),
            outbox_wake: Arc::new(Notify::new()),
            deliveries_wake: Arc::new(Notify::new()),
            media_wake: Arc::new(Notify::new()),
        })
    }
}
