//! Applies what the WhatsApp Business app sends on a coexistence number:
//! its history (stored once, marked imported, never answered nor
//! announced), the business's own messages from the app (echoes, which
//! quiet the bot for that customer) and the names it saved.

use std::collections::BTreeMap;

use super::{
    apply::{erased_since, Applied, At, Context},
    plan::Op,
};
use crate::{
    contacts,
    store::{
        self, audit,
        business_app::{self, MessageOrigin, NewAppMessage},
        Tx,
    },
    webhook::payload::{AppMessage, Direction, Identity},
};

pub(super) async fn apply_op(
    tx: &mut Tx<'_>,
    op: &Op,
    at: At<'_>,
    applied: &mut Applied,
) -> Result<(), store::Error> {
    let now = at.now;
    match op {
        Op::HistoryChunk {
            number,
            phase,
            chunk_order,
            progress,
            messages,
            received_at,
        } => {
            let context = Context::new(
                &number.workspace_id,
                &number.phone_number_id,
                &number.contact_scope,
                at,
            );
            let first = business_app::record_chunk(
                tx,
                &number.phone_number_id,
                *phase,
                *chunk_order,
                *progress,
                messages.len() as i64,
                now,
            )
            .await?;
            if !first {
                applied.duplicates += messages.len() as u64;
                return Ok(());
            }
            import(tx, &context, messages, *received_at, applied).await
        }
        Op::HistoryDeclined { number } => {
            if business_app::mark_history_declined(tx, &number.phone_number_id, now).await? {
                let detail = serde_json::json!({ "phone_number_id": number.phone_number_id });
                audit::insert_unattended(
                    tx,
                    &number.workspace_id,
                    "number.history_declined",
                    &detail.to_string(),
                    now,
                )
                .await?;
            }
            Ok(())
        }
        Op::Echo {
            number,
            message,
            quiet_ms,
            received_at,
        } => {
            let context = Context::new(
                &number.workspace_id,
                &number.phone_number_id,
                &number.contact_scope,
                at,
            );
            echo(tx, &context, message, *quiet_ms, *received_at, applied).await
        }
        Op::SavedNames { number, contacts } => {
            for saved in contacts {
                let identity = Identity {
                    phone: Some(saved.phone.clone()),
                    ..Identity::default()
                };
                // A removal only clears the name of a customer already here.
                let contact = contacts::observe(
                    tx,
                    &number.workspace_id,
                    &number.contact_scope,
                    &identity,
                    !saved.removed,
                    now,
                )
                .await?;
                if let Some(contact) = contact {
                    let name = if saved.removed {
                        None
                    } else {
                        saved.name.as_deref()
                    };
                    business_app::save_contact_name(tx, &contact.id, name, now).await?;
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A chunk's messages, one customer (thread) at a time.
async fn import(
    tx: &mut Tx<'_>,
    context: &Context<'_>,
    messages: &[AppMessage],
    received_at: i64,
    applied: &mut Applied,
) -> Result<(), store::Error> {
    let mut threads: BTreeMap<&str, Vec<&AppMessage>> = BTreeMap::new();
    for message in messages {
        threads.entry(&message.customer).or_default().push(message);
    }
    for thread in threads.values() {
        let identity = &thread[0].identity;
        let newest = thread
            .iter()
            .map(|m| m.sent_at.unwrap_or(received_at))
            .max()
            .unwrap_or(received_at);
        // A customer erased since is not brought back by their history.
        if erased_since(tx, context, identity, newest).await? {
            applied.erased += thread.len() as u64;
            continue;
        }
        let contact = contacts::observe(
            tx,
            context.workspace_id,
            context.scope,
            identity,
            true,
            context.now,
        )
        .await?;
        let Some(contact) = contact else { continue };
        for message in thread {
            let inserted = store_message(
                tx,
                context,
                &contact.id,
                message,
                MessageOrigin::History,
                received_at,
            )
            .await?;
            if inserted {
                applied.imported += 1;
            } else {
                applied.duplicates += 1;
            }
        }
    }
    Ok(())
}

/// The business answered from the app: the message joins the thread and
/// the bot keeps quiet for that customer.
async fn echo(
    tx: &mut Tx<'_>,
    context: &Context<'_>,
    message: &AppMessage,
    quiet_ms: i64,
    received_at: i64,
    applied: &mut Applied,
) -> Result<(), store::Error> {
    let sent_at = message.sent_at.unwrap_or(received_at);
    if erased_since(tx, context, &message.identity, sent_at).await? {
        applied.erased += 1;
        return Ok(());
    }
    let contact = contacts::observe(
        tx,
        context.workspace_id,
        context.scope,
        &message.identity,
        true,
        context.now,
    )
    .await?;
    let Some(contact) = contact else {
        return Ok(());
    };
    if !store_message(
        tx,
        context,
        &contact.id,
        message,
        MessageOrigin::BusinessApp,
        received_at,
    )
    .await?
    {
        applied.duplicates += 1;
        return Ok(());
    }
    applied.echoes += 1;
    if quiet_ms > 0 {
        business_app::quiet_bot(tx, context.phone_number_id, &contact.id, sent_at + quiet_ms)
            .await?;
    }
    Ok(())
}

async fn store_message(
    tx: &mut Tx<'_>,
    context: &Context<'_>,
    contact_id: &crate::ids::ContactId,
    message: &AppMessage,
    origin: MessageOrigin,
    received_at: i64,
) -> Result<bool, store::Error> {
    let payload = message.payload.to_string();
    let inbound = message.direction == Direction::FromCustomer;
    let new = NewAppMessage {
        workspace_id: context.workspace_id,
        phone_number_id: context.phone_number_id,
        contact_id,
        wamid: &message.wamid,
        inbound,
        customer: &message.customer,
        kind: &message.kind,
        summary: &message.summary,
        payload: &payload,
        sent_at: message.sent_at.unwrap_or(received_at),
        // What the app knew of the business's own messages.
        status: (!inbound).then_some(message.status.as_deref()).flatten(),
        status_rank: if inbound { 0 } else { message.status_rank() },
        origin,
    };
    business_app::insert_message(tx, &new).await
}
