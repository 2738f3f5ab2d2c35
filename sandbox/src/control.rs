//! The control API under `/_sandbox/` (JSON): what a test or a demo needs
//! to drive the world Meta would otherwise drive: grant codes, move the
//! clock, expire or revoke tokens, configure the callback, inject faults,
//! and read the webhook log.

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post, put},
    Json, Router,
};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{faults::Faults, oauth, webhooks, State as AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_sandbox/state", get(overview))
        .route(
            "/_sandbox/webhook",
            put(set_callback).delete(clear_callback),
        )
        .route("/_sandbox/app", put(set_app_settings))
        .route("/_sandbox/codes", post(grant_code))
        .route("/_sandbox/tokens/expire", post(expire_token))
        .route("/_sandbox/tokens/revoke", post(revoke_token))
        .route("/_sandbox/clock/advance", post(advance_clock))
        .route("/_sandbox/webhooks", get(delivery_log))
        .route("/_sandbox/webhooks/settle", post(settle_webhooks))
        .route("/_sandbox/webhooks/summary", get(delivery_summary))
        .route(
            "/_sandbox/faults",
            put(set_faults).get(get_faults).delete(clear_faults),
        )
        .route(
            "/_sandbox/phones/{phone_number_id}",
            get(phone_state).post(adjust_phone),
        )
        .route(
            "/_sandbox/phones/{phone_number_id}/throughput-upgrade",
            post(upgrade_throughput),
        )
        .route(
            "/_sandbox/phones/{phone_number_id}/errors",
            post(report_number_error),
        )
        .route("/_sandbox/wabas/{waba_id}/remove-app", post(remove_app))
        .route(
            "/_sandbox/templates/{template_id}/status",
            post(set_template_status),
        )
        .route(
            "/_sandbox/templates/{template_id}/quality",
            post(set_template_quality),
        )
        .route(
            "/_sandbox/templates/{template_id}/category",
            post(set_template_category),
        )
}

/// A control API error: `{"error": "..."}` with a 4xx status.
pub struct ControlError(StatusCode, String);

impl ControlError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self(StatusCode::BAD_REQUEST, message.into())
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self(StatusCode::NOT_FOUND, message.into())
    }
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

type ControlResult = Result<Json<Value>, ControlError>;

/// Parses a JSON body with a clear error instead of axum's plain text.
pub fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ControlError> {
    let body = if body.is_empty() {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body)
        .map_err(|e| ControlError::bad_request(format!("invalid JSON body: {e}")))
}

async fn overview(State(state): State<AppState>) -> Json<Value> {
    let config = state.config().clone();
    Json(json!({
        "app_id": config.app_id,
        "callback_url": config.callback_url,
        "require_app_secret": config.require_app_secret,
        "app": app_settings(&config),
        "graph_base_url": state.base_url,
        "demo": state.demo,
        "now": state.clock.now(),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallbackRequest {
    url: String,
    verify_token: Option<String>,
}

/// Sets the app's callback URL after the GET handshake, as Meta's app
/// dashboard does.
async fn set_callback(State(state): State<AppState>, body: axum::body::Bytes) -> ControlResult {
    let request: CallbackRequest = parse(&body)?;
    let verify_token = request
        .verify_token
        .unwrap_or_else(|| state.config().verify_token.clone());
    let challenge = state.rng().u64(..);
    webhooks::verify_callback(&request.url, &verify_token, challenge)
        .await
        .map_err(ControlError::bad_request)?;
    let mut config = state.config();
    config.callback_url = Some(request.url.clone());
    config.verify_token = verify_token;
    Ok(Json(
        json!({ "success": true, "callback_url": request.url }),
    ))
}

/// The app's settings a test may change; each is optional, what is left
/// out stays as it is.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct AppSettings {
    /// App settings, Advanced: *Require App Secret*.
    require_app_secret: Option<bool>,
    /// Facebook Login: *Valid OAuth Redirect URIs*.
    redirect_uris: Option<Vec<String>>,
    /// Sandbox only: every FB.login loses its code.
    fb_login_loses_code: Option<bool>,
    /// The login configuration's token expiration: `never` or `60_days`.
    token_expiry: Option<crate::tokens::TokenExpiry>,
    /// `allowed` or `refused` (refreshing business tokens is unconfirmed).
    token_refresh: Option<crate::tokens::TokenRefresh>,
}

/// The settings as `PUT /_sandbox/app` takes them.
fn app_settings(config: &crate::SandboxConfig) -> Value {
    json!({
        "require_app_secret": config.require_app_secret,
        "redirect_uris": config.redirect_uris,
        "fb_login_loses_code": config.fb_login_loses_code,
        "token_expiry": config.token_expiry,
        "token_refresh": config.token_refresh,
    })
}

/// The App Dashboard's settings: security (App settings, Advanced) and
/// Facebook Login's client OAuth settings.
async fn set_app_settings(State(state): State<AppState>, body: axum::body::Bytes) -> ControlResult {
    let settings: AppSettings = parse(&body)?;
    if let Some(uris) = &settings.redirect_uris {
        for uri in uris {
            let valid = url::Url::parse(uri)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.fragment().is_none());
            if !valid {
                return Err(ControlError::bad_request(format!(
                    "redirect_uris take absolute http(s) URLs without a fragment, not {uri:?}"
                )));
            }
        }
    }
    let mut config = state.config();
    if let Some(on) = settings.require_app_secret {
        config.require_app_secret = on;
    }
    if let Some(uris) = settings.redirect_uris {
        config.redirect_uris = uris;
    }
    if let Some(on) = settings.fb_login_loses_code {
        config.fb_login_loses_code = on;
    }
    if let Some(expiry) = settings.token_expiry {
        config.token_expiry = expiry;
    }
    if let Some(refresh) = settings.token_refresh {
        config.token_refresh = refresh;
    }
    Ok(Json(app_settings(&config)))
}

async fn clear_callback(State(state): State<AppState>) -> Json<Value> {
    state.config().callback_url = None;
    Json(json!({ "success": true }))
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct CodeRequest {
    business_id: Option<String>,
    waba_ids: Option<Vec<String>>,
}

/// Grants a code as finishing Embedded Signup would.
async fn grant_code(State(state): State<AppState>, body: axum::body::Bytes) -> ControlResult {
    let request: CodeRequest = parse(&body)?;
    let demo = state.demo.clone();
    let business_id = request
        .business_id
        .or_else(|| demo.as_ref().map(|d| d.business_id.clone()))
        .ok_or_else(|| ControlError::bad_request("business_id is required (no demo business)"))?;
    let waba_ids = request
        .waba_ids
        .or_else(|| demo.as_ref().map(|d| vec![d.waba_id.clone()]))
        .unwrap_or_default();
    let now = state.clock.now();
    let mut world = state.world();
    if !world.businesses.contains_key(&business_id) {
        return Err(ControlError::not_found(format!(
            "no business {business_id}"
        )));
    }
    let code = oauth::issue_code(&mut world, &mut state.rng(), now, &business_id, waba_ids);
    Ok(Json(json!({ "code": code })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    token: String,
    /// Seconds from now until it expires (0 or absent: now).
    #[serde(default)]
    in_seconds: i64,
}

async fn expire_token(State(state): State<AppState>, body: axum::body::Bytes) -> ControlResult {
    let request: TokenRequest = parse(&body)?;
    let at = state.clock.now() + request.in_seconds.max(0) * 1000;
    let mut world = state.world();
    let token = world
        .tokens
        .get_mut(&request.token)
        .ok_or_else(|| ControlError::not_found("no such token"))?;
    token.expires_at = Some(at);
    Ok(Json(json!({ "success": true, "expires_at": at / 1000 })))
}

async fn revoke_token(State(state): State<AppState>, body: axum::body::Bytes) -> ControlResult {
    let request: TokenRequest = parse(&body)?;
    let mut world = state.world();
    let token = world
        .tokens
        .get_mut(&request.token)
        .ok_or_else(|| ControlError::not_found("no such token"))?;
    token.revoked = true;
    Ok(Json(json!({ "success": true })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceRequest {
    seconds: i64,
}

async fn advance_clock(State(state): State<AppState>, body: axum::body::Bytes) -> ControlResult {
    let request: AdvanceRequest = parse(&body)?;
    if request.seconds < 0 {
        return Err(ControlError::bad_request("the clock only moves forward"));
    }
    state.clock.advance(request.seconds * 1000);
    Ok(Json(json!({ "now": state.clock.now() })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PhoneAdjustment {
    throughput: Option<u32>,
    quality_rating: Option<String>,
}

/// A number as the sandbox holds it, profile included (what a test checks
/// after the app changed it).
async fn phone_state(
    State(state): State<AppState>,
    axum::extract::Path(phone_id): axum::extract::Path<String>,
) -> ControlResult {
    let world = state.world();
    let phone = world
        .phones
        .get(&phone_id)
        .ok_or_else(|| ControlError::not_found(format!("no phone number {phone_id}")))?;
    let profile = &phone.profile;
    let coexistence = phone.coexistence.as_ref().map(|link| {
        json!({
            "state": link.state,
            "onboarded_at": link.onboarded_at,
            "share_history": link.share_history,
            "synced": link.synced,
            "contacts": link.contacts,
            "history_messages_pending": link.history.len(),
        })
    });
    let mut held = json!({
        "id": phone.id,
        "registered": phone.registered,
        "throughput_mps": phone.throughput,
        "coexistence": coexistence,
        "profile": {
            "about": profile.about, "address": profile.address, "description": profile.description,
            "email": profile.email, "websites": profile.websites, "vertical": profile.vertical,
            "profile_picture_handle": profile.profile_picture_handle,
        },
        "upload_handles": world.upload_handles,
    });
    if let (Some(held), Value::Object(verification)) = (
        held.as_object_mut(),
        crate::verification::control_view(phone),
    ) {
        held.extend(verification);
    }
    Ok(Json(held))
}

/// Changes what Meta would change about a number (its throughput tier,
/// its quality rating).
async fn adjust_phone(
    State(state): State<AppState>,
    axum::extract::Path(phone_id): axum::extract::Path<String>,
    body: axum::body::Bytes,
) -> ControlResult {
    let request: PhoneAdjustment = parse(&body)?;
    let mut world = state.world();
    let phone = world
        .phones
        .get_mut(&phone_id)
        .ok_or_else(|| ControlError::not_found(format!("no phone number {phone_id}")))?;
    if let Some(throughput) = request.throughput {
        phone.throughput = throughput;
    }
    if let Some(rating) = request.quality_rating {
        phone.quality_rating = rating;
    }
    Ok(Json(json!({ "success": true })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NumberErrorReport {
    code: i64,
    title: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    details: Option<String>,
}

/// Meta reports an error about the number as a whole: a `messages` change
/// whose value holds `errors` and no message or status (reference
/// meta-2026 §5; 131060 seen after coexistence onboarding).
async fn report_number_error(
    State(state): State<AppState>,
    axum::extract::Path(phone_id): axum::extract::Path<String>,
    body: axum::body::Bytes,
) -> ControlResult {
    let report: NumberErrorReport = parse(&body)?;
    let phone = state
        .world()
        .phones
        .get(&phone_id)
        .cloned()
        .ok_or_else(|| ControlError::not_found(format!("no phone number {phone_id}")))?;
    let mut error = json!({
        "code": report.code,
        "title": report.title,
        "message": report.message.unwrap_or_else(|| report.title.clone()),
    });
    if let Some(details) = report.details {
        error["error_data"] = json!({ "details": details });
    }
    state.webhooks.send(webhooks::Change::messages(
        &phone,
        json!({ "errors": [error] }),
    ));
    Ok(Json(json!({ "success": true, "error": error })))
}

/// Meta's level for an upgraded number (reference meta-2026 §7).
const UPGRADED_THROUGHPUT: u32 = 1000;

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct ThroughputUpgrade {
    /// How long the upgrade takes (Meta: up to a minute); 1 s by default.
    takes_ms: Option<u64>,
}

/// Meta raises a number to 1,000 messages/s: for `takes_ms` its sends are
/// refused with 131057, then the new level holds and a
/// `phone_number_quality_update` with `THROUGHPUT_UPGRADE` goes out.
async fn upgrade_throughput(
    State(state): State<AppState>,
    axum::extract::Path(phone_id): axum::extract::Path<String>,
    body: axum::body::Bytes,
) -> ControlResult {
    let request: ThroughputUpgrade = parse(&body)?;
    // At most Meta's minute (and no overflow from a huge value).
    let takes = request.takes_ms.unwrap_or(1_000).min(60_000);
    let until = state.clock.now() + takes as i64;
    {
        let mut world = state.world();
        let phone = world
            .phones
            .get_mut(&phone_id)
            .ok_or_else(|| ControlError::not_found(format!("no phone number {phone_id}")))?;
        phone.upgrading_until = Some(until);
    }
    // Settling waits for the webhook this announces.
    let announcing = state.webhooks.in_flight.hold();
    let upgrading = state.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(takes)).await;
        let done = {
            let mut world = upgrading.world();
            world.phones.get_mut(&phone_id).map(|phone| {
                phone.upgrading_until = None;
                phone.throughput = UPGRADED_THROUGHPUT;
                (phone.waba_id.clone(), phone.display_phone_number.clone())
            })
        };
        if let Some((waba_id, display)) = done {
            upgrading.webhooks.send(webhooks::Change {
                waba_id,
                field: "phone_number_quality_update".into(),
                value: json!({
                    "display_phone_number": display,
                    "event": "THROUGHPUT_UPGRADE",
                    "max_daily_conversations_per_business": "TIER_UNLIMITED",
                }),
            });
        }
        drop(announcing);
    });
    Ok(Json(json!({ "success": true, "upgrading_until": until })))
}

/// The business removes the app in its Business Settings: every token
/// that reached the WABA stops working, and the app hears of it through an
/// `account_update` webhook (`PARTNER_APP_UNINSTALLED`).
#[derive(Deserialize)]
struct TemplateStatus {
    status: String,
    reason: Option<String>,
}

/// Decides a template as Meta's review (or its quality checks) would:
/// APPROVED, REJECTED (with a reason), PAUSED, DISABLED...; the webhook
/// follows.
async fn set_template_status(
    State(state): State<AppState>,
    axum::extract::Path(template_id): axum::extract::Path<String>,
    body: axum::body::Bytes,
) -> ControlResult {
    let request: TemplateStatus = parse(&body)?;
    const STATUSES: [&str; 8] = [
        "APPROVED",
        "REJECTED",
        "PAUSED",
        "DISABLED",
        "PENDING",
        "IN_APPEAL",
        "FLAGGED",
        "REINSTATED",
    ];
    let status = request.status.to_ascii_uppercase();
    if !STATUSES.contains(&status.as_str()) {
        return Err(ControlError::bad_request(format!(
            "status must be one of {}",
            STATUSES.join(", ")
        )));
    }
    // FLAGGED and REINSTATED are events only; the template stays usable.
    let stored = match status.as_str() {
        "FLAGGED" | "REINSTATED" => "APPROVED",
        other => other,
    };
    let announced =
        crate::templates::set_status(&state, &template_id, stored, request.reason.as_deref())
            .ok_or_else(|| ControlError::not_found(format!("no template {template_id}")))?;
    Ok(Json(json!({ "success": true, "webhook": announced })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateQuality {
    score: String,
}

/// Rescores a template (GREEN, YELLOW, RED, UNKNOWN); the webhook follows.
async fn set_template_quality(
    State(state): State<AppState>,
    axum::extract::Path(template_id): axum::extract::Path<String>,
    body: axum::body::Bytes,
) -> ControlResult {
    let request: TemplateQuality = parse(&body)?;
    let score = request.score.to_uppercase();
    if !["GREEN", "YELLOW", "RED", "UNKNOWN"].contains(&score.as_str()) {
        return Err(ControlError::bad_request(
            "score must be one of GREEN, YELLOW, RED, UNKNOWN",
        ));
    }
    let announced = crate::templates::set_quality(&state, &template_id, &score)
        .ok_or_else(|| ControlError::not_found(format!("no template {template_id}")))?;
    Ok(Json(json!({ "success": true, "webhook": announced })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateCategory {
    category: String,
}

/// Recategorises a template (AUTHENTICATION, MARKETING, UTILITY); the
/// webhook follows.
async fn set_template_category(
    State(state): State<AppState>,
    axum::extract::Path(template_id): axum::extract::Path<String>,
    body: axum::body::Bytes,
) -> ControlResult {
    let request: TemplateCategory = parse(&body)?;
    let category = request.category.to_uppercase();
    if !["AUTHENTICATION", "MARKETING", "UTILITY"].contains(&category.as_str()) {
        return Err(ControlError::bad_request(
            "category must be one of AUTHENTICATION, MARKETING, UTILITY",
        ));
    }
    let announced = crate::templates::set_category(&state, &template_id, &category)
        .ok_or_else(|| ControlError::not_found(format!("no template {template_id}")))?;
    Ok(Json(json!({ "success": true, "webhook": announced })))
}

async fn remove_app(
    State(state): State<AppState>,
    axum::extract::Path(waba_id): axum::extract::Path<String>,
) -> ControlResult {
    let (revoked, owner) = {
        let mut world = state.world();
        let owner = world
            .wabas
            .get(&waba_id)
            .map(|w| w.business_id.clone())
            .ok_or_else(|| ControlError::not_found(format!("no WABA {waba_id}")))?;
        let mut revoked = 0;
        for token in world.tokens.values_mut() {
            if token.may_manage_waba(&waba_id) && !token.revoked {
                token.revoked = true;
                revoked += 1;
            }
        }
        (revoked, owner)
    };
    state.webhooks.send(webhooks::Change {
        waba_id: waba_id.clone(),
        field: "account_update".into(),
        value: json!({
            "event": "PARTNER_APP_UNINSTALLED",
            "waba_info": { "waba_id": waba_id, "owner_business_id": owner },
        }),
    });
    Ok(Json(json!({ "success": true, "revoked_tokens": revoked })))
}

#[derive(Deserialize)]
struct Settle {
    #[serde(default = "default_settle_ms")]
    timeout_ms: u64,
}

fn default_settle_ms() -> u64 {
    10_000
}

/// Waits until every webhook queued so far has been answered 200 or given
/// up: 200 `{"in_flight": 0}`, or 504 with what is still in flight.
async fn settle_webhooks(State(state): State<AppState>, body: axum::body::Bytes) -> Response {
    let settle: Settle = if body.is_empty() {
        Settle {
            timeout_ms: default_settle_ms(),
        }
    } else {
        match parse(&body) {
            Ok(settle) => settle,
            Err(error) => return error.into_response(),
        }
    };
    let in_flight = &state.webhooks.in_flight;
    let limit = std::time::Duration::from_millis(settle.timeout_ms);
    let status = match tokio::time::timeout(limit, in_flight.settled()).await {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::GATEWAY_TIMEOUT,
    };
    (status, Json(json!({ "in_flight": in_flight.count() }))).into_response()
}

async fn delivery_log(State(state): State<AppState>) -> Json<Value> {
    let world = state.world();
    Json(json!({ "attempts": world.deliveries }))
}

/// The delivery log in figures, without bodies: deliveries made (each
/// duplicate is its own), those the callback answered 200, those still
/// being retried, and those given up after the last retry.
async fn delivery_summary(State(state): State<AppState>) -> Json<Value> {
    let in_flight = state.webhooks.in_flight.count();
    let world = state.world();
    let mut acknowledged = std::collections::HashSet::new();
    let mut seen = std::collections::HashSet::new();
    for attempt in &world.deliveries {
        seen.insert(attempt.delivery_id);
        if attempt.status == Some(200) {
            acknowledged.insert(attempt.delivery_id);
        }
    }
    let unanswered = seen.len() - acknowledged.len();
    Json(json!({
        "deliveries": seen.len(),
        "acknowledged": acknowledged.len(),
        "attempts": world.deliveries.len(),
        // Deliveries in flight are counted in `unanswered` until answered.
        "in_flight": in_flight,
        "unanswered": unanswered,
    }))
}

async fn set_faults(State(state): State<AppState>, body: axum::body::Bytes) -> ControlResult {
    let faults: Faults = parse(&body)?;
    for probability in [faults.duplicate_webhooks, faults.reorder_webhooks] {
        if !(0.0..=1.0).contains(&probability) {
            return Err(ControlError::bad_request(
                "probabilities are between 0 and 1",
            ));
        }
    }
    *state.faults_mut() = faults.clone();
    Ok(Json(json!({ "faults": faults })))
}

async fn get_faults(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "faults": state.faults() }))
}

async fn clear_faults(State(state): State<AppState>) -> Json<Value> {
    *state.faults_mut() = Faults::default();
    Json(json!({ "faults": Faults::default() }))
}
