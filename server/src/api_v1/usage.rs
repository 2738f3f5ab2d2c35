//! The cost ledger: how many messages Meta billed, per number, month,
//! category, pricing type and market, as Meta's `pricing` objects said;
//! with estimates when the workspace has a rate card.

use axum::{
    extract::{rejection::QueryRejection, Query, State},
    http::HeaderMap,
    routing::get,
    Json,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard::{api_keys::READ, costs};

use super::{
    audit, authorize,
    openapi::{query, schema, Operation},
    ApiError, ApiState, Endpoint,
};

/// `YYYY-MM`, as [`costs::is_month`] checks it.
const MONTH: &str = "^[0-9]{4}-(0[1-9]|1[0-2])$";
/// Meta's id of a number, as `openapi::PHONE_NUMBER_ID` states it.
const NUMBER: &str = "^[0-9]{1,32}$";

/// Which part of the ledger to read.
#[derive(Deserialize, JsonSchema)]
pub struct UsageQuery {
    /// Only this month (UTC), `YYYY-MM`; every month otherwise.
    #[schemars(pattern(MONTH))]
    pub month: Option<String>,
    /// Only this number; every number of the workspace otherwise.
    #[schemars(pattern(NUMBER))]
    pub phone_number_id: Option<String>,
}

/// Messages of one number, month, category, pricing type and market.
#[derive(Serialize, JsonSchema)]
pub struct UsageRow {
    pub phone_number_id: String,
    /// `YYYY-MM`, UTC, of the status that carried the pricing.
    pub month: String,
    /// Meta's `pricing.category`: `marketing`, `utility`,
    /// `authentication`, `authentication_international`, `service`,
    /// `referral_conversion`, `marketing_lite`, or another Meta names.
    pub category: Option<String>,
    /// Meta's `pricing.type`: `regular`, `free_customer_service`,
    /// `free_entry_point`; absent on older payloads.
    pub pricing_type: Option<String>,
    /// Meta's market of the recipient (by calling code); absent when the
    /// recipient's phone is unknown (a BSUID-only customer).
    pub market: Option<String>,
    /// Messages Meta billed.
    pub billable: i64,
    /// Messages Meta did not bill.
    pub free: i64,
    /// With a rate card: `billable` × the market's rate for the category.
    pub estimate: Option<UsageEstimate>,
}

/// An estimate in the rate card's currency, in millionths of its unit.
#[derive(Serialize, JsonSchema)]
pub struct UsageEstimate {
    pub currency: String,
    pub rate_micros: i64,
    pub cost_micros: i64,
}

/// Estimated total in one currency.
#[derive(Serialize, JsonSchema)]
pub struct UsageTotal {
    pub currency: String,
    pub cost_micros: i64,
}

/// The rate card the estimates come from.
#[derive(Serialize, JsonSchema)]
pub struct UsageRateCard {
    pub file_name: Option<String>,
    /// Unix ms.
    pub uploaded_at: i64,
    pub markets: i64,
}

#[derive(Serialize, JsonSchema)]
pub struct Usage {
    pub data: Vec<UsageRow>,
    /// Estimated totals per currency; empty without a rate card.
    pub totals: Vec<UsageTotal>,
    pub rate_card: Option<UsageRateCard>,
}

static USAGE_DOC: Operation = Operation {
    method: "get",
    path: "/api/v1/usage",
    id: "getUsage",
    summary: "Message costs",
    description: "How many messages Meta billed and did not bill, per number, month (UTC), \
        category, pricing type and recipient market, as Meta's per-message `pricing` said \
        (each message counted once). With a rate card loaded on the Costs page, each row has \
        an estimate in the card's currency (integer millionths); without one, counts only.",
    scope: READ,
    path_params: &[],
    query: Some(query::<UsageQuery>),
    headers: &[],
    body: None,
    success: (200, "The ledger.", schema::<Usage>),
    errors: &[(
        422,
        "A bad `month` or `phone_number_id` (`invalid_request`).",
    )],
};

pub(super) fn usage() -> Endpoint {
    Endpoint {
        doc: &USAGE_DOC,
        handler: get(read_usage),
    }
}

fn is_number(text: &str) -> bool {
    (1..=32).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
}

async fn read_usage(
    State(state): State<ApiState>,
    headers: HeaderMap,
    filter: Result<Query<UsageQuery>, QueryRejection>,
) -> Result<Json<Usage>, ApiError> {
    let caller = authorize(&state, &headers, READ).await?;
    let Query(filter) = filter?;
    if filter.month.as_deref().is_some_and(|m| !costs::is_month(m)) {
        return Err(ApiError::invalid("month: a month is written YYYY-MM."));
    }
    if filter
        .phone_number_id
        .as_deref()
        .is_some_and(|n| !is_number(n))
    {
        return Err(ApiError::invalid("phone_number_id: digits, 1 to 32."));
    }
    let ledger = costs::ledger_of(
        &state.engine.store,
        &caller.workspace_id,
        filter.month.as_deref(),
        filter.phone_number_id.as_deref(),
    )
    .await?;
    audit(
        &state,
        &caller,
        "api.usage_read",
        json!({ "month": filter.month, "phone_number_id": filter.phone_number_id }),
    )
    .await?;
    Ok(Json(Usage {
        data: ledger
            .rows
            .into_iter()
            .map(|row| UsageRow {
                phone_number_id: row.phone_number_id,
                month: row.month,
                category: row.category,
                pricing_type: row.pricing_type,
                market: row.market,
                billable: row.billable,
                free: row.free,
                estimate: row.estimate.map(|e| UsageEstimate {
                    currency: e.currency,
                    rate_micros: e.rate_micros,
                    cost_micros: e.cost_micros,
                }),
            })
            .collect(),
        totals: ledger
            .totals
            .into_iter()
            .map(|t| UsageTotal {
                currency: t.currency,
                cost_micros: t.cost_micros,
            })
            .collect(),
        rate_card: ledger.rate_card.map(|card| UsageRateCard {
            file_name: card.file_name,
            uploaded_at: card.uploaded_at,
            markets: card.markets as i64,
        }),
    }))
}
