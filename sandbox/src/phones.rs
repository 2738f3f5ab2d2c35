//! Phone numbers: read, list per WABA, register with the two-step PIN,
//! deregister, and set the PIN.

use axum::http::StatusCode;
use base64::{engine::general_purpose::STANDARD, Engine};
use serde_json::{json, Map, Value};

use crate::{
    accounts,
    clock::graph_time,
    coexistence::{self, LinkState},
    error::{GraphError, GraphResult},
    graph::{authorized, GraphRequest},
    verification,
    world::{Millis, Phone, Token},
    State,
};

/// Register and deregister calls allowed per number in a moving window.
const REGISTER_LIMIT: usize = 10;
const REGISTER_WINDOW_MS: Millis = 72 * 60 * 60 * 1000;

const DEFAULT_FIELDS: [&str; 8] = [
    "verified_name",
    "code_verification_status",
    "display_phone_number",
    "quality_rating",
    "platform_type",
    "throughput",
    "webhook_configuration",
    "id",
];

/// The phone in the path, if the token may see it.
pub fn visible_phone(state: &State, request: &GraphRequest, token: &Token) -> GraphResult<Phone> {
    let world = state.world();
    let phone = world
        .phones
        .get(request.id())
        .filter(|phone| token.may_manage_waba(&phone.waba_id))
        .cloned()
        .ok_or_else(|| request.unknown_object())?;
    coexistence::check_access(&world, &phone.waba_id)?;
    Ok(phone)
}

pub fn get(state: &State, request: &GraphRequest) -> GraphResult<Value> {
    let token = authorized(state, request)?;
    let phone = visible_phone(state, request, &token)?;
    let fields = request
        .fields()
        .unwrap_or_else(|| DEFAULT_FIELDS.iter().map(|f| f.to_string()).collect());
    render(state, &phone, &fields)
}

fn render(state: &State, phone: &Phone, fields: &[String]) -> GraphResult<Value> {
    let callback = {
        let world = state.world();
        world
            .wabas
            .get(&phone.waba_id)
            .and_then(|w| w.override_callback.as_ref().map(|o| o.uri.clone()))
    }
    .or_else(|| state.config().callback_url.clone());
    // The portfolio's limit, which all its numbers share.
    let limit = {
        let world = state.world();
        let business = world.business_of(phone);
        world
            .businesses
            .get(&business)
            .map_or("TIER_NOT_SET".to_string(), |b| {
                b.limits.messaging.tier().to_string()
            })
    };
    let mut out = Map::new();
    for field in fields {
        let value = match field.as_str() {
            "id" => json!(phone.id),
            "verified_name" => json!(phone.verified_name),
            "code_verification_status" => json!(verification::status(phone)),
            "display_phone_number" => json!(phone.display_phone_number),
            "quality_rating" => json!(phone.quality_rating),
            // A coexistence number is served by the Cloud API while the app
            // keeps it, so CLOUD_API too (unconfirmed for such numbers).
            "platform_type" => json!(if phone.registered { "CLOUD_API" } else { "NOT_APPLICABLE" }),
            // Meta's levels: STANDARD (80/s), HIGH (1,000/s). Meta names no
            // level for a coexistence number's fixed 20/s: STANDARD here
            // (unconfirmed); `GET /_sandbox/phones/{id}` has the figure.
            "throughput" => json!({ "level": if phone.throughput >= 1000 { "HIGH" } else { "STANDARD" } }),
            "is_on_biz_app" => json!(phone.coexistence.as_ref().is_some_and(|l| l.active())),
            "last_onboarded_time" => match phone.onboarded_at {
                Some(at) => json!(graph_time(at)),
                None => continue,
            },
            "webhook_configuration" => match &callback {
                Some(uri) => json!({ "application": uri }),
                None => continue,
            },
            "name_status" => json!(phone.name_status),
            // An offboarded coexistence number reads DISCONNECTED until it
            // reconnects (unconfirmed).
            "status" => json!(match phone.coexistence.as_ref().map(|l| l.state) {
                Some(LinkState::Offboarded) => "DISCONNECTED",
                _ if phone.registered => "CONNECTED",
                _ => "PENDING",
            }),
            "account_mode" => json!("LIVE"),
            // Deprecated (v23 and older) for the portfolio's limit below;
            // both read the same here.
            "messaging_limit_tier" => json!(limit),
            "whatsapp_business_manager_messaging_limit" => json!(limit),
            "is_official_business_account" => json!(false),
            "is_pin_enabled" => json!(phone.pin.is_some()),
            "country_code" => json!("US"),
            "country_dial_code" => json!("1"),
            "health_status" => {
                let app_id = state.config().app_id.clone();
                accounts::health::of_phone(&state.world(), phone, &app_id, state.clock.now())
            }
            other => {
                return Err(GraphError::invalid_parameter(format!(
                    "Tried accessing nonexisting field ({other}) on node type (WhatsAppBusinessPhoneNumber)"
                )))
            }
        };
        out.insert(field.clone(), value);
    }
    out.insert("id".into(), json!(phone.id));
    Ok(Value::Object(out))
}

pub fn list(state: &State, request: &GraphRequest) -> GraphResult<Value> {
    let token = authorized(state, request)?;
    let waba_id = request.id().to_string();
    let phones: Vec<Phone> = {
        let world = state.world();
        if !world.wabas.contains_key(&waba_id) || !token.may_manage_waba(&waba_id) {
            return Err(request.unknown_object());
        }
        coexistence::check_access(&world, &waba_id)?;
        world.phones_of(&waba_id).cloned().collect()
    };
    let limit = request
        .param("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(25)
        .clamp(1, 100);
    let start = request
        .param("after")
        .and_then(|c| STANDARD.decode(c).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(0);
    let fields = request
        .fields()
        .unwrap_or_else(|| DEFAULT_FIELDS.iter().map(|f| f.to_string()).collect());
    let page: Vec<Value> = phones
        .iter()
        .skip(start)
        .take(limit)
        .map(|p| render(state, p, &fields))
        .collect::<GraphResult<_>>()?;
    let end = start + page.len();
    let mut paging = json!({ "cursors": {
        "before": STANDARD.encode(start.to_string()),
        "after": STANDARD.encode(end.saturating_sub(1).max(start).to_string()),
    }});
    if end < phones.len() {
        paging["cursors"]["after"] = json!(STANDARD.encode(end.to_string()));
        paging["next"] = json!(format!(
            "{}/v25.0/{waba_id}/phone_numbers?limit={limit}&after={}",
            state.base_url,
            STANDARD.encode(end.to_string())
        ));
    }
    Ok(json!({ "data": page, "paging": paging }))
}

fn registration_error(code: i64, title: &str, details: &str) -> GraphError {
    GraphError::whatsapp(StatusCode::BAD_REQUEST, code, title, details)
}

fn require_whatsapp_product(request: &GraphRequest) -> GraphResult<()> {
    match request.param("messaging_product").as_deref() {
        Some("whatsapp") => Ok(()),
        _ => Err(GraphError::invalid_parameter(
            "The parameter messaging_product is required.",
        )),
    }
}

fn valid_pin(request: &GraphRequest) -> GraphResult<String> {
    let pin = request
        .param("pin")
        .ok_or_else(|| GraphError::invalid_parameter("The parameter pin is required."))?;
    if pin.len() != 6 || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(GraphError::invalid_parameter(
            "Param pin must be a 6-digit number.",
        ));
    }
    Ok(pin)
}

/// Counts a register or deregister call; refuses it past the limit.
fn count_attempt(state: &State, phone_id: &str) -> GraphResult<()> {
    let now = state.clock.now();
    let mut world = state.world();
    let phone = world.phones.get_mut(phone_id).expect("checked by caller");
    phone
        .register_attempts
        .retain(|at| now - at < REGISTER_WINDOW_MS);
    if phone.register_attempts.len() >= REGISTER_LIMIT {
        return Err(registration_error(
            133016,
            "Account register deregister rate limit exceeded",
            "Registration or deregistration was attempted too many times. Try again in 72 hours.",
        ));
    }
    phone.register_attempts.push(now);
    Ok(())
}

pub fn register(state: &State, request: &GraphRequest) -> GraphResult<Value> {
    let token = authorized(state, request)?;
    let phone = visible_phone(state, request, &token)?;
    require_whatsapp_product(request)?;
    let pin = valid_pin(request)?;
    count_attempt(state, &phone.id)?;
    // Counted like any register call, then refused: Meta wants the number
    // verified (request_code, verify_code) before it registers.
    if !phone.verified {
        return Err(registration_error(
            133006,
            "Phone number re-verification needed",
            "Phone number needs to be verified before registering.",
        ));
    }
    let mut world = state.world();
    let phone = world.phones.get_mut(&phone.id).expect("exists");
    match &phone.pin {
        Some(current) if *current != pin => Err(registration_error(
            133005,
            "Two step verification PIN Mismatch",
            "The two-step verification PIN is incorrect.",
        )),
        _ => {
            phone.pin = Some(pin);
            phone.registered = true;
            Ok(json!({ "success": true }))
        }
    }
}

pub fn deregister(state: &State, request: &GraphRequest) -> GraphResult<Value> {
    let token = authorized(state, request)?;
    let phone = visible_phone(state, request, &token)?;
    count_attempt(state, &phone.id)?;
    let mut world = state.world();
    world.phones.get_mut(&phone.id).expect("exists").registered = false;
    Ok(json!({ "success": true }))
}

/// `POST /{phone-number-id}` with `{"pin": "..."}` sets the two-step PIN.
pub fn update(state: &State, request: &GraphRequest) -> GraphResult<Value> {
    let token = authorized(state, request)?;
    let phone = visible_phone(state, request, &token)?;
    let pin = valid_pin(request)?;
    let mut world = state.world();
    world.phones.get_mut(&phone.id).expect("exists").pin = Some(pin);
    Ok(json!({ "success": true }))
}
