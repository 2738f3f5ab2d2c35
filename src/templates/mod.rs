//! Message templates: each WABA's, synced from Meta and stored; created
//! (checked against Meta's rules first) and deleted by admins; and the
//! gate every template send passes: only an approved template with the
//! right number of values leaves for Meta.

pub mod sync;

use serde_json::{json, Value};

use crate::{
    accounts::{Caller, Role},
    audit,
    graph::templates::{component_text, read_template, values_expected, TemplateInfo},
    graph::GraphError,
    numbers,
    store::{now_millis, StoredTemplate},
    Engine, Error, MetaCall,
};
use rules::templates::{Button, Draft};

pub const APPROVED: &str = "APPROVED";

/// How old the list may be before a send naming an unknown template reads
/// it again.
const RESYNC_FOR_UNKNOWN_MS: i64 = 60_000;

/// The text of a stored template's component (`HEADER`, `BODY`, `FOOTER`).
pub fn text_of(template: &StoredTemplate, kind: &str) -> String {
    let components = serde_json::from_str(&template.components).unwrap_or(Value::Null);
    component_text(&components, kind)
}

/// A stored template as the composer shows it, read as Meta's listing is.
pub fn info(template: &StoredTemplate) -> Option<TemplateInfo> {
    read_template(&json!({
        "id": template.template_id,
        "name": template.name,
        "language": template.language,
        "status": template.status,
        "category": template.category,
        "rejected_reason": template.rejected_reason,
        "parameter_format": template.parameter_format,
        "components": serde_json::from_str::<Value>(&template.components).unwrap_or(Value::Null),
    }))
}

/// The templates of every WABA the workspace has a number in.
pub async fn list(engine: &Engine, caller: &Caller) -> Result<Vec<StoredTemplate>, Error> {
    caller.require(Role::Viewer)?;
    Ok(engine
        .store
        .templates_of_workspace(&caller.workspace.id)
        .await?)
}

/// The draft as Meta's create call takes it.
pub fn to_graph(draft: &Draft) -> Value {
    let mut components = Vec::new();
    if !draft.header.is_empty() {
        let mut header = json!({ "type": "HEADER", "format": "TEXT", "text": draft.header });
        if !rules::templates::variables(&draft.header).is_empty() {
            header["example"] = json!({ "header_text": [draft.header_example] });
        }
        components.push(header);
    }
    let mut body = json!({ "type": "BODY", "text": draft.body });
    let count = rules::templates::variables(&draft.body).len();
    if count > 0 {
        let samples: Vec<&String> = draft.body_examples.iter().take(count).collect();
        body["example"] = json!({ "body_text": [samples] });
    }
    components.push(body);
    if !draft.footer.is_empty() {
        components.push(json!({ "type": "FOOTER", "text": draft.footer }));
    }
    if !draft.buttons.is_empty() {
        let buttons: Vec<Value> = draft
            .buttons
            .iter()
            .map(|button| match button {
                Button::QuickReply { text } => json!({ "type": "QUICK_REPLY", "text": text }),
                Button::Url { text, url, example } => {
                    let mut value = json!({ "type": "URL", "text": text, "url": url });
                    if url.ends_with("}}") {
                        value["example"] = json!([example]);
                    }
                    value
                }
                Button::Phone { text, phone_number } => {
                    json!({ "type": "PHONE_NUMBER", "text": text, "phone_number": phone_number })
                }
            })
            .collect();
        components.push(json!({ "type": "BUTTONS", "buttons": buttons }));
    }
    json!({
        "name": draft.name,
        "language": draft.language,
        "category": draft.category,
        "parameter_format": "POSITIONAL",
        "components": components,
    })
}

/// Submits a new template for the WABA of `phone_number_id`; it is stored
/// as Meta answers (usually PENDING) and changes with Meta's webhooks.
pub async fn create(
    engine: &Engine,
    caller: &Caller,
    phone_number_id: &str,
    draft: &Draft,
) -> Result<StoredTemplate, Error> {
    caller.require(Role::Admin)?;
    let number = numbers::owned(engine, &caller.workspace.id, &phone_number_id.into()).await?;
    rules::templates::check(draft).map_err(|p| Error::invalid(p.field, p.message))?;
    let token = crate::tokens::open_number_token(engine, phone_number_id).await?;
    let request = to_graph(draft);
    let (template_id, status, category) = match engine
        .graph
        .create_template(&token, &number.waba_id, request.clone())
        .await
    {
        Ok(answer) => answer,
        Err(error) => return Err(refused_by_meta(engine, phone_number_id, error).await),
    };
    let stored = StoredTemplate {
        waba_id: number.waba_id.to_string(),
        name: draft.name.clone(),
        language: draft.language.clone(),
        template_id,
        category: if category.is_empty() {
            draft.category.clone()
        } else {
            category
        },
        status: if status.is_empty() {
            "PENDING".into()
        } else {
            status
        },
        rejected_reason: None,
        parameter_format: "POSITIONAL".into(),
        components: request["components"].to_string(),
        updated_at: now_millis(),
        // Meta scores a template once it has been sent for a while.
        quality: None,
    };
    engine.store.upsert_template(&stored).await?;
    audit::record_by(&engine.store, caller, "template.created",
        json!({ "waba_id": stored.waba_id, "name": stored.name, "language": stored.language, "status": stored.status }),
    )
    .await?;
    Ok(stored)
}

/// Edits the template the draft names (same name and language): new
/// components, and a new category unless it is approved. Meta reviews it
/// again, so it is stored as PENDING until the webhook says otherwise.
pub async fn edit(
    engine: &Engine,
    caller: &Caller,
    phone_number_id: &str,
    draft: &Draft,
) -> Result<StoredTemplate, Error> {
    caller.require(Role::Admin)?;
    let number = numbers::owned(engine, &caller.workspace.id, &phone_number_id.into()).await?;
    let mut stored = engine
        .store
        .template(&number.waba_id, &draft.name, &draft.language)
        .await?
        .ok_or(Error::NotFound)?;
    if !matches!(stored.status.as_str(), APPROVED | "REJECTED" | "PAUSED") {
        return Err(Error::invalid(
            "name",
            format!(
                "A {} template can't be edited.",
                stored.status.to_lowercase()
            ),
        ));
    }
    if stored.status == APPROVED && draft.category != stored.category {
        return Err(Error::invalid(
            "category",
            "An approved template's category can't be changed.",
        ));
    }
    rules::templates::check(draft).map_err(|p| Error::invalid(p.field, p.message))?;
    let token = crate::tokens::open_number_token(engine, phone_number_id).await?;
    let components = to_graph(draft)["components"].clone();
    let changes = json!({ "category": draft.category, "components": components });
    if let Err(error) = engine
        .graph
        .edit_template(&token, &stored.template_id, changes)
        .await
    {
        return Err(refused_by_meta(engine, phone_number_id, error).await);
    }
    stored.components = components.to_string();
    stored.category = draft.category.clone();
    stored.status = "PENDING".into();
    stored.rejected_reason = None;
    stored.updated_at = now_millis();
    engine.store.upsert_template(&stored).await?;
    audit::record_by(
        &engine.store,
        caller,
        "template.edited",
        json!({ "waba_id": stored.waba_id, "name": stored.name, "language": stored.language }),
    )
    .await?;
    Ok(stored)
}

/// Deletes every language of `name` at Meta, then here.
pub async fn delete(
    engine: &Engine,
    caller: &Caller,
    phone_number_id: &str,
    name: &str,
) -> Result<(), Error> {
    caller.require(Role::Admin)?;
    let number = numbers::owned(engine, &caller.workspace.id, &phone_number_id.into()).await?;
    let token = crate::tokens::open_number_token(engine, phone_number_id).await?;
    if let Err(error) = engine
        .graph
        .delete_template(&token, &number.waba_id, name)
        .await
    {
        return Err(refused_by_meta(engine, phone_number_id, error).await);
    }
    engine.store.delete_templates(&number.waba_id, name).await?;
    audit::record_by(
        &engine.store,
        caller,
        "template.deleted",
        json!({ "waba_id": number.waba_id, "name": name }),
    )
    .await?;
    Ok(())
}

/// Meta refused a template call: a dead token flags the number, and the
/// error keeps Meta's answer.
async fn refused_by_meta(engine: &Engine, phone_number_id: &str, error: GraphError) -> Error {
    if let Err(stored) = numbers::note_graph_error(engine, phone_number_id, &error).await {
        return stored.into();
    }
    Error::meta(MetaCall::ChangeTemplate, error)
}

/// What sending a stored template with these values means to the Messages
/// API: positional text parameters, or, for a NAMED template, each
/// parameter with the `parameter_name` of its placeholder.
pub async fn content_for(
    engine: &Engine,
    caller: &Caller,
    phone_number_id: &str,
    name: &str,
    language: &str,
    header: &[String],
    body: &[String],
) -> Result<crate::outbox::Content, Error> {
    caller.require(Role::Agent)?;
    let number = numbers::owned(engine, &caller.workspace.id, &phone_number_id.into()).await?;
    let stored = engine
        .store
        .template(&number.waba_id, name, language)
        .await?;
    let Some(template) = stored.filter(|t| t.parameter_format == "NAMED") else {
        return Ok(crate::outbox::template_content(
            name, language, header, body,
        ));
    };
    let part = |kind: &str, values: &[String]| {
        let names = rules::templates::distinct_variables(&text_of(&template, kind));
        let parameters: Vec<Value> = values
            .iter()
            .enumerate()
            .map(|(i, value)| match names.get(i) {
                Some(n) => json!({ "type": "text", "parameter_name": n, "text": value }),
                None => json!({ "type": "text", "text": value }),
            })
            .collect();
        (!parameters.is_empty())
            .then(|| json!({ "type": kind.to_lowercase(), "parameters": parameters }))
    };
    Ok(crate::outbox::Content::Template {
        name: name.to_string(),
        language: language.to_string(),
        components: [part("HEADER", header), part("BODY", body)]
            .into_iter()
            .flatten()
            .collect(),
    })
}

/// Refuses, before Meta does, a template that is not approved here or is
/// given the wrong number of values. An unknown template is looked up at
/// Meta first (it may be newer than the last sync), unless the list was
/// read within the last minute: Meta allows a WABA only so many
/// management calls an hour, and sends naming unknown templates must not
/// spend them. Returns the stored template.
pub async fn require_sendable(
    engine: &Engine,
    waba_id: &str,
    name: &str,
    language: &str,
    components: &[Value],
) -> Result<crate::store::StoredTemplate, Error> {
    let mut found = engine.store.template(waba_id, name, language).await?;
    if found.is_none() {
        let synced_at = engine
            .store
            .template_sync_state(waba_id)
            .await?
            .and_then(|(at, _)| at);
        if synced_at.is_none_or(|at| now_millis() - at > RESYNC_FOR_UNKNOWN_MS) {
            if let Err(error) = sync::sync_waba(engine, waba_id).await {
                tracing::warn!(%waba_id, %error, "template sync before a send failed");
            }
            found = engine.store.template(waba_id, name, language).await?;
        }
    }
    let refuse = |message: String| Err(Error::invalid("content", message));
    let Some(template) = found else {
        return refuse(format!(
            "There is no template {name} in {language} for this number."
        ));
    };
    if template.status != APPROVED {
        let reason = template
            .rejected_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        return refuse(format!(
            "The template {name} is {}{reason}; only approved templates can be sent.",
            template.status.to_lowercase()
        ));
    }
    let stored_components: Value =
        serde_json::from_str(&template.components).unwrap_or(Value::Null);
    for kind in ["HEADER", "BODY"] {
        let expected = values_expected(&stored_components, kind);
        let given: usize = components
            .iter()
            .filter(|c| {
                c["type"]
                    .as_str()
                    .is_some_and(|t| t.eq_ignore_ascii_case(kind))
            })
            .filter_map(|c| c["parameters"].as_array())
            .map(Vec::len)
            .sum();
        if given != expected {
            return refuse(format!(
                "The template {name}'s {} takes {expected} values; {given} given.",
                kind.to_lowercase()
            ));
        }
    }
    Ok(template)
}
