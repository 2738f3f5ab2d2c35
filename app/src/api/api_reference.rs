//! The integration API's OpenAPI document, for the reference page. The
//! server makes it from its endpoint list and puts it in the context.

use leptos::prelude::*;

use crate::errors::UiError;

/// The OpenAPI document as JSON text, provided by the server.
#[cfg(feature = "ssr")]
#[derive(Debug, Clone)]
pub struct OpenApiText(pub std::sync::Arc<String>);

/// Any signed-in member may read it.
#[server(prefix = "/api", endpoint = "api_document")]
pub async fn api_document() -> Result<String, UiError> {
    crate::session::caller().await?;
    let document = use_context::<OpenApiText>().ok_or(UiError::Internal)?;
    Ok(document.0.as_ref().clone())
}
