//! `/{phone-number-id}/whatsapp_business_profile`: read (answer in
//! `data[0]`) and update with Meta's field limits, including the picture
//! by a resumable-upload handle.

use axum::http::Method;
use serde_json::{json, Map, Value};

use crate::{
    error::{GraphError, GraphResult},
    graph::{authorized, GraphRequest},
    phones,
    world::BusinessProfile,
    State,
};

pub const VERTICALS: [&str; 23] = [
    "UNDEFINED",
    "OTHER",
    "AUTO",
    "BEAUTY",
    "APPAREL",
    "EDU",
    "ENTERTAIN",
    "EVENT_PLAN",
    "FINANCE",
    "GROCERY",
    "GOVT",
    "HOTEL",
    "HEALTH",
    "NONPROFIT",
    "PROF_SERVICES",
    "RETAIL",
    "TRAVEL",
    "RESTAURANT",
    "ALCOHOL",
    "ONLINE_GAMBLING",
    "PHYSICAL_GAMBLING",
    "OTC_DRUGS",
    "NOT_A_BIZ",
];

const FIELDS: [&str; 7] = [
    "about",
    "address",
    "description",
    "email",
    "profile_picture_url",
    "websites",
    "vertical",
];

pub async fn handle(state: &State, request: &GraphRequest) -> GraphResult<Value> {
    let token = authorized(state, request)?;
    let phone = phones::visible_phone(state, request, &token)?;
    match request.method {
        Method::GET => read(state, request, &phone.profile),
        Method::POST => update(state, request, &phone.id),
        _ => Err(request.unknown_object()),
    }
}

fn read(state: &State, request: &GraphRequest, profile: &BusinessProfile) -> GraphResult<Value> {
    let fields = request
        .fields()
        .unwrap_or_else(|| FIELDS.iter().map(|f| f.to_string()).collect());
    let mut out = Map::new();
    for field in &fields {
        let value = match field.as_str() {
            "about" => profile.about.clone().map(Value::from),
            "address" => profile.address.clone().map(Value::from),
            "description" => profile.description.clone().map(Value::from),
            "email" => profile.email.clone().map(Value::from),
            "vertical" => profile.vertical.clone().map(Value::from),
            "websites" => (!profile.websites.is_empty()).then(|| json!(profile.websites)),
            "profile_picture_url" => profile
                .profile_picture_handle
                .as_ref()
                .map(|h| json!(format!("{}/_media/pps/{}.jpg", state.base_url, short_hash(h)))),
            "messaging_product" => Some(json!("whatsapp")),
            other => {
                return Err(GraphError::invalid_parameter(format!(
                    "Tried accessing nonexisting field ({other}) on node type (WhatsAppBusinessProfile)"
                )))
            }
        };
        if let Some(value) = value {
            out.insert(field.clone(), value);
        }
    }
    out.insert("messaging_product".into(), json!("whatsapp"));
    Ok(json!({ "data": [Value::Object(out)] }))
}

/// A stable, URL-safe stand-in for the picture's CDN name.
fn short_hash(handle: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(handle.as_bytes())[..8])
}

fn param_error(field: &str, problem: &str) -> GraphError {
    GraphError::invalid_parameter(format!("Param {field} {problem}"))
}

fn text(body: &Value, field: &str, max: usize, min: usize) -> GraphResult<Option<String>> {
    match body.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => {
            let count = s.chars().count();
            if count > max || count < min || (min > 0 && s.trim().is_empty()) {
                Err(param_error(
                    field,
                    &format!("must be between {min} and {max} characters long."),
                ))
            } else {
                Ok(Some(s.clone()))
            }
        }
        Some(_) => Err(param_error(field, "must be a string.")),
    }
}

fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
        && !domain.contains('@')
}

fn update(state: &State, request: &GraphRequest, phone_id: &str) -> GraphResult<Value> {
    let body = request.json()?.clone();
    if body.get("messaging_product").and_then(Value::as_str) != Some("whatsapp") {
        return Err(GraphError::invalid_parameter(
            "The parameter messaging_product is required.",
        ));
    }
    let about = text(&body, "about", 139, 1)?;
    let address = text(&body, "address", 256, 0)?;
    let description = text(&body, "description", 512, 0)?;
    let email = text(&body, "email", 128, 0)?;
    if let Some(email) = &email {
        if !email.is_empty() && !valid_email(email) {
            return Err(param_error("email", "must be a valid email address."));
        }
    }
    let vertical = text(&body, "vertical", 64, 0)?;
    if let Some(vertical) = &vertical {
        if !VERTICALS.contains(&vertical.as_str()) {
            return Err(param_error(
                "vertical",
                &format!("must be one of {}.", VERTICALS.join(", ")),
            ));
        }
    }
    let websites = match body.get("websites") {
        None => None,
        Some(Value::Array(items)) => {
            if items.len() > 2 {
                return Err(param_error("websites", "must contain at most 2 URLs."));
            }
            let mut urls = Vec::new();
            for item in items {
                let url = item
                    .as_str()
                    .ok_or_else(|| param_error("websites", "must be a list of strings."))?;
                let ok = url.chars().count() <= 256
                    && url::Url::parse(url).is_ok_and(|u| {
                        matches!(u.scheme(), "http" | "https") && u.host().is_some()
                    });
                if !ok {
                    return Err(param_error(
                        "websites",
                        "must be http(s) URLs of at most 256 characters.",
                    ));
                }
                urls.push(url.to_string());
            }
            Some(urls)
        }
        Some(_) => return Err(param_error("websites", "must be a list of strings.")),
    };
    let handle = text(&body, "profile_picture_handle", 4096, 1)?;
    let mut world = state.world();
    if let Some(handle) = &handle {
        if !world.upload_handles.contains(handle) {
            return Err(param_error(
                "profile_picture_handle",
                "is not a valid upload handle.",
            ));
        }
    }
    let profile = &mut world.phones.get_mut(phone_id).expect("checked").profile;
    if let Some(v) = about {
        profile.about = Some(v);
    }
    if let Some(v) = address {
        profile.address = Some(v);
    }
    if let Some(v) = description {
        profile.description = Some(v);
    }
    if let Some(v) = email {
        profile.email = Some(v);
    }
    if let Some(v) = vertical {
        profile.vertical = Some(v);
    }
    if let Some(v) = websites {
        profile.websites = v;
    }
    if let Some(v) = handle {
        profile.profile_picture_handle = Some(v);
    }
    Ok(json!({ "success": true }))
}
