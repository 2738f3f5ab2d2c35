//! SQL for inbound media: queued with their message, fetched by a worker,
//! read by the thread.

use super::{with_pool, with_tx, Claim, Result, Store, Tx};
use crate::text_enum::text_enum;

text_enum! {
    /// Where a customer's file stands.
    pub enum FileState {
        /// To be fetched from Meta (again, after a failed attempt).
        Pending = "pending",
        /// Kept, and served to the workspace.
        Stored = "stored",
        /// Given up on, with the reason.
        Failed = "failed",
    }
}

/// A customer's file to download, named by its number and media id.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewMedia<'a> {
    pub phone_number_id: &'a str,
    pub media_id: &'a str,
    pub workspace_id: &'a str,
    /// The message it came with.
    pub wamid: &'a str,
    pub mime_type: Option<&'a str>,
}

/// Queues a file of a new inbound message, due now; a message processed
/// again queues nothing. Returns whether it is new.
pub(crate) async fn enqueue(tx: &mut Tx<'_>, file: &NewMedia<'_>, now: i64) -> Result<bool> {
    Ok(with_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO inbound_media (phone_number_id, media_id, workspace_id, wamid, mime_type, next_attempt_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)
             ON CONFLICT (phone_number_id, media_id) DO NOTHING",
        )
        .bind(file.phone_number_id).bind(file.media_id).bind(file.workspace_id).bind(file.wamid)
        .bind(file.mime_type).bind(now)
        .execute(conn).await?
        .rows_affected() == 1
    }))
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MediaJob {
    pub phone_number_id: String,
    pub media_id: String,
    pub workspace_id: String,
    pub attempts: i64,
}

/// A stored file, for serving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFile {
    pub mime_type: Option<String>,
    pub bytes: Vec<u8>,
}

/// Where a message's file stands, for the thread.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MediaState {
    pub wamid: String,
    pub media_id: String,
    pub mime_type: Option<String>,
    pub state: FileState,
    pub size: Option<i64>,
    pub error: Option<String>,
}

/// Due downloads, longest waiting first.
const FILES: Claim = Claim {
    table: "inbound_media",
    key: "(phone_number_id, media_id)",
    state: FileState::Pending.sql(),
    due: "next_attempt_at <= $2",
    order_by: "next_attempt_at",
    also_set: "",
    returning: "phone_number_id, media_id, workspace_id, attempts",
};

impl Store {
    pub async fn claim_media(&self, now: i64, lease_ms: i64, limit: i64) -> Result<Vec<MediaJob>> {
        let sql = FILES.sql(self.backend());
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(now + lease_ms).bind(now).bind(limit).fetch_all(pool).await?
        }))
    }

    pub async fn media_stored(
        &self,
        job: &MediaJob,
        mime_type: Option<&str>,
        bytes: &[u8],
        now: i64,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "UPDATE inbound_media SET state = $7, bytes = $1, size = $2, mime_type = COALESCE($3, mime_type),
                     attempts = attempts + 1, lease_until = NULL, error = NULL, stored_at = $4
                 WHERE phone_number_id = $5 AND media_id = $6",
            )
            .bind(bytes).bind(bytes.len() as i64).bind(mime_type).bind(now)
            .bind(&job.phone_number_id).bind(&job.media_id).bind(FileState::Stored)
            .execute(pool).await?;
        });
        Ok(())
    }

    /// A failed attempt: again at `retry_at`, or for good.
    pub async fn media_failed(
        &self,
        job: &MediaJob,
        error: &str,
        retry_at: Option<i64>,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "UPDATE inbound_media SET state = $5,
                     next_attempt_at = COALESCE($1, next_attempt_at), attempts = attempts + 1, lease_until = NULL, error = $2
                 WHERE phone_number_id = $3 AND media_id = $4",
            )
            .bind(retry_at).bind(error).bind(&job.phone_number_id).bind(&job.media_id)
            .bind(if retry_at.is_some() { FileState::Pending } else { FileState::Failed })
            .execute(pool).await?;
        });
        Ok(())
    }

    /// A stored file of the workspace.
    pub async fn media_file(
        &self,
        workspace_id: &str,
        phone_number_id: &str,
        media_id: &str,
    ) -> Result<Option<MediaFile>> {
        let row: Option<(Option<String>, Option<Vec<u8>>)> = with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT mime_type, bytes FROM inbound_media
                 WHERE workspace_id = $1 AND phone_number_id = $2 AND media_id = $3 AND state = $4",
            )
            .bind(workspace_id).bind(phone_number_id).bind(media_id).bind(FileState::Stored)
            .fetch_optional(pool).await?
        });
        Ok(row.and_then(|(mime_type, bytes)| {
            Some(MediaFile {
                mime_type,
                bytes: bytes?,
            })
        }))
    }

    /// The files of a conversation's messages sent from `from` to `to`
    /// (Unix ms, both included): those of a page of its thread.
    pub async fn media_between(
        &self,
        workspace_id: &str,
        phone_number_id: &str,
        contact_id: &crate::ids::ContactId,
        from: i64,
        to: i64,
    ) -> Result<Vec<MediaState>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT f.wamid, f.media_id, f.mime_type, f.state, f.size, f.error FROM messages m
                 JOIN inbound_media f ON f.workspace_id = m.workspace_id AND f.wamid = m.wamid
                     AND f.phone_number_id = m.phone_number_id
                 WHERE m.workspace_id = $1 AND m.phone_number_id = $2 AND m.contact_id = $3
                   AND m.sent_at >= $4 AND m.sent_at <= $5",
            )
            .bind(workspace_id).bind(phone_number_id).bind(contact_id).bind(from).bind(to)
            .fetch_all(pool).await?
        }))
    }

    /// The files of a conversation's messages.
    pub async fn media_of_thread(
        &self,
        workspace_id: &str,
        phone_number_id: &str,
        contact_id: &crate::ids::ContactId,
    ) -> Result<Vec<MediaState>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT f.wamid, f.media_id, f.mime_type, f.state, f.size, f.error FROM inbound_media f
                 JOIN messages m ON m.phone_number_id = f.phone_number_id AND m.wamid = f.wamid
                 WHERE f.workspace_id = $1 AND f.phone_number_id = $2 AND m.contact_id = $3",
            )
            .bind(workspace_id).bind(phone_number_id).bind(contact_id)
            .fetch_all(pool).await?
        }))
    }
}
