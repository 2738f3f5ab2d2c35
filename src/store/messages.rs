//! SQL for the messages of conversations, as the pipeline stores them
//! inside its transaction.

use super::{
    statuses::NewStatus,
    summaries::{self, StoredLine},
    with_pool, with_tx, Result, Store, Tx,
};
use crate::ids::ContactId;

/// A customer's message, keyed by its number and wamid.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewInbound<'a> {
    pub workspace_id: &'a str,
    pub phone_number_id: &'a str,
    pub contact_id: &'a ContactId,
    pub wamid: &'a str,
    pub customer: &'a str,
    pub customer_name: Option<&'a str>,
    pub kind: &'a str,
    pub summary: &'a str,
    /// The message object as Meta sent it (JSON).
    pub payload: &'a str,
    pub sent_at: i64,
}

/// Applies the furthest status that arrived before its message ($1 wamid,
/// $2 number).
pub(crate) const APPLY_EARLY_STATUS: &str =
    "UPDATE messages SET status = s.status, status_rank = s.rank, error_code = s.error_code,
         error_title = s.error_title, error_details = s.error_details
     FROM (SELECT status, rank, error_code, error_title, error_details FROM message_statuses
           WHERE wamid = $1 ORDER BY rank DESC LIMIT 1) AS s
     WHERE messages.phone_number_id = $2 AND messages.wamid = $1";

/// Stores customers' messages and counts them (unread) in their
/// conversations' summaries, with one statement per
/// [`ROWS_PER_STATEMENT`](super::ROWS_PER_STATEMENT) messages and one
/// for the summaries; [`apply_early_statuses`] then gives them the status
/// of any receipt that came before them. Returns, in their order, the id
/// of each that is new: `None` for one stored before (in an earlier batch
/// or earlier in this one). Ids follow arrival order, which breaks ties
/// between messages of the same second in their thread.
pub(crate) async fn insert_inbound_all(
    tx: &mut Tx<'_>,
    messages: &[NewInbound<'_>],
) -> Result<Vec<Option<i64>>> {
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<&NewInbound> = messages
        .iter()
        .filter(|m| seen.insert((m.phone_number_id, m.wamid)))
        .collect();
    let mut ids: std::collections::HashMap<(String, String), i64> = Default::default();
    for chunk in unique.chunks(super::ROWS_PER_STATEMENT) {
        let stored: Vec<(String, String, i64)> = with_tx!(tx, conn => {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO messages (workspace_id, phone_number_id, wamid, direction, customer_wa_id, customer_name, kind, summary, payload, sent_at, contact_id) ",
            );
            insert.push_values(chunk, |mut row, m| {
                row.push_bind(m.workspace_id).push_bind(m.phone_number_id).push_bind(m.wamid).push("'inbound'")
                    .push_bind(m.customer).push_bind(m.customer_name).push_bind(m.kind).push_bind(m.summary)
                    .push_bind(m.payload).push_bind(m.sent_at).push_bind(m.contact_id);
            });
            insert.push(" ON CONFLICT (phone_number_id, wamid) DO NOTHING RETURNING phone_number_id, wamid, id");
            insert.build_query_as().persistent(false).fetch_all(conn).await?
        });
        ids.extend(
            stored
                .into_iter()
                .map(|(number, wamid, id)| ((number, wamid), id)),
        );
    }
    // Only the first of a key takes its id.
    let new: Vec<Option<i64>> = messages
        .iter()
        .map(|m| ids.remove(&(m.phone_number_id.to_string(), m.wamid.to_string())))
        .collect();
    let lines: Vec<StoredLine> = messages
        .iter()
        .zip(&new)
        .filter_map(|(m, id)| {
            Some(StoredLine {
                workspace_id: m.workspace_id,
                phone_number_id: m.phone_number_id,
                contact_id: m.contact_id,
                message_id: (*id)?,
                sent_at: m.sent_at,
                inbound: true,
                summary: m.summary,
                unread: true,
            })
        })
        .collect();
    summaries::record_all(tx, &lines).await?;
    Ok(new)
}

/// Gives messages just stored `(number, wamid)` the furthest status of
/// the receipts that came before them: one statement to find that none
/// did (the usual case), one per message that has some.
pub(crate) async fn apply_early_statuses(tx: &mut Tx<'_>, stored: &[(&str, &str)]) -> Result<()> {
    let mut early: std::collections::HashSet<String> = Default::default();
    for chunk in stored.chunks(super::ROWS_PER_STATEMENT) {
        let found: Vec<String> = with_tx!(tx, conn => {
            let mut select = sqlx::QueryBuilder::new("SELECT DISTINCT wamid FROM message_statuses WHERE wamid IN (");
            let mut list = select.separated(", ");
            for (_, wamid) in chunk {
                list.push_bind(*wamid);
            }
            select.push(")");
            select.build_query_scalar().persistent(false).fetch_all(conn).await?
        });
        early.extend(found);
    }
    for (phone_number_id, wamid) in stored {
        if early.contains(*wamid) {
            with_tx!(tx, conn => {
                sqlx::query(APPLY_EARLY_STATUS).bind(*wamid).bind(*phone_number_id).execute(conn).await?;
            });
        }
    }
    Ok(())
}

/// Moves messages' statuses forward only (a late "delivered" never undoes
/// "read"), for a batch's receipts: each message takes the furthest of
/// them (the first on a tie), with one statement per
/// [`ROWS_PER_STATEMENT`](super::ROWS_PER_STATEMENT) messages.
pub(crate) async fn advance_statuses(tx: &mut Tx<'_>, receipts: &[NewStatus<'_>]) -> Result<()> {
    let mut furthest: std::collections::BTreeMap<(&str, &str), &NewStatus> = Default::default();
    for receipt in receipts {
        furthest
            .entry((receipt.phone_number_id, receipt.wamid))
            .and_modify(|kept| {
                if receipt.rank > kept.rank {
                    *kept = receipt;
                }
            })
            .or_insert(receipt);
    }
    // In key order, so the statements are the same whoever writes them
    // (two instances are kept from deadlocking on the same messages by the
    // batch's contact locks, not by this order: an update locks rows in
    // its plan's order).
    let furthest: Vec<&NewStatus> = furthest.into_values().collect();
    for chunk in furthest.chunks(super::ROWS_PER_STATEMENT) {
        with_tx!(tx, conn => {
            let mut update = sqlx::QueryBuilder::new(
                "WITH r (phone_number_id, wamid, status, rank, error_code, error_title, error_details) AS (",
            );
            update.push_values(chunk, |mut row, s| {
                row.push_bind(s.phone_number_id).push_bind(s.wamid).push_bind(s.status).push_bind(s.rank)
                    .push_bind(s.error_code).push_bind(s.error_title).push_bind(s.error_details);
            });
            update.push(
                ") UPDATE messages SET status = r.status, status_rank = r.rank, error_code = r.error_code,
                     error_title = r.error_title, error_details = r.error_details
                 FROM r WHERE messages.phone_number_id = r.phone_number_id AND messages.wamid = r.wamid
                     AND messages.status_rank < r.rank",
            );
            update.build().persistent(false).execute(conn).await?;
        });
    }
    Ok(())
}

impl Store {
    pub async fn count_messages(&self, workspace_id: &str) -> Result<i64> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE workspace_id = $1").bind(workspace_id).fetch_one(pool).await?
        }))
    }
}
