//! Message templates per WABA, as Meta keeps them: listed with cursor
//! paging and filters, created (validated as Meta validates, then put in
//! review), reviewed after a delay with a `message_template_status_update`
//! webhook, deleted by name, and checked on every template send.

mod create;
mod review;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde_json::{json, Value};

use crate::{
    error::{GraphError, GraphResult},
    graph::{authorized, GraphRequest},
    State,
};

pub use create::{create, edit};
pub use review::{set_category, set_quality, set_status};

const DEFAULT_LIMIT: usize = 25;

/// A template as Meta keeps it.
#[derive(Debug, Clone)]
pub struct Template {
    pub id: String,
    pub waba_id: String,
    pub name: String,
    pub language: String,
    pub category: String,
    /// PENDING, APPROVED, REJECTED, PAUSED, DISABLED, ...
    pub status: String,
    pub rejected_reason: Option<String>,
    /// POSITIONAL or NAMED.
    pub parameter_format: String,
    pub components: Vec<Value>,
    /// When each edit of an approved template was made, for Meta's
    /// limits (1 a day, 10 in 30 days).
    pub approved_edits: Vec<crate::world::Millis>,
    /// `quality_score.score`: GREEN, YELLOW, RED or UNKNOWN (new ones).
    pub quality: String,
}

/// What a listing returns without `fields` (reference meta-templates §1):
/// no rejection reason, no quality score.
const DEFAULT_FIELDS: [&str; 7] = [
    "id",
    "name",
    "language",
    "status",
    "category",
    "parameter_format",
    "components",
];

impl Template {
    /// One of the demo's approved templates: a body and nothing else.
    pub fn approved(id: &str, waba_id: &str, name: &str, body: &str) -> Self {
        Self {
            id: id.into(),
            waba_id: waba_id.into(),
            name: name.into(),
            language: "en_US".into(),
            category: "UTILITY".into(),
            status: "APPROVED".into(),
            rejected_reason: None,
            parameter_format: "POSITIONAL".into(),
            components: vec![json!({ "type": "BODY", "text": body })],
            approved_edits: Vec::new(),
            quality: "GREEN".into(),
        }
    }

    /// The template as Graph shows it: the fields asked for (`id` always),
    /// or Meta's default ones.
    fn to_json(&self, fields: Option<&[String]>) -> Value {
        let mut all = json!({
            "id": self.id,
            "name": self.name,
            "language": self.language,
            "status": self.status,
            "category": self.category,
            "parameter_format": self.parameter_format,
            "components": self.components,
            "rejected_reason": self.rejected_reason.as_deref().unwrap_or("NONE"),
            "quality_score": { "score": self.quality, "date": 1_767_225_600 },
        });
        let wanted = |key: &str| {
            key == "id"
                || match fields {
                    Some(fields) => fields.iter().any(|f| f == key),
                    None => DEFAULT_FIELDS.contains(&key),
                }
        };
        if let Some(map) = all.as_object_mut() {
            map.retain(|key, _| wanted(key));
        }
        all
    }

    /// The text of its component of `kind` (HEADER, BODY, FOOTER).
    fn text_of(&self, kind: &str) -> Option<&str> {
        self.components
            .iter()
            .find(|c| {
                c["type"]
                    .as_str()
                    .is_some_and(|t| t.eq_ignore_ascii_case(kind))
            })
            .and_then(|c| c["text"].as_str())
    }

    /// How many values a send must give the header and the body; a media
    /// or location header takes exactly one (the file or the place).
    pub fn variables(&self) -> (usize, usize) {
        let media_header = self.components.iter().any(|c| {
            c["type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case("HEADER"))
                && c["format"]
                    .as_str()
                    .is_some_and(|f| !f.eq_ignore_ascii_case("TEXT"))
        });
        let distinct = |text: &str| {
            let mut seen = variables_in(text);
            seen.sort_unstable();
            seen.dedup();
            seen.len()
        };
        let header = if media_header {
            1
        } else {
            self.text_of("HEADER").map_or(0, distinct)
        };
        (header, self.text_of("BODY").map_or(0, distinct))
    }
}

/// The `{{...}}` placeholders of a text, in order.
pub fn variables_in(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                found.push(after[..end].trim());
                rest = &after[end + 2..];
            }
            None => break,
        }
    }
    found
}

fn cursor(index: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("tpl:{index}"))
}

fn index_of(cursor: &str) -> Option<usize> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    text.strip_prefix("tpl:")?.parse().ok()
}

/// The WABA must exist and the token must manage it.
fn managed_waba(state: &State, request: &GraphRequest, waba_id: &str) -> GraphResult<()> {
    let token = authorized(state, request)?;
    let known = state.world().wabas.contains_key(waba_id);
    if !known || !token.may_manage_waba(waba_id) {
        return Err(request.unknown_object());
    }
    crate::coexistence::check_access(&state.world(), waba_id)
}

/// Whether `value` is in a comma-separated, case-insensitive filter.
fn listed(filter: &Option<String>, value: &str) -> bool {
    filter.as_ref().is_none_or(|list| {
        list.trim_matches(|c| c == '[' || c == ']')
            .split(',')
            .any(|one| one.trim().trim_matches('"').eq_ignore_ascii_case(value))
    })
}

/// `GET /{waba-id}/message_templates`.
pub fn list(state: &State, request: &GraphRequest, waba_id: &str) -> GraphResult<Value> {
    managed_waba(state, request, waba_id)?;
    let query = |name: &str| request.param(name);
    let limit = match query("limit") {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| GraphError::invalid_parameter("limit must be between 1 and 1000."))?,
    };
    let start = match query("after") {
        None => 0,
        Some(after) => index_of(&after)
            .map(|i| i + 1)
            .ok_or_else(|| GraphError::invalid_parameter("The after cursor is not valid."))?,
    };
    let fields = request.fields();
    let (name, status, category, language) = (
        query("name"),
        query("status"),
        query("category"),
        query("language"),
    );
    let mut templates: Vec<Template> = state
        .world()
        .templates
        .iter()
        .filter(|t| t.waba_id == waba_id && t.status != "DELETED")
        .cloned()
        .collect();
    templates.sort_by(|a, b| (&a.name, &a.language).cmp(&(&b.name, &b.language)));
    let matching: Vec<&Template> = templates
        .iter()
        .filter(|t| name.as_ref().is_none_or(|n| t.name.contains(n.as_str())))
        .filter(|t| listed(&language, &t.language))
        .filter(|t| listed(&status, &t.status))
        .filter(|t| listed(&category, &t.category))
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(limit)
        .map(|t| t.to_json(fields.as_deref()))
        .collect();
    let last = start + page.len();
    let mut paging = json!({
        "cursors": { "before": cursor(start), "after": cursor(last.saturating_sub(1)) },
    });
    if last < matching.len() {
        paging["next"] = json!(format!(
            "{}/{}/{waba_id}/message_templates?limit={limit}&after={}",
            state.base_url,
            request.version,
            cursor(last - 1)
        ));
    }
    Ok(json!({ "data": page, "paging": paging }))
}

pub fn is_template(state: &State, id: &str) -> bool {
    state.world().templates.iter().any(|t| t.id == id)
}

/// `DELETE /{waba-id}/message_templates?name=X[&hsm_id=ID]`: every
/// language of the name, or only the one id.
pub fn delete(state: &State, request: &GraphRequest, waba_id: &str) -> GraphResult<Value> {
    managed_waba(state, request, waba_id)?;
    let name = request
        .param("name")
        .ok_or_else(|| GraphError::invalid_parameter("The parameter name is required."))?;
    let hsm_id = request.param("hsm_id");
    let mut world = state.world();
    let targets: Vec<usize> = world
        .templates
        .iter()
        .enumerate()
        .filter(|(_, t)| t.waba_id == waba_id && t.name == name && t.status != "DELETED")
        .filter(|(_, t)| hsm_id.as_ref().is_none_or(|id| &t.id == id))
        .map(|(i, _)| i)
        .collect();
    if targets.is_empty() {
        return Err(GraphError::invalid_parameter(format!(
            "Message template \"{name}\" not found."
        ))
        .with_subcode(2593002));
    }
    if targets
        .iter()
        .any(|&i| world.templates[i].status == "DISABLED")
    {
        return Err(GraphError::invalid_parameter(
            "A disabled message template cannot be deleted.",
        ));
    }
    // Removed at once: its (name, language) stays taken only while Meta
    // processes a deletion, which the sandbox does not model.
    let mut index = 0;
    world.templates.retain(|_| {
        let keep = !targets.contains(&index);
        index += 1;
        keep
    });
    Ok(json!({ "success": true }))
}

/// Checks a template send the way Meta does: the (name, language) must
/// exist in the number's WABA and be approved, and the header and body
/// must get exactly their variables.
pub fn check_send(state: &State, waba_id: &str, template: &Value) -> GraphResult<()> {
    use axum::http::StatusCode;
    let missing = |what: &str| {
        GraphError::whatsapp(
            StatusCode::BAD_REQUEST,
            131008,
            "Required parameter is missing",
            format!("The parameter {what} is required."),
        )
    };
    let name = template["name"]
        .as_str()
        .ok_or_else(|| missing("template.name"))?;
    let language = template
        .pointer("/language/code")
        .and_then(Value::as_str)
        .ok_or_else(|| missing("template.language.code"))?;
    let found = state
        .world()
        .templates
        .iter()
        .find(|t| t.waba_id == waba_id && t.name == name && t.language == language)
        .cloned();
    let not_found = || {
        GraphError::whatsapp(
            StatusCode::NOT_FOUND,
            132001,
            "Template name does not exist in the translation",
            format!("template name ({name}) does not exist in {language}"),
        )
    };
    let template_row = found.ok_or_else(not_found)?;
    match template_row.status.as_str() {
        "APPROVED" => {}
        "PAUSED" => {
            return Err(GraphError::whatsapp(
                StatusCode::BAD_REQUEST,
                132015,
                "Template is Paused",
                format!("Template {name} is paused due to low quality."),
            ))
        }
        "DISABLED" => {
            return Err(GraphError::whatsapp(
                StatusCode::BAD_REQUEST,
                132016,
                "Template is Disabled",
                format!("Template {name} is disabled."),
            ))
        }
        _ => return Err(not_found()),
    }
    // The parameters the send gives one part (header or body).
    let given = |kind: &str| -> Vec<&Value> {
        template["components"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| {
                c["type"]
                    .as_str()
                    .is_some_and(|t| t.eq_ignore_ascii_case(kind))
            })
            .filter_map(|c| c["parameters"].as_array())
            .flatten()
            .collect()
    };
    let (header, body) = template_row.variables();
    for (kind, expected) in [("HEADER", header), ("BODY", body)] {
        let parameters = given(kind);
        let kind = kind.to_lowercase();
        if parameters.len() != expected {
            return Err(GraphError::whatsapp(
                StatusCode::BAD_REQUEST,
                132000,
                "Number of parameters does not match the expected number of params",
                format!("{kind}: number of localizable_params ({}) does not match the expected number of params ({expected})", parameters.len()),
            ));
        }
        // A NAMED template's parameters say which placeholder they fill.
        if template_row.parameter_format == "NAMED" {
            let names = template_row
                .text_of(&kind)
                .map(variables_in)
                .unwrap_or_default();
            let unnamed = parameters.iter().any(|p| {
                !p["parameter_name"]
                    .as_str()
                    .is_some_and(|n| names.contains(&n))
            });
            if unnamed {
                return Err(missing(&format!(
                    "parameter_name (one of {}) of each {kind} parameter",
                    names.join(", ")
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        assert_eq!(index_of(&cursor(7)), Some(7));
        assert_eq!(index_of("garbage"), None);
    }

    #[test]
    fn variables_are_found_in_order() {
        assert_eq!(variables_in("Hi {{1}}, order {{ 2 }} {{x"), vec!["1", "2"]);
        assert!(variables_in("no variables").is_empty());
    }

    #[test]
    fn a_media_header_takes_one_value() {
        let mut template = Template::approved("1", "w", "menu", "Our menu, {{1}}.");
        assert_eq!(template.variables(), (0, 1));
        template
            .components
            .insert(0, json!({ "type": "HEADER", "format": "IMAGE" }));
        assert_eq!(template.variables(), (1, 1));
    }

    #[test]
    fn filters_take_lists_in_any_case() {
        assert!(listed(&Some("approved,PAUSED".into()), "PAUSED"));
        assert!(listed(&Some("[\"APPROVED\"]".into()), "APPROVED"));
        assert!(!listed(&Some("REJECTED".into()), "APPROVED"));
        assert!(listed(&None, "anything"));
    }
}
