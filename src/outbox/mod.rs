//! The outbox: every message Switchboard sends (bot replies, agents'
//! replies) is queued durably first, then sent by [`sender`] as fast as
//! Meta allows and no faster. A message is never dropped: it is sent,
//! waits (throttled, or its number paused), or is given up on with
//! Meta's reason for the agent to see.

pub mod callback;
pub mod classify;
pub mod content;
mod lease;
pub mod pacing;
pub mod sender;

use serde::{Deserialize, Serialize};
use serde_json::json;

pub use callback::OutboxCallback;
pub use content::{Choice, Content, ContentError, Media, Section};

use crate::{
    accounts::{Caller, Role},
    audit,
    contacts::{self, ContactRow},
    health,
    ids::ContactId,
    numbers,
    store::{now_millis, NewOutboxRow, StoredTemplate},
    Engine, Error, MetaCall,
};

/// The customer service window: free-form messages only within 24 hours
/// of the customer's last message.
pub const WINDOW_MS: i64 = 24 * 60 * 60 * 1000;

/// Who queued a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Bot,
    Agent,
    Api,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bot => "bot",
            Self::Agent => "agent",
            Self::Api => "api",
        }
    }
}

/// A WhatsApp message from one of the workspace's numbers to one customer,
/// as it is asked for (the outbox then owns its sending).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundMessage {
    pub phone_number_id: String,
    /// The customer: a phone number, a BSUID or a contact id (`ct_…`).
    pub recipient: String,
    pub content: Content,
    /// Quote this inbound message.
    #[serde(default)]
    pub context_wamid: Option<String>,
}

/// Where a conversation's window stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub last_inbound_at: Option<i64>,
    /// `None` when the customer never wrote.
    pub closes_at: Option<i64>,
}

impl Window {
    pub fn is_open(&self, now: i64) -> bool {
        self.closes_at.is_some_and(|at| now < at)
    }
}

/// Queues a message from the caller's workspace. `dedupe_key` makes a
/// retried request queue it once. Returns the outbox id and whether it is
/// new.
pub async fn send(
    engine: &Engine,
    caller: &Caller,
    message: &OutboundMessage,
    origin: Origin,
    dedupe_key: Option<&str>,
) -> Result<(i64, bool), Error> {
    caller.require(Role::Agent)?;
    queue(
        engine,
        &caller.workspace.id,
        caller.actor(),
        message,
        origin,
        dedupe_key,
    )
    .await
}

/// Queues a message for a workspace, whoever asks (an agent, or a key of
/// the integration API): the checks every message passes, then the outbox.
pub async fn queue(
    engine: &Engine,
    workspace_id: &str,
    actor: Option<(&str, &str)>,
    message: &OutboundMessage,
    origin: Origin,
    dedupe_key: Option<&str>,
) -> Result<(i64, bool), Error> {
    // The message's own shape first: a bad body is refused the same way
    // whatever number it names.
    message
        .content
        .validate()
        .map_err(|e| Error::invalid("content", e.0))?;
    let number = numbers::owned(
        engine,
        &workspace_id.into(),
        &message.phone_number_id.as_str().into(),
    )
    .await?;
    if number.status == numbers::NumberStatus::Disconnected {
        return Err(Error::invalid(
            "phone_number_id",
            "This number is disconnected; connect it again to send.",
        ));
    }
    // A retry of a request already queued answers as the first did, even
    // if a restriction or the closing window would refuse it now.
    if let Some(key) = dedupe_key {
        if let Some(id) = engine.store.outbox_by_dedupe(workspace_id, key).await? {
            return Ok((id, false));
        }
    }
    let contact =
        contacts::for_sending(&engine.store, &number, &message.recipient, "recipient").await?;
    let Some(address) = contact.address() else {
        return Err(Error::invalid(
            "recipient",
            "No phone number or BSUID is known for this customer.",
        ));
    };
    let mut category = None;
    if let Content::Template {
        name,
        language,
        components,
    } = &message.content
    {
        let template =
            crate::templates::require_sendable(engine, &number.waba_id, name, language, components)
                .await?;
        require_phone_for(&template, &contact)?;
        category = Some(template.category);
    }
    // Meta restricted this kind of message: refused now, with the reason
    // and the restriction's end, rather than queued to wait.
    let kind = health::SendKind::of(&message.content, category.as_deref());
    health::refuse_if_restricted(engine, &number.waba_id, kind, "content").await?;
    if message.content.needs_open_window() {
        require_open_window(
            engine,
            workspace_id,
            &message.phone_number_id,
            &contact.id,
            "content",
        )
        .await?;
    }
    let queued = engine
        .store
        .enqueue_message(
            &NewOutboxRow {
                workspace_id: workspace_id.to_string(),
                phone_number_id: message.phone_number_id.clone(),
                contact_id: contact.id.clone(),
                recipient: address.as_str().to_string(),
                kind: message.content.kind().to_string(),
                content: serde_json::to_string(&message.content).expect("content serializes"),
                origin: origin.as_str().to_string(),
                dedupe_key: dedupe_key.map(str::to_string),
                context_wamid: message.context_wamid.clone(),
            },
            now_millis(),
        )
        .await?;
    if queued.1 {
        engine.live.wake_everywhere(crate::live::Wake::Outbox).await;
        let notice = crate::live::Notice::conversation(workspace_id, &message.phone_number_id);
        engine.live.publish(&engine.store, [notice]).await;
        audit::record(
            &engine.store,
            Some(workspace_id),
            actor,
            "message.queued",
            json!({
                "outbox_id": queued.0,
                "phone_number_id": message.phone_number_id,
                "recipient": message.recipient,
                "contact_id": contact.id,
                "type": message.content.kind(),
                "origin": origin.as_str(),
            }),
        )
        .await?;
    }
    Ok(queued)
}

/// A file the agent attached: checked against Meta's types and limits,
/// uploaded to Meta with the number's token, then queued like any message.
pub struct Attachment {
    pub bytes: Vec<u8>,
    pub mime_type: String,
    pub filename: String,
    pub caption: Option<String>,
}

pub async fn send_file(
    engine: &Engine,
    caller: &Caller,
    phone_number_id: &str,
    recipient: &str,
    file: Attachment,
    dedupe_key: Option<&str>,
) -> Result<(i64, bool), Error> {
    caller.require(Role::Agent)?;
    // Checked before anything reaches Meta.
    let kind = content::sendable_kind(&file.mime_type, file.bytes.len())
        .map_err(|e| Error::invalid("file", e.0))?;
    let number = numbers::owned(engine, &caller.workspace.id, &phone_number_id.into()).await?;
    if !number.status.can_send() {
        return Err(Error::invalid(
            "file",
            "This number cannot send until it is reconnected.",
        ));
    }
    let contact = contacts::for_sending(&engine.store, &number, recipient, "recipient").await?;
    require_open_window(
        engine,
        &caller.workspace.id,
        phone_number_id,
        &contact.id,
        "file",
    )
    .await?;
    let token = crate::tokens::open_number_token(engine, phone_number_id).await?;
    let media_id = match engine
        .graph
        .upload_media(
            &token,
            phone_number_id,
            file.bytes,
            &file.mime_type,
            &file.filename,
        )
        .await
    {
        Ok(id) => id,
        Err(error) => {
            numbers::note_graph_error(engine, phone_number_id, &error).await?;
            return Err(Error::meta(MetaCall::UploadMedia, error));
        }
    };
    let message = OutboundMessage {
        phone_number_id: phone_number_id.to_string(),
        recipient: contact.id.to_string(),
        content: content::file_content(kind, &media_id, &file.filename, file.caption),
        context_wamid: None,
    };
    send(engine, caller, &message, Origin::Agent, dedupe_key).await
}

/// The number's approved templates, live from Meta: what can still reach
/// a customer whose window has closed.
pub async fn approved_templates(
    engine: &Engine,
    caller: &Caller,
    phone_number_id: &str,
) -> Result<Vec<crate::graph::templates::TemplateInfo>, Error> {
    caller.require(Role::Agent)?;
    let number = numbers::owned(engine, &caller.workspace.id, &phone_number_id.into()).await?;
    // A number connected a moment ago may not be synced yet.
    let synced = engine.store.template_sync_state(&number.waba_id).await?;
    if synced.is_none_or(|(at, _)| at.is_none()) {
        crate::templates::sync::sync_waba(engine, &number.waba_id).await?;
    }
    Ok(engine
        .store
        .templates_of_workspace(&caller.workspace.id)
        .await?
        .iter()
        .filter(|t| t.waba_id == number.waba_id && t.status == crate::templates::APPROVED)
        .filter_map(crate::templates::info)
        .collect())
}

/// A template's header and body parameters, in order, as the Messages
/// API takes them (a part without values is left out).
pub fn template_content(name: &str, language: &str, header: &[String], body: &[String]) -> Content {
    let part = |kind: &str, values: &[String]| {
        (!values.is_empty()).then(|| {
            json!({
                "type": kind,
                "parameters": values.iter().map(|v| json!({ "type": "text", "text": v })).collect::<Vec<_>>(),
            })
        })
    };
    let components = [part("header", header), part("body", body)]
        .into_iter()
        .flatten()
        .collect();
    Content::Template {
        name: name.to_string(),
        language: language.to_string(),
        components,
    }
}

/// The conversation's window, as the caller's workspace sees it
/// (`customer`: a phone, a BSUID or a contact id). A customer who never
/// wrote has none.
pub async fn window(
    engine: &Engine,
    caller: &Caller,
    phone_number_id: &str,
    customer: &str,
) -> Result<Window, Error> {
    caller.require(Role::Viewer)?;
    let workspace_id = &caller.workspace.id;
    match crate::conversations::contact_of(&engine.store, workspace_id, phone_number_id, customer)
        .await?
    {
        Some(contact) => window_of(engine, workspace_id, phone_number_id, &contact.id).await,
        None => Ok(Window {
            last_inbound_at: None,
            closes_at: None,
        }),
    }
}

/// Meta sends one-tap, zero-tap and copy-code authentication templates to
/// phone numbers only (131062): refused here, before Meta, for a customer
/// known by BSUID alone.
fn require_phone_for(template: &StoredTemplate, contact: &ContactRow) -> Result<(), Error> {
    if template.category.eq_ignore_ascii_case("AUTHENTICATION") && contact.phone.is_none() {
        return Err(Error::invalid(
            "recipient",
            "Authentication templates reach phone numbers only, and this customer's is not known: ask them for it first (Request phone number).",
        ));
    }
    Ok(())
}

/// Free-form content only within the customer's 24-hour window; the
/// refusal names `field`.
async fn require_open_window(
    engine: &Engine,
    workspace_id: &str,
    phone_number_id: &str,
    contact_id: &ContactId,
    field: &'static str,
) -> Result<(), Error> {
    let window = window_of(engine, workspace_id, phone_number_id, contact_id).await?;
    if window.is_open(now_millis()) {
        return Ok(());
    }
    Err(Error::invalid(
        field,
        "The customer has not written in the last 24 hours: only a template can reach them.",
    ))
}

async fn window_of(
    engine: &Engine,
    workspace_id: &str,
    phone_number_id: &str,
    contact_id: &ContactId,
) -> Result<Window, Error> {
    let last = engine
        .store
        .last_inbound_at(workspace_id, phone_number_id, contact_id)
        .await?;
    Ok(Window {
        last_inbound_at: last,
        closes_at: last.map(|at| at + WINDOW_MS),
    })
}
