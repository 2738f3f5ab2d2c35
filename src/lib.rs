//! Switchboard's engine: everything that is not UI. The server and the UI's
//! server functions call into it; it never imports either of them, nor the
//! sandbox.

pub mod accounts;
pub mod audit;
pub mod config;
pub mod conversations;
pub mod pipeline;
pub mod secret;
pub mod store;
pub mod webhook;

#[cfg(any(test, feature = "test-support"))]
pub mod test_support;

use std::sync::Arc;

/// What the server and the UI's server functions share: the configuration
/// and the store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Engine {
    pub config: Arc<config::Config>,
    pub store: store::Store,
}
