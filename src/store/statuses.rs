//! SQL for Meta's receipts of sent messages, kept one per status so that a
//! receipt that overtakes its message is applied once the message is
//! stored.

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

/// Keeps a receipt. Returns whether it is new (false: it came before).
pub(crate) async fn insert(tx: &mut Tx<'_>, status: &NewStatus<'_>) -> Result<bool> {
    Ok(with_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO message_statuses (wamid, status, rank, phone_number_id, recipient, at, error_code, error_title, error_details)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (wamid, status) DO NOTHING",
        )
        .bind(status.wamid).bind(status.status).bind(status.rank).bind(status.phone_number_id).bind(status.recipient)
        .bind(status.at).bind(status.error_code).bind(status.error_title).bind(status.error_details)
        .execute(conn).await?
        .rows_affected() == 1
    }))
}
