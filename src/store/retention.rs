//! SQL for pruning: each kind of data that only grows, deleted in small
//! batches (a long delete would hold SQLite's writer and Postgres' locks),
//! never what is pending, dead or still needed to recognise a retry.
//!
//! Messages themselves are never pruned (only their receipts, pricing and
//! files' bytes), so the conversations' summaries (`conversation_summaries`:
//! counts, last message, window) stay exact. A kind that deletes messages
//! must adjust those rows in the same transaction.

use super::{with_journal_pool, with_pool, Result, Store};

/// What can be pruned, and the statement that deletes one batch of it
/// (`$1` the cutoff, `$2` the batch size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prunable {
    /// Raw bodies of processed webhooks (pending, rejected and dead stay).
    ProcessedWebhooks,
    /// Meta's receipts of sent messages (their message keeps its status).
    Statuses,
    /// Outgoing-webhook delivery logs that are settled.
    Deliveries,
    /// Sessions past their expiry or revoked.
    Sessions,
    /// Sign-in attempts past the limits' window.
    SignInAttempts,
    Audit,
    /// Outbox rows Meta accepted (the message itself stays in its thread).
    SentOutbox,
    /// Customers' files: the bytes go, the row stays to say so in the
    /// thread.
    InboundMedia,
    /// Meta's pricing objects as received (the cost ledger keeps the
    /// counts).
    MessagePricing,
    /// The OAuth redirect path's states, used or expired (they last 10
    /// minutes; a used one is kept a while to tell a replay).
    OauthStates,
}

impl Prunable {
    pub const ALL: [Prunable; 10] = [
        Prunable::ProcessedWebhooks,
        Prunable::Statuses,
        Prunable::Deliveries,
        Prunable::Sessions,
        Prunable::SignInAttempts,
        Prunable::Audit,
        Prunable::SentOutbox,
        Prunable::InboundMedia,
        Prunable::MessagePricing,
        Prunable::OauthStates,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Prunable::ProcessedWebhooks => "processed_webhooks",
            Prunable::Statuses => "statuses",
            Prunable::Deliveries => "deliveries",
            Prunable::Sessions => "sessions",
            Prunable::SignInAttempts => "sign_in_attempts",
            Prunable::Audit => "audit",
            Prunable::SentOutbox => "sent_outbox",
            Prunable::InboundMedia => "inbound_media",
            Prunable::MessagePricing => "message_pricing",
            Prunable::OauthStates => "oauth_states",
        }
    }

    fn sql(self) -> &'static str {
        match self {
            Prunable::ProcessedWebhooks => {
                "DELETE FROM webhook_events WHERE id IN (
                     SELECT id FROM webhook_events WHERE state = 'done' AND received_at < $1 LIMIT $2)"
            }
            Prunable::Statuses => {
                "DELETE FROM message_statuses WHERE (wamid, status) IN (
                     SELECT wamid, status FROM message_statuses WHERE at < $1 LIMIT $2)"
            }
            Prunable::Deliveries => {
                "DELETE FROM webhook_deliveries WHERE id IN (
                     SELECT id FROM webhook_deliveries
                     WHERE state IN ('delivered', 'failed') AND created_at < $1 LIMIT $2)"
            }
            Prunable::Sessions => {
                "DELETE FROM sessions WHERE token_hash IN (
                     SELECT token_hash FROM sessions
                     WHERE expires_at < $1 OR (revoked_at IS NOT NULL AND revoked_at < $1) LIMIT $2)"
            }
            Prunable::SignInAttempts => {
                "DELETE FROM sign_in_failures WHERE (key, at) IN (
                     SELECT key, at FROM sign_in_failures WHERE at < $1 LIMIT $2)"
            }
            Prunable::Audit => {
                "DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < $1 LIMIT $2)"
            }
            Prunable::SentOutbox => {
                "DELETE FROM outbox WHERE id IN (
                     SELECT id FROM outbox WHERE state = 'sent' AND updated_at < $1 LIMIT $2)"
            }
            Prunable::InboundMedia => {
                "UPDATE inbound_media SET bytes = NULL, size = NULL, state = 'failed',
                     error = 'deleted after the retention period (RETAIN_MEDIA_DAYS)'
                 WHERE (phone_number_id, media_id) IN (
                     SELECT phone_number_id, media_id FROM inbound_media
                     WHERE state = 'stored' AND stored_at < $1 LIMIT $2)"
            }
            Prunable::MessagePricing => {
                "DELETE FROM message_pricing WHERE (phone_number_id, wamid) IN (
                     SELECT phone_number_id, wamid FROM message_pricing WHERE priced_at < $1 LIMIT $2)"
            }
            Prunable::OauthStates => {
                "DELETE FROM oauth_states WHERE state_hash IN (
                     SELECT state_hash FROM oauth_states WHERE created_at < $1 LIMIT $2)"
            }
        }
    }
}

impl Store {
    /// Deletes up to `batch` rows of `kind` older than `cutoff` (Unix ms);
    /// returns how many went.
    pub async fn prune(&self, kind: Prunable, cutoff: i64, batch: i64) -> Result<u64> {
        let sql = kind.sql();
        Ok(match kind {
            // The journal may be a file of its own.
            Prunable::ProcessedWebhooks => with_journal_pool!(self, pool => {
                sqlx::query(sql).bind(cutoff).bind(batch).execute(pool).await?.rows_affected()
            }),
            _ => with_pool!(self, pool => {
                sqlx::query(sql).bind(cutoff).bind(batch).execute(pool).await?.rows_affected()
            }),
        })
    }
}
