//! `GET /{waba-id}`: the WhatsApp Business Account node, with Meta's
//! default fields and, on request, its review, owner and `health_status`.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::{
    accounts,
    error::{GraphError, GraphResult},
    graph::{authorized, GraphRequest},
    State,
};

const DEFAULT_FIELDS: [&str; 4] = ["id", "name", "timezone_id", "message_template_namespace"];

pub fn is_waba(state: &State, id: &str) -> bool {
    state.world().wabas.contains_key(id)
}

/// A namespace shaped like Meta's (hex groups joined by `_`), fixed per
/// WABA.
fn template_namespace(waba_id: &str) -> String {
    let hex = hex::encode(Sha256::digest(waba_id.as_bytes()));
    [
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32],
    ]
    .join("_")
}

pub fn get(state: &State, request: &GraphRequest) -> GraphResult<Value> {
    let token = authorized(state, request)?;
    let waba = state
        .world()
        .wabas
        .get(request.id())
        .filter(|waba| token.may_manage_waba(&waba.id))
        .cloned()
        .ok_or_else(|| request.unknown_object())?;
    crate::coexistence::check_access(&state.world(), &waba.id)?;
    let fields = request
        .fields()
        .unwrap_or_else(|| DEFAULT_FIELDS.iter().map(|f| f.to_string()).collect());
    let app_id = state.config().app_id.clone();
    let now = state.clock.now();
    let world = state.world();
    let mut out = Map::new();
    for field in &fields {
        let value = match field.as_str() {
            "id" => json!(waba.id),
            "name" => json!(waba.name),
            // Meta's id for America/Los_Angeles.
            "timezone_id" => json!("1"),
            "message_template_namespace" => json!(template_namespace(&waba.id)),
            "currency" => json!("USD"),
            "account_review_status" => json!("APPROVED"),
            "owner_business_info" => json!({
                "id": waba.business_id,
                "name": world.businesses.get(&waba.business_id).map(|b| b.name.clone()),
            }),
            "health_status" => accounts::health::of_waba(&world, &waba, &app_id, now),
            other => {
                return Err(GraphError::invalid_parameter(format!(
                    "Tried accessing nonexisting field ({other}) on node type (WhatsAppBusinessAccount)"
                )))
            }
        };
        out.insert(field.clone(), value);
    }
    out.insert("id".into(), json!(waba.id));
    Ok(Value::Object(out))
}
