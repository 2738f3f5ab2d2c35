//! OAuth: the code exchange (codes from Embedded Signup's JS SDK and from
//! the OAuth dialog), `debug_token` and `/me`.

use serde_json::{json, Value};

use crate::{
    auth,
    dialog::Challenge,
    error::{GraphError, GraphResult},
    graph::{authorized, GraphRequest},
    ids, tokens,
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

/// Issues a single-use code granting `waba_ids` of `business_id`, as the
/// JS SDK hands it over (no redirect URI, no PKCE).
pub fn issue_code(
    world: &mut World,
    rng: &mut fastrand::Rng,
    now: Millis,
    business_id: &str,
    waba_ids: Vec<String>,
) -> String {
    issue_bound_code(world, rng, now, business_id, waba_ids, None, None)
}

/// Issues a code from the OAuth dialog: bound to its `redirect_uri` and,
/// with PKCE, to its `code_challenge`. Meta gives no lifetime for dialog
/// codes; they live 30 seconds like the SDK's (unconfirmed).
pub fn issue_bound_code(
    world: &mut World,
    rng: &mut fastrand::Rng,
    now: Millis,
    business_id: &str,
    waba_ids: Vec<String>,
    redirect_uri: Option<String>,
    challenge: Option<Challenge>,
) -> String {
    let code = ids::code(rng);
    world.codes.insert(
        code.clone(),
        AuthCode {
            business_id: business_id.to_string(),
            waba_ids,
            issued_at: now,
            used: false,
            redirect_uri,
            challenge,
        },
    );
    code
}

/// `GET|POST /oauth/access_token`: a code exchange, or with
/// `grant_type=fb_exchange_token` a token exchange.
pub fn access_token(state: &State, request: &GraphRequest) -> GraphResult<Value> {
    match request.param("grant_type").as_deref() {
        None | Some("authorization_code") => exchange_code(state, request),
        Some("fb_exchange_token") => tokens::refresh(state, request),
        Some(other) => Err(GraphError::oauth(
            100,
            format!("Unsupported grant_type: {other}"),
        )),
    }
}

fn invalid_secret() -> GraphError {
    GraphError::oauth(1, "Error validating client secret.")
}

/// Exchanges a code. The client secret is checked when given; it may be
/// left out only for a code issued with a PKCE challenge whose verifier
/// comes along (our reading of Meta's PKCE guide, whose exchange sample
/// has no `client_secret`; unconfirmed). Failed exchanges leave the code
/// usable.
pub fn exchange_code(state: &State, request: &GraphRequest) -> GraphResult<Value> {
    let (app_id, app_secret, expiry) = {
        let config = state.config();
        (
            config.app_id.clone(),
            config.app_secret.clone(),
            config.token_expiry,
        )
    };
    let client_id = request.param("client_id").unwrap_or_default();
    if client_id != app_id {
        return Err(GraphError::oauth(
            101,
            "Error validating application. Invalid application ID.",
        ));
    }
    let secret = request.param("client_secret");
    if secret.as_ref().is_some_and(|s| *s != app_secret) {
        return Err(invalid_secret());
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
    // Codes from the JS SDK carry no redirect URI, so any given one
    // mismatches; a dialog's code needs its own, character for character.
    let given_uri = request.param("redirect_uri").filter(|uri| !uri.is_empty());
    if grant.redirect_uri != given_uri {
        return Err(GraphError::redirect_uri_mismatch());
    }
    let verifier = request.param("code_verifier");
    let proven = match (&grant.challenge, &verifier) {
        (None, _) => false,
        (Some(_), None) => {
            return Err(GraphError::oauth(
                100,
                "Missing required parameter: code_verifier (the OAuth dialog request had a code_challenge)",
            ))
        }
        (Some(challenge), Some(verifier)) => {
            if !challenge.verifies(verifier) {
                // Meta's words for this are unconfirmed.
                return Err(GraphError::oauth(
                    100,
                    "Error validating verification code. The code_verifier does not match the code_challenge of the OAuth dialog request.",
                ));
            }
            true
        }
    };
    if secret.is_none() && !proven {
        return Err(invalid_secret());
    }
    grant.used = true;
    let grant = grant.clone();

    let mut rng = state.rng();
    let token = ids::token(&mut rng);
    let expires_at = expiry.expires_at(now);
    world.tokens.insert(
        token.clone(),
        Token {
            user_id: ids::numeric(&mut rng),
            business_id: grant.business_id,
            waba_ids: grant.waba_ids,
            issued_at: now,
            expires_at,
            revoked: false,
            kind: TokenKind::BusinessIntegration,
        },
    );
    // A business integration token never expires by default: no
    // expires_in then.
    Ok(tokens::answer(&token, expires_at, now))
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
