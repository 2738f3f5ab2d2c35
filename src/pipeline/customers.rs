//! The contacts a batch's messages and receipts name, read with one
//! statement for up to [`READ_AHEAD`] of them instead of one each, in the
//! batch's order, and read again after anything in the batch that writes
//! contacts, or may (a new customer, a BSUID learnt, a number change,
//! the WhatsApp Business app's history): what was read is then no longer
//! sure.

use crate::{
    contacts::{ContactRow, Known},
    ids::ContactScope,
    store::{self, Tx},
    webhook::payload::Identity,
};

use super::plan::Op;

pub(super) struct Customers<'e> {
    /// Who each message (without a number change) and receipt of the
    /// batch names, in the batch's order.
    payloads: Vec<(&'e str, &'e ContactScope, &'e Identity)>,
    /// The next of them to settle.
    next: usize,
    /// What the aliases held when last read, for `payloads[next..until]`.
    known: Option<Known<'e>>,
    until: usize,
}

/// Payloads read at once: a batch whose every message writes (first-time
/// customers) reads this many again after each, not the whole rest.
const READ_AHEAD: usize = 128;

impl<'e> Customers<'e> {
    pub(super) fn of(events: &'e [(i64, Vec<Op>)]) -> Self {
        let payloads = events
            .iter()
            .flat_map(|(_, ops)| ops)
            .filter_map(Self::payload)
            .collect();
        Customers {
            payloads,
            next: 0,
            known: None,
            until: 0,
        }
    }

    /// Who a message or receipt op names, if it is one this type settles.
    fn payload(op: &'e Op) -> Option<(&'e str, &'e ContactScope, &'e Identity)> {
        match op {
            Op::Inbound {
                workspace_id,
                scope,
                message,
                ..
            } if message.identity_change.is_none() => {
                Some((workspace_id, scope, &message.identity))
            }
            Op::Status {
                workspace_id,
                scope,
                update,
                ..
            } => Some((workspace_id, scope, &update.identity)),
            _ => None,
        }
    }

    /// What the contact `op` names is, when it is the batch's next
    /// message or receipt and naming it writes nothing: `Some(found)` (a
    /// receipt may name nobody). Else `None`; what was read is forgotten
    /// when the op writes contacts, or may.
    pub(super) async fn settle(
        &mut self,
        tx: &mut Tx<'_>,
        op: &'e Op,
    ) -> Result<Option<Option<ContactRow>>, store::Error> {
        let Some((workspace_id, scope, identity)) = Self::payload(op) else {
            if may_write_contacts(op) {
                self.known = None;
            }
            return Ok(None);
        };
        if self.known.is_none() || self.next >= self.until {
            self.until = (self.next + READ_AHEAD).min(self.payloads.len());
            let ahead = self.payloads.get(self.next..self.until).unwrap_or_default();
            self.known = Some(Known::read(tx, ahead).await?);
        }
        self.next += 1;
        // Only a customer's message makes a contact.
        let create = matches!(op, Op::Inbound { .. });
        let found = self
            .known
            .as_ref()
            .and_then(|known| known.settle(workspace_id, scope, identity, create));
        if found.is_none() {
            self.known = None;
        }
        Ok(found)
    }
}

/// Whether applying an op this type does not settle may write a contact
/// or an alias: a customer's message announcing a number change, and what
/// the WhatsApp Business app sends (history, echoes, saved names).
/// Account and number events never do.
fn may_write_contacts(op: &Op) -> bool {
    matches!(
        op,
        Op::Inbound { .. } | Op::HistoryChunk { .. } | Op::Echo { .. } | Op::SavedNames { .. }
    )
}
