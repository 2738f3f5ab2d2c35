//! SQL for errors Meta reports about a number as a whole (`value.errors[]`
//! of a `messages` change with no message or status): one row per
//! distinct error of a number, with when it was first and last seen.

use super::{with_pool, with_tx, Result, Store, Tx};

/// One error of a change, as received.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewNumberError<'a> {
    pub workspace_id: &'a str,
    pub phone_number_id: &'a str,
    pub code: Option<i64>,
    pub title: Option<&'a str>,
    pub details: Option<&'a str>,
    pub received_at: i64,
}

impl NewNumberError<'_> {
    /// What makes two reports the same error.
    fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let text = format!("{:?}\0{:?}\0{:?}", self.code, self.title, self.details);
        hex::encode(Sha256::digest(text.as_bytes()))
    }
}

/// An error as the number's page shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct NumberError {
    pub code: Option<i64>,
    pub title: Option<String>,
    pub details: Option<String>,
    pub first_seen_at: i64,
    pub last_seen_at: i64,
}

/// Keeps the error, or marks when it was seen again; returns whether it
/// is new for the number (a retry of the same webhook is not).
pub(crate) async fn insert(tx: &mut Tx<'_>, error: &NewNumberError<'_>) -> Result<bool> {
    let fingerprint = error.fingerprint();
    Ok(with_tx!(tx, conn => {
        sqlx::query(
            "UPDATE number_errors SET last_seen_at = $1
             WHERE workspace_id = $4 AND phone_number_id = $2 AND fingerprint = $3 AND last_seen_at < $1",
        )
        .bind(error.received_at).bind(error.phone_number_id).bind(&fingerprint).bind(error.workspace_id)
        .execute(&mut *conn).await?;
        sqlx::query(
            "INSERT INTO number_errors (workspace_id, phone_number_id, fingerprint, code, title, details, first_seen_at, last_seen_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (workspace_id, phone_number_id, fingerprint) DO NOTHING",
        )
        .bind(error.workspace_id).bind(error.phone_number_id).bind(&fingerprint)
        .bind(error.code).bind(error.title).bind(error.details).bind(error.received_at)
        .execute(&mut *conn).await?
        .rows_affected() == 1
    }))
}

impl Store {
    /// The number's errors from Meta while `workspace_id` had it, the one
    /// seen last first.
    pub async fn number_errors(
        &self,
        workspace_id: &str,
        phone_number_id: &str,
        limit: i64,
    ) -> Result<Vec<NumberError>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT code, title, details, first_seen_at, last_seen_at FROM number_errors
                 WHERE workspace_id = $1 AND phone_number_id = $2 ORDER BY last_seen_at DESC, id DESC LIMIT $3",
            )
            .bind(workspace_id).bind(phone_number_id).bind(limit).fetch_all(pool).await?
        }))
    }
}
