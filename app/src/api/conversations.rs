//! Conversations and their threads (everyone in the workspace).

use leptos::{prelude::*, server_fn};
use serde::{Deserialize, Serialize};

use crate::errors::UiError;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConversationView {
    pub phone_number_id: String,
    /// The contact's id: the conversation's key in links.
    pub customer: String,
    /// The best name: profile name, else username, else phone, else BSUID.
    pub name: String,
    pub username: Option<String>,
    pub phone: Option<String>,
    pub messages: i64,
    pub last_at: i64,
    pub last_summary: String,
    /// The customer's messages nobody in the workspace has seen yet.
    pub unread: i64,
    /// When the customer service window closes (Unix ms); `None` if the
    /// customer never wrote.
    pub window_ends_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LineView {
    /// The stored message's row id (its place in the thread, with
    /// `sent_at`); `None` for a message still in the outbox.
    pub id: Option<i64>,
    pub wamid: String,
    pub inbound: bool,
    /// "history" (imported from the WhatsApp Business app) or
    /// "business_app" (sent from it).
    pub origin: Option<String>,
    pub summary: String,
    pub sent_at: i64,
    pub status: Option<String>,
    pub error: Option<String>,
    /// Meta refused it because it needs the customer's phone (131062).
    pub needs_phone: bool,
    pub media: Option<MediaView>,
}

/// Who the customer is, for the thread's side panel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactView {
    pub id: String,
    pub name: String,
    pub profile_name: Option<String>,
    pub username: Option<String>,
    pub phone: Option<String>,
    /// Meta's business-scoped user id.
    pub bsuid: Option<String>,
}

/// A customer's file: where to fetch it and how to show it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MediaView {
    pub url: String,
    /// `image`, `audio`, `video` or `file`.
    pub shown_as: String,
    /// `pending`, `stored` or `failed`.
    pub state: String,
    pub error: Option<String>,
}

/// A page of a thread and what the caller may do in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadView {
    pub contact: ContactView,
    /// Oldest first.
    pub lines: Vec<LineView>,
    /// Pass as `before` for the page of older lines; `None` when this page
    /// starts the thread.
    pub older: Option<String>,
    /// When free-form replies stop being possible (Unix ms); `None` when
    /// the customer never wrote.
    pub window_closes_at: Option<i64>,
    /// The server's clock, so the browser's does not decide.
    pub now: i64,
    /// Agents and up may reply.
    pub can_reply: bool,
    /// The number's health in one word (its Health page says more).
    pub number_health: String,
}

/// `search`: only customers whose name, username, phone or BSUID contains
/// it.
#[server(prefix = "/api", endpoint = "list_conversations")]
pub async fn list_conversations(search: Option<String>) -> Result<Vec<ConversationView>, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    let list = switchboard::conversations::list(&engine.store, &caller, search.as_deref()).await?;
    Ok(list
        .into_iter()
        .map(|c| ConversationView {
            name: c.contact.best_name(),
            username: c.contact.username,
            phone: c.contact.phone,
            phone_number_id: c.phone_number_id,
            customer: c.contact.id.into_string(),
            messages: c.messages,
            last_at: c.last_at,
            last_summary: c.last_summary,
            unread: c.unread,
            window_ends_at: c.window_ends_at,
        })
        .collect())
}

/// A page of a thread: the newest lines (and marks the conversation read),
/// or with `before` (a page's `older`) the lines before those.
#[server(prefix = "/api", endpoint = "conversation_thread")]
pub async fn conversation_thread(
    phone_number_id: String,
    customer: String,
    before: Option<String>,
) -> Result<ThreadView, UiError> {
    use switchboard::accounts::Role;
    let (engine, caller) = crate::session::caller().await?;
    let thread = switchboard::conversations::thread(
        &engine.store,
        &caller,
        &phone_number_id,
        &customer,
        before.as_deref(),
    )
    .await?;
    let contact = thread.contact;
    let window =
        switchboard::outbox::window(&engine, &caller, &phone_number_id, contact.id.as_str())
            .await?;
    let number = switchboard::numbers::owned(
        &engine,
        &caller.workspace.id,
        &phone_number_id.as_str().into(),
    )
    .await?;
    let number_health = switchboard::health::word_of(&engine, &number)
        .await
        .map_err(switchboard::Error::from)?;
    Ok(ThreadView {
        contact: ContactView {
            id: contact.id.to_string(),
            name: contact.best_name(),
            profile_name: contact.profile_name,
            username: contact.username,
            phone: contact.phone,
            bsuid: contact.bsuid.map(|b| b.into_string()),
        },
        lines: thread
            .lines
            .into_iter()
            .map(|l| LineView {
                id: l.id,
                inbound: l.direction == "inbound",
                origin: l.origin.map(|o| o.to_string()),
                wamid: l.wamid,
                summary: l.summary,
                sent_at: l.sent_at,
                status: l.status,
                error: l.error,
                needs_phone: l.error_code
                    == Some(switchboard::outbox::classify::BSUID_NOT_SUPPORTED),
                media: l.media.map(|m| {
                    let essence = m.mime_type.as_deref().unwrap_or_default();
                    let shown_as = ["image", "audio", "video"]
                        .into_iter()
                        .find(|kind| essence.starts_with(kind))
                        .unwrap_or("file");
                    MediaView {
                        url: format!("/media/{phone_number_id}/{}", m.media_id),
                        shown_as: shown_as.to_string(),
                        state: m.state.to_string(),
                        error: m.error,
                    }
                }),
            })
            .collect(),
        older: thread.older,
        window_closes_at: window.closes_at,
        now: switchboard::store::now_millis(),
        can_reply: caller.role >= Role::Agent,
        number_health,
    })
}

/// The dedupe key of an agent's message: the browser makes one per
/// composed message, so a double click or a retried request queues it once.
#[cfg(feature = "ssr")]
fn dedupe_key(key: &str) -> Result<String, UiError> {
    if key.is_empty() || key.len() > 64 {
        return Err(UiError::Message("The message has no valid key.".into()));
    }
    Ok(format!("agent:{key}"))
}

/// Queues an agent's message from the thread, once per `key` (the
/// browser makes one per composed message, so a double click or a retried
/// request queues it once).
#[cfg(feature = "ssr")]
async fn send_as_agent(
    phone_number_id: String,
    customer: String,
    content: switchboard::outbox::Content,
    key: &str,
) -> Result<(), UiError> {
    use switchboard::outbox::{self, Origin, OutboundMessage};
    let (engine, caller) = crate::session::caller().await?;
    let key = dedupe_key(key)?;
    let message = OutboundMessage {
        phone_number_id,
        recipient: customer,
        content,
        context_wamid: None,
    };
    outbox::send(&engine, &caller, &message, Origin::Agent, Some(&key)).await?;
    Ok(())
}

/// An agent's text reply.
#[server(prefix = "/api", endpoint = "send_reply")]
pub async fn send_reply(
    phone_number_id: String,
    customer: String,
    text: String,
    key: String,
) -> Result<(), UiError> {
    let content = switchboard::outbox::Content::text(text);
    send_as_agent(phone_number_id, customer, content, &key).await
}

/// Asks the customer to share their phone number (Meta's
/// REQUEST_CONTACT_INFO message): for customers known by username only,
/// and before an authentication template. Agents and up.
/// What an erasure deleted, in words for the notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasedView {
    pub messages: u64,
    pub files: u64,
}

/// Erases a contact and everything held about them (admins).
#[server(prefix = "/api", endpoint = "erase_contact")]
pub async fn erase_contact(contact_id: String) -> Result<ErasedView, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    caller.require(switchboard::accounts::Role::Admin)?;
    let report = switchboard::data_rights::erase(
        &engine.store,
        &caller.workspace.id,
        &contact_id,
        caller.actor(),
        None,
    )
    .await?;
    Ok(ErasedView {
        messages: report.messages,
        files: report.files,
    })
}

#[server(prefix = "/api", endpoint = "request_phone")]
pub async fn request_phone(
    phone_number_id: String,
    customer: String,
    key: String,
) -> Result<(), UiError> {
    let content = switchboard::outbox::Content::RequestContactInfo {
        body: PHONE_REQUEST.to_string(),
    };
    send_as_agent(phone_number_id, customer, content, &key).await
}

/// What the customer reads above the "share phone number" button.
pub const PHONE_REQUEST: &str =
    "To help you further, please share your phone number with us: tap the button below.";

/// Files larger than this are refused while reading (Meta's video and
/// audio cap; larger documents are rare in a conversation).
pub const MAX_ATTACHMENT_BYTES: usize = 16 << 20;

/// Multipart: `phone_number_id`, `customer`, `key`, `caption`, then `file`.
/// The file is checked, uploaded to Meta, and queued.
#[server(prefix = "/api", endpoint = "send_file", input = server_fn::codec::MultipartFormData)]
pub async fn send_file(data: server_fn::codec::MultipartData) -> Result<(), UiError> {
    use switchboard::outbox::{self, Attachment};
    let (engine, caller) = crate::session::caller().await?;
    let mut form = data.into_inner().ok_or(UiError::Internal)?;
    let bad = |message: String| UiError::Field {
        field: "file".into(),
        message,
    };
    let mut fields = std::collections::HashMap::new();
    let mut file = None;
    while let Some(mut field) = form
        .next_field()
        .await
        .map_err(|e| bad(format!("The upload could not be read: {e}")))?
    {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            let mime_type = field
                .content_type()
                .map(|m| m.to_string())
                .unwrap_or_default();
            let filename = field.file_name().unwrap_or("file").to_string();
            let mut bytes = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(|e| bad(e.to_string()))? {
                if bytes.len() + chunk.len() > MAX_ATTACHMENT_BYTES {
                    return Err(bad(format!(
                        "The file is larger than {} MB.",
                        MAX_ATTACHMENT_BYTES >> 20
                    )));
                }
                bytes.extend_from_slice(&chunk);
            }
            file = Some((bytes, mime_type, filename));
        } else {
            // The text fields are short (a caption, ids, a key): bounded in
            // size and number, so a form cannot fill the memory with them.
            if fields.len() >= super::MAX_FORM_FIELDS {
                return Err(bad("The upload has too many fields.".into()));
            }
            let value = super::bounded_text_field!(field, name, bad)?;
            fields.insert(name, value);
        }
    }
    let field = |name: &str| fields.get(name).cloned().unwrap_or_default();
    let Some((bytes, mime_type, filename)) = file else {
        return Err(bad("Choose a file first.".into()));
    };
    let key = field("key");
    let key = dedupe_key(&key)?;
    outbox::send_file(
        &engine,
        &caller,
        &field("phone_number_id"),
        &field("customer"),
        Attachment {
            bytes,
            mime_type,
            filename,
            caption: Some(field("caption")),
        },
        Some(&key),
    )
    .await?;
    Ok(())
}

/// An approved template, for a conversation whose window has closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateView {
    pub name: String,
    pub language: String,
    /// The body with its `{{n}}` placeholders.
    pub body: String,
    /// The body's placeholders in order (`1`, `2`... or names).
    pub variable_names: Vec<String>,
    /// The text header, empty if none.
    pub header: String,
}

impl TemplateView {
    /// Whether the text header has a value to fill (it has at most one).
    pub fn header_takes_value(&self) -> bool {
        !rules::templates::variables(&self.header).is_empty()
    }
}

#[server(prefix = "/api", endpoint = "reply_templates")]
pub async fn reply_templates(phone_number_id: String) -> Result<Vec<TemplateView>, UiError> {
    let (engine, caller) = crate::session::caller().await?;
    let list = switchboard::outbox::approved_templates(&engine, &caller, &phone_number_id).await?;
    Ok(list
        .into_iter()
        .map(|t| TemplateView {
            name: t.name,
            language: t.language,
            body: t.body,
            variable_names: t.variable_names,
            header: t.header,
        })
        .collect())
}

/// Sends an approved template with its header and body variables, in order.
#[server(prefix = "/api", endpoint = "send_template", input = server_fn::codec::Json)]
pub async fn send_template(
    phone_number_id: String,
    customer: String,
    name: String,
    language: String,
    header_values: Vec<String>,
    values: Vec<String>,
    key: String,
) -> Result<(), UiError> {
    use switchboard::outbox::{self, Origin, OutboundMessage};
    let (engine, caller) = crate::session::caller().await?;
    let key = dedupe_key(&key)?;
    if values
        .iter()
        .chain(&header_values)
        .any(|v| v.trim().is_empty())
    {
        return Err(UiError::Field {
            field: "values".into(),
            message: "Fill in every variable.".into(),
        });
    }
    let content = switchboard::templates::content_for(
        &engine,
        &caller,
        &phone_number_id,
        &name,
        &language,
        &header_values,
        &values,
    )
    .await?;
    let message = OutboundMessage {
        phone_number_id,
        recipient: customer,
        content,
        context_wamid: None,
    };
    outbox::send(&engine, &caller, &message, Origin::Agent, Some(&key)).await?;
    Ok(())
}
