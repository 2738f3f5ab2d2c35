//! The simulated customer: writes to a business number (which triggers the
//! `messages` webhook, as a real inbound message would) and reads what the
//! business sent back.

use std::collections::HashMap;

use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    routing::{get, post, put},
    Json, Router,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::{
    control::{parse, ControlError},
    ids, pricing,
    users::User,
    webhooks::Change,
    world::{ChatLine, Media, Phone},
    State as AppState,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/_sandbox/customers/{wa_id}/messages",
            post(customer_writes),
        )
        .route("/_sandbox/chats/{phone_number_id}/{wa_id}", get(read_chat))
        .route("/_sandbox/users/{wa_id}", put(set_user).get(get_user))
        .route("/_sandbox/customers/{wa_id}/share-phone", post(share_phone))
        .route("/_sandbox/users/{wa_id}/change-number", post(change_number))
}

#[derive(Deserialize)]
struct UserRequest {
    /// A username hides the phone from businesses (Meta's 2026 rule);
    /// `null` removes it.
    username: Option<String>,
}

/// Gives a user a username (or takes it away).
async fn set_user(
    State(state): State<AppState>,
    Path(wa_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let request: UserRequest = parse(&body)?;
    if wa_id.is_empty() || !wa_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ControlError::bad_request("wa_id must be digits"));
    }
    state.world().users.insert(
        wa_id.clone(),
        User {
            username: request.username.clone(),
        },
    );
    Ok(Json(
        json!({ "wa_id": wa_id, "username": request.username }),
    ))
}

/// The user as a business number sees them now: BSUID, username, phone
/// (absent when withheld). `?phone_number_id=` defaults to the demo number.
async fn get_user(
    State(state): State<AppState>,
    Path(wa_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ControlError> {
    let phone = business_number(&state, query.get("phone_number_id").cloned())?;
    let seen = state.world().seen_by(&phone, &wa_id, state.clock.now());
    Ok(Json(json!({
        "user_id": seen.user_id,
        "username": seen.username,
        "wa_id": seen.wa_id,
    })))
}

#[derive(Deserialize)]
struct InboundRequest {
    /// Defaults to the demo business's registered number.
    phone_number_id: Option<String>,
    /// The customer's profile name.
    #[serde(default = "default_name")]
    name: String,
    #[serde(rename = "type")]
    kind: String,
    /// For media types: the file, base64-encoded (a tiny default if absent).
    data_base64: Option<String>,
    /// Everything else is the type's object and `context`, as Meta sends.
    #[serde(flatten)]
    rest: Map<String, Value>,
}

fn default_name() -> String {
    "Casey Customer".into()
}

const MEDIA_TYPES: [(&str, &str); 5] = [
    ("image", "image/jpeg"),
    ("video", "video/mp4"),
    ("audio", "audio/ogg; codecs=opus"),
    ("document", "application/pdf"),
    ("sticker", "image/webp"),
];

async fn customer_writes(
    State(state): State<AppState>,
    Path(wa_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let request: InboundRequest = parse(&body)?;
    if wa_id.is_empty() || !wa_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ControlError::bad_request("wa_id must be digits"));
    }
    let phone = business_number(&state, request.phone_number_id.clone())?;

    let now = state.clock.now();
    let wamid = ids::wamid(&mut state.rng());
    let seen = state.world().seen_by(&phone, &wa_id, now);
    let mut message = json!({
        "id": wamid,
        "timestamp": (now / 1000).to_string(),
        "type": request.kind,
    });
    seen.mark_sender(&mut message);
    if let Some(context) = request.rest.get("context") {
        message["context"] = context.clone();
    }
    if let Some(referral) = request.rest.get("referral") {
        message["referral"] = ad_referral(referral)?;
        pricing::referred(&mut state.world(), &phone.id, &wa_id, now);
    }
    let kind = request.kind.as_str();
    if let Some((_, default_mime)) = MEDIA_TYPES.iter().find(|(k, _)| *k == kind) {
        let mut object = request.rest.get(kind).cloned().unwrap_or_else(|| json!({}));
        let bytes = match &request.data_base64 {
            Some(data) => STANDARD
                .decode(data)
                .map_err(|_| ControlError::bad_request("data_base64 is not base64"))?,
            None => b"sandbox media bytes".to_vec(),
        };
        let mime = object
            .get("mime_type")
            .and_then(Value::as_str)
            .unwrap_or(default_mime)
            .to_string();
        let media_id = ids::numeric(&mut state.rng());
        let sha256 = STANDARD.encode(Sha256::digest(&bytes));
        state.world().media.insert(
            media_id.clone(),
            Media {
                id: media_id.clone(),
                phone_id: phone.id.clone(),
                mime_type: mime.clone(),
                bytes,
                sha256: sha256.clone(),
            },
        );
        object["id"] = json!(media_id);
        object["mime_type"] = json!(mime);
        object["sha256"] = json!(sha256);
        message[kind] = object;
    } else if kind == "unsupported" {
        message["errors"] = json!([{
            "code": 131051,
            "title": "Message type unknown",
            "message": "Message type unknown",
            "error_data": { "details": "Message type is currently not supported." },
        }]);
        message["unsupported"] = json!({ "type": request.rest.get("unsupported_type").cloned().unwrap_or(json!("edit")) });
    } else {
        let object = request.rest.get(kind).cloned().ok_or_else(|| {
            ControlError::bad_request(format!("a `{kind}` object is required for type {kind}"))
        })?;
        message[kind] = object;
    }

    arrives(
        &state,
        &phone,
        &wa_id,
        &seen.contact(&request.name),
        message,
    );
    Ok(Json(json!({ "wamid": wamid })))
}

/// A click-to-WhatsApp `referral`, passed on as given once it has what
/// Meta always sends: `source_url`, `source_id` and `source_type` (`ad` or
/// `post`); `ctwa_clid`, `headline`, `body`, media and the rest are
/// optional (reference meta-platform §6).
fn ad_referral(referral: &Value) -> Result<Value, ControlError> {
    let text = |key: &str| referral.get(key).and_then(Value::as_str);
    let complete = text("source_url").is_some() && text("source_id").is_some();
    if !complete || !matches!(text("source_type"), Some("ad" | "post")) {
        return Err(ControlError::bad_request(
            "referral needs source_url, source_id and source_type (ad or post)",
        ));
    }
    Ok(referral.clone())
}

/// A message from the user reaches the business: the chat shows it and
/// the `messages` webhook goes out.
fn arrives(state: &AppState, phone: &Phone, wa_id: &str, contact: &Value, message: Value) {
    let now = state.clock.now();
    let mut world = state.world();
    crate::messages::count_inbound(&mut world, &phone.id, now);
    world
        .chats
        .entry((phone.id.clone(), wa_id.to_string()))
        .or_default()
        .push(ChatLine {
            direction: "inbound",
            wamid: message["id"].as_str().unwrap_or_default().to_string(),
            timestamp: now,
            message: message.clone(),
            status: None,
            by_phone: false,
            via: None,
        });
    drop(world);
    state.webhooks.send(Change::messages(
        phone,
        json!({ "contacts": [contact], "messages": [message] }),
    ));
}

#[derive(Deserialize)]
struct ShareRequest {
    phone_number_id: Option<String>,
    #[serde(default = "default_name")]
    name: String,
}

/// The user taps "share phone number" on the business's
/// REQUEST_CONTACT_INFO message: the phone joins the portfolio's contact
/// book and a `contacts` message with `origin: contact_request` arrives.
async fn share_phone(
    State(state): State<AppState>,
    Path(wa_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let request: ShareRequest = if body.is_empty() {
        ShareRequest {
            phone_number_id: None,
            name: default_name(),
        }
    } else {
        parse(&body)?
    };
    let phone = business_number(&state, request.phone_number_id)?;
    let asked = {
        let world = state.world();
        world
            .chats
            .get(&(phone.id.clone(), wa_id.clone()))
            .is_some_and(|lines| {
                lines.iter().any(|line| {
                    line.direction == "outbound"
                        && line.message.pointer("/interactive/type")
                            == Some(&json!("request_contact_info"))
                })
            })
    };
    if !asked {
        return Err(ControlError::bad_request(
            "the business has not asked this user for their phone number",
        ));
    }
    let now = state.clock.now();
    {
        let mut world = state.world();
        let business = world.business_of(&phone);
        world.contact_book.insert((business, wa_id.clone()));
    }
    let seen = state.world().seen_by(&phone, &wa_id, now);
    let wamid = ids::wamid(&mut state.rng());
    let mut message = json!({
        "id": wamid,
        "timestamp": (now / 1000).to_string(),
        "type": "contacts",
        "origin": "contact_request",
        "contacts": [{
            "name": { "formatted_name": request.name, "first_name": request.name },
            "phones": [{ "phone": format!("+{wa_id}"), "wa_id": wa_id, "type": "CELL" }],
            "vcard": format!("BEGIN:VCARD\nVERSION:3.0\nFN:{}\nTEL;type=CELL;waid={wa_id}:+{wa_id}\nEND:VCARD", request.name),
        }],
    });
    seen.mark_sender(&mut message);
    arrives(
        &state,
        &phone,
        &wa_id,
        &seen.contact(&request.name),
        message,
    );
    Ok(Json(json!({ "wamid": wamid })))
}

async fn read_chat(
    State(state): State<AppState>,
    Path((phone_number_id, wa_id)): Path<(String, String)>,
) -> Json<Value> {
    let world = state.world();
    let lines = world
        .chats
        .get(&(phone_number_id, wa_id))
        .cloned()
        .unwrap_or_default();
    Json(json!({ "messages": lines }))
}

#[derive(Deserialize)]
struct ChangeNumber {
    new_wa_id: String,
}

/// The user moves to a new phone number, so every portfolio sees a new
/// BSUID. Each number that chatted with them gets a system message (no
/// `contacts[]`): `user_changed_number` with the new phone when it may be
/// shown, else `user_changed_user_id` with the BSUIDs only (§1.5).
async fn change_number(
    State(state): State<AppState>,
    Path(wa_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let request: ChangeNumber = parse(&body)?;
    let new = request.new_wa_id;
    if !new.bytes().all(|b| b.is_ascii_digit()) || !(8..=15).contains(&new.len()) {
        return Err(ControlError::bad_request(
            "new_wa_id must be 8 to 15 digits",
        ));
    }
    if new == wa_id {
        return Err(ControlError::bad_request("new_wa_id is the current number"));
    }
    let now = state.clock.now();
    let mut announced = Vec::new();
    let mut world = state.world();
    let numbers: Vec<String> = world
        .chats
        .keys()
        .filter(|(_, customer)| *customer == wa_id)
        .map(|(phone_id, _)| phone_id.clone())
        .collect();
    let before: Vec<(Phone, crate::users::Seen)> = numbers
        .iter()
        .filter_map(|id| world.phones.get(id).cloned())
        .map(|phone| {
            let seen = world.seen_by(&phone, &wa_id, now);
            (phone, seen)
        })
        .collect();
    // The user, their chats and their contact-book entries move over.
    if let Some(user) = world.users.remove(&wa_id) {
        world.users.insert(new.clone(), user);
    }
    for phone_id in &numbers {
        if let Some(lines) = world.chats.remove(&(phone_id.clone(), wa_id.clone())) {
            world.chats.insert((phone_id.clone(), new.clone()), lines);
        }
        if let Some(entry) = world
            .entry_points
            .remove(&(phone_id.clone(), wa_id.clone()))
        {
            world
                .entry_points
                .insert((phone_id.clone(), new.clone()), entry);
        }
    }
    for (phone, old) in before {
        let seen = world.seen_by(&phone, &new, now);
        let wamid = ids::wamid(&mut state.rng());
        let mut message =
            json!({ "id": wamid, "timestamp": (now / 1000).to_string(), "type": "system" });
        message["system"] = match &seen.wa_id {
            Some(shown) => {
                message["from"] = json!(wa_id);
                json!({
                    "type": "user_changed_number",
                    "body": format!("User changed from {wa_id} to {shown}"),
                    "wa_id": shown,
                    "user_id": seen.user_id,
                    "previous_user_id": old.user_id,
                })
            }
            None => json!({
                "type": "user_changed_user_id",
                "user_id": seen.user_id,
                "previous_user_id": old.user_id,
            }),
        };
        state
            .webhooks
            .send(Change::messages(&phone, json!({ "messages": [message] })));
        announced.push(json!({ "phone_number_id": phone.id, "user_id": seen.user_id, "previous_user_id": old.user_id }));
    }
    Ok(Json(json!({ "announced": announced })))
}

/// The business number a control call names, or the demo's.
fn business_number(
    state: &AppState,
    phone_number_id: Option<String>,
) -> Result<Phone, ControlError> {
    let phone_id = phone_number_id
        .or_else(|| state.demo.as_ref().map(|d| d.phone_number_id.clone()))
        .ok_or_else(|| ControlError::bad_request("phone_number_id is required"))?;
    state
        .world()
        .phones
        .get(&phone_id)
        .cloned()
        .ok_or_else(|| ControlError::not_found(format!("no phone number {phone_id}")))
}
