//! `POST /{phone-number-id}/smb_app_data`: the app asks Meta to hand over
//! a coexistence number's contacts (`smb_app_state_sync`) or chat history
//! (`history`), each once, within 24 hours of onboarding. Meta answers
//! with a request id at once and sends the data by webhook afterwards.

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::{history, AppContact, Link, SyncType};
use crate::{
    error::{GraphError, GraphResult},
    graph::{authorized, GraphRequest},
    ids, phones,
    webhooks::Change,
    world::{Millis, Phone, DAY_MS},
    State,
};

/// How long after onboarding the syncs may be asked for.
const SYNC_WINDOW_MS: Millis = DAY_MS;

/// Meta's code for the error a history sync ends with when the business
/// declined to share it (reference meta-2026 §2, §5).
pub const HISTORY_DECLINED: i64 = 2593109;

/// The refusals of `smb_app_data`. Meta's code for them is unconfirmed
/// (the reference only says "errors"); the sandbox answers 100 (invalid
/// parameter) and says why in `error_data.details`.
fn refused(details: String) -> GraphError {
    GraphError::whatsapp(StatusCode::BAD_REQUEST, 100, "Invalid parameter", details)
}

pub async fn smb_app_data(state: &State, request: &GraphRequest) -> GraphResult<Value> {
    let token = authorized(state, request)?;
    let phone = phones::visible_phone(state, request, &token)?;
    if request.param("messaging_product").as_deref() != Some("whatsapp") {
        return Err(GraphError::invalid_parameter(
            "The parameter messaging_product is required.",
        ));
    }
    let asked = request.param("sync_type").unwrap_or_default();
    let sync = SyncType::parse(&asked).ok_or_else(|| {
        refused(format!(
            "sync_type ({asked}) must be smb_app_state_sync or history."
        ))
    })?;
    let now = state.clock.now();
    let link = {
        let mut world = state.world();
        let phone = world.phones.get_mut(&phone.id).expect("visible");
        let Some(link) = phone.coexistence.as_mut().filter(|l| l.active()) else {
            return Err(refused(format!(
                "Phone number {} was not onboarded from the WhatsApp Business app; smb_app_data is for coexistence numbers only.",
                phone.id
            )));
        };
        if link.synced.contains(&sync) {
            return Err(refused(format!(
                "sync_type {} was already requested for this number; each sync can be requested once per onboarding.",
                sync.name()
            )));
        }
        if now - link.onboarded_at > SYNC_WINDOW_MS {
            return Err(refused(format!(
                "sync_type {} can only be requested within 24 hours of onboarding.",
                sync.name()
            )));
        }
        link.synced.push(sync);
        let mut taken = link.clone();
        // The history goes out once; the number keeps no copy.
        if sync == SyncType::History {
            link.history = Vec::new();
        } else {
            taken.history = Vec::new();
        }
        taken
    };
    let request_id = ids::opaque(&mut state.rng(), 24);
    // Counted from now, so that settling waits for the syncs' webhooks.
    let announcing = state.webhooks.in_flight.hold();
    let sending = state.clone();
    let phone = phone.clone();
    tokio::spawn(async move {
        match sync {
            SyncType::SmbAppStateSync => {
                let now = sending.clock.now();
                sending
                    .webhooks
                    .send(contacts_change(&phone, &link.contacts, "add", now));
            }
            SyncType::History => send_history(&sending, &phone, &link),
        }
        drop(announcing);
    });
    Ok(json!({ "messaging_product": "whatsapp", "request_id": request_id }))
}

/// One `state_sync` item: a contact added (or edited) or removed; names
/// are absent on removal.
fn contact_item(contact: &AppContact, action: &str, now: Millis) -> Value {
    let mut entry = json!({ "phone_number": contact.phone_number });
    if action == "add" {
        if let Some(name) = &contact.full_name {
            entry["full_name"] = json!(name);
        }
        if let Some(name) = &contact.first_name {
            entry["first_name"] = json!(name);
        }
    }
    json!({
        "type": "contact",
        "contact": entry,
        "action": action,
        "metadata": { "timestamp": (now / 1000).to_string() },
    })
}

/// An `smb_app_state_sync` change listing `contacts` with `action`.
pub fn contacts_change(
    phone: &Phone,
    contacts: &[AppContact],
    action: &str,
    now: Millis,
) -> Change {
    let items: Vec<Value> = contacts
        .iter()
        .map(|c| contact_item(c, action, now))
        .collect();
    Change::of_phone(phone, "smb_app_state_sync", json!({ "state_sync": items }))
}

/// The history webhooks: one per chunk (shuffled when the number's history
/// says so), or a single error item when the business declined to share.
fn send_history(state: &State, phone: &Phone, link: &Link) {
    if !link.share_history {
        let error = json!({
            "code": HISTORY_DECLINED,
            "title": "History sync is turned off by the business",
            "message": "History sync is turned off by the business",
            "error_data": {
                "details": "The business declined to share its chat history when it connected the WhatsApp Business app; the history will not be sent.",
            },
        });
        state.webhooks.send(Change::of_phone(
            phone,
            "history",
            json!({ "history": [{ "errors": [error] }] }),
        ));
        return;
    }
    let mut items = history::chunks(
        &link.history,
        &phone.display_phone_number,
        link.chunk_messages,
    );
    if link.shuffle {
        state.rng().shuffle(&mut items);
    }
    for item in items {
        state.webhooks.send(Change::of_phone(
            phone,
            "history",
            json!({ "history": [item] }),
        ));
    }
}
