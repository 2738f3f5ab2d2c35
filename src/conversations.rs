//! The read side of messaging: conversations per number and their threads,
//! for anyone in the workspace (viewers included).

use serde::{Deserialize, Serialize};

use crate::{
    accounts::{Caller, Error, Role},
    outbox::Content,
    store::Store,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationSummary {
    pub phone_number_id: String,
    pub customer: String,
    pub customer_name: Option<String>,
    pub messages: i64,
    pub last_at: i64,
    pub last_summary: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadLine {
    /// Empty for a message not sent yet.
    pub wamid: String,
    pub direction: String,
    pub summary: String,
    pub sent_at: i64,
    /// Meta's status, or the outbox's for one not sent: `queued`,
    /// `failed`, `needs_template`.
    pub status: Option<String>,
    /// Why it failed, as Meta said.
    pub error: Option<String>,
    /// The customer's file, if the message has one.
    pub media: Option<ThreadMedia>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadMedia {
    pub media_id: String,
    pub mime_type: Option<String>,
    /// `pending`, `stored` or `failed`.
    pub state: String,
    pub error: Option<String>,
}

pub async fn list(store: &Store, caller: &Caller) -> Result<Vec<ConversationSummary>, Error> {
    caller.require(Role::Viewer)?;
    Ok(store.conversations(&caller.workspace.id, 200).await?)
}

/// A thread of the caller's workspace; another workspace's number or
/// customer simply has no lines here.
pub async fn thread(
    store: &Store,
    caller: &Caller,
    phone_number_id: &str,
    customer: &str,
) -> Result<Vec<ThreadLine>, Error> {
    caller.require(Role::Viewer)?;
    let lines = store
        .thread(&caller.workspace.id, phone_number_id, customer)
        .await?;
    let mut files: std::collections::HashMap<String, ThreadMedia> = store
        .media_of_thread(&caller.workspace.id, phone_number_id, customer)
        .await?
        .into_iter()
        .map(|m| {
            let file = ThreadMedia {
                media_id: m.media_id,
                mime_type: m.mime_type,
                state: m.state,
                error: m.error,
            };
            (m.wamid, file)
        })
        .collect();
    let mut thread: Vec<ThreadLine> = lines
        .into_iter()
        .map(
            |(wamid, direction, summary, sent_at, status, code, title)| ThreadLine {
                media: files.remove(&wamid),
                wamid,
                direction,
                summary,
                sent_at,
                status,
                error: error_text(code, title),
            },
        )
        .collect();
    // What is still in the outbox shows after what was sent.
    for entry in store
        .unsent_for(&caller.workspace.id, phone_number_id, customer)
        .await?
    {
        let summary = serde_json::from_str::<Content>(&entry.content)
            .map(|c| c.summary())
            .unwrap_or_else(|_| format!("[{}]", entry.kind));
        thread.push(ThreadLine {
            wamid: String::new(),
            direction: "outbound".into(),
            summary,
            sent_at: entry.created_at,
            status: Some(entry.state),
            error: error_text(entry.error_code, entry.error_title),
            media: None,
        });
    }
    thread.sort_by_key(|line| line.sent_at);
    Ok(thread)
}

fn error_text(code: Option<i64>, title: Option<String>) -> Option<String> {
    match (code, title) {
        (Some(code), Some(title)) => Some(format!("{title} ({code})")),
        (None, Some(title)) => Some(title),
        (Some(code), None) => Some(format!("error {code}")),
        (None, None) => None,
    }
}
