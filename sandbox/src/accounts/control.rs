//! Control calls under `/_sandbox/wabas/{waba_id}/...` by which a test
//! plays Meta's policy and account teams: restrict a WABA for a while, ban
//! or reinstate it, and read its standing. Each decision is announced with
//! the `account_update` webhook Meta sends for it.

use axum::{
    body::Bytes,
    extract::{Path, State},
    routing::{get, post},
    Json, Router,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{Ban, BanState, Restriction, RestrictionType};
use crate::{
    clock::{rfc3339, Date},
    control::{parse, ControlError},
    webhooks::Change,
    world::Waba,
    State as AppState,
};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_sandbox/wabas/{waba_id}", get(waba_state))
        .route("/_sandbox/wabas/{waba_id}/restrictions", post(restrict))
        .route("/_sandbox/wabas/{waba_id}/ban", post(ban))
}

type ControlResult = Result<Json<Value>, ControlError>;

/// The WABA a control call names.
fn waba_of(state: &AppState, waba_id: &str) -> Result<Waba, ControlError> {
    state
        .world()
        .wabas
        .get(waba_id)
        .cloned()
        .ok_or_else(|| ControlError::not_found(format!("no WABA {waba_id}")))
}

/// An `account_update` change; the entry is the WABA's.
fn account_update(waba_id: &str, value: Value) -> Change {
    Change {
        waba_id: waba_id.to_string(),
        field: "account_update".into(),
        value,
    }
}

fn waba_info(waba: &Waba) -> Value {
    json!({ "waba_id": waba.id, "owner_business_id": waba.business_id })
}

/// The WABA as Meta holds it: restrictions still in force (by the sandbox
/// clock), the last ban decision, and whether its numbers may send at all.
async fn waba_state(State(state): State<AppState>, Path(waba_id): Path<String>) -> ControlResult {
    let waba = waba_of(&state, &waba_id)?;
    let now = state.clock.now();
    let restrictions: Vec<Value> = waba
        .standing
        .active(now)
        .map(|r| {
            let mut info = r.info();
            info["until"] = json!(rfc3339(r.expiration * 1000));
            info
        })
        .collect();
    let phone_number_ids: Vec<String> = state
        .world()
        .phones_of(&waba_id)
        .map(|p| p.id.clone())
        .collect();
    Ok(Json(json!({
        "id": waba.id,
        "name": waba.name,
        "owner_business_id": waba.business_id,
        "phone_number_ids": phone_number_ids,
        "restrictions": restrictions,
        "ban_info": waba.standing.ban.as_ref().map(Ban::info),
        "sending_disabled": waba.standing.disabled(),
    })))
}

/// Longest restriction the sandbox takes: ten years (and no overflow).
const MAX_RESTRICTION_SECS: i64 = 10 * 365 * 24 * 60 * 60;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RestrictionRequest {
    restriction_type: RestrictionType,
    for_seconds: i64,
    remediation: Option<String>,
}

/// Meta restricts the WABA for `for_seconds`: sends of the kind the type
/// names are refused with 368 until the expiration, and the app hears of
/// it by an `account_update` `ACCOUNT_RESTRICTION` listing the WABA's
/// restrictions in force. Nothing announces the lift; it just lapses.
async fn restrict(
    State(state): State<AppState>,
    Path(waba_id): Path<String>,
    body: Bytes,
) -> ControlResult {
    let request: RestrictionRequest = parse(&body)?;
    if !(1..=MAX_RESTRICTION_SECS).contains(&request.for_seconds) {
        return Err(ControlError::bad_request(format!(
            "for_seconds is between 1 and {MAX_RESTRICTION_SECS}"
        )));
    }
    let now = state.clock.now();
    let restriction = Restriction {
        kind: request.restriction_type,
        expiration: now / 1000 + request.for_seconds,
        remediation: request.remediation,
    };
    let expiration = restriction.expiration;
    let waba = {
        let mut world = state.world();
        let waba = world
            .wabas
            .get_mut(&waba_id)
            .ok_or_else(|| ControlError::not_found(format!("no WABA {waba_id}")))?;
        waba.standing.restrict(restriction, now);
        waba.clone()
    };
    let restriction_info: Vec<Value> = waba.standing.active(now).map(Restriction::info).collect();
    state.webhooks.send(account_update(
        &waba_id,
        json!({
            "event": "ACCOUNT_RESTRICTION",
            "waba_info": waba_info(&waba),
            "restriction_info": restriction_info,
        }),
    ));
    Ok(Json(json!({ "success": true, "expiration": expiration })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BanRequest {
    state: BanState,
    /// `January 2, 2027`; the sandbox clock's day if absent.
    date: Option<String>,
}

/// Meta disables the WABA, reinstates it, or schedules it for disabling:
/// an `account_update` `DISABLED_UPDATE` with `ban_info` follows. While
/// disabled, every send from its numbers gets 131031.
async fn ban(
    State(state): State<AppState>,
    Path(waba_id): Path<String>,
    body: Bytes,
) -> ControlResult {
    let request: BanRequest = parse(&body)?;
    let date = match request.date.as_deref() {
        Some(text) => Date::parse_long(text).ok_or_else(|| {
            ControlError::bad_request("date is written as Meta does: \"January 2, 2027\"")
        })?,
        None => Date::of(state.clock.now()),
    };
    let ban = Ban {
        state: request.state,
        date,
    };
    let ban_info = ban.info();
    {
        let mut world = state.world();
        let waba = world
            .wabas
            .get_mut(&waba_id)
            .ok_or_else(|| ControlError::not_found(format!("no WABA {waba_id}")))?;
        waba.standing.ban = Some(ban);
    }
    state.webhooks.send(account_update(
        &waba_id,
        json!({ "event": "DISABLED_UPDATE", "ban_info": ban_info }),
    ));
    Ok(Json(json!({ "success": true, "ban_info": ban_info })))
}
