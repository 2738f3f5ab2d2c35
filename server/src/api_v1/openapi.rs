//! The OpenAPI 3.1 document, made from the same endpoint list the router
//! is built from, with JSON Schemas derived from the very types the
//! handlers read and write: an endpoint cannot exist undocumented, and a
//! type cannot change without its schema changing too.

use schemars::{generate::SchemaSettings, JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Map, Value};

use super::error::ErrorBody;

/// Makes the schema of a request or response type (a `$ref` to it).
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

pub fn schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// A query string's fields, each becoming a query parameter.
pub fn query<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    T::json_schema(generator)
}

/// What the document says about one endpoint.
pub struct Operation {
    pub method: &'static str,
    pub path: &'static str,
    pub id: &'static str,
    pub summary: &'static str,
    pub description: &'static str,
    /// The key scope it needs.
    pub scope: &'static str,
    /// Each `{name}` in the path.
    pub path_params: &'static [Param],
    pub query: Option<SchemaFn>,
    /// Optional request headers.
    pub headers: &'static [Param],
    pub body: Option<SchemaFn>,
    pub success: (u16, &'static str, SchemaFn),
    /// Statuses answered with an error body besides those every call has.
    pub errors: &'static [(u16, &'static str)],
}

/// An event the workspace's endpoints receive (Settings, Outgoing
/// webhooks): one of the document's `webhooks`, a POST of the event.
pub struct Event {
    /// The event's `type`, like `number.token_expiring`.
    pub name: &'static str,
    pub summary: &'static str,
    pub description: &'static str,
    pub payload: SchemaFn,
}

/// The Standard Webhooks headers every event carries.
const EVENT_HEADERS: &[Param] = &[
    Param {
        name: "webhook-id",
        description: "The event's id: the same on every delivery of it, so a receiver can drop repeats.",
        schema: r#"{"type": "string"}"#,
    },
    Param {
        name: "webhook-timestamp",
        description: "When this delivery was signed, Unix seconds.",
        schema: r#"{"type": "string", "pattern": "^[0-9]+$"}"#,
    },
    Param {
        name: "webhook-signature",
        description: "`v1,<base64 HMAC-SHA256>` of `id.timestamp.body` under the endpoint's secret; during a rotation, one per secret, separated by spaces.",
        schema: r#"{"type": "string"}"#,
    },
];

/// A path parameter or header: its name, what it is, and its JSON Schema
/// (as JSON text: every constraint the server checks is stated here).
pub struct Param {
    pub name: &'static str,
    pub description: &'static str,
    pub schema: &'static str,
}

/// Meta's id of a number: digits.
pub const PHONE_NUMBER_ID: &str = r#"{"type": "string", "pattern": "^[0-9]{1,32}$"}"#;
/// Switchboard's contact id.
pub const CONTACT_ID: &str = r#"{"type": "string", "pattern": "^ct_[0-9a-f]{32}$"}"#;
/// A phone (`wa_id`, 5 to 20 digits), a BSUID or a contact id.
pub const CUSTOMER: &str = r#"{"type": "string", "pattern": "^([0-9]{5,20}|[A-Z]{2}\\.(ENT\\.)?[A-Za-z0-9]{1,128}|ct_[0-9a-f]{32})$"}"#;
/// An outbox id.
pub const OUTBOX_ID: &str = r#"{"type": "integer", "format": "int64", "minimum": 1}"#;

impl Param {
    fn schema(&self) -> Value {
        serde_json::from_str(self.schema).expect("a parameter's schema is JSON")
    }
}

/// Every endpoint can answer these.
const COMMON_ERRORS: &[(u16, &str)] = &[
    (
        401,
        "No key, or an unknown or revoked one (`unauthorized`).",
    ),
    (403, "The key lacks the scope (`insufficient_scope`)."),
    (
        429,
        "The key's request budget is spent (`rate_limited`); see `Retry-After`.",
    ),
];

pub fn document(operations: &[&Operation], events: &[Event]) -> Value {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "/components/schemas".into();
    });
    let mut generator = settings.into_generator();
    let error = schema::<ErrorBody>(&mut generator).to_value();

    let mut paths = Map::new();
    for op in operations {
        let item = paths
            .entry(op.path)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("a path item is an object");
        item.insert(op.method.to_string(), operation(op, &mut generator, &error));
    }
    let mut webhooks = Map::new();
    for event in events {
        webhooks.insert(event.name.to_string(), webhook(event, &mut generator));
    }

    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "Switchboard integration API",
            "version": "1",
            "description": "Send WhatsApp messages and read conversations of one workspace. \
                Authenticate with `Authorization: Bearer <key>`; admins make keys on the API keys page. \
                Errors are JSON with a stable `code`.",
        },
        "paths": paths,
        "webhooks": webhooks,
        "components": {
            "schemas": generator.take_definitions(true),
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A workspace API key, `sbk_...`.",
                },
            },
        },
        "security": [{ "apiKey": [] }],
    })
}

/// What an endpoint receives for one event, and what it answers.
fn webhook(event: &Event, generator: &mut SchemaGenerator) -> Value {
    let headers: Vec<Value> = EVENT_HEADERS
        .iter()
        .map(|param| {
            json!({
                "name": param.name, "in": "header", "required": true,
                "description": param.description, "schema": param.schema(),
            })
        })
        .collect();
    json!({
        "post": {
            "operationId": format!("event_{}", event.name.replace('.', "_")),
            "summary": event.summary,
            "description": event.description,
            "parameters": headers,
            "requestBody": {
                "required": true,
                "content": { "application/json": { "schema": (event.payload)(generator).to_value() } },
            },
            "responses": {
                "2XX": { "description": "Received. Any other answer, or none, is retried (5 s, 1 min, 5 min, 30 min, 2 h, 5 h, 10 h), then the delivery fails." },
            },
            // The endpoint's owner receives these: no API key is involved.
            "security": [],
        },
    })
}

fn operation(op: &Operation, generator: &mut SchemaGenerator, error: &Value) -> Value {
    let mut parameters = Vec::new();
    for param in op.path_params {
        parameters.push(json!({
            "name": param.name, "in": "path", "required": true,
            "description": param.description, "schema": param.schema(),
        }));
    }
    if let Some(query) = op.query {
        let schema = query(generator).to_value();
        let required: Vec<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(properties) = schema["properties"].as_object() {
            for (name, property) in properties {
                let mut parameter = json!({
                    "name": name, "in": "query",
                    "required": required.contains(&name.as_str()),
                    "schema": property,
                });
                if let Some(description) = property.get("description") {
                    parameter["description"] = description.clone();
                }
                parameters.push(parameter);
            }
        }
    }
    for param in op.headers {
        parameters.push(json!({
            "name": param.name, "in": "header", "required": false,
            "description": param.description, "schema": param.schema(),
        }));
    }

    let (status, description, success) = op.success;
    let mut responses = Map::new();
    responses.insert(
        status.to_string(),
        json!({
            "description": description,
            "content": { "application/json": { "schema": success(generator).to_value() } },
        }),
    );
    for (status, description) in op.errors.iter().chain(COMMON_ERRORS) {
        responses.insert(
            status.to_string(),
            json!({
                "description": description,
                "content": { "application/json": { "schema": error } },
            }),
        );
    }

    let mut operation = json!({
        "operationId": op.id,
        "summary": op.summary,
        "description": format!("{}\n\nNeeds a key with the `{}` scope.", op.description, op.scope),
        "x-scope": op.scope,
        "parameters": parameters,
        "responses": responses,
    });
    if let Some(body) = op.body {
        operation["requestBody"] = json!({
            "required": true,
            "content": { "application/json": { "schema": body(generator).to_value() } },
        });
    }
    operation
}
