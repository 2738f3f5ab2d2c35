//! SQL for a contact's data rights: everything held about one contact,
//! read for an export or deleted for an erasure, and the erased ids'
//! hashes that keep a replayed webhook from bringing them back. The rules
//! live in `crate::data_rights`.

use super::{contacts::AliasKind, with_journal_pool, with_pool, with_tx, Result, Store, Tx};
use crate::ids::{ContactId, ContactScope};

/// A stored message of the contact, with what Meta said of it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HeldMessage {
    pub phone_number_id: String,
    pub wamid: String,
    pub direction: String,
    pub kind: String,
    pub summary: String,
    pub payload: String,
    pub sent_at: i64,
    pub status: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HeldStatus {
    pub phone_number_id: String,
    pub wamid: String,
    pub status: String,
    pub at: i64,
    pub error_code: Option<i64>,
    pub error_title: Option<String>,
    pub error_details: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HeldSend {
    pub id: i64,
    pub phone_number_id: String,
    pub kind: String,
    pub content: String,
    pub state: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HeldFile {
    pub phone_number_id: String,
    pub media_id: String,
    pub wamid: String,
    pub mime_type: Option<String>,
    pub state: String,
    pub bytes: Option<Vec<u8>>,
}

/// An id the contact was known by.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HeldAlias {
    pub kind: AliasKind,
    pub value: String,
    pub superseded_at: Option<i64>,
}

/// What an erasure deleted, by kind (counts only: the audit keeps these).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Erased {
    pub messages: u64,
    pub statuses: u64,
    pub files: u64,
    pub sends: u64,
    pub deliveries: u64,
    pub webhook_bodies: u64,
}

/// The contact `$2` of workspace `$1` and the contacts merged into it.
const CONTACT_IDS: &str =
    "(SELECT id FROM contacts WHERE workspace_id = $1 AND (id = $2 OR merged_into = $2))";

/// Rows of those contacts, as SQL over a table aliased `m`.
fn of_contact() -> String {
    format!("m.workspace_id = $1 AND m.contact_id IN {CONTACT_IDS}")
}

fn held_aliases_sql() -> String {
    format!(
        "SELECT kind, value, superseded_at FROM contact_aliases
         WHERE workspace_id = $1 AND contact_id IN {CONTACT_IDS} ORDER BY kind, value"
    )
}

impl Store {
    pub async fn held_aliases(&self, workspace_id: &str, id: &ContactId) -> Result<Vec<HeldAlias>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&held_aliases_sql()).bind(workspace_id).bind(id).fetch_all(pool).await?
        }))
    }

    pub async fn held_messages(
        &self,
        workspace_id: &str,
        id: &ContactId,
    ) -> Result<Vec<HeldMessage>> {
        let sql = format!(
            "SELECT m.phone_number_id, m.wamid, m.direction, m.kind, m.summary, m.payload, m.sent_at, m.status
             FROM messages m WHERE {} ORDER BY m.sent_at, m.id",
            of_contact()
        );
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(workspace_id).bind(id).fetch_all(pool).await?
        }))
    }

    pub async fn held_statuses(
        &self,
        workspace_id: &str,
        id: &ContactId,
    ) -> Result<Vec<HeldStatus>> {
        let sql = format!(
            "SELECT s.phone_number_id, s.wamid, s.status, s.at, s.error_code, s.error_title, s.error_details
             FROM message_statuses s JOIN messages m ON m.phone_number_id = s.phone_number_id AND m.wamid = s.wamid
             WHERE {} ORDER BY s.at, s.rank",
            of_contact()
        );
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(workspace_id).bind(id).fetch_all(pool).await?
        }))
    }

    pub async fn held_sends(&self, workspace_id: &str, id: &ContactId) -> Result<Vec<HeldSend>> {
        let sql = format!(
            "SELECT m.id, m.phone_number_id, m.kind, m.content, m.state, m.created_at
             FROM outbox m WHERE {} ORDER BY m.id",
            of_contact()
        );
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(workspace_id).bind(id).fetch_all(pool).await?
        }))
    }

    pub async fn held_files(&self, workspace_id: &str, id: &ContactId) -> Result<Vec<HeldFile>> {
        let sql = format!(
            "SELECT i.phone_number_id, i.media_id, i.wamid, i.mime_type, i.state, i.bytes
             FROM inbound_media i JOIN messages m ON m.phone_number_id = i.phone_number_id AND m.wamid = i.wamid
             WHERE {} ORDER BY i.created_at",
            of_contact()
        );
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(workspace_id).bind(id).fetch_all(pool).await?
        }))
    }

    /// Deletes the contact, the contacts merged into it, and everything
    /// of theirs in the main database, in one transaction; records the
    /// hashes of their ids as erased at `now`.
    pub async fn erase_contact(
        &self,
        workspace_id: &str,
        id: &ContactId,
        aliases: &[HeldAlias],
        erased_hashes: &[String],
        scope: &ContactScope,
        now: i64,
    ) -> Result<Option<Erased>> {
        let mut tx = self.begin().await?;
        // Decide after any message naming these ids that is being stored
        // now (the pipeline takes the same locks), and only if no id was
        // added to the contact since they were read: else the caller
        // reads them again.
        let values: Vec<&str> = aliases.iter().map(|a| a.value.as_str()).collect();
        super::contacts::lock_ids(&mut tx, workspace_id, scope, &values).await?;
        let now_held: Vec<HeldAlias> = with_tx!(&mut tx, conn => {
            sqlx::query_as(&held_aliases_sql()).bind(workspace_id).bind(id).fetch_all(conn).await?
        });
        if now_held != aliases {
            // Dropped without a commit: rolled back.
            return Ok(None);
        }
        let erased = erase_in(
            &mut tx,
            workspace_id,
            id,
            aliases,
            erased_hashes,
            scope,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(erased))
    }

    /// Processed webhook bodies for one of `numbers` that hold one of
    /// `needles` (a phone, a BSUID) as a JSON string, for deletion. Read
    /// first, deleted by id in small batches, so the journal's writers
    /// never wait long behind the scan.
    pub async fn processed_webhooks_holding(
        &self,
        needles: &[String],
        numbers: &[String],
    ) -> Result<Vec<i64>> {
        let mut ids = Vec::new();
        let mut pairs = Vec::new();
        for needle in needles {
            for number in numbers {
                pairs.push((format!("\"{needle}\""), format!("\"{number}\"")));
            }
        }
        for (needle, number) in pairs {
            let found: Vec<i64> = match self {
                Store::Sqlite(s) => {
                    sqlx::query_scalar(
                        "SELECT id FROM webhook_events WHERE state IN ('done', 'rejected')
                     AND instr(body, CAST($1 AS BLOB)) > 0 AND instr(body, CAST($2 AS BLOB)) > 0",
                    )
                    .bind(&needle)
                    .bind(&number)
                    .fetch_all(s.journal_pool())
                    .await?
                }
                Store::Postgres(s) => {
                    sqlx::query_scalar(
                        "SELECT id FROM webhook_events WHERE state IN ('done', 'rejected')
                     AND position(convert_to($1, 'UTF8') in body) > 0
                     AND position(convert_to($2, 'UTF8') in body) > 0",
                    )
                    .bind(&needle)
                    .bind(&number)
                    .fetch_all(s.journal_pool())
                    .await?
                }
            };
            ids.extend(found);
        }
        ids.sort_unstable();
        ids.dedup();
        Ok(ids)
    }

    /// Deletes processed webhook events by id (never pending or dead ones).
    pub async fn delete_processed_webhooks(&self, ids: &[i64]) -> Result<u64> {
        let mut deleted = 0;
        for id in ids {
            deleted += with_journal_pool!(self, pool => {
                sqlx::query("DELETE FROM webhook_events WHERE id = $1 AND state IN ('done', 'rejected')")
                    .bind(id).execute(pool).await?.rows_affected()
            });
        }
        Ok(deleted)
    }
}

/// The latest erasure of any of these id hashes in a workspace's scope.
/// When the workspace last erased anyone (`None`: never). A batch reads it
/// once: what was sent after it cannot concern an erased id, so most
/// messages skip [`erased_at`].
pub(crate) async fn latest_erasure(tx: &mut Tx<'_>, workspace_id: &str) -> Result<Option<i64>> {
    Ok(with_tx!(tx, conn => {
        sqlx::query_scalar("SELECT MAX(erased_at) FROM erased_identities WHERE workspace_id = $1")
            .bind(workspace_id)
            .fetch_one(conn).await?
    }))
}

pub(crate) async fn erased_at(
    tx: &mut Tx<'_>,
    workspace_id: &str,
    scope: &ContactScope,
    hashes: &[String],
) -> Result<Option<i64>> {
    // One round trip per message on the pipeline's path: a payload names a
    // customer by at most two ids (BSUID, phone).
    let (Some(first), second) = (hashes.first(), hashes.get(1)) else {
        return Ok(None);
    };
    debug_assert!(hashes.len() <= 2);
    Ok(with_tx!(tx, conn => {
        sqlx::query_scalar(
            "SELECT MAX(erased_at) FROM erased_identities
             WHERE workspace_id = $1 AND scope = $2 AND id_hash IN ($3, $4)",
        )
        .bind(workspace_id).bind(scope).bind(first).bind(second.unwrap_or(first))
        .fetch_one(conn).await?
    }))
}

async fn erase_in(
    tx: &mut Tx<'_>,
    workspace_id: &str,
    id: &ContactId,
    aliases: &[HeldAlias],
    erased_hashes: &[String],
    scope: &ContactScope,
    now: i64,
) -> Result<Erased> {
    let mut erased = Erased::default();
    with_tx!(tx, conn => {
        for hash in erased_hashes {
            sqlx::query(
                "INSERT INTO erased_identities (workspace_id, scope, id_hash, erased_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (workspace_id, scope, id_hash) DO UPDATE SET erased_at = excluded.erased_at",
            )
            .bind(workspace_id).bind(scope).bind(hash).bind(now).execute(&mut *conn).await?;
        }
        let of_message = |table: &str| format!(
            "DELETE FROM {table} WHERE EXISTS (SELECT 1 FROM messages m
                 WHERE m.phone_number_id = {table}.phone_number_id AND m.wamid = {table}.wamid AND {})",
            of_contact()
        );
        erased.statuses += sqlx::query(&of_message("message_statuses"))
            .bind(workspace_id).bind(id).execute(&mut *conn).await?.rows_affected();
        // Receipts that came without their message, naming the person by
        // an id they still hold (an old phone may be someone else's now).
        for alias in aliases.iter().filter(|a| a.superseded_at.is_none()) {
            erased.statuses += sqlx::query(
                "DELETE FROM message_statuses WHERE recipient = $2 AND phone_number_id IN
                     (SELECT phone_number_id FROM whatsapp_numbers WHERE workspace_id = $1)
                 AND NOT EXISTS (SELECT 1 FROM messages m
                     WHERE m.phone_number_id = message_statuses.phone_number_id AND m.wamid = message_statuses.wamid)",
            )
            .bind(workspace_id).bind(&alias.value).execute(&mut *conn).await?.rows_affected();
        }
        erased.files += sqlx::query(&of_message("inbound_media"))
            .bind(workspace_id).bind(id).execute(&mut *conn).await?.rows_affected();
        // Their conversations go from the list with their messages.
        sqlx::query(&format!(
            "DELETE FROM conversation_summaries WHERE workspace_id = $1 AND contact_id IN {CONTACT_IDS}"
        ))
        .bind(workspace_id).bind(id).execute(&mut *conn).await?;
        for (table, count) in [("messages", &mut erased.messages), ("outbox", &mut erased.sends)] {
            *count += sqlx::query(&format!(
                "DELETE FROM {table} WHERE workspace_id = $1 AND contact_id IN {CONTACT_IDS}"
            ))
            .bind(workspace_id).bind(id).execute(&mut *conn).await?.rows_affected();
        }
        // Events for endpoints name the contact by its id (`ct_…`).
        let pattern = format!("%\"{}\"%", id.as_str().replace('!', "!!").replace('_', "!_").replace('%', "!%"));
        erased.deliveries += sqlx::query(
            "DELETE FROM webhook_deliveries WHERE workspace_id = $1 AND payload LIKE $2 ESCAPE '!'",
        )
        .bind(workspace_id).bind(&pattern).execute(&mut *conn).await?.rows_affected();
        sqlx::query(&format!(
            "DELETE FROM contact_aliases WHERE workspace_id = $1 AND contact_id IN {CONTACT_IDS}"
        ))
        .bind(workspace_id).bind(id).execute(&mut *conn).await?;
        sqlx::query("DELETE FROM contacts WHERE workspace_id = $1 AND (id = $2 OR merged_into = $2)")
            .bind(workspace_id).bind(id).execute(&mut *conn).await?;
    });
    Ok(erased)
}
