//! SQL for `conversation_summaries`: one row per conversation (a number and
//! a contact) that the conversation list reads instead of the messages.
//!
//! Every statement here runs inside the transaction that changes the
//! messages it sums up (storing one, moving a contact's to another,
//! erasing them), so the row never disagrees with the messages a reader
//! sees. Whoever adds another writer of `messages` must keep this table
//! in step the same way (the pruner deliberately never deletes messages).

use super::{with_pool, with_tx, MessageKey, Result, Store, Tx};
use crate::ids::ContactId;

/// The customer service window: free-form messages are possible for 24
/// hours after the customer's last message.
const WINDOW_MS: i64 = crate::outbox::WINDOW_MS;

/// A message just stored, as its conversation's summary takes it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StoredLine<'a> {
    pub workspace_id: &'a str,
    pub phone_number_id: &'a str,
    pub contact_id: &'a ContactId,
    /// The message's row id: breaks ties between messages of the same
    /// millisecond, as the threads order them.
    pub message_id: i64,
    pub sent_at: i64,
    pub inbound: bool,
    pub summary: &'a str,
    /// Counts as unread: a customer's message that arrived now (not one
    /// imported from the WhatsApp Business app's history).
    pub unread: bool,
}

/// Whether the row `excluded` names is newer by (last_at, last_message_id)
/// than the stored one: the last message only ever moves forward.
const NEWER: &str = "(excluded.last_at > conversation_summaries.last_at
     OR (excluded.last_at = conversation_summaries.last_at
         AND excluded.last_message_id > conversation_summaries.last_message_id))";

/// `ON CONFLICT` for a summary row arriving on an existing one: counts
/// add up, the last message moves forward only, the window ends at the
/// later end.
fn fold_on_conflict() -> String {
    let forward = |column: &str| {
        format!("{column} = CASE WHEN {NEWER} THEN excluded.{column} ELSE conversation_summaries.{column} END")
    };
    format!(
        "ON CONFLICT (workspace_id, phone_number_id, contact_id) DO UPDATE SET
             messages = conversation_summaries.messages + excluded.messages,
             unread = conversation_summaries.unread + excluded.unread,
             {}, {}, {}, {},
             window_ends_at = CASE
                 WHEN excluded.window_ends_at > COALESCE(conversation_summaries.window_ends_at, excluded.window_ends_at - 1)
                 THEN excluded.window_ends_at ELSE conversation_summaries.window_ends_at END",
        // Each CASE reads the row as it was before this update (SQL's
        // rule on both backends), so their order does not matter.
        forward("last_direction"),
        forward("last_summary"),
        forward("last_message_id"),
        forward("last_at"),
    )
}

const COLUMNS: &str = "workspace_id, phone_number_id, contact_id, messages, unread,
     last_message_id, last_at, last_direction, last_summary, window_ends_at";

/// Counts a message just stored into its conversation's summary.
pub(crate) async fn record(tx: &mut Tx<'_>, line: &StoredLine<'_>) -> Result<()> {
    record_all(tx, std::slice::from_ref(line)).await
}

/// Counts messages just stored into their conversations' summaries: the
/// lines of one conversation are folded first (counts added, the latest
/// line kept, the window ending at the latest customer message), then
/// each conversation's row is written with one statement per
/// [`ROWS_PER_STATEMENT`](super::ROWS_PER_STATEMENT), in key order.
pub(crate) async fn record_all(tx: &mut Tx<'_>, lines: &[StoredLine<'_>]) -> Result<()> {
    let mut folded: std::collections::BTreeMap<(&str, &str, &ContactId), Folded> =
        Default::default();
    for line in lines {
        let key = (line.workspace_id, line.phone_number_id, line.contact_id);
        let window_ends_at = line.inbound.then_some(line.sent_at + WINDOW_MS);
        let row = folded.entry(key).or_insert(Folded {
            messages: 0,
            unread: 0,
            last: *line,
            window_ends_at,
        });
        row.messages += 1;
        row.unread += i64::from(line.unread);
        if (line.sent_at, line.message_id) > (row.last.sent_at, row.last.message_id) {
            row.last = *line;
        }
        row.window_ends_at = row.window_ends_at.max(window_ends_at);
    }
    let rows: Vec<&Folded> = folded.values().collect();
    let on_conflict = fold_on_conflict();
    for chunk in rows.chunks(super::ROWS_PER_STATEMENT) {
        with_tx!(tx, conn => {
            let mut insert = sqlx::QueryBuilder::new(format!("INSERT INTO conversation_summaries ({COLUMNS}) "));
            insert.push_values(chunk, |mut row, f| {
                let last = &f.last;
                let direction = if last.inbound { "inbound" } else { "outbound" };
                row.push_bind(last.workspace_id).push_bind(last.phone_number_id).push_bind(last.contact_id)
                    .push_bind(f.messages).push_bind(f.unread).push_bind(last.message_id).push_bind(last.sent_at)
                    .push_bind(direction).push_bind(last.summary).push_bind(f.window_ends_at);
            });
            insert.push(" ");
            insert.push(&on_conflict);
            insert.build().persistent(false).execute(conn).await?;
        });
    }
    Ok(())
}

/// A conversation's lines of one batch, folded into one summary row.
struct Folded<'a> {
    messages: i64,
    unread: i64,
    /// The latest line, by (sent_at, message id).
    last: StoredLine<'a>,
    window_ends_at: Option<i64>,
}

/// `from` proved to be `into` (its messages moved there in this
/// transaction): its conversations fold into `into`'s, number by number.
pub(crate) async fn merge(tx: &mut Tx<'_>, from: &ContactId, into: &ContactId) -> Result<()> {
    // `WHERE` before `ON CONFLICT` also keeps SQLite from reading the
    // conflict clause as a join's.
    let sql = format!(
        "INSERT INTO conversation_summaries ({COLUMNS})
         SELECT workspace_id, phone_number_id, $2, messages, unread,
                last_message_id, last_at, last_direction, last_summary, window_ends_at
         FROM conversation_summaries WHERE contact_id = $1 {}",
        fold_on_conflict()
    );
    with_tx!(tx, conn => {
        sqlx::query(&sql).bind(from).bind(into).execute(&mut *conn).await?;
        sqlx::query("DELETE FROM conversation_summaries WHERE contact_id = $1")
            .bind(from).execute(&mut *conn).await?;
    });
    Ok(())
}

impl Store {
    /// Someone in the workspace read the conversation up to `seen` (the
    /// newest message they were shown): its unread count goes to 0, unless
    /// a newer message arrived meanwhile (the next look clears that).
    /// Returns whether it was cleared.
    pub async fn mark_read(
        &self,
        workspace_id: &str,
        phone_number_id: &str,
        contact_id: &ContactId,
        seen: MessageKey,
    ) -> Result<bool> {
        const WHERE: &str =
            "WHERE workspace_id = $1 AND phone_number_id = $2 AND contact_id = $3 AND unread > 0
             AND (last_at < $4 OR (last_at = $4 AND last_message_id <= $5))";
        // Looked at before it is written: an open thread is read every two
        // seconds, and on SQLite even an UPDATE that changes nothing would
        // wait its turn for the one writer.
        let select = format!("SELECT COUNT(*) FROM conversation_summaries {WHERE}");
        let update = format!("UPDATE conversation_summaries SET unread = 0 {WHERE}");
        Ok(with_pool!(self, pool => {
            let unread: i64 = sqlx::query_scalar(&select)
                .bind(workspace_id).bind(phone_number_id).bind(contact_id).bind(seen.sent_at).bind(seen.id)
                .fetch_one(pool).await?;
            unread > 0 && sqlx::query(&update)
                .bind(workspace_id).bind(phone_number_id).bind(contact_id).bind(seen.sent_at).bind(seen.id)
                .execute(pool).await?.rows_affected() == 1
        }))
    }
}
