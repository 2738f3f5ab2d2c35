//! Numbers still to verify (reference meta-platform §4; ES v3/v4 may end
//! with an unverified number): `POST /{pnid}/request_code` sends a fresh
//! 6-digit code by SMS or voice, `POST /{pnid}/verify_code` checks it, and
//! until then `code_verification_status` reads NOT_VERIFIED and
//! `/register` is refused. A test reads the code Meta "sent" from `GET
//! /_sandbox/phones/{id}`, and adds numbers (verified or not) to a WABA
//! with `POST /_sandbox/wabas/{waba_id}/phones`.
//!
//! Unconfirmed (no Meta source found): the code's lifetime, the request
//! limits, and the error codes 136024 (too many code requests), 136025
//! (wrong code), 136023 (too many wrong codes) and 136026 (no valid code:
//! expired, used up, or never requested). 133006 for registering an
//! unverified number is Meta's "re-verification needed" code.

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::StatusCode,
    routing::post,
    Json, Router,
};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{
    control::{parse, ControlError},
    error::{GraphError, GraphResult},
    graph::{authorized, GraphRequest},
    ids, phones,
    world::{Millis, Phone, DAY_MS},
    State as AppState,
};

/// How long a code stays good (unconfirmed; SMS codes commonly live
/// minutes).
pub const CODE_TTL_MS: Millis = 10 * 60 * 1000;
/// At least this long between two code requests.
const REQUEST_GAP_MS: Millis = 60 * 1000;
/// At most this many code requests per number in a moving day.
const REQUESTS_PER_DAY: usize = 5;
/// Wrong guesses that use a code up.
const WRONG_GUESSES: u32 = 5;

/// The verification codes of one number.
#[derive(Debug, Clone, Default)]
pub struct Codes {
    pub current: Option<Code>,
    /// When codes were requested, for the limits.
    pub requested: Vec<Millis>,
}

#[derive(Debug, Clone)]
pub struct Code {
    pub digits: String,
    pub method: String,
    pub issued_at: Millis,
    pub wrong_guesses: u32,
}

impl Code {
    pub fn expires_at(&self) -> Millis {
        self.issued_at + CODE_TTL_MS
    }
}

/// `code_verification_status`. Meta's OpenAPI file writes UNVERIFIED, its
/// pages NOT_VERIFIED; the sandbox answers NOT_VERIFIED.
pub fn status(phone: &Phone) -> &'static str {
    if phone.verified {
        "VERIFIED"
    } else {
        "NOT_VERIFIED"
    }
}

fn verification_error(status: StatusCode, code: i64, title: &str, details: &str) -> GraphError {
    GraphError::whatsapp(status, code, title, details)
}

pub fn request_code(state: &AppState, request: &GraphRequest) -> GraphResult<Value> {
    let token = authorized(state, request)?;
    let phone = phones::visible_phone(state, request, &token)?;
    let method = request.param("code_method").unwrap_or_default();
    if !["SMS", "VOICE"].contains(&method.as_str()) {
        return Err(GraphError::invalid_parameter(
            "Param code_method must be one of {SMS, VOICE}.",
        ));
    }
    if request
        .param("language")
        .is_none_or(|l| l.trim().is_empty())
    {
        return Err(GraphError::invalid_parameter(
            "The parameter language is required (for example en_US).",
        ));
    }
    let now = state.clock.now();
    let digits = format!("{:06}", state.rng().u32(0..1_000_000));
    let mut world = state.world();
    let codes = &mut world
        .phones
        .get_mut(&phone.id)
        .expect("visible")
        .verification;
    codes.requested.retain(|at| now - at < DAY_MS);
    let too_soon = codes
        .requested
        .last()
        .is_some_and(|at| now - at < REQUEST_GAP_MS);
    if too_soon || codes.requested.len() >= REQUESTS_PER_DAY {
        return Err(verification_error(
            StatusCode::TOO_MANY_REQUESTS,
            136024,
            "Request code error",
            "Too many verification code requests for this number. Wait before requesting another code.",
        ));
    }
    codes.requested.push(now);
    // A fresh code replaces the one before.
    codes.current = Some(Code {
        digits,
        method,
        issued_at: now,
        wrong_guesses: 0,
    });
    Ok(json!({ "success": true }))
}

pub fn verify_code(state: &AppState, request: &GraphRequest) -> GraphResult<Value> {
    let token = authorized(state, request)?;
    let phone = phones::visible_phone(state, request, &token)?;
    let given: String = request
        .param("code")
        .ok_or_else(|| GraphError::invalid_parameter("The parameter code is required."))?
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .collect();
    let now = state.clock.now();
    let mut world = state.world();
    let phone = world.phones.get_mut(&phone.id).expect("visible");
    let no_valid_code = || {
        verification_error(
            StatusCode::BAD_REQUEST,
            136026,
            "Verify code error",
            "There is no valid verification code for this number: it expired, was used up, or none was requested. Request a new code.",
        )
    };
    let code = phone
        .verification
        .current
        .as_mut()
        .ok_or_else(no_valid_code)?;
    if now >= code.expires_at() {
        phone.verification.current = None;
        return Err(no_valid_code());
    }
    if given != code.digits {
        code.wrong_guesses += 1;
        if code.wrong_guesses >= WRONG_GUESSES {
            phone.verification.current = None;
            return Err(verification_error(
                StatusCode::BAD_REQUEST,
                136023,
                "Verify code error",
                "Too many incorrect codes. Request a new code.",
            ));
        }
        return Err(verification_error(
            StatusCode::BAD_REQUEST,
            136025,
            "Verify code error",
            "Code couldn't be verified: you entered a wrong code.",
        ));
    }
    phone.verification.current = None;
    phone.verified = true;
    Ok(json!({ "success": true }))
}

/// What a test may see of a number's verification (the code Meta sent).
pub fn control_view(phone: &Phone) -> Value {
    let code = phone.verification.current.as_ref();
    json!({
        "code_verification_status": status(phone),
        "last_verification_code": code.map(|c| c.digits.clone()),
        "last_verification_code_method": code.map(|c| c.method.clone()),
        "verification_code_expires_at": code.map(Code::expires_at),
    })
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/_sandbox/wabas/{waba_id}/phones", post(add_phone))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPhone {
    display_phone_number: String,
    verified_name: String,
    #[serde(default = "yes")]
    verified: bool,
    #[serde(default)]
    registered: bool,
}

fn yes() -> bool {
    true
}

/// Adds a number to a WABA as the business would in WhatsApp Manager or
/// Embedded Signup: verified or still to verify, registered or not.
async fn add_phone(
    State(state): State<AppState>,
    Path(waba_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let request: NewPhone = parse(&body)?;
    let display = crate::coexistence::digits(&request.display_phone_number)
        .ok_or_else(|| ControlError::bad_request("display_phone_number must be 8 to 15 digits"))?;
    let name = request.verified_name.trim();
    if name.is_empty() {
        return Err(ControlError::bad_request("verified_name must not be empty"));
    }
    if request.registered && !request.verified {
        return Err(ControlError::bad_request(
            "an unverified number cannot be registered",
        ));
    }
    let throughput = state.config().throughput;
    let mut world = state.world();
    if !world.wabas.contains_key(&waba_id) {
        return Err(ControlError::not_found(format!("no WABA {waba_id}")));
    }
    if world
        .phones
        .values()
        .any(|p| p.display_phone_number == display)
    {
        return Err(ControlError::bad_request(format!(
            "{display} is already a number on the platform"
        )));
    }
    let id = ids::numeric(&mut state.rng());
    let mut phone = Phone::added(&id, &waba_id, &display, name, throughput);
    phone.verified = request.verified;
    phone.registered = request.registered;
    world.phones.insert(id.clone(), phone);
    Ok(Json(json!({ "id": id })))
}
