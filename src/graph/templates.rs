//! A WABA's message templates: listed (every page followed by its
//! `after` cursor), created and deleted.

use serde_json::Value;

use super::{GraphClient, GraphError};
use crate::secret::Secret;

/// Pages are followed at most this far (a WABA holds at most a few
/// hundred templates).
const MAX_PAGES: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateInfo {
    pub id: String,
    pub name: String,
    pub language: String,
    pub status: String,
    pub category: String,
    /// The body's text with its `{{n}}` (or `{{name}}`) placeholders.
    pub body: String,
    /// The body's distinct placeholders in order: `1`, `2`... or, for a
    /// NAMED template, the names its parameters must carry.
    pub variable_names: Vec<String>,
    /// The text header with its placeholder, if the template has one.
    pub header: String,
    pub rejected_reason: Option<String>,
    pub parameter_format: String,
    /// Meta's components as listed.
    pub components: Value,
    /// `quality_score.score`: GREEN, YELLOW, RED or UNKNOWN.
    pub quality: Option<String>,
}

/// What the sync reads of each template. Meta's default fields leave out
/// the rejection reason and the quality score.
const LIST_FIELDS: &str =
    "id,name,language,status,category,parameter_format,components,rejected_reason,quality_score";

/// How many distinct variables a text has (`{{1}}`, `{{2}}`... or named).
pub fn variable_count(text: &str) -> usize {
    rules::templates::distinct_variables(text).len()
}

impl TemplateInfo {
    /// How many body values a send must give.
    pub fn variables(&self) -> usize {
        self.variable_names.len()
    }
}

/// A template's component of `kind` (HEADER, BODY, FOOTER, BUTTONS).
pub fn component<'a>(components: &'a Value, kind: &str) -> Option<&'a Value> {
    components.as_array()?.iter().find(|c| {
        c["type"]
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case(kind))
    })
}

/// The text of a template's component of `kind` (empty if it has none).
pub fn component_text(components: &Value, kind: &str) -> String {
    component(components, kind)
        .and_then(|c| c["text"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// How many parameters a send gives a template's `HEADER` or `BODY`: one
/// per distinct `{{...}}` of its text, and for a media or location header
/// exactly one (the file or the place).
pub fn values_expected(components: &Value, kind: &str) -> usize {
    let media_header = kind.eq_ignore_ascii_case("HEADER")
        && component(components, kind)
            .and_then(|c| c["format"].as_str())
            .is_some_and(|f| !f.eq_ignore_ascii_case("TEXT"));
    if media_header {
        1
    } else {
        variable_count(&component_text(components, kind))
    }
}

/// A template object as Meta lists it; `None` without a name or language.
pub fn read_template(value: &Value) -> Option<TemplateInfo> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let body = component_text(&value["components"], "BODY");
    let header = component_text(&value["components"], "HEADER");
    Some(TemplateInfo {
        header,
        id: text(&value["id"]),
        name: value["name"].as_str()?.to_string(),
        language: value["language"].as_str()?.to_string(),
        status: text(&value["status"]).to_uppercase(),
        category: text(&value["category"]).to_uppercase(),
        variable_names: rules::templates::distinct_variables(&body),
        body,
        rejected_reason: value["rejected_reason"]
            .as_str()
            .filter(|r| !r.eq_ignore_ascii_case("NONE"))
            .map(str::to_string),
        parameter_format: value["parameter_format"]
            .as_str()
            .unwrap_or("POSITIONAL")
            .to_uppercase(),
        components: value["components"].clone(),
        // An object `{score, date}`; a plain string read as the score.
        quality: value["quality_score"]["score"]
            .as_str()
            .or_else(|| value["quality_score"].as_str())
            .map(str::to_uppercase),
    })
}

impl GraphClient {
    pub async fn message_templates(
        &self,
        token: &Secret<String>,
        waba_id: &str,
    ) -> Result<Vec<TemplateInfo>, GraphError> {
        let path = format!("{waba_id}/message_templates");
        let mut templates = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![("limit", "100"), ("fields", LIST_FIELDS)];
            if let Some(cursor) = &after {
                query.push(("after", cursor.as_str()));
            }
            let page = self.get(token, &path, &query).await?;
            templates.extend(
                page["data"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(read_template),
            );
            // Only a `next` link says another page exists.
            match (
                page["paging"]["next"].as_str(),
                page["paging"]["cursors"]["after"].as_str(),
            ) {
                (Some(_), Some(cursor)) => after = Some(cursor.to_string()),
                _ => break,
            }
        }
        Ok(templates)
    }

    /// Submits a template for review: (id, status, category) as Meta
    /// answers (the category may differ from the one asked for).
    pub async fn create_template(
        &self,
        token: &Secret<String>,
        waba_id: &str,
        template: Value,
    ) -> Result<(String, String, String), GraphError> {
        let answer = self
            .post(token, &format!("{waba_id}/message_templates"), template)
            .await?;
        let text = |key: &str| answer[key].as_str().unwrap_or_default().to_string();
        let id = match &answer["id"] {
            Value::Number(n) => n.to_string(),
            other => other.as_str().unwrap_or_default().to_string(),
        };
        Ok((
            id,
            text("status").to_uppercase(),
            text("category").to_uppercase(),
        ))
    }

    /// Replaces a template's components (and category, unless approved);
    /// Meta reviews it again.
    pub async fn edit_template(
        &self,
        token: &Secret<String>,
        template_id: &str,
        changes: Value,
    ) -> Result<(), GraphError> {
        self.post(token, template_id, changes).await?;
        Ok(())
    }

    /// Deletes every language of the template `name`.
    pub async fn delete_template(
        &self,
        token: &Secret<String>,
        waba_id: &str,
        name: &str,
    ) -> Result<(), GraphError> {
        let url = self.url(&format!("{waba_id}/message_templates"));
        self.send(
            self.authorized(self.http.delete(url), token)
                .query(&[("name", name)]),
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn templates_are_read_with_their_variables() {
        assert_eq!(variable_count("Hi {{1}}, order {{2}} ships {{ 2 }}"), 2);
        assert_eq!(variable_count("Hello world"), 0);
        let read = read_template(&json!({
            "id": "1", "name": "order_update", "language": "en_US", "status": "approved",
            "category": "UTILITY", "components": [{ "type": "BODY", "text": "Hi {{1}}, {{2}}" }],
        }))
        .unwrap();
        assert_eq!((read.status.as_str(), read.variables()), ("APPROVED", 2));
        assert!(read_template(&json!({ "id": "1" })).is_none());
    }

    #[test]
    fn a_send_gives_one_value_per_variable_and_one_for_a_media_header() {
        let text = json!([
            { "type": "HEADER", "format": "TEXT", "text": "Order {{1}}" },
            { "type": "BODY", "text": "Hi {{1}}, {{2}} is ready." },
        ]);
        assert_eq!(
            (
                values_expected(&text, "HEADER"),
                values_expected(&text, "BODY")
            ),
            (1, 2)
        );
        let image = json!([
            { "type": "HEADER", "format": "IMAGE", "example": { "header_handle": ["4::x"] } },
            { "type": "BODY", "text": "Our new menu." },
        ]);
        assert_eq!(
            (
                values_expected(&image, "HEADER"),
                values_expected(&image, "BODY")
            ),
            (1, 0)
        );
        let plain = json!([{ "type": "BODY", "text": "Hello." }]);
        assert_eq!(
            (
                values_expected(&plain, "HEADER"),
                values_expected(&plain, "BODY")
            ),
            (0, 0)
        );
    }
}
