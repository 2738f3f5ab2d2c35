//! OAuth: the Embedded Signup code exchange, `debug_token` and `/me`.

use serde_json::{json, Value};

use crate::{
    auth,
    error::{GraphError, GraphResult},
    graph::{authorized, GraphRequest},
    ids,
    world::{AuthCode, Millis, Token, TokenKind, World},
    State,
};

/// Codes from Embedded Signup live 30 seconds.
pub const CODE_TTL_MS: Millis = 30_000;

const SCOPES: [&str; 3] = [
    "whatsapp_business_management",
    "whatsapp_business_messaging",
    "business_management",
];

/// Issues a single-use code granting `waba_ids` of `business_id`.
pub fn issue_code(
    world: &mut World,
    rng: &mut fastrand::Rng,
    now: Millis,
    business_id: &str,
    waba_ids: Vec<String>,
) -> String {
    let code = ids::code(rng);
    world.codes.insert(
        code.clone(),
        AuthCode {
            business_id: business_id.to_string(),
            waba_ids,
            issued_at: now,
            used: false,
        },
    );
    code
}

pub fn exchange_code(state: &State, request: &GraphRequest) -> GraphResult<Value> {
    let (app_id, app_secret) = {
        let config = state.config();
        (config.app_id.clone(), config.app_secret.clone())
    };
    let client_id = request.param("client_id").unwrap_or_default();
    if client_id != app_id {
        return Err(GraphError::oauth(
            101,
            "Error validating application. Invalid application ID.",
        ));
    }
    if request.param("client_secret").as_deref() != Some(app_secret.as_str()) {
        return Err(GraphError::oauth(1, "Error validating client secret."));
    }
    if request
        .param("redirect_uri")
        .is_some_and(|uri| !uri.is_empty())
    {
        // Codes from the JS SDK carry no redirect URI; any given one mismatches.
        return Err(GraphError::oauth(
            100,
            "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
        ));
    }
    let code = request
        .param("code")
        .ok_or_else(|| GraphError::oauth(100, "Missing required parameter: code"))?;

    let now = state.clock.now();
    let mut world = state.world();
    let Some(grant) = world.codes.get_mut(&code) else {
        return Err(GraphError::oauth(100, "Invalid verification code format."));
    };
    // Subcodes for used and expired codes are Meta's OAuth dialog ones
    // (unconfirmed for Embedded Signup).
    if grant.used {
        return Err(
            GraphError::oauth(100, "This authorization code has been used.").with_subcode(36009),
        );
    }
    if now - grant.issued_at > CODE_TTL_MS {
        return Err(
            GraphError::oauth(100, "This authorization code has expired.").with_subcode(36007),
        );
    }
    grant.used = true;
    let grant = grant.clone();

    let mut rng = state.rng();
    let token = ids::token(&mut rng);
    world.tokens.insert(
        token.clone(),
        Token {
            user_id: ids::numeric(&mut rng),
            business_id: grant.business_id,
            waba_ids: grant.waba_ids,
            issued_at: now,
            expires_at: None,
            revoked: false,
            kind: TokenKind::BusinessIntegration,
        },
    );
    // A business integration token never expires by default: no expires_in.
    Ok(json!({ "access_token": token, "token_type": "bearer" }))
}

pub fn debug_token(state: &State, request: &GraphRequest) -> GraphResult<Value> {
    let (app_id, app_secret, app_name) = {
        let config = state.config();
        (
            config.app_id.clone(),
            config.app_secret.clone(),
            config.app_name.clone(),
        )
    };
    // The caller proves itself with the app token `APP_ID|APP_SECRET`.
    let app_token = format!("{app_id}|{app_secret}");
    if request.token().as_deref() != Some(app_token.as_str()) {
        return Err(GraphError::unparsable_token());
    }
    let input = request
        .param("input_token")
        .ok_or_else(|| GraphError::oauth(100, "The parameter input_token is required"))?;
    let now = state.clock.now();
    let world = state.world();
    let Some(token) = world.tokens.get(&input) else {
        return Ok(json!({ "data": {
            "app_id": app_id, "is_valid": false, "scopes": [],
            "error": { "code": 190, "message": "Invalid OAuth access token." }
        }}));
    };
    let mut data = json!({
        "app_id": app_id,
        "type": token.kind.debug_type(),
        "application": app_name,
        "data_access_expires_at": 0,
        "expires_at": token.expires_at.map(|ms| ms / 1000).unwrap_or(0),
        "is_valid": true,
        "issued_at": token.issued_at / 1000,
        "scopes": SCOPES,
        "granular_scopes": [
            { "scope": "business_management", "target_ids": [token.business_id] },
            { "scope": "whatsapp_business_management", "target_ids": token.waba_ids },
            { "scope": "whatsapp_business_messaging", "target_ids": token.waba_ids },
        ],
        "user_id": token.user_id,
    });
    if let Err(error) = auth::validity(token, now) {
        data["is_valid"] = json!(false);
        let mut reason = json!({ "code": error.code, "message": error.message });
        if let Some(subcode) = error.subcode {
            reason["subcode"] = json!(subcode);
        }
        data["error"] = reason;
    }
    Ok(json!({ "data": data }))
}

pub fn me(state: &State, request: &GraphRequest) -> GraphResult<Value> {
    let token = authorized(state, request)?;
    let mut body = json!({ "id": token.user_id });
    if request
        .fields()
        .is_some_and(|f| f.iter().any(|f| f == "client_business_id"))
    {
        body["client_business_id"] = json!(token.business_id);
    }
    Ok(body)
}
