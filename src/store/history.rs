//! SQL for reading conversations and their messages, newest first, a page
//! at a time (keyset pagination: a page never skips or repeats a row that
//! was there when the first page was read).

use super::{with_pool, ContactRow, Result, Store};
use crate::ids::ContactId;

/// A conversation: a contact of a number, with its latest activity.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct ConversationSummary {
    pub phone_number_id: String,
    #[sqlx(flatten)]
    pub contact: ContactRow,
    pub messages: i64,
    pub last_at: i64,
    pub last_summary: String,
}

/// Where a page of conversations ends: the last one's activity and key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConversationKey {
    pub last_at: i64,
    pub phone_number_id: String,
    /// The contact's id.
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
    /// Imported from (`history`) or sent from (`business_app`) the WhatsApp
    /// Business app; `None` through the Cloud API.
    pub origin: Option<super::MessageOrigin>,
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
    /// `history` (imported from the WhatsApp Business app) or
    /// `business_app` (sent from it); `None` through the Cloud API.
    pub origin: Option<super::MessageOrigin>,
    pub kind: String,
    pub summary: String,
    pub sent_at: i64,
    pub status: Option<String>,
    pub error_code: Option<i64>,
    pub error_title: Option<String>,
}

/// LIKE patterns for a search box: its text in any case (LIKE's own
/// wildcards escaped with `!`), and its digits when it reads as a phone
/// (`+1 (650) 555-1234`); empty strings for no search.
fn like_patterns(search: Option<&str>) -> (String, String) {
    let Some(search) = search.map(str::trim).filter(|s| !s.is_empty()) else {
        return (String::new(), String::new());
    };
    let mut text = String::from("%");
    for c in search.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '!') {
            text.push('!');
        }
        text.push(c);
    }
    text.push('%');
    let phone_like = search
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    let digits: String = search.chars().filter(char::is_ascii_digit).collect();
    let digits = if phone_like && !digits.is_empty() {
        format!("%{digits}%")
    } else {
        String::new()
    };
    (text, digits)
}

impl Store {
    /// Conversations of a workspace, the most recent first, after `after`.
    /// `search`: only contacts whose profile name, username, phone or
    /// BSUID contains it (any case; a phone as written, `+1 650-555…`, too).
    pub async fn conversations(
        &self,
        workspace_id: &str,
        limit: i64,
        after: Option<&ConversationKey>,
        search: Option<&str>,
    ) -> Result<Vec<ConversationSummary>> {
        let (text, digits) = like_patterns(search);
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
                "SELECT m.phone_number_id AS phone_number_id, c.id, c.workspace_id, c.scope, c.bsuid, c.phone, c.username,
                        c.parent_bsuid, c.profile_name, c.merged_into,
                        COUNT(*) AS messages, MAX(m.sent_at) AS last_at,
                        COALESCE((SELECT l.summary FROM messages l
                         WHERE l.workspace_id = $1 AND l.phone_number_id = m.phone_number_id AND l.contact_id = c.id
                         ORDER BY l.sent_at DESC, l.id DESC LIMIT 1), '') AS last_summary
                 FROM messages m JOIN contacts c ON c.id = m.contact_id
                 WHERE m.workspace_id = $1
                   AND ($6 = '' OR LOWER(COALESCE(c.profile_name, '')) LIKE $6 ESCAPE '!'
                        OR LOWER(COALESCE(c.username, '')) LIKE $6 ESCAPE '!'
                        OR LOWER(COALESCE(c.bsuid, '')) LIKE $6 ESCAPE '!'
                        OR ($7 <> '' AND COALESCE(c.phone, '') LIKE $7))
                 GROUP BY m.phone_number_id, c.id
                 HAVING MAX(m.sent_at) < $2
                     OR (MAX(m.sent_at) = $2 AND (m.phone_number_id > $3 OR (m.phone_number_id = $3 AND c.id > $4)))
                 ORDER BY MAX(m.sent_at) DESC, m.phone_number_id, c.id LIMIT $5",
            )
            .bind(workspace_id).bind(last_at).bind(phone).bind(customer).bind(limit)
            .bind(&text).bind(&digits)
            .fetch_all(pool).await?
        }))
    }

    /// One conversation's messages, the newest first, before `before`.
    pub async fn messages_page(
        &self,
        workspace_id: &str,
        phone_number_id: &str,
        contact_id: &ContactId,
        limit: i64,
        before: Option<MessageKey>,
    ) -> Result<Vec<MessageRecord>> {
        let before = before.unwrap_or(MessageKey {
            sent_at: i64::MAX,
            id: i64::MAX,
        });
        Ok(with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, wamid, direction, origin, kind, summary, payload, sent_at, status, error_code, error_title
                 FROM messages
                 WHERE workspace_id = $1 AND phone_number_id = $2 AND contact_id = $3
                   AND (sent_at < $4 OR (sent_at = $4 AND id < $5))
                 ORDER BY sent_at DESC, id DESC LIMIT $6",
            )
            .bind(workspace_id).bind(phone_number_id).bind(contact_id)
            .bind(before.sent_at).bind(before.id).bind(limit)
            .fetch_all(pool).await?
        }))
    }

    /// A conversation thread, oldest first.
    pub async fn thread(
        &self,
        workspace_id: &str,
        phone_number_id: &str,
        contact_id: &ContactId,
    ) -> Result<Vec<ThreadMessage>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT wamid, direction, origin, kind, summary, sent_at, status, error_code, error_title FROM messages
                 WHERE workspace_id = $1 AND phone_number_id = $2 AND contact_id = $3 ORDER BY sent_at, id",
            )
            .bind(workspace_id).bind(phone_number_id).bind(contact_id)
            .fetch_all(pool).await?
        }))
    }
}
