//! The integration API's reference, rendered from the OpenAPI document the
//! server serves at /api/v1/openapi.json (so the page cannot drift either).

use leptos::prelude::*;
use serde_json::Value;

use crate::api::api_reference::api_document;

#[component]
pub fn ApiReference() -> impl IntoView {
    let document = Resource::new(|| (), |_| api_document());
    view! {
        <section class="page api-reference">
            <h1>"API reference"</h1>
            <p class="lead">
                "Make a key on the " <a href="/settings/api-keys">"API keys"</a> " page, then call these with "
                <code>"Authorization: Bearer <key>"</code> ". The machine-readable document: "
                <a href="/api/v1/openapi.json" rel="external">"/api/v1/openapi.json"</a> " (OpenAPI 3.1)."
            </p>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || document.get().map(|result| match result.map(|text| serde_json::from_str::<Value>(&text)) {
                    Ok(Ok(doc)) => view! { <Document doc/> }.into_any(),
                    Ok(Err(_)) => view! { <p class="form-error" role="alert">"The document is not JSON."</p> }.into_any(),
                    Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Document(doc: Value) -> impl IntoView {
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            operations.push((method.clone(), path.clone(), operation.clone()));
        }
    }
    // What the workspace's endpoints receive (OpenAPI's `webhooks`).
    let mut events = Vec::new();
    for (name, item) in doc["webhooks"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            events.push((method.clone(), name.clone(), operation.clone()));
        }
    }
    let schemas: Vec<(String, String)> = doc["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, schema)| {
            let pretty = serde_json::to_string_pretty(schema).unwrap_or_default();
            (name.clone(), pretty)
        })
        .collect();
    view! {
        <p class="muted">{text(&doc["info"]["description"])}</p>
        {operations.into_iter().map(|(method, path, op)| view! { <Operation method path op/> }).collect_view()}
        {(!events.is_empty()).then(|| view! {
            <h2>"Events"</h2>
            <p class="muted">
                "What your endpoints receive (Settings, "
                <a href="/settings/outgoing-webhooks">"Outgoing webhooks"</a>
                "), signed per Standard Webhooks."
            </p>
            {events.into_iter().map(|(method, path, op)| view! { <Operation method path op/> }).collect_view()}
        })}
        <h2>"Schemas"</h2>
        {schemas.into_iter().map(|(name, pretty)| {
            let anchor = format!("schema-{name}");
            view! {
            <details class="schema" id=anchor>
                <summary><code>{name}</code></summary>
                <pre>{pretty}</pre>
            </details>
        }}).collect_view()}
    }
}

#[component]
fn Operation(method: String, path: String, op: Value) -> impl IntoView {
    let parameters: Vec<Value> = op["parameters"].as_array().cloned().unwrap_or_default();
    let responses: Vec<(String, Value)> = op["responses"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(status, response)| (status.clone(), response.clone()))
        .collect();
    let body = schema_link(&op["requestBody"]["content"]["application/json"]["schema"]);
    view! {
        <article class="card endpoint" data-operation=text(&op["operationId"])>
            <h2>
                <span class=format!("method method-{method}")>{method.to_uppercase()}</span>" "
                <code>{path}</code>
            </h2>
            <p><strong>{text(&op["summary"])}</strong></p>
            <p class="description">{text(&op["description"])}</p>
            {(!parameters.is_empty()).then(|| view! {
                <h3>"Parameters"</h3>
                <table class="table">
                    <thead><tr><th>"Name"</th><th>"In"</th><th>"Required"</th><th>"Description"</th></tr></thead>
                    <tbody>{parameters.into_iter().map(|p| view! {
                        <tr>
                            <td><code>{text(&p["name"])}</code></td>
                            <td>{text(&p["in"])}</td>
                            <td>{if p["required"].as_bool() == Some(true) { "yes" } else { "no" }}</td>
                            <td>{text(&p["description"])}</td>
                        </tr>
                    }).collect_view()}</tbody>
                </table>
            })}
            {body.map(|name| {
                let href = format!("#schema-{name}");
                view! {
                    <h3>"Request body"</h3>
                    <p><a href=href><code>{name}</code></a></p>
                }
            })}
            <h3>"Responses"</h3>
            <table class="table responses">
                <thead><tr><th>"Status"</th><th>"Description"</th><th>"Body"</th></tr></thead>
                <tbody>{responses.into_iter().map(|(status, response)| {
                    let body = schema_link(&response["content"]["application/json"]["schema"]);
                    let code = status.clone();
                    view! {
                        <tr data-status=code>
                            <td>{status}</td>
                            <td>{text(&response["description"])}</td>
                            <td>{body.map(|name| { let href = format!("#schema-{name}"); view! { <a href=href><code>{name}</code></a> } })}</td>
                        </tr>
                    }
                }).collect_view()}</tbody>
            </table>
        </article>
    }
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

/// The component name a `$ref` points at.
fn schema_link(schema: &Value) -> Option<String> {
    schema["$ref"]
        .as_str()
        .and_then(|r| r.rsplit('/').next())
        .map(str::to_string)
}
