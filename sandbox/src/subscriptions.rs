//! `/{waba-id}/subscribed_apps`: subscribe the app to a WABA's webhooks,
//! optionally overriding the callback URI (only once subscribed).

use axum::http::Method;
use serde_json::{json, Value};

use crate::{
    coexistence,
    error::{GraphError, GraphResult},
    graph::{authorized, GraphRequest},
    webhooks,
    world::CallbackOverride,
    State,
};

pub async fn handle(state: &State, request: &GraphRequest) -> GraphResult<Value> {
    let token = authorized(state, request)?;
    let waba_id = request.id().to_string();
    if !state.world().wabas.contains_key(&waba_id) || !token.may_manage_waba(&waba_id) {
        return Err(request.unknown_object());
    }
    coexistence::check_access(&state.world(), &waba_id)?;
    match request.method {
        Method::GET => Ok(list(state, &waba_id)),
        Method::POST => subscribe(state, request, &waba_id).await,
        Method::DELETE => {
            let mut world = state.world();
            let waba = world.wabas.get_mut(&waba_id).expect("checked");
            waba.subscribed = false;
            waba.override_callback = None;
            Ok(json!({ "success": true }))
        }
        _ => Err(request.unknown_object()),
    }
}

fn list(state: &State, waba_id: &str) -> Value {
    let (app_id, app_name) = {
        let config = state.config();
        (config.app_id.clone(), config.app_name.clone())
    };
    let world = state.world();
    let waba = &world.wabas[waba_id];
    if !waba.subscribed {
        return json!({ "data": [] });
    }
    let mut app = json!({
        "whatsapp_business_api_data": {
            "id": app_id,
            "link": format!("https://www.facebook.com/games/?app_id={app_id}"),
            "name": app_name,
        }
    });
    if let Some(over) = &waba.override_callback {
        app["override_callback_uri"] = json!(over.uri);
    }
    json!({ "data": [app] })
}

async fn subscribe(state: &State, request: &GraphRequest, waba_id: &str) -> GraphResult<Value> {
    let Some(uri) = request.param("override_callback_uri") else {
        state
            .world()
            .wabas
            .get_mut(waba_id)
            .expect("checked")
            .subscribed = true;
        return Ok(json!({ "success": true }));
    };
    let verify_token = request
        .param("verify_token")
        .ok_or_else(|| GraphError::invalid_parameter("The parameter verify_token is required."))?;
    if !state.world().wabas[waba_id].subscribed {
        return Err(GraphError::invalid_parameter(
            "Before override the current callback uri, your app must be subscribed to receive messages for WhatsApp Business Account",
        ));
    }
    // Meta checks the new callback with the GET handshake before saving it.
    let challenge = state.rng().u64(..);
    webhooks::verify_callback(&uri, &verify_token, challenge)
        .await
        .map_err(|problem| {
            GraphError::oauth(
                2200,
                format!(
                    "(#2200) Callback verification failed with the following errors: {problem}"
                ),
            )
        })?;
    state
        .world()
        .wabas
        .get_mut(waba_id)
        .expect("checked")
        .override_callback = Some(CallbackOverride { uri });
    Ok(json!({ "success": true }))
}
