//! The Switchboard server: wires the engine, the UI and the HTTP routes,
//! runs the background workers, and shuts all of it down gracefully.
//! `main.rs` only reads the configuration and calls [`Application`].

mod api_v1;
mod application;
pub mod commands;
pub mod health;
pub mod http_metrics;
mod limits;
pub mod live_routes;
mod onboarding_routes;
pub mod renders_to_the_end;
pub mod security;
mod serve;
pub mod shutdown;
mod site_assets;
pub mod telemetry;
mod webhook_routes;

pub use application::{Application, StartError};
