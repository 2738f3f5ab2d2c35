//! A customer's data rights: everything held about one contact, exported
//! as one JSON document (files included), or erased.
//!
//! An erasure deletes the contact, the contacts merged into it, their
//! messages, receipts, files, queued and sent outbox rows, the events
//! their endpoints were to receive, and the raw webhook bodies already
//! processed that name them. What it keeps is a hash of each id they were
//! known by (phone, BSUID; salted with the workspace and scope) and when:
//! the pipeline drops a message or receipt for one of those ids that was
//! sent before the erasure (Meta retrying a webhook, a dead letter
//! replayed, a webhook still waiting), so the contact does not come back;
//! a message the person sends afterwards starts a new contact. The audit
//! entry keeps only counts.

use base64::{engine::general_purpose::STANDARD as BASE64, Engine as _};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::{
    audit,
    contacts::ContactObject,
    conversations::error_text,
    ids::{ContactId, ContactScope},
    store::{self, data_rights, now_millis, AliasKind, Erased, HeldAlias, Store, Tx},
    webhook::payload::Identity,
    Error,
};

/// Everything held about a contact.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ContactExport {
    /// Unix time in milliseconds.
    pub exported_at: i64,
    pub contact: ContactObject,
    /// Every id the contact was known by, the superseded ones too.
    pub ids: Vec<KnownId>,
    pub messages: Vec<ExportedMessage>,
    /// What was queued to be sent to them (sent or not).
    pub sends: Vec<ExportedSend>,
    /// Their files, as received.
    pub files: Vec<ExportedFile>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct KnownId {
    /// `bsuid` or `phone`.
    pub kind: String,
    pub value: String,
    /// When the contact moved on from it (Unix ms), if it did.
    pub superseded_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ExportedMessage {
    /// Meta's message id (wamid).
    pub id: String,
    pub phone_number_id: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub summary: String,
    /// Unix time in milliseconds.
    pub sent_at: i64,
    pub status: Option<String>,
    /// The message as Meta sent it, or as it was queued.
    pub payload: Value,
    /// Meta's receipts for it.
    pub statuses: Vec<ExportedStatus>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ExportedStatus {
    pub status: String,
    /// Unix time in milliseconds.
    pub at: i64,
    pub error: Option<String>,
    pub error_details: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ExportedSend {
    pub id: i64,
    pub phone_number_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub content: Value,
    pub state: String,
    /// Unix time in milliseconds.
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ExportedFile {
    /// Meta's media id.
    pub media_id: String,
    /// The message it came with (wamid).
    pub message_id: String,
    pub mime_type: Option<String>,
    /// `stored`, `pending` or `failed`.
    pub state: String,
    /// The file's bytes in base64, once stored.
    pub data_base64: Option<String>,
}

/// What an erasure deleted (counts only, as audited).
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
pub struct ErasureReport {
    pub messages: u64,
    pub statuses: u64,
    pub files: u64,
    pub sends: u64,
    /// Events for the workspace's endpoints that named the contact.
    pub deliveries: u64,
    /// Raw webhook bodies (already processed) that named them.
    pub webhook_bodies: u64,
}

impl From<Erased> for ErasureReport {
    fn from(e: Erased) -> Self {
        Self {
            messages: e.messages,
            statuses: e.statuses,
            files: e.files,
            sends: e.sends,
            deliveries: e.deliveries,
            webhook_bodies: e.webhook_bodies,
        }
    }
}

/// The contact a caller names by id in their workspace (a merged one
/// reads as the one it became).
async fn contact(store: &Store, workspace_id: &str, id: &str) -> Result<store::ContactRow, Error> {
    let id =
        ContactId::parse(id).ok_or_else(|| Error::invalid("contact", "not a contact id (ct_…)"))?;
    store
        .contact(workspace_id, &id)
        .await?
        .ok_or(Error::NotFound)
}

pub async fn export(store: &Store, workspace_id: &str, id: &str) -> Result<ContactExport, Error> {
    let row = contact(store, workspace_id, id).await?;
    let statuses = store.held_statuses(workspace_id, &row.id).await?;
    let messages = store
        .held_messages(workspace_id, &row.id)
        .await?
        .into_iter()
        .map(|m| ExportedMessage {
            statuses: statuses
                .iter()
                .filter(|s| s.wamid == m.wamid && s.phone_number_id == m.phone_number_id)
                .map(|s| ExportedStatus {
                    status: s.status.clone(),
                    at: s.at,
                    error: error_text(s.error_code, s.error_title.clone()),
                    error_details: s.error_details.clone(),
                })
                .collect(),
            payload: as_json(m.payload),
            id: m.wamid,
            phone_number_id: m.phone_number_id,
            direction: m.direction,
            kind: m.kind,
            summary: m.summary,
            sent_at: m.sent_at,
            status: m.status,
        })
        .collect();
    let sends = store
        .held_sends(workspace_id, &row.id)
        .await?
        .into_iter()
        .map(|s| ExportedSend {
            id: s.id,
            phone_number_id: s.phone_number_id,
            kind: s.kind,
            content: as_json(s.content),
            state: s.state,
            created_at: s.created_at,
        })
        .collect();
    let files = store
        .held_files(workspace_id, &row.id)
        .await?
        .into_iter()
        .map(|f| ExportedFile {
            media_id: f.media_id,
            message_id: f.wamid,
            mime_type: f.mime_type,
            state: f.state,
            data_base64: f.bytes.map(|b| BASE64.encode(b)),
        })
        .collect();
    let ids = store
        .held_aliases(workspace_id, &row.id)
        .await?
        .into_iter()
        .map(|a| KnownId {
            kind: a.kind.as_str().to_string(),
            value: a.value,
            superseded_at: a.superseded_at,
        })
        .collect();
    Ok(ContactExport {
        exported_at: now_millis(),
        contact: ContactObject::from(&row),
        ids,
        messages,
        sends,
        files,
    })
}

/// Stored text that should be JSON; shown as text if it is not.
fn as_json(text: String) -> Value {
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

/// Erases a contact (see the module's notes); `actor` is who asked, for
/// the audit log (none for an API key, whose id goes in the detail).
pub async fn erase(
    store: &Store,
    workspace_id: &str,
    id: &str,
    actor: Option<(&str, &str)>,
    key_id: Option<&str>,
) -> Result<ErasureReport, Error> {
    let row = contact(store, workspace_id, id).await?;
    // A message naming a new id of the contact may land between reading
    // the ids and erasing: then read them again.
    let mut attempt = 0;
    let (aliases, mut erased) = loop {
        attempt += 1;
        let aliases = store.held_aliases(workspace_id, &row.id).await?;
        let hashes: Vec<String> = aliases
            .iter()
            .map(|a| id_hash(workspace_id, &row.scope, a.kind, &a.value))
            .collect();
        let erased = store
            .erase_contact(
                workspace_id,
                &row.id,
                &aliases,
                &hashes,
                &row.scope,
                now_millis(),
            )
            .await?;
        match erased {
            Some(erased) => break (aliases, erased),
            None if attempt < 5 => continue,
            None => {
                return Err(Error::invalid(
                    "contact",
                    "The contact kept changing while it was being erased; try again.",
                ))
            }
        }
    };
    let needles: Vec<String> = aliases
        .iter()
        .map(|a: &HeldAlias| a.value.clone())
        .collect();
    let numbers: Vec<String> = store
        .numbers_of(&workspace_id.into())
        .await?
        .into_iter()
        .map(|n| n.phone_number_id.into_string())
        .collect();
    let bodies = store.processed_webhooks_holding(&needles, &numbers).await?;
    erased.webhook_bodies = store.delete_processed_webhooks(&bodies).await?;
    let report = ErasureReport::from(erased);
    let mut detail = json!(report);
    if let Some(key_id) = key_id {
        detail["key_id"] = json!(key_id);
    }
    audit::record(store, Some(workspace_id), actor, "contact.erased", detail).await?;
    Ok(report)
}

/// What an erased id leaves behind: not the id, a salted hash of it.
fn id_hash(workspace_id: &str, scope: &ContactScope, kind: AliasKind, value: &str) -> String {
    let text = format!(
        "switchboard/erased/v1\0{workspace_id}\0{scope}\0{}\0{value}",
        kind.as_str()
    );
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Whether what the pipeline is about to store (a message or receipt
/// sent at `sent_at`, Unix ms) concerns an id erased after it was sent.
pub(crate) async fn erased_since(
    tx: &mut Tx<'_>,
    workspace_id: &str,
    scope: &ContactScope,
    identity: &Identity,
    sent_at: i64,
) -> Result<bool, store::Error> {
    let mut hashes = Vec::new();
    if let Some(bsuid) = &identity.bsuid {
        hashes.push(id_hash(
            workspace_id,
            scope,
            AliasKind::Bsuid,
            bsuid.as_str(),
        ));
    }
    if let Some(phone) = &identity.phone {
        hashes.push(id_hash(workspace_id, scope, AliasKind::Phone, phone));
    }
    if hashes.is_empty() {
        return Ok(false);
    }
    let erased_at = data_rights::erased_at(tx, workspace_id, scope, &hashes).await?;
    Ok(erased_at.is_some_and(|at| sent_at <= at))
}
