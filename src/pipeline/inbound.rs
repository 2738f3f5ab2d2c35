//! Customers' messages of a batch: whom each one is from is decided at
//! its place in the batch ([`prepare`]), as that may change who the next
//! one is from; the messages are then stored together ([`store`]), one
//! statement for all of them and one for their conversations' summaries,
//! before anything else in the batch could change their contacts (the
//! batch stores what it holds before any such operation, see
//! `apply::apply_then`).

use crate::{
    contacts::{self, ContactRow},
    outbox::Content,
    store::{self, media, messages, outbox, Tx},
    webhook::payload::InboundMessage,
};

use super::{
    apply::{erased_since, tell_endpoints, Applied, At, Context},
    plan::Op,
};

/// A customer's message waiting to be stored, with whom it is from.
pub(super) struct Pending<'a> {
    context: Context<'a>,
    message: &'a InboundMessage,
    contact: ContactRow,
    replies: &'a [Content],
    endpoints: &'a [String],
}

/// Takes an inbound op at its place in the batch: dropped if its customer
/// was erased after it was sent (a retry or a replay of what they asked to
/// have forgotten); else with its contact, `found` when the batch already
/// knows it, else found (or made, or moved to their new ids) now.
pub(super) async fn prepare<'a>(
    tx: &mut Tx<'_>,
    op: &'a Op,
    at: At<'a>,
    found: Option<ContactRow>,
    applied: &mut Applied,
) -> Result<Option<Pending<'a>>, store::Error> {
    let Op::Inbound {
        workspace_id,
        phone_number_id,
        scope,
        message,
        replies,
        endpoints,
    } = op
    else {
        return Ok(None);
    };
    let context = Context::new(workspace_id, phone_number_id, scope, at);
    if erased_since(tx, &context, &message.identity, message.sent_at).await? {
        applied.erased += 1;
        return Ok(None);
    }
    let contact = match found {
        Some(contact) => contact,
        None => contact_of(tx, &context, message).await?,
    };
    Ok(Some(Pending {
        context,
        message,
        contact,
        replies,
        endpoints,
    }))
}

/// The contact a customer's message names: moved to their new ids first
/// when it announces a number change.
async fn contact_of(
    tx: &mut Tx<'_>,
    context: &Context<'_>,
    message: &InboundMessage,
) -> Result<ContactRow, store::Error> {
    let &Context {
        workspace_id,
        scope,
        now,
        ..
    } = context;
    let contact = match &message.identity_change {
        Some(change) => contacts::moved(tx, workspace_id, scope, change, now).await?,
        None => contacts::observe(tx, workspace_id, scope, &message.identity, true, now).await?,
    };
    contact.ok_or_else(|| {
        store::Error::Database(sqlx::Error::Protocol(format!(
            "message {} names no customer",
            message.wamid
        )))
    })
}

/// Stores the pending messages (emptying `pending`), each once, in their
/// order; only a new one is then answered by the bot, its file queued and
/// the workspace's endpoints told, all with the message (once, or not at
/// all if the transaction fails).
pub(super) async fn store(
    tx: &mut Tx<'_>,
    pending: &mut Vec<Pending<'_>>,
    applied: &mut Applied,
) -> Result<(), store::Error> {
    if pending.is_empty() {
        return Ok(());
    }
    let payloads: Vec<String> = pending
        .iter()
        .map(|p| p.message.payload.to_string())
        .collect();
    let rows: Vec<messages::NewInbound> = pending
        .iter()
        .zip(&payloads)
        .map(|(p, payload)| messages::NewInbound {
            workspace_id: p.context.workspace_id,
            phone_number_id: p.context.phone_number_id,
            contact_id: &p.contact.id,
            wamid: &p.message.wamid,
            customer: &p.message.customer,
            customer_name: p.message.customer_name.as_deref(),
            kind: &p.message.kind,
            summary: &p.message.summary,
            payload,
            sent_at: p.message.sent_at,
        })
        .collect();
    let ids = messages::insert_inbound_all(tx, &rows).await?;
    drop(rows);
    for (message, id) in pending.drain(..).zip(ids) {
        match id {
            Some(_) => follow_up(tx, &message, applied).await?,
            None => applied.duplicates += 1,
        }
    }
    Ok(())
}

/// What a new message sets off: the bot's replies (unless a person
/// answered from the WhatsApp Business app a moment ago), its file, the
/// workspace's endpoints.
async fn follow_up(
    tx: &mut Tx<'_>,
    pending: &Pending<'_>,
    applied: &mut Applied,
) -> Result<(), store::Error> {
    let Pending {
        context,
        message,
        contact,
        replies,
        endpoints,
    } = pending;
    let (workspace_id, phone_number_id, now) =
        (context.workspace_id, context.phone_number_id, context.now);
    applied.new_inbound.push((
        workspace_id.to_string(),
        phone_number_id.to_string(),
        message.wamid.clone(),
    ));
    let quiet = !replies.is_empty()
        && store::business_app::bot_is_quiet(tx, phone_number_id, &contact.id, message.sent_at)
            .await?;
    let replies = if quiet { &[][..] } else { *replies };
    for (index, reply) in replies.iter().enumerate() {
        let reply = outbox::NewOutboxRow {
            workspace_id: workspace_id.to_string(),
            phone_number_id: phone_number_id.to_string(),
            contact_id: contact.id.clone(),
            recipient: contact
                .address()
                .map_or_else(|| message.customer.clone(), |a| a.as_str().to_string()),
            kind: reply.kind().to_string(),
            content: serde_json::to_string(reply).expect("content serializes"),
            origin: crate::outbox::Origin::Bot.as_str().to_string(),
            dedupe_key: Some(format!("bot:{}:{index}", message.wamid)),
            context_wamid: reply.is_message().then(|| message.wamid.clone()),
        };
        applied.replies_queued += u64::from(outbox::enqueue(tx, &reply, now).await?);
    }
    if let Some((media_id, mime_type)) = crate::media::media_of(&message.kind, &message.payload) {
        let file = media::NewMedia {
            phone_number_id,
            media_id: &media_id,
            workspace_id,
            wamid: &message.wamid,
            mime_type: mime_type.as_deref(),
        };
        applied.media_queued += u64::from(media::enqueue(tx, &file, now).await?);
    }
    if !endpoints.is_empty() {
        let event = crate::outgoing_webhooks::message_received(phone_number_id, contact, message);
        applied.deliveries_queued += tell_endpoints(tx, context, endpoints, event).await?;
    }
    Ok(())
}
