//! SQL for the cost ledger: each business message's `pricing` kept once
//! (keyed by number and wamid), the per-month counts it moves, and the
//! workspace's rate card.

use super::{with_pool, with_tx, Result, Store, Tx};

/// A message's pricing, as the first status that carried it showed it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewPricing<'a> {
    pub workspace_id: &'a str,
    pub phone_number_id: &'a str,
    pub wamid: &'a str,
    /// `YYYY-MM`, UTC, of the status's timestamp.
    pub month: &'a str,
    pub pricing_model: Option<&'a str>,
    pub billable_field: Option<bool>,
    /// Whether it counts as billed (`billable`, else derived from `type`).
    pub billable: bool,
    pub pricing_type: Option<&'a str>,
    pub category: Option<&'a str>,
    /// Meta's market of the recipient; `None` when their phone is unknown.
    pub market: Option<&'a str>,
    /// The `pricing` object as received.
    pub pricing: &'a str,
    pub at: i64,
}

/// A row of the ledger: (workspace, month, number, category, pricing
/// type, market), '' for what is absent.
pub(crate) type LedgerKey = (String, String, String, String, String, String);

/// What a batch adds to the ledger: (billable, free) per row.
pub(crate) type LedgerCounts = std::collections::BTreeMap<LedgerKey, (i64, i64)>;

/// Keeps each message's pricing once (one statement per
/// [`ROWS_PER_STATEMENT`](super::ROWS_PER_STATEMENT)); a message priced
/// for the first time, here or earlier in `prices`, is counted into
/// `counts` (the batch writes them at its end, [`add_to_ledger`]).
pub(crate) async fn record_all(
    tx: &mut Tx<'_>,
    prices: &[NewPricing<'_>],
    counts: &mut LedgerCounts,
) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    let mut unique: Vec<&NewPricing> = prices
        .iter()
        .filter(|p| seen.insert((p.phone_number_id, p.wamid)))
        .collect();
    // One order of keys for every writer (Postgres takes their locks).
    unique.sort_by_key(|p| (p.phone_number_id, p.wamid));
    for chunk in unique.chunks(super::ROWS_PER_STATEMENT) {
        let inserted: std::collections::HashSet<(String, String)> = with_tx!(tx, conn => {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO message_pricing (phone_number_id, wamid, workspace_id, month, pricing_model, billable, pricing_type, category, market, pricing, priced_at) ",
            );
            insert.push_values(chunk, |mut row, p| {
                row.push_bind(p.phone_number_id).push_bind(p.wamid).push_bind(p.workspace_id).push_bind(p.month)
                    .push_bind(p.pricing_model).push_bind(p.billable_field).push_bind(p.pricing_type)
                    .push_bind(p.category.unwrap_or_default()).push_bind(p.market).push_bind(p.pricing).push_bind(p.at);
            });
            insert.push(" ON CONFLICT (phone_number_id, wamid) DO NOTHING RETURNING phone_number_id, wamid");
            insert.build_query_as::<(String, String)>().persistent(false).fetch_all(conn).await?.into_iter().collect()
        });
        for new in chunk {
            if inserted.contains(&(new.phone_number_id.to_string(), new.wamid.to_string())) {
                count(new, counts);
            }
        }
    }
    Ok(())
}

/// Counts a message priced for the first time into its ledger row.
fn count(new: &NewPricing<'_>, counts: &mut LedgerCounts) {
    let key = (
        new.workspace_id.to_string(),
        new.month.to_string(),
        new.phone_number_id.to_string(),
        new.category.unwrap_or_default().to_string(),
        new.pricing_type.unwrap_or_default().to_string(),
        new.market.unwrap_or_default().to_string(),
    );
    let count = counts.entry(key).or_default();
    if new.billable {
        count.0 += 1;
    } else {
        count.1 += 1;
    }
}

/// Adds a batch's counts to the ledger, in key order: many customers
/// share a row, so every batch takes them in one order and two instances
/// never deadlock on them.
pub(crate) async fn add_to_ledger(tx: &mut Tx<'_>, counts: &LedgerCounts) -> Result<()> {
    for (
        (workspace_id, month, phone_number_id, category, pricing_type, market),
        (billable, free),
    ) in counts
    {
        with_tx!(tx, conn => {
            sqlx::query(
                "INSERT INTO cost_ledger (workspace_id, phone_number_id, month, category, pricing_type, market, billable, free)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (workspace_id, month, phone_number_id, category, pricing_type, market)
                 DO UPDATE SET billable = cost_ledger.billable + excluded.billable, free = cost_ledger.free + excluded.free",
            )
            .bind(workspace_id).bind(phone_number_id).bind(month).bind(category)
            .bind(pricing_type).bind(market).bind(billable).bind(free)
            .execute(conn).await?;
        });
    }
    Ok(())
}

/// One row of the ledger as stored: '' for an absent type, category or an
/// unknown market.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LedgerCount {
    pub phone_number_id: String,
    pub month: String,
    pub category: String,
    pub pricing_type: String,
    pub market: String,
    pub billable: i64,
    pub free: i64,
}

/// The stored rate card of a workspace.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredRateCard {
    pub rates: String,
    pub file_name: Option<String>,
    pub uploaded_by: Option<String>,
    pub uploaded_at: i64,
}

impl Store {
    /// The workspace's ledger rows, newest month first, optionally of one
    /// month and one number. Read through the ledger's key (workspace,
    /// then month): never the messages.
    pub async fn cost_ledger(
        &self,
        workspace_id: &str,
        month: Option<&str>,
        phone_number_id: Option<&str>,
    ) -> Result<Vec<LedgerCount>> {
        const COLUMNS: &str =
            "SELECT phone_number_id, month, category, pricing_type, market, billable, free FROM cost_ledger";
        const ORDER: &str = "ORDER BY month DESC, phone_number_id, category, pricing_type, market";
        let number = "phone_number_id = COALESCE($2, phone_number_id)";
        let sql = match month {
            Some(_) => {
                format!("{COLUMNS} WHERE workspace_id = $1 AND {number} AND month = $3 {ORDER}")
            }
            None => format!("{COLUMNS} WHERE workspace_id = $1 AND {number} {ORDER}"),
        };
        Ok(with_pool!(self, pool => {
            let query = sqlx::query_as(&sql).bind(workspace_id).bind(phone_number_id);
            let query = match month {
                Some(month) => query.bind(month),
                None => query,
            };
            query.fetch_all(pool).await?
        }))
    }

    pub async fn rate_card(&self, workspace_id: &str) -> Result<Option<StoredRateCard>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT rates, file_name, uploaded_by, uploaded_at FROM rate_cards WHERE workspace_id = $1",
            )
            .bind(workspace_id).fetch_optional(pool).await?
        }))
    }

    /// Replaces the workspace's rate card whole.
    pub async fn put_rate_card(&self, workspace_id: &str, card: &StoredRateCard) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO rate_cards (workspace_id, rates, file_name, uploaded_by, uploaded_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (workspace_id) DO UPDATE SET rates = excluded.rates, file_name = excluded.file_name,
                     uploaded_by = excluded.uploaded_by, uploaded_at = excluded.uploaded_at",
            )
            .bind(workspace_id).bind(&card.rates).bind(&card.file_name).bind(&card.uploaded_by).bind(card.uploaded_at)
            .execute(pool).await?;
        });
        Ok(())
    }
}
