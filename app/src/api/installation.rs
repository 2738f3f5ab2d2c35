//! What the UI needs to know about the installation as a whole.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallationInfo {
    /// No Meta credentials: the local sandbox stands in for Meta.
    pub demo_mode: bool,
    /// In demo mode: where the sandbox standing in for Meta answers.
    pub sandbox_url: Option<String>,
    pub version: String,
}

#[server(prefix = "/api", endpoint = "installation_status")]
pub async fn installation_status() -> Result<InstallationInfo, ServerFnError> {
    let engine = use_context::<switchboard::Engine>()
        .ok_or_else(|| ServerFnError::new("the engine is not available"))?;
    let demo_mode = engine.config.mode == switchboard::config::Mode::Demo;
    Ok(InstallationInfo {
        demo_mode,
        sandbox_url: demo_mode.then(|| {
            let url = engine.config.graph_base_url.as_str();
            url.trim_end_matches('/').to_string()
        }),
        version: env!("CARGO_PKG_VERSION").to_string(),
    })
}
