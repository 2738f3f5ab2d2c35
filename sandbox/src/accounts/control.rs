//! Control calls (`/_sandbox/wabas/{waba_id}/...` and a number's
//! `name-review`) by which a test plays Meta's policy, partner and billing
//! teams: restrict a WABA for a while, ban or reinstate it, read its
//! standing, announce the other `account_update` events, change the
//! portfolio's limits, and decide a number's display name. Each is sent in Meta's shape, built here, so a
//! test cannot hand the app a payload Meta would never send.

use axum::{
    body::Bytes,
    extract::{Path, State},
    routing::{get, post},
    Json, Router,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{Ban, BanState, Limit, NameStatus, Restriction, RestrictionType};
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
        .route(
            "/_sandbox/wabas/{waba_id}/account-update",
            post(announce_event),
        )
        .route("/_sandbox/wabas/{waba_id}/capability", post(set_capability))
        .route(
            "/_sandbox/phones/{phone_number_id}/name-review",
            post(review_name),
        )
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
    let (phone_number_ids, limits) = {
        let world = state.world();
        let ids: Vec<String> = world.phones_of(&waba_id).map(|p| p.id.clone()).collect();
        let limits = world
            .businesses
            .get(&waba.business_id)
            .map(|b| b.limits.clone());
        (ids, limits)
    };
    Ok(Json(json!({
        "id": waba.id,
        "name": waba.name,
        "owner_business_id": waba.business_id,
        "phone_number_ids": phone_number_ids,
        "max_daily_conversations_per_business": limits.as_ref().map(|l| &l.messaging),
        "max_phone_numbers_per_business": limits.as_ref().and_then(|l| l.max_phone_numbers),
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CapabilityRequest {
    /// 250, 2000, 10000, 100000, -1 (unlimited) or a `TIER_*` name.
    max_daily_conversations_per_business: Limit,
    max_phone_numbers_per_business: Option<i64>,
}

/// Meta changes the portfolio's limits: what every number of the
/// portfolio reads as its messaging limit changes at once, and each of
/// the portfolio's WABAs gets a `business_capability_update` carrying the
/// limit exactly as given (Meta's samples use both integers and tiers).
async fn set_capability(
    State(state): State<AppState>,
    Path(waba_id): Path<String>,
    body: Bytes,
) -> ControlResult {
    let request: CapabilityRequest = parse(&body)?;
    let limit = request
        .max_daily_conversations_per_business
        .checked()
        .map_err(ControlError::bad_request)?;
    if request
        .max_phone_numbers_per_business
        .is_some_and(|n| n < 1)
    {
        return Err(ControlError::bad_request(
            "max_phone_numbers_per_business is at least 1",
        ));
    }
    let waba = waba_of(&state, &waba_id)?;
    let (limits, waba_ids) = {
        let mut world = state.world();
        let business = world
            .businesses
            .get_mut(&waba.business_id)
            .ok_or_else(|| ControlError::not_found(format!("no business {}", waba.business_id)))?;
        business.limits.messaging = limit;
        if let Some(cap) = request.max_phone_numbers_per_business {
            business.limits.max_phone_numbers = Some(cap);
        }
        let limits = business.limits.clone();
        let waba_ids: Vec<String> = world
            .wabas
            .values()
            .filter(|w| w.business_id == waba.business_id)
            .map(|w| w.id.clone())
            .collect();
        (limits, waba_ids)
    };
    let mut value = json!({ "max_daily_conversations_per_business": limits.messaging });
    if let Some(cap) = limits.max_phone_numbers {
        value["max_phone_numbers_per_business"] = json!(cap);
    }
    for id in waba_ids {
        state.webhooks.send(Change {
            waba_id: id,
            field: "business_capability_update".into(),
            value: value.clone(),
        });
    }
    Ok(Json(json!({
        "success": true,
        "messaging_limit": limits.messaging.tier(),
        "webhook": value,
    })))
}

/// `decision` of `phone_number_name_update`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum Decision {
    Approved,
    Deferred,
    Rejected,
}

impl Decision {
    /// What the number's `name_status` then reads.
    fn name_status(self) -> NameStatus {
        match self {
            Self::Approved => NameStatus::Approved,
            Self::Deferred => NameStatus::PendingReview,
            Self::Rejected => NameStatus::Declined,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NameReview {
    decision: Decision,
    requested_verified_name: String,
    /// Only for REJECTED, and required there.
    rejection_reason: Option<String>,
}

/// Meta decides a number's display name: an approved name becomes its
/// `verified_name`; `name_status` reads APPROVED, PENDING_REVIEW
/// (deferred) or DECLINED; a `phone_number_name_update` follows, with
/// `rejection_reason` null unless rejected.
async fn review_name(
    State(state): State<AppState>,
    Path(phone_id): Path<String>,
    body: Bytes,
) -> ControlResult {
    let review: NameReview = parse(&body)?;
    let name = review.requested_verified_name.trim();
    if name.is_empty() {
        return Err(ControlError::bad_request(
            "requested_verified_name must not be empty",
        ));
    }
    match (review.decision, &review.rejection_reason) {
        (Decision::Rejected, None) => {
            return Err(ControlError::bad_request(
                "a REJECTED decision needs a rejection_reason",
            ))
        }
        (Decision::Approved | Decision::Deferred, Some(_)) => {
            return Err(ControlError::bad_request(
                "rejection_reason goes only with REJECTED",
            ))
        }
        _ => {}
    }
    let phone = {
        let mut world = state.world();
        let phone = world
            .phones
            .get_mut(&phone_id)
            .ok_or_else(|| ControlError::not_found(format!("no phone number {phone_id}")))?;
        phone.name_status = review.decision.name_status();
        if review.decision == Decision::Approved {
            phone.verified_name = name.to_string();
        }
        phone.clone()
    };
    let value = json!({
        "display_phone_number": phone.display_phone_number,
        "decision": review.decision,
        "requested_verified_name": name,
        "rejection_reason": review.rejection_reason,
    });
    state.webhooks.send(Change {
        waba_id: phone.waba_id.clone(),
        field: "phone_number_name_update".into(),
        value: value.clone(),
    });
    Ok(Json(json!({
        "success": true,
        "name_status": phone.name_status,
        "webhook": value,
    })))
}

/// The `account_update` events without a call of their own, each with the
/// keys a test may give (reference meta-2026 §3.1).
#[derive(Deserialize)]
#[serde(
    tag = "event",
    rename_all = "SCREAMING_SNAKE_CASE",
    deny_unknown_fields
)]
enum AccountEvent {
    AccountViolation {
        violation_type: String,
        remediation: Option<String>,
    },
    AccountDeleted {},
    PartnerAdded {},
    PartnerAppInstalled {},
    VolumeBasedPricingTierUpdate {
        pricing_category: String,
        tier: String,
        effective_month: String,
        region: Option<String>,
    },
    AuthIntlPriceEligibilityUpdate {
        /// Unix seconds; the sandbox clock's now if absent.
        start_time: Option<i64>,
        #[serde(default)]
        exception_countries: Vec<ExceptionCountry>,
    },
}

#[derive(Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct ExceptionCountry {
    country_code: String,
    start_time: i64,
}

/// Volume tiers are per pricing category (reference meta-2026 §4).
const TIERED_CATEGORIES: [&str; 3] = ["UTILITY", "AUTHENTICATION", "AUTHENTICATION_INTERNATIONAL"];

/// `25000001:50000000`: the tier's first and last message; the top tier
/// may leave the end open (`50000001:`).
fn valid_tier(tier: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match tier.split_once(':') {
        Some((start, "")) => digits(start),
        Some((start, end)) => {
            digits(start) && digits(end) && start.parse::<u64>().ok() <= end.parse::<u64>().ok()
        }
        None => false,
    }
}

/// `2026-12`.
fn valid_month(month: &str) -> bool {
    match month.split_once('-') {
        Some((year, month)) => {
            year.len() == 4
                && year.bytes().all(|b| b.is_ascii_digit())
                && month.parse::<u32>().is_ok_and(|m| (1..=12).contains(&m))
                && month.len() == 2
        }
        None => false,
    }
}

impl AccountEvent {
    /// The webhook's value, in Meta's shape, or why the event is malformed.
    fn value(self, waba: &Waba, app_id: &str, now_secs: i64) -> Result<Value, String> {
        Ok(match self {
            Self::AccountViolation {
                violation_type,
                remediation,
            } => {
                if violation_type.trim().is_empty() {
                    return Err("violation_type must not be empty".into());
                }
                let mut info = json!({ "violation_type": violation_type });
                if let Some(remediation) = remediation {
                    info["remediation"] = json!(remediation);
                }
                json!({ "event": "ACCOUNT_VIOLATION", "violation_info": info })
            }
            Self::AccountDeleted {} => json!({ "event": "ACCOUNT_DELETED" }),
            Self::PartnerAdded {} => {
                json!({ "event": "PARTNER_ADDED", "waba_info": waba_info(waba) })
            }
            Self::PartnerAppInstalled {} => {
                let mut info = waba_info(waba);
                info["partner_app_id"] = json!(app_id);
                json!({ "event": "PARTNER_APP_INSTALLED", "waba_info": info })
            }
            Self::VolumeBasedPricingTierUpdate {
                pricing_category,
                tier,
                effective_month,
                region,
            } => {
                if !TIERED_CATEGORIES.contains(&pricing_category.as_str()) {
                    return Err(format!(
                        "pricing_category is one of {}",
                        TIERED_CATEGORIES.join(", ")
                    ));
                }
                if !valid_tier(&tier) {
                    return Err("tier is written \"25000001:50000000\"".into());
                }
                if !valid_month(&effective_month) {
                    return Err("effective_month is written \"2026-12\"".into());
                }
                let mut info = json!({
                    "tier_update_time": now_secs,
                    "pricing_category": pricing_category,
                    "tier": tier,
                    "effective_month": effective_month,
                });
                if let Some(region) = region {
                    info["region"] = json!(region);
                }
                json!({ "event": "VOLUME_BASED_PRICING_TIER_UPDATE", "volume_tier_info": info })
            }
            Self::AuthIntlPriceEligibilityUpdate {
                start_time,
                exception_countries,
            } => {
                let malformed = exception_countries.iter().any(|c| {
                    c.country_code.len() != 2
                        || !c.country_code.bytes().all(|b| b.is_ascii_uppercase())
                });
                if malformed {
                    return Err("exception_countries[].country_code is ISO 3166 (\"IN\")".into());
                }
                json!({
                    "event": "AUTH_INTL_PRICE_ELIGIBILITY_UPDATE",
                    "auth_international_rate_eligibility": {
                        "start_time": start_time.unwrap_or(now_secs),
                        "exception_countries": exception_countries,
                    },
                })
            }
        })
    }
}

/// Announces one of the other `account_update` events, built by the
/// sandbox in Meta's shape: ACCOUNT_VIOLATION, ACCOUNT_DELETED,
/// PARTNER_ADDED, PARTNER_APP_INSTALLED, VOLUME_BASED_PRICING_TIER_UPDATE,
/// AUTH_INTL_PRICE_ELIGIBILITY_UPDATE. Only the webhook: what the event
/// would change at Meta (a deleted account, say) is not played out.
async fn announce_event(
    State(state): State<AppState>,
    Path(waba_id): Path<String>,
    body: Bytes,
) -> ControlResult {
    let event: AccountEvent = parse(&body)?;
    let waba = waba_of(&state, &waba_id)?;
    let app_id = state.config().app_id.clone();
    let value = event
        .value(&waba, &app_id, state.clock.now() / 1000)
        .map_err(ControlError::bad_request)?;
    state.webhooks.send(account_update(&waba_id, value.clone()));
    Ok(Json(json!({ "success": true, "webhook": value })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_take_only_their_own_keys() {
        let parse = |body: Value| serde_json::from_value::<AccountEvent>(body);
        assert!(parse(json!({ "event": "ACCOUNT_DELETED" })).is_ok());
        assert!(parse(json!({ "event": "ACCOUNT_DELETED", "violation_type": "X" })).is_err());
        assert!(parse(json!({ "event": "ACCOUNT_VIOLATION" })).is_err());
        assert!(parse(json!({ "event": "ACCOUNT_RESTRICTION" })).is_err());
        assert!(parse(json!({ "event": "SOMETHING_NEW" })).is_err());
    }

    #[test]
    fn tiers_and_months_are_metas_shapes() {
        assert!(valid_tier("25000001:50000000"));
        assert!(valid_tier("50000001:"));
        assert!(!valid_tier("50:25"));
        assert!(!valid_tier("lots"));
        assert!(valid_month("2026-12"));
        assert!(!valid_month("2026-13"));
        assert!(!valid_month("Dec 2026"));
    }
}
