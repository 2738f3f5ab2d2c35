//! Access tokens that end soon and could not be refreshed, for the
//! layout's banner (admins: they can connect a number again). Which
//! number, when, and why; never the token.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::errors::UiError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiringTokenView {
    pub phone_number_id: String,
    /// The number as Meta shows it, or its id.
    pub display: String,
    /// When the token stops working, Unix ms.
    pub expires_at: i64,
    /// Whole days left (counted on the server, so the page's text is the
    /// same on both sides).
    pub days_left: i64,
    /// Why it was not refreshed (Meta's words), when known.
    pub reason: Option<String>,
}

/// The current workspace's numbers whose admins were warned that the
/// token ends soon (admins only; others get 403).
#[server(prefix = "/api", endpoint = "expiring_tokens")]
pub async fn expiring_tokens() -> Result<Vec<ExpiringTokenView>, UiError> {
    use switchboard::token_expiry::days_left;
    let (engine, caller) = crate::session::caller().await?;
    let now = switchboard::store::now_millis();
    let numbers = switchboard::token_expiry::warnings(&engine, &caller).await?;
    Ok(numbers
        .into_iter()
        .map(|number| ExpiringTokenView {
            display: number
                .display_phone_number
                .unwrap_or_else(|| number.phone_number_id.clone()),
            phone_number_id: number.phone_number_id,
            expires_at: number.expires_at,
            days_left: days_left(number.expires_at, now),
            reason: number.refresh_refused,
        })
        .collect())
}
