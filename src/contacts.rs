//! Who a customer is. Meta names a WhatsApp user to a business by a
//! business-scoped user id (BSUID) and shows the phone only under its 2026
//! rules (reference meta-2026 §1), so a customer is a contact keyed by
//! BSUID, per workspace and scope (see [`ContactScope`]), with the phone,
//! username, parent BSUID and profile name as attributes that come and go.
//!
//! Every payload feeds its contact through [`observe`] (or [`moved`] for a
//! number or BSUID change). The rules, each tested in `tests/contacts.rs`:
//! - a BSUID or phone seen before names its contact; a new one makes one;
//! - a phone-only contact (from before BSUIDs) gains the BSUID when both
//!   arrive together and stays one contact; when both ids already name two
//!   contacts and the phone's has no BSUID of its own, they are one person
//!   and merge with their history;
//! - a phone seen with a different BSUID than its contact's moves to the
//!   new BSUID's contact (a recycled number is another person: no merge);
//! - a number or BSUID change moves the contact to the new ids and keeps
//!   the old ones as aliases; a payload naming an old id (a late status, a
//!   duplicate) finds the contact and changes nothing about it;
//! - usernames and profile names are shown, never used to find anyone.

use serde::{Deserialize, Serialize};

use crate::{
    ids::{Bsuid, ContactId, ContactScope},
    store::{
        self,
        contacts::{self as rows, AliasKind},
        now_millis, NumberRow, Store, Tx,
    },
    webhook::payload::{is_phone, Identity, IdentityChange},
    Error,
};

pub use crate::store::contacts::ContactRow;

/// Where a message to a contact goes: Meta prefers the phone when it is
/// known (it keeps phones flowing in later webhooks), else the BSUID
/// (`recipient`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Address {
    Phone(String),
    Bsuid(Bsuid),
}

impl Address {
    pub fn as_str(&self) -> &str {
        match self {
            Address::Phone(phone) => phone,
            Address::Bsuid(bsuid) => bsuid.as_str(),
        }
    }

    /// Text as stored (`outbox.recipient`, `messages.customer_wa_id`).
    pub fn parse(text: &str) -> Option<Self> {
        if is_phone(text) {
            Some(Address::Phone(text.to_string()))
        } else {
            Bsuid::parse(text).map(Address::Bsuid)
        }
    }
}

/// Whom a caller names when sending or reading: a phone, a BSUID or a
/// contact id, told apart by their shapes (which never overlap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerRef {
    Address(Address),
    Contact(ContactId),
}

impl CustomerRef {
    pub fn parse(text: &str) -> Option<Self> {
        match ContactId::parse(text) {
            Some(id) => Some(CustomerRef::Contact(id)),
            None => Address::parse(text).map(CustomerRef::Address),
        }
    }

    /// What a refusal says a valid reference is.
    pub const EXPECTED: &'static str =
        "a phone number (5 to 20 digits), a BSUID (like US.13491208655302741918) or a contact id (ct_...)";
}

/// A contact as the integration API and outgoing webhooks show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ContactObject {
    /// Switchboard's id of the customer (`ct_…`): stable across their
    /// phone and BSUID changes.
    pub id: String,
    /// Meta's business-scoped user id (BSUID), once known.
    pub user_id: Option<String>,
    /// Digits, when Meta shows it.
    pub phone: Option<String>,
    pub username: Option<String>,
    /// The best name: profile name, else username, else phone, else BSUID.
    pub name: String,
}

impl From<&ContactRow> for ContactObject {
    fn from(contact: &ContactRow) -> Self {
        ContactObject {
            id: contact.id.to_string(),
            user_id: contact.bsuid.as_ref().map(Bsuid::to_string),
            phone: contact.phone.clone(),
            username: contact.username.clone(),
            name: contact.best_name(),
        }
    }
}

impl Address {
    /// The customer as this address alone shows them.
    fn identity(&self) -> Identity {
        match self {
            Address::Phone(phone) => Identity {
                phone: Some(phone.clone()),
                ..Identity::default()
            },
            Address::Bsuid(bsuid) => Identity {
                bsuid: Some(bsuid.clone()),
                ..Identity::default()
            },
        }
    }

    fn alias(&self) -> (AliasKind, &str) {
        match self {
            Address::Phone(phone) => (AliasKind::Phone, phone),
            Address::Bsuid(bsuid) => (AliasKind::Bsuid, bsuid.as_str()),
        }
    }
}

/// The contact a caller names on one of the workspace's numbers, for
/// reading: a phone, a BSUID (current or old) or a contact id. Never makes
/// one.
pub async fn find(
    store: &Store,
    number: &NumberRow,
    reference: &str,
) -> Result<Option<ContactRow>, store::Error> {
    let workspace_id = number.workspace_id.as_str();
    match CustomerRef::parse(reference) {
        None => Ok(None),
        Some(CustomerRef::Contact(id)) => store.contact(workspace_id, &id).await,
        Some(CustomerRef::Address(address)) => {
            let (kind, value) = address.alias();
            store
                .contact_by_alias(workspace_id, &number.contact_scope(), kind, value)
                .await
        }
    }
}

/// The contact a message from `number` goes to. A phone or BSUID never
/// seen makes a contact (Meta decides whether it reaches anybody); a phone
/// that a contact has moved away from is someone else's now, so it makes
/// a new contact too. `field` names the caller's field in a refusal.
pub async fn for_sending(
    store: &Store,
    number: &NumberRow,
    reference: &str,
    field: &'static str,
) -> Result<ContactRow, Error> {
    let workspace_id = number.workspace_id.as_str();
    let scope = number.contact_scope();
    let reference = CustomerRef::parse(reference).ok_or_else(|| {
        Error::invalid(
            field,
            format!("The customer must be {}.", CustomerRef::EXPECTED),
        )
    })?;
    let address = match reference {
        CustomerRef::Contact(id) => {
            let contact = store
                .contact(workspace_id, &id)
                .await?
                .ok_or_else(|| Error::invalid(field, "No such contact in this workspace."))?;
            if contact.scope != scope {
                return Err(Error::invalid(
                    field,
                    "This contact is a customer of another business portfolio: write to them from one of its numbers.",
                ));
            }
            return Ok(contact);
        }
        CustomerRef::Address(address) => address,
    };
    let now = now_millis();
    let mut tx = store.begin().await?;
    let (kind, value) = address.alias();
    let alias = rows::find_alias(&mut tx, workspace_id, &scope, kind, value).await?;
    let contact = match (alias, &address) {
        (Some(alias), Address::Phone(phone)) if alias.superseded_at.is_some() => {
            let mut contact = ContactRow::fresh(workspace_id, &scope, &Identity::default());
            rows::insert(&mut tx, &contact, now).await?;
            contact.phone = Some(phone.clone());
            rows::point_alias(&mut tx, &contact, AliasKind::Phone, phone).await?;
            rows::update(&mut tx, &contact, now).await?;
            Some(contact)
        }
        _ => {
            observe(
                &mut tx,
                workspace_id,
                &scope,
                &address.identity(),
                true,
                now,
            )
            .await?
        }
    };
    tx.commit().await?;
    contact.ok_or_else(|| Error::invalid(field, "No such customer."))
}

/// What a send's response showed of its recipient (`wa_id` on the phone
/// path, `user_id` on the BSUID path): a phone-only contact learns its
/// BSUID this way.
pub async fn learn_from_send(
    store: &Store,
    workspace_id: &str,
    contact_id: &ContactId,
    shown: &Identity,
) -> Result<(), store::Error> {
    let Some(contact) = store.contact(workspace_id, contact_id).await? else {
        return Ok(());
    };
    // Only ids the contact lacks: a response names what was sent to.
    let identity = Identity {
        bsuid: shown.bsuid.clone().filter(|_| contact.bsuid.is_none()),
        phone: shown.phone.clone().filter(|_| contact.phone.is_none()),
        ..Identity::default()
    };
    if identity.is_empty() {
        return Ok(());
    }
    let both = Identity {
        bsuid: identity.bsuid.or(contact.bsuid),
        phone: identity.phone.or(contact.phone),
        ..Identity::default()
    };
    let mut tx = store.begin().await?;
    observe(
        &mut tx,
        workspace_id,
        &contact.scope,
        &both,
        false,
        now_millis(),
    )
    .await?;
    tx.commit().await
}

impl ContactRow {
    /// Where messages to this contact go now.
    pub fn address(&self) -> Option<Address> {
        match (&self.phone, &self.bsuid) {
            (Some(phone), _) => Some(Address::Phone(phone.clone())),
            (None, Some(bsuid)) => Some(Address::Bsuid(bsuid.clone())),
            (None, None) => None,
        }
    }

    /// The name people see: the profile name, else the username, else the
    /// phone, else the BSUID.
    pub fn best_name(&self) -> String {
        self.saved_name
            .clone()
            .or_else(|| self.profile_name.clone())
            .or_else(|| self.username.clone())
            .or_else(|| self.phone.as_ref().map(|p| format!("+{p}")))
            .or_else(|| self.bsuid.as_ref().map(Bsuid::to_string))
            .unwrap_or_else(|| self.id.to_string())
    }

    /// A customer not stored yet, as an address names them (an empty
    /// thread to start a conversation from).
    pub fn unsaved(number: &NumberRow, address: Address) -> Self {
        Self::fresh(
            &number.workspace_id,
            &number.contact_scope(),
            &address.identity(),
        )
    }

    fn fresh(workspace_id: &str, scope: &ContactScope, identity: &Identity) -> Self {
        ContactRow {
            id: ContactId::generate(),
            workspace_id: workspace_id.to_string(),
            scope: scope.clone(),
            bsuid: identity.bsuid.clone(),
            phone: identity.phone.clone(),
            username: identity.username.clone(),
            parent_bsuid: identity.parent_bsuid.clone(),
            profile_name: identity.profile_name.clone(),
            merged_into: None,
            saved_name: None,
        }
    }

    /// Takes what the payload shows of the names; absent ones stay as they
    /// were (a `sent` status omits the username that `delivered` carries).
    fn learn_names(&mut self, identity: &Identity) {
        fn keep<T: Clone>(old: &mut Option<T>, new: &Option<T>) {
            if new.is_some() {
                old.clone_from(new);
            }
        }
        keep(&mut self.username, &identity.username);
        keep(&mut self.profile_name, &identity.profile_name);
        keep(&mut self.parent_bsuid, &identity.parent_bsuid);
    }
}

/// The ids of a customer that [`observe`] decides about (and locks).
pub(crate) fn ids_of(identity: &Identity) -> Vec<&str> {
    [identity.bsuid.as_deref(), identity.phone.as_deref()]
        .into_iter()
        .flatten()
        .collect()
}

/// The ids of a customer that [`moved`] decides about (and locks).
pub(crate) fn ids_of_change(change: &IdentityChange) -> Vec<&str> {
    [
        change.previous_bsuid.as_deref(),
        change.previous_phone.as_deref(),
        change.bsuid.as_deref(),
        change.phone.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Takes, at once and in one order, the locks of every customer that a
/// batch of events will decide about; on Postgres, two instances' batches
/// naming the same customers in different orders would otherwise
/// deadlock. The per-event locks taken later are then already held.
pub(crate) async fn lock_all(
    tx: &mut Tx<'_>,
    customers: &[(&str, &ContactScope, Vec<&str>)],
) -> Result<(), store::Error> {
    let keys = customers
        .iter()
        .flat_map(|(workspace_id, scope, ids)| {
            ids.iter().map(|id| rows::lock_key(workspace_id, scope, id))
        })
        .collect();
    rows::lock_keys(tx, keys).await
}

/// The contact a payload names, updated with what it shows; `None` when it
/// names no BSUID and no phone. `create` false: only an existing contact is
/// updated (a status of a message Switchboard never sent names nobody).
pub(crate) async fn observe(
    tx: &mut Tx<'_>,
    workspace_id: &str,
    scope: &ContactScope,
    identity: &Identity,
    create: bool,
    now: i64,
) -> Result<Option<ContactRow>, store::Error> {
    if identity.is_empty() {
        return Ok(None);
    }
    rows::lock_ids(tx, workspace_id, scope, &ids_of(identity)).await?;
    // Two rounds at most: the second after losing a race to create it.
    for _ in 0..2 {
        let by_bsuid = match &identity.bsuid {
            Some(bsuid) => {
                rows::find_aliased(tx, workspace_id, scope, AliasKind::Bsuid, bsuid).await?
            }
            None => None,
        };
        let by_phone = match &identity.phone {
            Some(phone) => {
                rows::find_aliased(tx, workspace_id, scope, AliasKind::Phone, phone).await?
            }
            None => None,
        };
        if let Some(found) = settled(identity, by_bsuid.as_ref(), by_phone.as_ref(), create) {
            return Ok(found);
        }
        // An old id: a late status or a duplicate. It names the contact but
        // says nothing current about them.
        let stale = |alias: &Option<rows::Aliased>| {
            alias
                .as_ref()
                .filter(|a| a.superseded_at.is_some())
                .map(|a| a.contact.clone())
        };
        if let Some(contact) = stale(&by_bsuid) {
            return Ok(Some(contact));
        }
        if identity.bsuid.is_none() {
            if let Some(contact) = stale(&by_phone) {
                return Ok(Some(contact));
            }
        }
        let current = |alias: Option<rows::Aliased>| {
            alias
                .filter(|a| a.superseded_at.is_none())
                .map(|a| a.contact)
        };
        let (by_bsuid, by_phone) = (current(by_bsuid), current(by_phone));
        let contact = match (by_bsuid, by_phone) {
            (None, None) => {
                if !create {
                    return Ok(None);
                }
                let contact = ContactRow::fresh(workspace_id, scope, identity);
                if !rows::insert(tx, &contact, now).await? {
                    continue; // another transaction made them first
                }
                return Ok(Some(contact));
            }
            (Some(contact), None) => contact,
            (None, Some(mut holder)) => {
                match &identity.bsuid {
                    // A phone-only contact learns its BSUID.
                    Some(bsuid) if holder.bsuid.is_none() => {
                        holder.bsuid = Some(bsuid.clone());
                        rows::point_alias(tx, &holder, AliasKind::Bsuid, bsuid).await?;
                        rows::update(tx, &holder, now).await?;
                        holder
                    }
                    // The phone now belongs to another BSUID: another
                    // person (a recycled number). The phone moves below.
                    Some(_) => {
                        holder.phone = None;
                        rows::update(tx, &holder, now).await?;
                        let without_phone = Identity {
                            phone: None,
                            ..identity.clone()
                        };
                        let contact = ContactRow::fresh(workspace_id, scope, &without_phone);
                        if !rows::insert(tx, &contact, now).await? {
                            continue;
                        }
                        contact
                    }
                    None => holder,
                }
            }
            (Some(contact), Some(holder)) if contact.id == holder.id => contact,
            (Some(contact), Some(holder)) => {
                if holder.bsuid.is_none() {
                    // Proven one person: the phone-only contact's history
                    // joins the BSUID's.
                    rows::merge(tx, &holder.id, &contact.id, now).await?;
                } else {
                    let mut holder = holder;
                    holder.phone = None;
                    rows::update(tx, &holder, now).await?;
                }
                contact
            }
        };
        let stored = contact.clone();
        let mut contact = contact;
        if let Some(phone) = &identity.phone {
            if contact.phone.as_ref() != Some(phone) {
                if let Some(old) = contact.phone.take() {
                    rows::supersede_alias(tx, &contact, AliasKind::Phone, &old, now).await?;
                }
                contact.phone = Some(phone.clone());
                rows::point_alias(tx, &contact, AliasKind::Phone, phone).await?;
            }
        }
        contact.learn_names(identity);
        // Most payloads repeat what is known: no write for them.
        if contact != stored {
            rows::update(tx, &contact, now).await?;
        }
        return Ok(Some(contact));
    }
    Err(store::Error::Database(sqlx::Error::Protocol(
        "a contact kept being made by another transaction".into(),
    )))
}

/// What a payload settles about its contact with no write at all, given
/// what its ids name: `Some(found)` for the usual repeat payload (ids
/// already theirs, names already known), `None` when [`observe`] has to
/// change something. [`observe`] and [`Known::settle`] both start here,
/// so the pipeline's batched path decides the same as the single one.
fn settled(
    identity: &Identity,
    by_bsuid: Option<&rows::Aliased>,
    by_phone: Option<&rows::Aliased>,
    create: bool,
) -> Option<Option<ContactRow>> {
    let stale = |alias: Option<&rows::Aliased>| {
        alias
            .filter(|a| a.superseded_at.is_some())
            .map(|a| a.contact.clone())
    };
    // An old id names its contact and says nothing current about them.
    if let Some(contact) = stale(by_bsuid) {
        return Some(Some(contact));
    }
    if identity.bsuid.is_none() {
        if let Some(contact) = stale(by_phone) {
            return Some(Some(contact));
        }
    }
    fn current(alias: Option<&rows::Aliased>) -> Option<&ContactRow> {
        alias
            .filter(|a| a.superseded_at.is_none())
            .map(|a| &a.contact)
    }
    let contact = match (current(by_bsuid), current(by_phone)) {
        (None, None) => return (!create).then_some(None),
        (Some(contact), None) => contact,
        (None, Some(holder)) if identity.bsuid.is_none() => holder,
        (Some(contact), Some(holder)) if contact.id == holder.id => contact,
        _ => return None,
    };
    if identity
        .phone
        .as_ref()
        .is_some_and(|phone| contact.phone.as_ref() != Some(phone))
    {
        return None;
    }
    let mut learned = contact.clone();
    learned.learn_names(identity);
    (learned == *contact).then_some(Some(learned))
}

/// The ids a list of payloads names, as found in the aliases: true until
/// the transaction writes a contact or an alias, so whoever holds one
/// reads it again after any such write.
pub(crate) struct Known<'p>(
    std::collections::HashMap<(&'p str, &'p ContactScope, AliasKind, &'p str), rows::Aliased>,
);

impl<'p> Known<'p> {
    pub(crate) async fn read(
        tx: &mut Tx<'_>,
        payloads: &[(&'p str, &'p ContactScope, &'p Identity)],
    ) -> Result<Self, store::Error> {
        type Group<'p> = (&'p str, &'p ContactScope, AliasKind);
        let mut wanted: std::collections::HashMap<Group<'p>, Vec<&'p str>> = Default::default();
        for &(workspace_id, scope, identity) in payloads {
            let ids = [
                (AliasKind::Bsuid, identity.bsuid.as_deref()),
                (AliasKind::Phone, identity.phone.as_deref()),
            ];
            for (kind, value) in ids {
                if let Some(value) = value {
                    wanted
                        .entry((workspace_id, scope, kind))
                        .or_default()
                        .push(value);
                }
            }
        }
        let mut known = std::collections::HashMap::new();
        for ((workspace_id, scope, kind), mut values) in wanted {
            values.sort_unstable();
            values.dedup();
            for (value, aliased) in
                rows::find_aliased_in(tx, workspace_id, scope, kind, &values).await?
            {
                // The value as the payload holds it, to key by reference.
                if let Ok(at) = values.binary_search(&value.as_str()) {
                    let value = values[at];
                    known.insert((workspace_id, scope, kind, value), aliased);
                }
            }
        }
        Ok(Self(known))
    }

    /// What [`observe`] would find for this payload without writing
    /// anything (see [`settled`]): `None` when it has to write (or, with
    /// `create`, make the contact).
    pub(crate) fn settle(
        &self,
        workspace_id: &str,
        scope: &ContactScope,
        identity: &Identity,
        create: bool,
    ) -> Option<Option<ContactRow>> {
        if identity.is_empty() {
            return Some(None);
        }
        let by_bsuid = identity
            .bsuid
            .as_deref()
            .and_then(|bsuid| self.get(&(workspace_id, scope, AliasKind::Bsuid, bsuid)));
        let by_phone = identity
            .phone
            .as_deref()
            .and_then(|phone| self.get(&(workspace_id, scope, AliasKind::Phone, phone)));
        settled(identity, by_bsuid, by_phone, create)
    }

    fn get<'k>(
        &'k self,
        key: &(&'k str, &'k ContactScope, AliasKind, &'k str),
    ) -> Option<&'k rows::Aliased> {
        self.0.get(key)
    }
}

async fn load(tx: &mut Tx<'_>, id: &ContactId) -> Result<ContactRow, store::Error> {
    rows::get(tx, id).await?.ok_or_else(|| {
        store::Error::Database(sqlx::Error::Protocol(format!(
            "alias of a missing contact {id}"
        )))
    })
}

/// The customer moved to a new phone or BSUID: their contact takes the new
/// ids and keeps the old ones as aliases. If the new ids were seen first
/// (a message overtook the system message), that contact merges into this
/// one. Applied again, it changes nothing.
pub(crate) async fn moved(
    tx: &mut Tx<'_>,
    workspace_id: &str,
    scope: &ContactScope,
    change: &IdentityChange,
    now: i64,
) -> Result<Option<ContactRow>, store::Error> {
    rows::lock_ids(tx, workspace_id, scope, &ids_of_change(change)).await?;
    let mut old = None;
    let previous = [
        (AliasKind::Bsuid, change.previous_bsuid.as_deref()),
        (AliasKind::Phone, change.previous_phone.as_deref()),
    ];
    for (kind, value) in previous {
        if let (None, Some(value)) = (&old, value) {
            old = rows::find_alias(tx, workspace_id, scope, kind, value).await?;
        }
    }
    let Some(old) = old else {
        // Never seen before the change: the customer as they are now.
        let identity = Identity {
            bsuid: change.bsuid.clone(),
            phone: change.phone.clone(),
            ..Identity::default()
        };
        return observe(tx, workspace_id, scope, &identity, true, now).await;
    };
    let mut contact = load(tx, &old.contact_id).await?;
    let next = [
        (AliasKind::Bsuid, change.bsuid.as_deref()),
        (AliasKind::Phone, change.phone.as_deref()),
    ];
    for (kind, value) in next {
        let Some(value) = value else { continue };
        if let Some(seen) = rows::find_alias(tx, workspace_id, scope, kind, value).await? {
            if seen.contact_id != contact.id {
                rows::merge(tx, &seen.contact_id, &contact.id, now).await?;
            }
        }
    }
    if let Some(bsuid) = &change.bsuid {
        if contact.bsuid.as_ref() != Some(bsuid) {
            if let Some(old) = contact.bsuid.take() {
                rows::supersede_alias(tx, &contact, AliasKind::Bsuid, &old, now).await?;
            }
            contact.bsuid = Some(bsuid.clone());
            rows::point_alias(tx, &contact, AliasKind::Bsuid, bsuid).await?;
        }
    }
    // A new phone replaces the old; a BSUID change without one means the
    // old phone is no longer theirs either (the new one is withheld).
    if contact.phone != change.phone && (change.phone.is_some() || change.bsuid.is_some()) {
        if let Some(old) = contact.phone.take() {
            rows::supersede_alias(tx, &contact, AliasKind::Phone, &old, now).await?;
        }
        if let Some(phone) = &change.phone {
            contact.phone = Some(phone.clone());
            rows::point_alias(tx, &contact, AliasKind::Phone, phone).await?;
        }
    }
    rows::update(tx, &contact, now).await?;
    Ok(Some(contact))
}
