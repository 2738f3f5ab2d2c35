//! Control calls by which a test plays the business and its WhatsApp
//! Business app: create an app number with contacts and history, finish
//! the coexistence signup without a browser, type a message or edit a
//! contact in the app, and go through the app's offboarding, reconnection
//! or disconnection. Each webhook is built here in Meta's shape.

use axum::{
    body::Bytes,
    extract::{Path, State},
    routing::post,
    Json, Router,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    history::{self, Spec},
    sync, AppContact, AppNumber, Choice, LinkState,
};
use crate::{
    control::{parse, ControlError},
    ids, oauth, users,
    webhooks::Change,
    world::{ChatLine, Phone},
    State as AppState,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_sandbox/business-app/numbers", post(create_number))
        .route("/_sandbox/signup/business-app", post(sign_up))
        .route(
            "/_sandbox/phones/{phone_number_id}/app-messages",
            post(app_message),
        )
        .route(
            "/_sandbox/phones/{phone_number_id}/app-contacts",
            post(app_contact),
        )
        .route(
            "/_sandbox/phones/{phone_number_id}/coexistence",
            post(coexistence_event),
        )
}

type ControlResult = Result<Json<Value>, ControlError>;

/// Most threads and messages one app number may have (memory, not Meta).
const MAX_THREADS: u32 = 10_000;
const MAX_MESSAGES: u64 = 200_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryRequest {
    threads: u32,
    messages_per_thread: u32,
    chunk_messages: Option<usize>,
    #[serde(default)]
    shuffle: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NumberRequest {
    display_phone_number: String,
    verified_name: String,
    #[serde(default)]
    contacts: Vec<AppContact>,
    history: Option<HistoryRequest>,
    share_history: Option<bool>,
}

/// A WhatsApp Business app number as it is before signup, with the
/// contacts and chat history its app holds.
async fn create_number(State(state): State<AppState>, body: Bytes) -> ControlResult {
    let request: NumberRequest = parse(&body)?;
    let display = super::digits(&request.display_phone_number)
        .ok_or_else(|| ControlError::bad_request("display_phone_number must be 8 to 15 digits"))?;
    if request.verified_name.trim().is_empty() {
        return Err(ControlError::bad_request("verified_name must not be empty"));
    }
    for contact in &request.contacts {
        if super::digits(&contact.phone_number).is_none() {
            return Err(ControlError::bad_request(
                "contacts[].phone_number must be 8 to 15 digits",
            ));
        }
    }
    let mut world = state.world();
    if world.business_app.contains_key(&display) {
        return Err(ControlError::bad_request(format!(
            "the business app number {display} exists already"
        )));
    }
    let spec = match request.history {
        None => Spec::none(),
        Some(h) => {
            let total = u64::from(h.threads) * u64::from(h.messages_per_thread);
            if h.threads > MAX_THREADS || total > MAX_MESSAGES {
                return Err(ControlError::bad_request(format!(
                    "at most {MAX_THREADS} threads and {MAX_MESSAGES} messages"
                )));
            }
            let chunk_messages = h.chunk_messages.unwrap_or(history::DEFAULT_CHUNK_MESSAGES);
            if chunk_messages == 0 {
                return Err(ControlError::bad_request(
                    "chunk_messages must be at least 1",
                ));
            }
            let mut issued = world.app_customers_issued;
            let customers = history::issue_customers(h.threads, &mut issued);
            world.app_customers_issued = issued;
            Spec {
                customers,
                messages_per_thread: h.messages_per_thread,
                chunk_messages,
                shuffle: h.shuffle,
            }
        }
    };
    let number = AppNumber {
        display_phone_number: display.clone(),
        verified_name: request.verified_name.trim().to_string(),
        contacts: request.contacts,
        share_history: request.share_history.unwrap_or(true),
        history: spec,
    };
    let per_phase = number.history.per_phase();
    let answer = json!({
        "display_phone_number": display,
        "verified_name": number.verified_name,
        "contacts": number.contacts.len(),
        "share_history": number.share_history,
        "customers": number.history.customers,
        "total_messages": per_phase.iter().sum::<u64>(),
        "messages_per_phase": per_phase,
        "chunk_messages": number.history.chunk_messages,
    });
    world.business_app.insert(display, number);
    Ok(Json(answer))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignUpRequest {
    display_phone_number: String,
    waba_id: Option<String>,
    business_id: Option<String>,
    share_history: Option<bool>,
}

/// What finishing the coexistence popup does, without a browser: the
/// number joins the WABA (the demo's by default) and a code is granted, as
/// `POST /_sandbox/codes` does.
async fn sign_up(State(state): State<AppState>, body: Bytes) -> ControlResult {
    let request: SignUpRequest = parse(&body)?;
    let display = super::digits(&request.display_phone_number)
        .ok_or_else(|| ControlError::bad_request("display_phone_number must be 8 to 15 digits"))?;
    let waba_id = request
        .waba_id
        .or_else(|| state.demo.as_ref().map(|d| d.waba_id.clone()))
        .ok_or_else(|| ControlError::bad_request("waba_id is required (no demo business)"))?;
    let now = state.clock.now();
    let mut world = state.world();
    let mut rng = state.rng();
    if !world.business_app.contains_key(&display) {
        return Err(ControlError::not_found(format!(
            "no business app number {display} (create it with POST /_sandbox/business-app/numbers)"
        )));
    }
    let owner = world
        .wabas
        .get(&waba_id)
        .map(|w| w.business_id.clone())
        .ok_or_else(|| ControlError::not_found(format!("no WABA {waba_id}")))?;
    let business_id = request.business_id.unwrap_or_else(|| owner.clone());
    if business_id != owner {
        return Err(ControlError::bad_request(format!(
            "WABA {waba_id} belongs to business {owner}"
        )));
    }
    let choice = Choice {
        display_phone_number: display,
        verified_name: None,
        share_history: request.share_history,
    };
    let phone_number_id = super::onboard(&mut world, &mut rng, now, &waba_id, choice)
        .map_err(ControlError::bad_request)?;
    // Finishing Embedded Signup shares the WABA with the app (again).
    if let Some(waba) = world.wabas.get_mut(&waba_id) {
        waba.unshared = false;
    }
    let code = oauth::issue_code(
        &mut world,
        &mut rng,
        now,
        &business_id,
        vec![waba_id.clone()],
    );
    Ok(Json(json!({
        "code": code,
        "waba_id": waba_id,
        "business_id": business_id,
        "phone_number_id": phone_number_id,
    })))
}

/// The coexistence number a control call names, with what it needs.
fn linked_phone(state: &AppState, phone_id: &str) -> Result<Phone, ControlError> {
    let phone = state
        .world()
        .phones
        .get(phone_id)
        .cloned()
        .ok_or_else(|| ControlError::not_found(format!("no phone number {phone_id}")))?;
    match phone.coexistence.as_ref().map(|l| l.state) {
        None => Err(ControlError::bad_request(format!(
            "phone number {phone_id} is not a coexistence (business app) number"
        ))),
        Some(LinkState::Removed) => Err(ControlError::bad_request(
            "the business removed the app (PARTNER_REMOVED); Meta sends nothing more for this number",
        )),
        Some(_) => Ok(phone),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppMessage {
    to: String,
    #[serde(rename = "type")]
    kind: String,
    text: Option<Value>,
}

/// The business types a message in the app: Meta echoes it to the app by
/// an `smb_message_echoes` webhook, and the customer's chat shows it.
/// Messages sent in the app neither open nor extend API windows.
async fn app_message(
    State(state): State<AppState>,
    Path(phone_id): Path<String>,
    body: Bytes,
) -> ControlResult {
    let request: AppMessage = parse(&body)?;
    let phone = linked_phone(&state, &phone_id)?;
    if phone.coexistence.as_ref().map(|l| l.state) != Some(LinkState::Connected) {
        return Err(ControlError::bad_request(
            "the number is offboarded: Meta echoes nothing until it reconnects",
        ));
    }
    let to = super::digits(&request.to)
        .ok_or_else(|| ControlError::bad_request("to must be the customer's phone (digits)"))?;
    let body_text = request
        .text
        .as_ref()
        .and_then(|t| t.get("body"))
        .and_then(Value::as_str)
        .filter(|b| !b.trim().is_empty());
    let (Some(body_text), "text") = (body_text, request.kind.as_str()) else {
        return Err(ControlError::bad_request(
            "type must be text, with text.body",
        ));
    };
    let now = state.clock.now();
    let wamid = ids::wamid(&mut state.rng());
    let message = json!({ "type": "text", "text": { "body": body_text } });
    let user_id = {
        let mut world = state.world();
        world
            .chats
            .entry((phone.id.clone(), to.clone()))
            .or_default()
            .push(ChatLine {
                direction: "outbound",
                wamid: wamid.clone(),
                timestamp: now,
                message: message.clone(),
                status: Some("sent".into()),
                by_phone: false,
                via: Some("business_app"),
            });
        users::bsuid(&world.business_of(&phone), &to)
    };
    let echo = json!({
        "from": phone.display_phone_number,
        "to": to,
        "to_user_id": user_id,
        "id": wamid,
        "timestamp": (now / 1000).to_string(),
        "type": "text",
        "text": { "body": body_text },
    });
    state.webhooks.send(Change::of_phone(
        &phone,
        "smb_message_echoes",
        json!({ "message_echoes": [echo] }),
    ));
    Ok(Json(json!({ "wamid": wamid, "echo": echo })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContactChange {
    phone_number: String,
    full_name: Option<String>,
    first_name: Option<String>,
    action: String,
}

/// The business adds, edits (`add` again) or removes a contact in the app:
/// a live `smb_app_state_sync` change follows.
async fn app_contact(
    State(state): State<AppState>,
    Path(phone_id): Path<String>,
    body: Bytes,
) -> ControlResult {
    let request: ContactChange = parse(&body)?;
    let phone = linked_phone(&state, &phone_id)?;
    let number = super::digits(&request.phone_number)
        .ok_or_else(|| ControlError::bad_request("phone_number must be 8 to 15 digits"))?;
    let contact = AppContact {
        phone_number: number.clone(),
        full_name: request.full_name,
        first_name: request.first_name,
    };
    {
        let mut world = state.world();
        let link = world
            .phones
            .get_mut(&phone_id)
            .and_then(|p| p.coexistence.as_mut())
            .expect("checked");
        let at = link.contacts.iter().position(|c| c.phone_number == number);
        match (request.action.as_str(), at) {
            ("add", Some(at)) => link.contacts[at] = contact.clone(),
            ("add", None) => link.contacts.push(contact.clone()),
            ("remove", Some(at)) => {
                link.contacts.remove(at);
            }
            ("remove", None) => {
                return Err(ControlError::bad_request(format!(
                    "{number} is not a contact of the app"
                )))
            }
            _ => return Err(ControlError::bad_request("action must be add or remove")),
        }
    }
    let change = sync::contacts_change(&phone, &[contact], &request.action, state.clock.now());
    let value = change.value.clone();
    state.webhooks.send(change);
    Ok(Json(json!({ "success": true, "webhook": value })))
}

/// Meta's `disconnection_info.reason` values (reference meta-2026 §2).
const REASONS: [&str; 6] = [
    "ACCOUNT_DISCONNECTED",
    "BUSINESS_DOWNGRADE",
    "CHANGE_NUMBER",
    "COMPANION_INACTIVITY",
    "PRIMARY_INACTIVITY",
    "USER_RE_REGISTERED",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CoexistenceEvent {
    event: String,
    reason: Option<String>,
    initiated_by: Option<String>,
}

/// What happens to the app's link: `ACCOUNT_OFFBOARDED` (device change,
/// reinstall: sends refused), `ACCOUNT_RECONNECTED` (sends again) or
/// `PARTNER_REMOVED` (disconnected in the app: terminal, the app's access
/// to the WABA ends). Each is announced by an `account_update` webhook.
async fn coexistence_event(
    State(state): State<AppState>,
    Path(phone_id): Path<String>,
    body: Bytes,
) -> ControlResult {
    let request: CoexistenceEvent = parse(&body)?;
    let phone = linked_phone(&state, &phone_id)?;
    let current = phone.coexistence.as_ref().map(|l| l.state).expect("linked");
    let (next, extra_allowed) = match (request.event.as_str(), current) {
        ("ACCOUNT_OFFBOARDED", LinkState::Connected) => (LinkState::Offboarded, false),
        ("ACCOUNT_RECONNECTED", LinkState::Offboarded) => (LinkState::Connected, false),
        ("PARTNER_REMOVED", _) => (LinkState::Removed, true),
        ("ACCOUNT_OFFBOARDED" | "ACCOUNT_RECONNECTED", _) => {
            return Err(ControlError::bad_request(format!(
                "{} does not follow from {current:?}",
                request.event
            )))
        }
        _ => {
            return Err(ControlError::bad_request(
                "event must be ACCOUNT_OFFBOARDED, ACCOUNT_RECONNECTED or PARTNER_REMOVED",
            ))
        }
    };
    if !extra_allowed && (request.reason.is_some() || request.initiated_by.is_some()) {
        return Err(ControlError::bad_request(
            "reason and initiated_by go only with PARTNER_REMOVED",
        ));
    }
    let reason = request
        .reason
        .unwrap_or_else(|| "ACCOUNT_DISCONNECTED".into());
    if !REASONS.contains(&reason.as_str()) {
        return Err(ControlError::bad_request(format!(
            "reason is one of {}",
            REASONS.join(", ")
        )));
    }
    let initiated_by = request.initiated_by.unwrap_or_else(|| "USER".into());
    if !["USER", "SYSTEM"].contains(&initiated_by.as_str()) {
        return Err(ControlError::bad_request("initiated_by is USER or SYSTEM"));
    }
    let owner = state.world().business_of(&phone);
    let waba_info = json!({ "waba_id": phone.waba_id, "owner_business_id": owner });
    let value = if next == LinkState::Removed {
        json!({
            "event": "PARTNER_REMOVED",
            "waba_info": waba_info,
            "disconnection_info": { "reason": reason, "initiated_by": initiated_by },
        })
    } else {
        // Which keys name the number is unconfirmed: integrators read
        // `metadata.phone_number_id`; `phone_number` (the display number)
        // and `waba_info` are what other account_update events carry.
        json!({
            "event": request.event,
            "phone_number": phone.display_phone_number,
            "metadata": {
                "display_phone_number": phone.display_phone_number,
                "phone_number_id": phone.id,
            },
            "waba_info": waba_info,
        })
    };
    // The webhook goes out before the access ends.
    state.webhooks.send(Change {
        waba_id: phone.waba_id.clone(),
        field: "account_update".into(),
        value: value.clone(),
    });
    {
        let mut world = state.world();
        if let Some(link) = world
            .phones
            .get_mut(&phone_id)
            .and_then(|p| p.coexistence.as_mut())
        {
            link.state = next;
        }
        if next == LinkState::Removed {
            if let Some(waba) = world.wabas.get_mut(&phone.waba_id) {
                waba.unshared = true;
            }
        }
    }
    Ok(Json(json!({ "success": true, "webhook": value })))
}
