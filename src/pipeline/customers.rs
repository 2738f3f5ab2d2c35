//! The contacts a batch's messages and receipts name, read with one
//! statement for all of them instead of one each, in the batch's order,
//! and read again only after something in the batch wrote a contact (a
//! new customer, a BSUID learnt, a number change): what was read is then
//! no longer sure.

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
    /// What the aliases held when last read, for `payloads[next..]`.
    known: Option<Known<'e>>,
}

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
    /// receipt may name nobody). Else `None`, and what was read is
    /// forgotten: the op will write, or may.
    pub(super) async fn settle(
        &mut self,
        tx: &mut Tx<'_>,
        op: &'e Op,
    ) -> Result<Option<Option<ContactRow>>, store::Error> {
        let Some((workspace_id, scope, identity)) = Self::payload(op) else {
            self.known = None;
            return Ok(None);
        };
        if self.known.is_none() {
            let rest = self.payloads.get(self.next..).unwrap_or_default();
            self.known = Some(Known::read(tx, rest).await?);
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
