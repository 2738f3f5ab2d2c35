//! What Meta charges for the business's messages (per-message pricing,
//! reference meta-2026 §4), as Meta's own `pricing` objects say: each
//! message counted once in a ledger per number, month (UTC), category,
//! pricing type and the recipient's market; with an admin's rate card, an
//! estimate of the cost. It never guesses what Meta did not say: the counts
//! are Meta's, only the estimate is ours.
//!
//! The pipeline calls [`record`] in the transaction that applies a status;
//! the Costs page and `GET /api/v1/usage` read [`ledger`].

pub mod markets;
pub mod rate_card;

use serde::{Deserialize, Serialize};

use crate::{
    accounts::{Caller, Role},
    store::{self, costs::NewPricing, now_millis, Store, StoredRateCard, Tx},
    webhook::payload::Pricing,
    Error,
};

pub use rate_card::{format_micros, CardError, RateCard, Rates};

/// `YYYY-MM` of a Unix-ms instant, in UTC.
pub fn month_of(millis: i64) -> String {
    let days = millis.div_euclid(86_400_000);
    let (year, month, _) = civil_from_days(days);
    format!("{year:04}-{month:02}")
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (the
/// well-known era arithmetic: 400-year eras of 146,097 days).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Whether `text` is a month as the ledger writes it (`YYYY-MM`).
pub fn is_month(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 7
        && bytes[4] == b'-'
        && bytes[..4].iter().chain(&bytes[5..]).all(u8::is_ascii_digit)
        && matches!(
            &text[5..],
            "01" | "02" | "03" | "04" | "05" | "06" | "07" | "08" | "09" | "10" | "11" | "12"
        )
}

/// A message Meta priced, as one of its statuses names it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PricedMessage<'a> {
    pub workspace_id: &'a str,
    pub phone_number_id: &'a str,
    pub wamid: &'a str,
    /// The status's time.
    pub at: i64,
    /// The recipient's phone, when known: it decides the market.
    pub phone: Option<&'a str>,
}

/// Counts statuses' pricing `(message, pricing)`, once per message: in
/// the pipeline's transaction, keyed by number and wamid (a status before
/// its message counts too), into the batch's `counts`.
pub(crate) async fn record_all(
    tx: &mut Tx<'_>,
    priced: &[(PricedMessage<'_>, &Pricing)],
    counts: &mut store::costs::LedgerCounts,
) -> Result<(), store::Error> {
    // The texts the rows borrow.
    let texts: Vec<(String, String)> = priced
        .iter()
        .map(|(message, pricing)| (month_of(message.at), pricing.raw.to_string()))
        .collect();
    let rows: Vec<NewPricing> = priced
        .iter()
        .zip(&texts)
        .map(|((message, pricing), (month, raw))| NewPricing {
            workspace_id: message.workspace_id,
            phone_number_id: message.phone_number_id,
            wamid: message.wamid,
            month,
            pricing_model: pricing.pricing_model.as_deref(),
            billable_field: pricing.billable,
            billable: pricing.is_billable(),
            pricing_type: pricing.kind.as_deref(),
            category: pricing.category.as_deref(),
            market: message.phone.map(markets::market_of),
            pricing: raw,
            at: message.at,
        })
        .collect();
    store::costs::record_all(tx, &rows, counts).await
}

/// One line of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerRow {
    pub phone_number_id: String,
    /// `YYYY-MM`, UTC.
    pub month: String,
    /// Meta's `pricing.category`; `None` when Meta gave none.
    pub category: Option<String>,
    /// Meta's `pricing.type`; `None` on payloads without one.
    pub pricing_type: Option<String>,
    /// The recipient's market; `None` when their phone is unknown.
    pub market: Option<String>,
    /// Messages Meta billed.
    pub billable: i64,
    /// Messages Meta did not bill.
    pub free: i64,
    /// With a rate card: billable messages × the market's rate.
    pub estimate: Option<Estimate>,
}

/// An estimated cost, in the card's currency, in micros (millionths).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Estimate {
    pub currency: String,
    pub rate_micros: i64,
    pub cost_micros: i64,
}

/// A total of estimates in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Total {
    pub currency: String,
    pub cost_micros: i64,
}

/// The rate card in use, as described to people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardInfo {
    pub file_name: Option<String>,
    pub uploaded_at: i64,
    pub markets: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    pub rows: Vec<LedgerRow>,
    /// Estimated totals per currency (empty without a rate card).
    pub totals: Vec<Total>,
    pub rate_card: Option<CardInfo>,
}

/// The ledger of the caller's workspace (admins and owners).
pub async fn ledger(
    store: &Store,
    caller: &Caller,
    month: Option<&str>,
    phone_number_id: Option<&str>,
) -> Result<Ledger, Error> {
    caller.require(Role::Admin)?;
    ledger_of(store, &caller.workspace.id, month, phone_number_id).await
}

/// The ledger of a workspace, with estimates when it has a rate card. A
/// malformed month is refused; a number the workspace never had simply
/// has no rows.
pub async fn ledger_of(
    store: &Store,
    workspace_id: &str,
    month: Option<&str>,
    phone_number_id: Option<&str>,
) -> Result<Ledger, Error> {
    if month.is_some_and(|m| !is_month(m)) {
        return Err(Error::invalid("month", "A month is written YYYY-MM."));
    }
    let counts = store
        .cost_ledger(workspace_id, month, phone_number_id)
        .await?;
    let stored = store.rate_card(workspace_id).await?;
    let card = match &stored {
        Some(stored) => Some(
            serde_json::from_str::<RateCard>(&stored.rates)
                .map_err(|e| store::Error::Database(sqlx::Error::Decode(Box::new(e))))?,
        ),
        None => None,
    };
    let rows: Vec<LedgerRow> = counts
        .into_iter()
        .map(|count| {
            let nonempty = |text: String| (!text.is_empty()).then_some(text);
            let estimate = card
                .as_ref()
                .zip((!count.market.is_empty()).then_some(&count.market))
                .and_then(|(card, market)| card.rates_of(market))
                .and_then(|rates| {
                    let rate = rates.of(&count.category)?;
                    Some(Estimate {
                        currency: rates.currency.clone(),
                        rate_micros: rate,
                        cost_micros: rate.saturating_mul(count.billable),
                    })
                });
            LedgerRow {
                phone_number_id: count.phone_number_id,
                month: count.month,
                category: nonempty(count.category),
                pricing_type: nonempty(count.pricing_type),
                market: nonempty(count.market),
                billable: count.billable,
                free: count.free,
                estimate,
            }
        })
        .collect();
    let mut totals: Vec<Total> = Vec::new();
    for estimate in rows.iter().filter_map(|r| r.estimate.as_ref()) {
        match totals.iter_mut().find(|t| t.currency == estimate.currency) {
            Some(total) => {
                total.cost_micros = total.cost_micros.saturating_add(estimate.cost_micros)
            }
            None => totals.push(Total {
                currency: estimate.currency.clone(),
                cost_micros: estimate.cost_micros,
            }),
        }
    }
    totals.sort_by(|a, b| a.currency.cmp(&b.currency));
    Ok(Ledger {
        rows,
        totals,
        rate_card: stored.zip(card).map(|(stored, card)| CardInfo {
            file_name: stored.file_name,
            uploaded_at: stored.uploaded_at,
            markets: card.markets.len(),
        }),
    })
}

/// Loads a rate card from an uploaded CSV (admins and owners). The file is
/// parsed whole first: a bad one is refused with its line (field
/// `rate_card`) and the card already stored stays.
pub async fn load_rate_card(
    store: &Store,
    caller: &Caller,
    file_name: Option<&str>,
    bytes: &[u8],
) -> Result<CardInfo, Error> {
    caller.require(Role::Admin)?;
    let text = std::str::from_utf8(bytes)
        .map_err(|_| Error::invalid("rate_card", "The file is not UTF-8 text (save it as CSV)."))?;
    let card = rate_card::parse(text).map_err(|e| Error::invalid("rate_card", e.to_string()))?;
    let file_name = file_name
        .map(|name| {
            name.chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect::<String>()
        })
        .filter(|name| !name.is_empty());
    let stored = StoredRateCard {
        rates: serde_json::to_string(&card).expect("a rate card serializes"),
        file_name: file_name.clone(),
        uploaded_by: Some(caller.user.id.clone()),
        uploaded_at: now_millis(),
    };
    store.put_rate_card(&caller.workspace.id, &stored).await?;
    crate::audit::record_by(
        store,
        caller,
        "costs.rate_card_loaded",
        serde_json::json!({ "file_name": file_name, "markets": card.markets.len() }),
    )
    .await?;
    Ok(CardInfo {
        file_name,
        uploaded_at: stored.uploaded_at,
        markets: card.markets.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_utc() {
        assert_eq!(month_of(0), "1970-01");
        // 2026-01-31T23:59:59Z and a second later.
        assert_eq!(month_of(1_769_903_999_000), "2026-01");
        assert_eq!(month_of(1_769_904_000_000), "2026-02");
        assert_eq!(month_of(951_782_400_000), "2000-02", "2000-02-29");
        assert_eq!(month_of(-1), "1969-12");
    }

    #[test]
    fn months_are_checked_exactly() {
        for good in ["2026-01", "0000-12", "9999-10"] {
            assert!(is_month(good), "{good}");
        }
        for bad in [
            "2026-13",
            "2026-00",
            "2026-1",
            "26-01",
            "2026/01",
            "2026-01-01",
            "",
            "２０２６-01",
        ] {
            assert!(!is_month(bad), "{bad}");
        }
    }
}
