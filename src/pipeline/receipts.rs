//! A batch's receipts (Meta's statuses of sent messages), written together
//! after the batch's other operations: one statement per kind of write for
//! the whole batch (the receipts kept, the prices counted, the messages'
//! statuses moved forward) instead of three per receipt (README,
//! "Processing rate"). Telling the workspace's endpoints stays one row per
//! endpoint and receipt.
//!
//! Whom each one names is decided at its place in the batch
//! ([`prepare`]), as that may change who the next message is from; what
//! it writes waits for the batch's end ([`apply`]). That keeps what each
//! one does: a status still moves its message only forward, a receipt
//! that came before is still not told twice, and a message stored by this
//! batch is already there for them.

use crate::{
    contacts::{self, ContactRow},
    ids::ContactScope,
    outbox::{Content, OutboxCallback},
    store::{self, messages, outbox, statuses, Tx},
    webhook::payload::StatusUpdate,
};

use super::{
    apply::{erased_since, tell_endpoints, Applied, At, Context},
    plan::Op,
};

/// A receipt of the batch, with what routing found for it and whom it
/// names.
pub(super) struct Receipt<'a> {
    workspace_id: &'a str,
    phone_number_id: &'a str,
    scope: &'a ContactScope,
    update: &'a StatusUpdate,
    /// How far along its status is.
    rank: i64,
    endpoints: &'a [String],
    at: At<'a>,
    /// Its recipient's contact, if it names one.
    contact: Option<ContactRow>,
}

impl<'a> Receipt<'a> {
    fn context(&self) -> Context<'a> {
        Context::new(self.workspace_id, self.phone_number_id, self.scope, self.at)
    }

    fn row(&self) -> statuses::NewStatus<'a> {
        let update = self.update;
        statuses::NewStatus {
            phone_number_id: self.phone_number_id,
            wamid: &update.wamid,
            status: &update.status,
            rank: self.rank,
            recipient: update.recipient.as_deref(),
            at: update.at,
            error_code: update.error_code,
            error_title: update.error_title.as_deref(),
            error_details: update.error_details.as_deref(),
        }
    }
}

/// Takes a status op at its place in the batch: dropped if its customer
/// was erased after it was sent (a retry or a replay of what they asked
/// to have forgotten); else what it shows of its recipient (a BSUID
/// learnt, a username) updates their contact, but never makes one, and a
/// send of ours that was never recorded is recorded now. `found` is the
/// contact when the batch already knows it. What else the receipt writes
/// waits for [`apply`].
pub(super) async fn prepare<'a>(
    tx: &mut Tx<'_>,
    op: &'a Op,
    at: At<'a>,
    found: Option<Option<ContactRow>>,
    applied: &mut Applied,
) -> Result<Option<Receipt<'a>>, store::Error> {
    let Op::Status {
        workspace_id,
        phone_number_id,
        scope,
        update,
        rank,
        endpoints,
    } = op
    else {
        return Ok(None);
    };
    let context = Context::new(workspace_id, phone_number_id, scope, at);
    if erased_since(tx, &context, &update.identity, update.at).await? {
        applied.erased += 1;
        return Ok(None);
    }
    let contact = match found {
        Some(contact) => contact,
        None => contacts::observe(tx, workspace_id, scope, &update.identity, false, at.now).await?,
    };
    adopt_sent(tx, phone_number_id, update, at.now).await?;
    // Naming nobody, it is about the contact of its message.
    let contact = match contact {
        Some(contact) => Some(contact),
        None => store::contacts::of_message(tx, phone_number_id, &update.wamid).await?,
    };
    Ok(Some(Receipt {
        workspace_id,
        phone_number_id,
        scope,
        update,
        rank: *rank,
        endpoints,
        at,
        contact,
    }))
}

/// Applies the receipts, in their order: each kept once (its endpoints
/// told once), its pricing counted once per message, and its message's
/// status moved forward, even for a receipt seen before (its message may
/// have come since).
pub(super) async fn apply(
    tx: &mut Tx<'_>,
    receipts: &[Receipt<'_>],
    applied: &mut Applied,
) -> Result<(), store::Error> {
    if receipts.is_empty() {
        return Ok(());
    }
    let rows: Vec<statuses::NewStatus> = receipts.iter().map(Receipt::row).collect();
    let new = statuses::insert_all(tx, &rows).await?;
    count_prices(tx, receipts, applied).await?;
    for (receipt, new) in receipts.iter().zip(new) {
        if !new {
            applied.duplicates += 1;
        } else if !receipt.endpoints.is_empty() {
            let event = crate::outgoing_webhooks::status_changed(
                receipt.phone_number_id,
                receipt.contact.as_ref(),
                receipt.update,
            );
            applied.deliveries_queued +=
                tell_endpoints(tx, &receipt.context(), receipt.endpoints, event).await?;
        }
    }
    messages::advance_statuses(tx, &rows).await
}

/// Counts each priced message once, whichever of its statuses comes
/// first; the market from the recipient's phone, when anyone shows it.
async fn count_prices(
    tx: &mut Tx<'_>,
    receipts: &[Receipt<'_>],
    applied: &mut Applied,
) -> Result<(), store::Error> {
    let priced: Vec<_> = receipts
        .iter()
        .filter_map(|receipt| {
            let (update, contact) = (receipt.update, &receipt.contact);
            let pricing = update.pricing.as_ref()?;
            let phone = update
                .identity
                .phone
                .as_deref()
                .or_else(|| contact.as_ref().and_then(|c| c.phone.as_deref()));
            let message = crate::costs::PricedMessage {
                workspace_id: receipt.workspace_id,
                phone_number_id: receipt.phone_number_id,
                wamid: &update.wamid,
                at: update.at,
                phone,
            };
            Some((message, pricing))
        })
        .collect();
    crate::costs::record_all(tx, &priced, &mut applied.deferred.ledger).await
}

/// A receipt of a message we sent, though perhaps never recorded (a crash
/// after Meta's answer): recorded now, so it does not go a second time.
async fn adopt_sent(
    tx: &mut Tx<'_>,
    phone_number_id: &str,
    update: &StatusUpdate,
    now: i64,
) -> Result<(), store::Error> {
    let Some(callback) = update
        .callback_data
        .as_deref()
        .and_then(OutboxCallback::parse)
    else {
        return Ok(());
    };
    let adopted = outbox::adopt_sent(
        tx,
        phone_number_id,
        callback.outbox_id,
        &update.wamid,
        summary_of_content,
        now,
    )
    .await?;
    if adopted {
        metrics::counter!("outbox_recorded_by_status_total").increment(1);
    }
    Ok(())
}

/// A queued message's summary, as its thread shows it.
fn summary_of_content(content: &str) -> String {
    serde_json::from_str::<Content>(content)
        .map(|content| content.summary())
        .unwrap_or_default()
}
