//! The read side of messaging: conversations per number and their threads,
//! for anyone in the workspace (viewers included).

use serde::{Deserialize, Serialize};

use crate::{
    accounts::{Caller, Error, Role},
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
    pub wamid: String,
    pub direction: String,
    pub summary: String,
    pub sent_at: i64,
    pub status: Option<String>,
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
    Ok(lines
        .into_iter()
        .map(|(wamid, direction, summary, sent_at, status)| ThreadLine {
            wamid,
            direction,
            summary,
            sent_at,
            status,
        })
        .collect())
}
