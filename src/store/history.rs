//! SQL for reading conversations and their messages, newest first, a page
//! at a time (keyset pagination: a page never skips or repeats a row that
//! was there when the first page was read).

use super::{with_pool, Result, Store};

/// A conversation: a customer of a number, with its latest activity.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct ConversationSummary {
    pub phone_number_id: String,
    pub customer: String,
    pub customer_name: Option<String>,
    pub messages: i64,
    pub last_at: i64,
    pub last_summary: String,
}

/// Where a page of conversations ends: the last one's activity and key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConversationKey {
    pub last_at: i64,
    pub phone_number_id: String,
    pub customer: String,
}

/// Where a page of messages ends: the last one's time and row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MessageKey {
    pub sent_at: i64,
    pub id: i64,
}

/// A stored message as the integration API reads it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MessageRecord {
    pub id: i64,
    pub wamid: String,
    pub direction: String,
    pub kind: String,
    pub summary: String,
    pub payload: String,
    pub sent_at: i64,
    pub status: Option<String>,
    pub error_code: Option<i64>,
    pub error_title: Option<String>,
}

/// A line of a conversation thread as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ThreadMessage {
    pub wamid: String,
    pub direction: String,
    pub summary: String,
    pub sent_at: i64,
    pub status: Option<String>,
    pub error_code: Option<i64>,
    pub error_title: Option<String>,
}

impl Store {
    /// Conversations of a workspace, the most recent first, after `after`.
    pub async fn conversations(
        &self,
        workspace_id: &str,
        limit: i64,
        after: Option<&ConversationKey>,
    ) -> Result<Vec<ConversationSummary>> {
        // Without a cursor the key compares below everything real.
        let (last_at, phone, customer) = match after {
            Some(key) => (
                key.last_at,
                key.phone_number_id.as_str(),
                key.customer.as_str(),
            ),
            None => (i64::MAX, "", ""),
        };
        Ok(with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT m.phone_number_id AS phone_number_id, m.customer_wa_id AS customer, MAX(m.customer_name) AS customer_name,
                        COUNT(*) AS messages, MAX(m.sent_at) AS last_at,
                        COALESCE((SELECT l.summary FROM messages l
                         WHERE l.workspace_id = $1 AND l.phone_number_id = m.phone_number_id AND l.customer_wa_id = m.customer_wa_id
                         ORDER BY l.sent_at DESC, l.id DESC LIMIT 1), '') AS last_summary
                 FROM messages m WHERE m.workspace_id = $1
                 GROUP BY m.phone_number_id, m.customer_wa_id
                 HAVING MAX(m.sent_at) < $2
                     OR (MAX(m.sent_at) = $2 AND (m.phone_number_id > $3 OR (m.phone_number_id = $3 AND m.customer_wa_id > $4)))
                 ORDER BY MAX(m.sent_at) DESC, m.phone_number_id, m.customer_wa_id LIMIT $5",
            )
            .bind(workspace_id).bind(last_at).bind(phone).bind(customer).bind(limit)
            .fetch_all(pool).await?
        }))
    }

    /// One conversation's messages, the newest first, before `before`.
    pub async fn messages_page(
        &self,
        workspace_id: &str,
        phone_number_id: &str,
        customer: &str,
        limit: i64,
        before: Option<MessageKey>,
    ) -> Result<Vec<MessageRecord>> {
        let before = before.unwrap_or(MessageKey {
            sent_at: i64::MAX,
            id: i64::MAX,
        });
        Ok(with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, wamid, direction, kind, summary, payload, sent_at, status, error_code, error_title
                 FROM messages
                 WHERE workspace_id = $1 AND phone_number_id = $2 AND customer_wa_id = $3
                   AND (sent_at < $4 OR (sent_at = $4 AND id < $5))
                 ORDER BY sent_at DESC, id DESC LIMIT $6",
            )
            .bind(workspace_id).bind(phone_number_id).bind(customer)
            .bind(before.sent_at).bind(before.id).bind(limit)
            .fetch_all(pool).await?
        }))
    }

    /// A conversation thread, oldest first.
    pub async fn thread(
        &self,
        workspace_id: &str,
        phone_number_id: &str,
        customer: &str,
    ) -> Result<Vec<ThreadMessage>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT wamid, direction, summary, sent_at, status, error_code, error_title FROM messages
                 WHERE workspace_id = $1 AND phone_number_id = $2 AND customer_wa_id = $3 ORDER BY sent_at, id",
            )
            .bind(workspace_id).bind(phone_number_id).bind(customer)
            .fetch_all(pool).await?
        }))
    }
}
