//! Switchboard's engine: everything that is not UI. The server and the UI's
//! server functions call into it; it never imports either of them, nor the
//! sandbox.

pub mod accounts;
pub mod api_keys;
pub mod audit;
pub mod bot;
pub mod config;
pub mod contacts;
pub mod conversations;
pub mod costs;
pub mod data_rights;
pub mod egress;
mod error;
pub mod graph;
pub mod health;
pub mod ids;
pub mod live;
pub mod media;
pub mod numbers;
pub mod onboarding;
pub mod outbox;
pub mod outgoing_webhooks;
pub mod pipeline;
pub mod profile;
pub mod retention;
pub mod runtime;
pub mod secret;
pub mod store;
pub mod templates;
pub mod text_enum;
pub mod token_expiry;
pub mod tokens;
pub mod vault;
pub mod webhook;
pub mod worker;

#[cfg(any(test, feature = "test-support"))]
pub mod test_support;

use std::sync::Arc;

use tokio::sync::Notify;

pub use error::{Error, MetaCall, MetaRefusal};

/// What the server and the UI's server functions share: configuration,
/// store, token vault and the Graph client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Engine {
    pub config: Arc<config::Config>,
    pub store: store::Store,
    pub vault: Arc<vault::KeyRing>,
    pub graph: graph::GraphClient,
    pub wake: Wakes,
    /// Change notices for the pages people have open.
    pub live: live::Hub,
    /// Whether requests wait for the journal (the pipeline lets them go
    /// first).
    pub journal_pressure: webhook::journal::Pressure,
}

/// Wake-ups within one process: each is notified when work is queued for
/// a worker, so it starts at once instead of at its next poll.
#[derive(Debug, Clone, Default)]
pub struct Wakes {
    /// Webhook events were journaled: the pipeline.
    pub journal: Arc<Notify>,
    /// An onboarding run became ready.
    pub onboarding: Arc<Notify>,
    /// A message was queued: the sender.
    pub outbox: Arc<Notify>,
    /// An event was queued for a workspace's endpoints.
    pub deliveries: Arc<Notify>,
    /// A customer's file waits to be fetched.
    pub media: Arc<Notify>,
}

impl Engine {
    pub fn new(config: config::Config, store: store::Store, vault: vault::KeyRing) -> Self {
        let wake = Wakes::default();
        Self {
            live: live::Hub::new(&store, wake.clone()),
            wake,
            graph: graph::GraphClient::from_config(&config),
            config: Arc::new(config),
            store,
            vault: Arc::new(vault),
            journal_pressure: Default::default(),
        }
    }
}
