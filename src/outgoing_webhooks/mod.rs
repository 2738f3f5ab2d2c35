//! Outgoing webhooks: a workspace's own systems (CRM, help desk, AI agent)
//! receive its events at their HTTPS endpoint, signed per the Standard
//! Webhooks specification, retried until they answer 2xx, with a delivery
//! log and manual redelivery. The pipeline queues the events in the same
//! transaction as the message they describe, so each goes out once per
//! endpoint however often Meta delivers it; the token expiry worker queues
//! `number.token_expiring` in the transaction that records its warning.

pub mod delivery;
pub mod signing;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::{
    accounts::{Caller, Role},
    audit,
    contacts::{ContactObject, ContactRow},
    egress::{EgressPolicy, Refusal},
    secret::Secret,
    store::{now_millis, DeliveryEntry, EndpointRow},
    vault::{binding, VaultError},
    webhook::payload::{InboundMessage, StatusUpdate},
    Engine, Error,
};

/// After a rotation the previous secret keeps signing this long, so the
/// receiving side can switch without losing events.
pub const ROTATION_GRACE_MS: i64 = 24 * 60 * 60 * 1000;
pub const MAX_ENDPOINTS: usize = 10;

/// An endpoint as its admins see it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    pub created_at: i64,
    /// Until when the previous secret still signs, after a rotation.
    pub previous_secret_until: Option<i64>,
}

pub(crate) fn endpoint_binding(workspace_id: &str, endpoint_id: &str) -> Vec<u8> {
    binding(workspace_id, &format!("endpoint:{endpoint_id}"))
}

/// The secrets that sign now: the current one, and the previous one while
/// its grace lasts. Fails closed: without the current secret nothing is
/// signed, so nothing is sent (an unsigned or wrongly signed event would
/// teach the receiver to skip verification).
pub fn active_secrets(
    engine: &Engine,
    row: &EndpointRow,
    now: i64,
) -> Result<Vec<Secret<String>>, VaultError> {
    let aad = endpoint_binding(&row.workspace_id, &row.id);
    let mut secrets = vec![engine.vault.open(&row.secret, &aad)?];
    if let Some((previous, until)) = &row.previous {
        if now < *until {
            // The previous secret is a courtesy during a rotation.
            secrets.extend(engine.vault.open(previous, &aad));
        }
    }
    Ok(secrets)
}

/// A public HTTPS address; plain HTTP and inside addresses only where the
/// operator's allow-list (`OUTGOING_WEBHOOK_ALLOW`) names them. A host
/// name is resolved, and checked again, when each delivery connects.
pub fn check_url(text: &str, policy: &EgressPolicy) -> Result<url::Url, Error> {
    let bad = |m: &str| Error::invalid("url", m);
    let url = url::Url::parse(text.trim())
        .map_err(|_| bad("Enter a full address, like https://example.com/hooks."))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(bad("The address must start with https://."));
    }
    match policy.check_url(&url) {
        Ok(()) => {}
        Err(Refusal::NotHttps) => return Err(bad("The address must start with https://.")),
        Err(_) => {
            return Err(bad(
                "The address is on a private network; only public addresses can receive events.",
            ))
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "Put no credentials in the address; verify the signature instead.",
        ));
    }
    if text.len() > 2048 {
        return Err(bad("The address is too long."));
    }
    Ok(url)
}

fn view(row: &EndpointRow) -> Endpoint {
    Endpoint {
        id: row.id.clone(),
        url: row.url.clone(),
        created_at: row.created_at,
        previous_secret_until: row.previous.as_ref().map(|(_, until)| *until),
    }
}

pub async fn list(engine: &Engine, caller: &Caller) -> Result<Vec<Endpoint>, Error> {
    caller.require(Role::Admin)?;
    Ok(engine
        .store
        .endpoints_of(&caller.workspace.id)
        .await?
        .iter()
        .map(view)
        .collect())
}

/// Adds an endpoint. Returns it with its secret, shown this once.
pub async fn create(
    engine: &Engine,
    caller: &Caller,
    url: &str,
) -> Result<(Endpoint, String), Error> {
    caller.require(Role::Admin)?;
    let url = check_url(url, &engine.config.outgoing_webhook_allow)?;
    let existing = engine.store.endpoints_of(&caller.workspace.id).await?;
    if existing.len() >= MAX_ENDPOINTS {
        return Err(Error::invalid(
            "url",
            format!("A workspace has at most {MAX_ENDPOINTS} endpoints."),
        ));
    }
    let id = format!("ep_{}", uuid::Uuid::new_v4().simple());
    let secret = signing::new_secret();
    let now = now_millis();
    let row = EndpointRow {
        secret: engine
            .vault
            .seal(&secret, &endpoint_binding(&caller.workspace.id, &id)),
        id,
        workspace_id: caller.workspace.id.to_string(),
        url: url.to_string(),
        previous: None,
        created_at: now,
        updated_at: now,
    };
    engine.store.insert_endpoint(&row).await?;
    audit::record_by(
        &engine.store,
        caller,
        "endpoint.created",
        json!({ "endpoint_id": row.id, "url": row.url }),
    )
    .await?;
    Ok((view(&row), secret))
}

async fn own_endpoint(engine: &Engine, caller: &Caller, id: &str) -> Result<EndpointRow, Error> {
    engine
        .store
        .endpoint(id)
        .await?
        .filter(|row| row.workspace_id == caller.workspace.id)
        .ok_or(Error::NotFound)
}

/// A new secret; the previous one keeps signing for [`ROTATION_GRACE_MS`].
/// Returns the new secret, shown this once.
pub async fn rotate_secret(engine: &Engine, caller: &Caller, id: &str) -> Result<String, Error> {
    caller.require(Role::Admin)?;
    let row = own_endpoint(engine, caller, id).await?;
    let secret = signing::new_secret();
    let now = now_millis();
    let sealed = engine
        .vault
        .seal(&secret, &endpoint_binding(&row.workspace_id, &row.id));
    engine
        .store
        .rotate_endpoint_secret(&row.id, &sealed, now + ROTATION_GRACE_MS, now)
        .await?;
    audit::record_by(
        &engine.store,
        caller,
        "endpoint.secret_rotated",
        json!({ "endpoint_id": row.id }),
    )
    .await?;
    Ok(secret)
}

pub async fn delete(engine: &Engine, caller: &Caller, id: &str) -> Result<(), Error> {
    caller.require(Role::Admin)?;
    if !engine
        .store
        .delete_endpoint(&caller.workspace.id, id)
        .await?
    {
        return Err(Error::NotFound);
    }
    audit::record_by(
        &engine.store,
        caller,
        "endpoint.deleted",
        json!({ "endpoint_id": id }),
    )
    .await?;
    Ok(())
}

pub async fn deliveries(engine: &Engine, caller: &Caller) -> Result<Vec<DeliveryEntry>, Error> {
    caller.require(Role::Admin)?;
    Ok(engine
        .store
        .deliveries_of(&caller.workspace.id, 200)
        .await?)
}

pub async fn redeliver(engine: &Engine, caller: &Caller, delivery_id: i64) -> Result<(), Error> {
    caller.require(Role::Admin)?;
    if !engine
        .store
        .redeliver(&caller.workspace.id, delivery_id, now_millis())
        .await?
    {
        return Err(Error::NotFound);
    }
    engine
        .live
        .wake_everywhere(crate::live::Wake::Deliveries)
        .await;
    audit::record_by(
        &engine.store,
        caller,
        "endpoint.redelivered",
        json!({ "delivery_id": delivery_id }),
    )
    .await?;
    Ok(())
}

/// An event for the workspace's endpoints: (event id, type, payload). The
/// id is stable for the same fact, so duplicates queue nothing.
pub fn message_received(
    phone_number_id: &str,
    contact: &ContactRow,
    message: &InboundMessage,
) -> (String, &'static str, Value) {
    (
        format!("msg_in_{}", message.wamid),
        "message.received",
        json!({
            "type": "message.received",
            "timestamp": message.sent_at / 1000,
            "data": {
                "phone_number_id": phone_number_id,
                "wamid": message.wamid,
                "from": message.customer,
                "name": message.customer_name,
                "contact": ContactObject::from(contact),
                "message_type": message.kind,
                "summary": message.summary,
                "message": message.payload,
            },
        }),
    )
}

pub fn status_changed(
    phone_number_id: &str,
    contact: Option<&ContactRow>,
    update: &StatusUpdate,
) -> (String, &'static str, Value) {
    (
        format!("msg_st_{}_{}", update.wamid, update.status),
        "message.status",
        json!({
            "type": "message.status",
            "timestamp": update.at / 1000,
            "data": {
                "phone_number_id": phone_number_id,
                "wamid": update.wamid,
                "status": update.status,
                "recipient": update.recipient,
                "contact": contact.map(ContactObject::from),
                "error": update.error_code.map(|code| json!({
                    "code": code, "title": update.error_title, "details": update.error_details,
                })),
            },
        }),
    )
}

/// The type of [`TokenExpiringEvent`].
pub const TOKEN_EXPIRING: &str = "number.token_expiring";

/// A number's access token ends soon and Meta would not refresh it:
/// someone must connect the number again (Embedded Signup) before then,
/// or it stops sending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TokenExpiring {
    /// Meta's id of the number.
    pub phone_number_id: String,
    /// The number as Meta shows it (`+1 555-000-5678`); null until Meta
    /// has said.
    pub display_phone_number: Option<String>,
    /// When the token stops working, Unix time in milliseconds.
    pub expires_at: i64,
    /// Whole days left until then; 0 when less than a day is left, or
    /// none.
    pub days_left: i64,
    /// Which warning this is: 14, 7 or 1 days before the end. Each comes
    /// once per token; one whose time passed while Switchboard was not
    /// running is skipped for the next.
    pub warning_days: i64,
    /// Why the token was not refreshed: Meta's refusal in its words, or
    /// that it has expired (Meta cannot extend an expired token).
    pub refresh_refused: String,
}

/// The `number.token_expiring` event as the endpoint receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TokenExpiringEvent {
    #[serde(rename = "type")]
    #[schemars(extend("const" = "number.token_expiring"))]
    pub kind: String,
    /// When the warning was given, Unix time in seconds.
    pub timestamp: i64,
    pub data: TokenExpiring,
}

/// The event for a warning about the token stored at `stored_at`: its id
/// names the token and the warning, so it is queued once per endpoint.
pub fn token_expiring(
    stored_at: i64,
    data: TokenExpiring,
    now: i64,
) -> (String, &'static str, Value) {
    let id = format!(
        "tok_exp_{}_{stored_at}_{}",
        data.phone_number_id, data.warning_days
    );
    let event = TokenExpiringEvent {
        kind: TOKEN_EXPIRING.to_string(),
        timestamp: now / 1000,
        data,
    };
    (
        id,
        TOKEN_EXPIRING,
        serde_json::to_value(event).expect("the event serializes"),
    )
}
