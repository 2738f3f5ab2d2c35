//! Embedded Signup: a stand-in FB JS SDK (`/sdk.js`), the popup where a
//! person picks or creates a business, a WABA and a phone number (or
//! cancels, or reports a problem), and a demo opener page. The popup posts
//! `WA_EMBEDDED_SIGNUP` to the opener from the sandbox's own origin and
//! hands the code to `FB.login`'s callback, in either order.

use axum::{
    body::Bytes,
    extract::State,
    http::header,
    response::{Html, IntoResponse},
    routing::{get, post},
    Json, Router,
};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{
    accounts::{PortfolioLimits, Standing},
    coexistence,
    control::{parse, ControlError},
    dialog, ids, oauth,
    world::{Business, Phone, Waba},
    State as AppState,
};

const SDK: &str = include_str!("../assets/sdk.js");
const POPUP: &str = include_str!("../assets/signup.html");
const OPENER: &str = include_str!("../assets/opener.html");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/sdk.js", get(sdk))
        .route("/en_US/sdk.js", get(sdk))
        .route("/dialog/embedded_signup", get(popup))
        .route("/dialog/embedded_signup/finish", post(finish))
        .route("/_sandbox/opener", get(opener))
}

async fn sdk(State(state): State<AppState>) -> impl IntoResponse {
    // Meta's CDN serves the SDK to any origin (pages load it with
    // `crossorigin="anonymous"`), and so does the stand-in.
    (
        [
            (
                header::CONTENT_TYPE,
                "application/javascript; charset=utf-8",
            ),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        SDK.replace("__SANDBOX_ORIGIN__", &state.base_url),
    )
}

/// JSON safe to embed in a `<script>`.
fn script_json(value: &Value) -> String {
    value.to_string().replace('<', "\\u003c")
}

/// What the signup page's script knows of the world (`__WORLD_JSON__`).
pub fn page_data(state: &AppState) -> Value {
    let (app_id, loses_code) = {
        let config = state.config();
        (config.app_id.clone(), config.fb_login_loses_code)
    };
    let world = state.world();
    json!({
        "app_id": app_id,
        "fb_login_loses_code": loses_code,
        "businesses": world.businesses.values().map(|b| json!({ "id": b.id, "name": b.name })).collect::<Vec<_>>(),
        "wabas": world.wabas.values().map(|w| json!({ "id": w.id, "name": w.name, "business_id": w.business_id })).collect::<Vec<_>>(),
        "phones": world.phones.values().map(|p| json!({
            "id": p.id, "waba_id": p.waba_id,
            "display_phone_number": p.display_phone_number, "verified_name": p.verified_name,
        })).collect::<Vec<_>>(),
        // Numbers in the WhatsApp Business app, for the coexistence flow.
        "business_app_numbers": world.business_app.values().map(|a| json!({
            "display_phone_number": a.display_phone_number,
            "verified_name": a.verified_name,
            "share_history": a.share_history,
            "connected": world.phones.values().any(|p| p.display_phone_number == a.display_phone_number
                && p.coexistence.as_ref().is_some_and(|l| l.active())),
        })).collect::<Vec<_>>(),
    })
}

/// The signup page (the SDK's popup, or the OAuth dialog's full page).
pub fn render(data: &Value) -> Html<String> {
    Html(POPUP.replace("__WORLD_JSON__", &script_json(data)))
}

async fn popup(State(state): State<AppState>) -> Html<String> {
    render(&page_data(&state))
}

async fn opener(State(state): State<AppState>) -> Html<String> {
    Html(OPENER.replace("__APP_ID__", &state.config().app_id))
}

#[derive(Deserialize)]
struct Finish {
    app_id: String,
    config_id: String,
    #[serde(default)]
    feature_type: String,
    business: Option<String>,
    #[serde(default)]
    new_business: String,
    waba: Option<String>,
    #[serde(default)]
    new_waba: String,
    phone: Option<String>,
    #[serde(default)]
    new_phone: String,
    #[serde(default)]
    new_phone_name: String,
    /// The sandbox box "the number is not verified yet": v3/v4 flows may
    /// end with a number still to verify.
    #[serde(default)]
    new_phone_unverified: bool,
    /// Coexistence: the business app's number (display digits) or `__new`.
    app_number: Option<String>,
    #[serde(default)]
    new_app_number: String,
    #[serde(default)]
    new_app_number_name: String,
    /// The "share chat history" opt-in as ticked.
    share_history: Option<bool>,
    /// Set on the OAuth dialog's page: the code then goes by redirect.
    dialog_session: Option<String>,
}

const BUSINESS_APP: &str = "whatsapp_business_app_onboarding";

const NEW: &str = "__new";

async fn finish(State(state): State<AppState>, body: Bytes) -> Result<Json<Value>, ControlError> {
    let mut request: Finish = parse(&body)?;
    let config = state.config().clone();
    // On the dialog's page the session holds what the SDK would pass.
    let dialog = match request.dialog_session.as_deref() {
        None => None,
        Some(id) => {
            let session = dialog::open_session(&state, id).ok_or_else(|| {
                ControlError::bad_request("This login dialog was finished or cancelled already.")
            })?;
            request.app_id = config.app_id.clone();
            request.config_id = session.config_id.clone();
            request.feature_type = session.feature_type.clone();
            Some((id.to_string(), session))
        }
    };
    if request.app_id != config.app_id || request.config_id.trim().is_empty() {
        return Err(ControlError::bad_request(
            "This configuration is not valid for the app.",
        ));
    }
    let now = state.clock.now();
    let mut world = state.world();
    let mut rng = state.rng();

    let business_id = match request.business.as_deref() {
        Some(NEW) => {
            let name = request.new_business.trim();
            if name.is_empty() {
                return Err(ControlError::bad_request(
                    "Enter a name for the new business.",
                ));
            }
            let id = ids::numeric(&mut rng);
            world.businesses.insert(
                id.clone(),
                Business {
                    id: id.clone(),
                    name: name.to_string(),
                    limits: PortfolioLimits::new_portfolio(),
                },
            );
            id
        }
        Some(id) if world.businesses.contains_key(id) => id.to_string(),
        _ => return Err(ControlError::bad_request("Choose a business.")),
    };
    let waba_id = match request.waba.as_deref() {
        Some(NEW) => {
            let name = request.new_waba.trim();
            if name.is_empty() {
                return Err(ControlError::bad_request(
                    "Enter a name for the new WhatsApp Business Account.",
                ));
            }
            let id = ids::numeric(&mut rng);
            world.wabas.insert(
                id.clone(),
                Waba {
                    id: id.clone(),
                    name: name.to_string(),
                    business_id: business_id.clone(),
                    subscribed: false,
                    override_callback: None,
                    standing: Standing::default(),
                    unshared: false,
                },
            );
            id
        }
        Some(id)
            if world
                .wabas
                .get(id)
                .is_some_and(|w| w.business_id == business_id) =>
        {
            id.to_string()
        }
        _ => {
            return Err(ControlError::bad_request(
                "Choose a WhatsApp Business Account of this business.",
            ))
        }
    };
    let phone_number_id = if request.feature_type == "only_waba_sharing" {
        None
    } else if request.feature_type == BUSINESS_APP {
        let (display, name) = match request.app_number.as_deref() {
            Some(NEW) => (request.new_app_number, Some(request.new_app_number_name)),
            Some(display) => (display.to_string(), None),
            None => {
                return Err(ControlError::bad_request(
                    "Choose the WhatsApp Business app number to connect.",
                ))
            }
        };
        let choice = coexistence::Choice {
            display_phone_number: display,
            verified_name: name,
            share_history: request.share_history,
        };
        Some(
            coexistence::onboard(&mut world, &mut rng, now, &waba_id, choice)
                .map_err(ControlError::bad_request)?,
        )
    } else {
        Some(match request.phone.as_deref() {
            Some(NEW) => {
                let digits = request.new_phone.trim().trim_start_matches('+');
                let name = request.new_phone_name.trim();
                if !(8..=15).contains(&digits.len())
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                    || name.is_empty()
                {
                    return Err(ControlError::bad_request(
                        "Enter the number's digits (8 to 15) and a display name.",
                    ));
                }
                let id = ids::numeric(&mut rng);
                // Meta reviews a new number's display name.
                let mut phone = Phone::added(&id, &waba_id, digits, name, config.throughput);
                phone.verified = !request.new_phone_unverified;
                world.phones.insert(id.clone(), phone);
                id
            }
            Some(id) if world.phones.get(id).is_some_and(|p| p.waba_id == waba_id) => {
                id.to_string()
            }
            _ => {
                return Err(ControlError::bad_request(
                    "Choose a phone number of this account.",
                ))
            }
        })
    };
    if let Some(phone) = phone_number_id
        .as_ref()
        .and_then(|id| world.phones.get_mut(id))
    {
        phone.onboarded_at = Some(now);
    }
    // Finishing shares the WABA with the app (again, after a removal).
    if let Some(waba) = world.wabas.get_mut(&waba_id) {
        waba.unshared = false;
    }
    if let Some((id, session)) = dialog {
        let code = oauth::issue_bound_code(
            &mut world,
            &mut rng,
            now,
            &business_id,
            vec![waba_id.clone()],
            Some(session.redirect_uri),
            session.challenge,
        );
        drop((world, rng));
        dialog::complete(&state, &id, code);
        // The code travels only in the redirect.
        return Ok(Json(json!({ "continue": dialog::continue_url(&id) })));
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
        "business_id": business_id,
        "waba_id": waba_id,
        "phone_number_id": phone_number_id,
    })))
}
