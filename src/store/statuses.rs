//! SQL for Meta's receipts of sent messages, kept one per status so that a
//! receipt that overtakes its message is applied once the message is
//! stored.

use std::collections::HashSet;

use super::{with_tx, Result, Tx};

/// A receipt: a message's status at a time, keyed by wamid and status.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewStatus<'a> {
    pub phone_number_id: &'a str,
    pub wamid: &'a str,
    pub status: &'a str,
    /// How far along `status` is; a message's status only moves forward.
    pub rank: i64,
    pub recipient: Option<&'a str>,
    pub at: i64,
    pub error_code: Option<i64>,
    pub error_title: Option<&'a str>,
    pub error_details: Option<&'a str>,
}

/// Keeps a batch's receipts with one statement per
/// [`ROWS_PER_STATEMENT`](super::ROWS_PER_STATEMENT). Returns, in their
/// order, whether each is new: false for one that came before, in an
/// earlier batch or earlier in this one.
pub(crate) async fn insert_all(tx: &mut Tx<'_>, receipts: &[NewStatus<'_>]) -> Result<Vec<bool>> {
    let mut seen = HashSet::new();
    let mut unique: Vec<&NewStatus> = receipts
        .iter()
        .filter(|r| seen.insert((r.wamid, r.status)))
        .collect();
    // One order of keys for every writer (Postgres takes their locks).
    unique.sort_by_key(|r| (r.wamid, r.status));
    let mut inserted: HashSet<(String, String)> = HashSet::new();
    for chunk in unique.chunks(super::ROWS_PER_STATEMENT) {
        let rows: Vec<(String, String)> = with_tx!(tx, conn => {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO message_statuses (wamid, status, rank, phone_number_id, recipient, at, error_code, error_title, error_details) ",
            );
            insert.push_values(chunk, |mut row, s| {
                row.push_bind(s.wamid).push_bind(s.status).push_bind(s.rank).push_bind(s.phone_number_id)
                    .push_bind(s.recipient).push_bind(s.at).push_bind(s.error_code)
                    .push_bind(s.error_title).push_bind(s.error_details);
            });
            insert.push(" ON CONFLICT (wamid, status) DO NOTHING RETURNING wamid, status");
            insert.build_query_as().persistent(false).fetch_all(conn).await?
        });
        inserted.extend(rows);
    }
    // Only the first receipt of a key takes its "new".
    Ok(receipts
        .iter()
        .map(|r| inserted.remove(&(r.wamid.to_string(), r.status.to_string())))
        .collect())
}
