//! SQL for account events: every webhook field other than messages, kept
//! as received for the workspace of its WABA.

use super::{with_tx, Result, Tx};

/// A change kept as received, keyed by its event and its place in the
/// event.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewAccountEvent<'a> {
    pub event_id: i64,
    pub change_index: i64,
    /// `None` while no number of the WABA is connected.
    pub workspace_id: Option<&'a str>,
    pub waba_id: &'a str,
    pub field: &'a str,
    /// The change's value (JSON).
    pub value: &'a str,
    pub at: i64,
}

/// Keeps an account event; once per event and change.
pub(crate) async fn insert(tx: &mut Tx<'_>, event: &NewAccountEvent<'_>) -> Result<()> {
    with_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO account_events (event_id, change_index, workspace_id, waba_id, field, value, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id, change_index) DO NOTHING",
        )
        .bind(event.event_id).bind(event.change_index).bind(event.workspace_id).bind(event.waba_id)
        .bind(event.field).bind(event.value).bind(event.at)
        .execute(conn).await?;
    });
    Ok(())
}
