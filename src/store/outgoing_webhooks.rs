//! SQL for outgoing webhooks: workspaces' endpoints and the delivery log.

use super::{with_pool, with_tx, Claim, Result, Store, Tx};
use crate::{text_enum::text_enum, vault::Sealed};

text_enum! {
    /// Where an event's delivery to one endpoint stands.
    pub enum DeliveryState {
        /// To be posted (again, after a failed attempt).
        Pending = "pending",
        /// The endpoint answered 2xx.
        Delivered = "delivered",
        /// The retry schedule ran out.
        Failed = "failed",
    }
}

/// An event for one of a workspace's endpoints.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewDelivery<'a> {
    pub endpoint_id: &'a str,
    pub workspace_id: &'a str,
    /// The event's own id: one delivery per endpoint and event.
    pub event_id: &'a str,
    pub event_type: &'a str,
    /// The event as JSON.
    pub payload: &'a str,
}

/// Queues a delivery, due now. A repeated event id for the endpoint
/// queues nothing. Returns whether it is new.
pub(crate) async fn enqueue_delivery(
    tx: &mut Tx<'_>,
    delivery: &NewDelivery<'_>,
    now: i64,
) -> Result<bool> {
    Ok(with_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO webhook_deliveries (endpoint_id, workspace_id, event_id, event_type, payload, next_attempt_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)
             ON CONFLICT (endpoint_id, event_id) DO NOTHING",
        )
        .bind(delivery.endpoint_id).bind(delivery.workspace_id).bind(delivery.event_id)
        .bind(delivery.event_type).bind(delivery.payload).bind(now)
        .execute(conn).await?
        .rows_affected() == 1
    }))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRow {
    pub id: String,
    pub workspace_id: String,
    pub url: String,
    pub secret: Sealed,
    /// The secret before the last rotation, and when it stops signing.
    pub previous: Option<(Sealed, i64)>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A delivery claimed for sending.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: i64,
    pub endpoint_id: String,
    pub workspace_id: String,
    pub event_id: String,
    pub event_type: String,
    pub payload: String,
    /// Made before this one.
    pub attempts: i64,
}

/// A line of the delivery log.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeliveryEntry {
    pub id: i64,
    pub endpoint_id: String,
    pub url: String,
    pub event_id: String,
    pub event_type: String,
    pub state: DeliveryState,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

/// A row of `webhook_endpoints`, before its seals are put together.
#[derive(sqlx::FromRow)]
struct EndpointRecord {
    id: String,
    workspace_id: String,
    url: String,
    secret_key_id: String,
    secret_nonce: Vec<u8>,
    secret_ciphertext: Vec<u8>,
    previous_key_id: Option<String>,
    previous_nonce: Option<Vec<u8>>,
    previous_ciphertext: Option<Vec<u8>>,
    previous_expires_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

const ENDPOINT_COLUMNS: &str = "id, workspace_id, url, secret_key_id, secret_nonce, secret_ciphertext, previous_key_id, previous_nonce, previous_ciphertext, previous_expires_at, created_at, updated_at";

impl From<EndpointRecord> for EndpointRow {
    fn from(row: EndpointRecord) -> Self {
        let previous = match (
            row.previous_key_id,
            row.previous_nonce,
            row.previous_ciphertext,
            row.previous_expires_at,
        ) {
            (Some(key_id), Some(nonce), Some(ciphertext), Some(until)) => Some((
                Sealed {
                    key_id,
                    nonce,
                    ciphertext,
                },
                until,
            )),
            _ => None,
        };
        EndpointRow {
            id: row.id,
            workspace_id: row.workspace_id,
            url: row.url,
            secret: Sealed {
                key_id: row.secret_key_id,
                nonce: row.secret_nonce,
                ciphertext: row.secret_ciphertext,
            },
            previous,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// Due deliveries, oldest first.
const DELIVERIES: Claim = Claim {
    table: "webhook_deliveries",
    key: "id",
    state: DeliveryState::Pending.sql(),
    due: "next_attempt_at <= $2",
    order_by: "id",
    also_set: "",
    returning: "id, endpoint_id, workspace_id, event_id, event_type, payload, attempts",
};

impl Store {
    pub async fn insert_endpoint(&self, row: &EndpointRow) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO webhook_endpoints (id, workspace_id, url, secret_key_id, secret_nonce, secret_ciphertext, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
            )
            .bind(&row.id).bind(&row.workspace_id).bind(&row.url)
            .bind(&row.secret.key_id).bind(&row.secret.nonce).bind(&row.secret.ciphertext)
            .bind(row.created_at)
            .execute(pool).await?;
        });
        Ok(())
    }

    pub async fn endpoints_of(&self, workspace_id: &str) -> Result<Vec<EndpointRow>> {
        let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE workspace_id = $1 ORDER BY created_at, id");
        let rows: Vec<EndpointRecord> = with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(workspace_id).fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(EndpointRow::from).collect())
    }

    pub async fn endpoint(&self, id: &str) -> Result<Option<EndpointRow>> {
        let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1");
        let row: Option<EndpointRecord> = with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?
        });
        Ok(row.map(EndpointRow::from))
    }

    /// The new secret signs from now on; the current one keeps signing
    /// until `previous_until`.
    pub async fn rotate_endpoint_secret(
        &self,
        id: &str,
        secret: &Sealed,
        previous_until: i64,
        now: i64,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "UPDATE webhook_endpoints SET previous_key_id = secret_key_id, previous_nonce = secret_nonce,
                     previous_ciphertext = secret_ciphertext, previous_expires_at = $1,
                     secret_key_id = $2, secret_nonce = $3, secret_ciphertext = $4, updated_at = $5
                 WHERE id = $6",
            )
            .bind(previous_until).bind(&secret.key_id).bind(&secret.nonce).bind(&secret.ciphertext)
            .bind(now).bind(id)
            .execute(pool).await?;
        });
        Ok(())
    }

    /// Every endpoint of the installation (for key rotation).
    pub async fn all_endpoints(&self) -> Result<Vec<EndpointRow>> {
        let sql = format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints");
        let rows: Vec<EndpointRecord> = with_pool!(self, pool => {
            sqlx::query_as(&sql).fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(EndpointRow::from).collect())
    }

    /// Replaces a sealed secret (`previous` false: the current one) if it
    /// is still the one read; returns whether it was.
    pub async fn reseal_endpoint_secret(
        &self,
        id: &str,
        previous: bool,
        old: &Sealed,
        new: &Sealed,
    ) -> Result<bool> {
        let sql = if previous {
            "UPDATE webhook_endpoints SET previous_key_id = $1, previous_nonce = $2, previous_ciphertext = $3
             WHERE id = $4 AND previous_nonce = $5"
        } else {
            "UPDATE webhook_endpoints SET secret_key_id = $1, secret_nonce = $2, secret_ciphertext = $3
             WHERE id = $4 AND secret_nonce = $5"
        };
        Ok(with_pool!(self, pool => {
            sqlx::query(sql)
                .bind(&new.key_id).bind(&new.nonce).bind(&new.ciphertext).bind(id).bind(&old.nonce)
                .execute(pool).await?.rows_affected() == 1
        }))
    }

    pub async fn delete_endpoint(&self, workspace_id: &str, id: &str) -> Result<bool> {
        Ok(with_pool!(self, pool => {
            sqlx::query("DELETE FROM webhook_endpoints WHERE workspace_id = $1 AND id = $2")
                .bind(workspace_id).bind(id).execute(pool).await?.rows_affected() == 1
        }))
    }

    /// Ids of the workspace's endpoints, for the pipeline.
    pub async fn endpoint_ids_of(&self, workspace_id: &str) -> Result<Vec<String>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar("SELECT id FROM webhook_endpoints WHERE workspace_id = $1 ORDER BY id")
                .bind(workspace_id).fetch_all(pool).await?
        }))
    }

    pub async fn claim_deliveries(
        &self,
        now: i64,
        lease_ms: i64,
        limit: i64,
    ) -> Result<Vec<DeliveryRow>> {
        let sql = DELIVERIES.sql(self.backend());
        let mut rows: Vec<DeliveryRow> = with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(now + lease_ms).bind(now).bind(limit).fetch_all(pool).await?
        });
        rows.sort_by_key(|row| row.id);
        Ok(rows)
    }

    /// Records an attempt: delivered, to be retried at `retry_at`, or
    /// failed for good (`retry_at` none).
    pub async fn record_delivery(
        &self,
        id: i64,
        delivered: bool,
        status: Option<i64>,
        error: Option<&str>,
        retry_at: Option<i64>,
        now: i64,
    ) -> Result<()> {
        let state = match (delivered, retry_at) {
            (true, _) => DeliveryState::Delivered,
            (false, Some(_)) => DeliveryState::Pending,
            (false, None) => DeliveryState::Failed,
        };
        let delivered_at = delivered.then_some(now);
        with_pool!(self, pool => {
            sqlx::query(
                "UPDATE webhook_deliveries SET state = $1, attempts = attempts + 1, last_status = $2, last_error = $3,
                     next_attempt_at = COALESCE($4, next_attempt_at), lease_until = NULL,
                     delivered_at = COALESCE($5, delivered_at)
                 WHERE id = $6",
            )
            .bind(state).bind(status).bind(error).bind(retry_at).bind(delivered_at).bind(id)
            .execute(pool).await?;
        });
        Ok(())
    }

    /// The workspace's delivery log, newest first.
    pub async fn deliveries_of(
        &self,
        workspace_id: &str,
        limit: i64,
    ) -> Result<Vec<DeliveryEntry>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT d.id, d.endpoint_id, e.url, d.event_id, d.event_type, d.state, d.attempts, d.next_attempt_at,
                        d.last_status, d.last_error, d.created_at, d.delivered_at
                 FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
                 WHERE d.workspace_id = $1 ORDER BY d.id DESC LIMIT $2",
            )
            .bind(workspace_id).bind(limit).fetch_all(pool).await?
        }))
    }

    /// Sends a delivery again (an admin asked), whatever became of it.
    pub async fn redeliver(&self, workspace_id: &str, id: i64, now: i64) -> Result<bool> {
        Ok(with_pool!(self, pool => {
            sqlx::query(
                "UPDATE webhook_deliveries SET state = $4, next_attempt_at = $1, lease_until = NULL
                 WHERE workspace_id = $2 AND id = $3",
            )
            .bind(now).bind(workspace_id).bind(id).bind(DeliveryState::Pending).execute(pool).await?.rows_affected() == 1
        }))
    }
}
