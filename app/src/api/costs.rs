//! The cost ledger and the rate card (owners and admins): what Meta billed,
//! as its per-message pricing said, and an estimate from the card.

use leptos::prelude::*;
use leptos::server_fn::codec::{MultipartData, MultipartFormData};
use serde::{Deserialize, Serialize};

use crate::errors::UiError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerLine {
    pub phone_number_id: String,
    pub month: String,
    pub category: String,
    pub pricing_type: String,
    /// "unknown market" when the recipient's phone is unknown.
    pub market: String,
    pub billable: i64,
    pub free: i64,
    /// `0.075 USD`, with a rate card that prices the line.
    pub estimate: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerView {
    pub lines: Vec<LedgerLine>,
    /// Estimated totals, one per currency (`1.25 USD`).
    pub totals: Vec<String>,
    /// The card in use, described (`rates.csv, 32 markets`).
    pub rate_card: Option<String>,
    /// Every number the workspace has, for the filter.
    pub numbers: Vec<String>,
}

/// The ledger, optionally of one month (`YYYY-MM`) and one number; empty
/// filters mean all.
#[server(prefix = "/api", endpoint = "cost_ledger")]
pub async fn cost_ledger(
    month: Option<String>,
    phone_number_id: Option<String>,
) -> Result<LedgerView, UiError> {
    use switchboard::costs::format_micros;
    let (engine, caller) = crate::session::caller().await?;
    let given = |text: Option<String>| text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    let (month, number) = (given(month), given(phone_number_id));
    let ledger =
        switchboard::costs::ledger(&engine.store, &caller, month.as_deref(), number.as_deref())
            .await?;
    let numbers = engine
        .store
        .numbers_of(&caller.workspace.id)
        .await
        .map_err(switchboard::Error::from)?
        .into_iter()
        .map(|n| n.phone_number_id.into_string())
        .collect();
    let or = |text: Option<String>, absent: &str| text.unwrap_or_else(|| absent.to_string());
    Ok(LedgerView {
        lines: ledger
            .rows
            .into_iter()
            .map(|row| LedgerLine {
                phone_number_id: row.phone_number_id,
                month: row.month,
                category: or(row.category, "(not given)"),
                pricing_type: or(row.pricing_type, "(not given)"),
                market: or(row.market, "unknown market"),
                billable: row.billable,
                free: row.free,
                estimate: row
                    .estimate
                    .map(|e| format!("{} {}", format_micros(e.cost_micros), e.currency)),
            })
            .collect(),
        totals: ledger
            .totals
            .into_iter()
            .map(|t| format!("{} {}", format_micros(t.cost_micros), t.currency))
            .collect(),
        rate_card: ledger.rate_card.map(|card| {
            format!(
                "{}, {} markets",
                card.file_name.unwrap_or_else(|| "uploaded file".into()),
                card.markets
            )
        }),
        numbers,
    })
}

/// Multipart: `rate_card`, the CSV file. Read up to the engine's limit; a
/// bad file is refused with its line and the stored card stays.
#[server(prefix = "/api", endpoint = "load_rate_card", input = MultipartFormData)]
pub async fn load_rate_card(data: MultipartData) -> Result<String, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    let mut form = data.into_inner().ok_or(UiError::Internal)?;
    let bad = |message: String| UiError::Field {
        field: "rate_card".into(),
        message,
    };
    let mut file = None;
    while let Some(mut field) = form
        .next_field()
        .await
        .map_err(|e| bad(format!("The upload could not be read: {e}")))?
    {
        if field.name() == Some("rate_card") {
            let name = field.file_name().map(str::to_string);
            let mut bytes = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(|e| bad(e.to_string()))? {
                if bytes.len() + chunk.len() > switchboard::costs::rate_card::MAX_BYTES {
                    return Err(bad(format!(
                        "The file is larger than {} KB.",
                        switchboard::costs::rate_card::MAX_BYTES / 1024
                    )));
                }
                bytes.extend_from_slice(&chunk);
            }
            file = Some((name, bytes));
        }
    }
    let Some((name, bytes)) = file else {
        return Err(bad("Choose a CSV file first.".into()));
    };
    let card =
        switchboard::costs::load_rate_card(&engine.store, &caller, name.as_deref(), &bytes).await?;
    let plural = if card.markets == 1 { "" } else { "s" };
    Ok(format!(
        "Rate card loaded: {} market{plural}.",
        card.markets
    ))
}
