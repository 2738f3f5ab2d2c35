//! `GET /{waba-id}/message_templates`: the WABA's templates in Meta's
//! shape, with cursor paging (`limit`, `after`, `paging.next`) and the
//! `name` (partial), `language` and `status` filters. Only the seeded,
//! approved templates exist until templates can be created here.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use serde_json::{json, Value};

use crate::{
    error::{GraphError, GraphResult},
    graph::{authorized, GraphRequest},
    State,
};

const DEFAULT_LIMIT: usize = 25;

/// A template as Meta lists it.
#[derive(Debug, Clone)]
pub struct Template {
    pub id: String,
    pub name: String,
    pub language: String,
    pub category: &'static str,
    pub body: String,
}

impl Template {
    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "language": self.language,
            "status": "APPROVED",
            "category": self.category,
            "parameter_format": "POSITIONAL",
            "components": [{ "type": "BODY", "text": self.body }],
        })
    }
}

fn cursor(index: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("tpl:{index}"))
}

fn index_of(cursor: &str) -> Option<usize> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    text.strip_prefix("tpl:")?.parse().ok()
}

pub fn list(state: &State, request: &GraphRequest, waba_id: &str) -> GraphResult<Value> {
    authorized(state, request)?;
    if state.demo.as_ref().map(|d| d.waba_id.as_str()) != Some(waba_id)
        && !state.world().wabas.contains_key(waba_id)
    {
        return Err(request.unknown_object());
    }
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
    let mut templates: Vec<Template> = state.world().template_list.clone();
    templates.sort_by(|a, b| (&a.name, &a.language).cmp(&(&b.name, &b.language)));
    let matching: Vec<&Template> = templates
        .iter()
        .filter(|t| query("name").is_none_or(|n| t.name.contains(&n)))
        .filter(|t| query("language").is_none_or(|l| t.language == l))
        // Every template here is approved (creation and review come later).
        .filter(|_| {
            query("status").is_none_or(|s| {
                s.split(',')
                    .any(|one| one.trim().eq_ignore_ascii_case("APPROVED"))
            })
        })
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(limit)
        .map(|t| t.to_json())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        assert_eq!(index_of(&cursor(7)), Some(7));
        assert_eq!(index_of("garbage"), None);
    }
}
