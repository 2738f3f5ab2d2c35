//! `POST /{waba-id}/message_templates`: validated as Meta validates
//! (errors are code 100 with Meta's subcodes and user-facing texts), then
//! stored as PENDING and put in review.

use serde_json::{json, Value};

use super::{managed_waba, review, variables_in, Template};
use crate::{
    error::{GraphError, GraphResult},
    graph::GraphRequest,
    State,
};

/// Templates a WABA may hold (each language counts).
pub const TEMPLATE_LIMIT: usize = 250;

const CATEGORIES: [&str; 3] = ["AUTHENTICATION", "MARKETING", "UTILITY"];

/// The languages the sandbox takes (a part of Meta's list).
const LANGUAGES: [&str; 24] = [
    "af", "ar", "de", "en", "en_GB", "en_US", "es", "es_AR", "es_ES", "es_MX", "fr", "hi", "id",
    "it", "ja", "ko", "nl", "pt_BR", "pt_PT", "ru", "sv", "tr", "zh_CN", "zh_TW",
];

/// Meta's answer to a template it will not take.
fn refused(subcode: Option<i64>, title: &str, message: impl Into<String>) -> GraphError {
    let message = message.into();
    let mut error = GraphError::invalid_parameter(message.clone()).with_user_text(title, &message);
    if let Some(subcode) = subcode {
        error = error.with_subcode(subcode);
    }
    error
}

fn too_long(what: &str, max: usize) -> GraphError {
    refused(
        Some(2388040),
        "Field Exceeds Character Limit",
        format!("{what} is over its limit of {max} characters."),
    )
}

pub fn create(state: &State, request: &GraphRequest, waba_id: &str) -> GraphResult<Value> {
    managed_waba(state, request, waba_id)?;
    let body = request.json()?;
    let name = body["name"].as_str().unwrap_or_default();
    if name.is_empty()
        || name.len() > 512
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(refused(
            None,
            "Invalid Template Name",
            "Template names use lowercase letters, digits and underscores (at most 512).",
        ));
    }
    let language = body["language"].as_str().unwrap_or_default();
    if !LANGUAGES.contains(&language) {
        return Err(refused(
            None,
            "Invalid Language",
            format!("The language \"{language}\" is not supported."),
        ));
    }
    let category = body["category"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_uppercase();
    if !CATEGORIES.contains(&category.as_str()) {
        return Err(refused(
            None,
            "Invalid Category",
            "The category must be AUTHENTICATION, MARKETING or UTILITY.",
        ));
    }
    let parameter_format = body["parameter_format"]
        .as_str()
        .unwrap_or("POSITIONAL")
        .to_ascii_uppercase();
    if !matches!(parameter_format.as_str(), "POSITIONAL" | "NAMED") {
        return Err(refused(
            None,
            "Invalid Parameter",
            "parameter_format is POSITIONAL or NAMED.",
        ));
    }
    let components = body["components"].as_array().cloned().unwrap_or_default();
    check_components(&components, &parameter_format)?;

    let mut world = state.world();
    let live = |t: &&Template| t.waba_id == waba_id && t.status != "DELETED";
    if world
        .templates
        .iter()
        .filter(live)
        .any(|t| t.name == name && t.language == language)
    {
        return Err(refused(
            Some(2388024),
            "Content in This Language Already Exists",
            format!("There is already {language} content for this template. Create a new template with a different name."),
        ));
    }
    if world.templates.iter().filter(live).count() >= TEMPLATE_LIMIT {
        return Err(refused(
            Some(2388019),
            "Message Template Limit Reached",
            format!("This account has reached its limit of {TEMPLATE_LIMIT} message templates."),
        ));
    }
    let id = format!(
        "{}",
        2_000_000_000_000_000u64 + world.templates.len() as u64 + state.rng().u64(0..1_000_000_000)
    );
    let template = Template {
        id: id.clone(),
        waba_id: waba_id.to_string(),
        name: name.to_string(),
        language: language.to_string(),
        category: category.clone(),
        status: "PENDING".into(),
        rejected_reason: None,
        parameter_format,
        components,
        approved_edits: Vec::new(),
        quality: "UNKNOWN".into(),
    };
    world.templates.push(template.clone());
    drop(world);
    review::schedule(state, template);
    Ok(json!({ "id": id, "status": "PENDING", "category": category }))
}

/// `POST /{template-id}`: new components (and, unless it is approved, a
/// new category) for an approved, rejected or paused template, which goes
/// back to review. An approved template may be edited once a day and ten
/// times in 30 days.
pub fn edit(state: &State, request: &GraphRequest) -> GraphResult<Value> {
    const DAY: i64 = crate::world::DAY_MS;
    let template_id = request.id().to_string();
    let waba_id = state
        .world()
        .templates
        .iter()
        .find(|t| t.id == template_id)
        .map(|t| t.waba_id.clone())
        .ok_or_else(|| request.unknown_object())?;
    managed_waba(state, request, &waba_id)?;
    let body = request.json()?;
    let now = state.clock.now();
    let mut world = state.world();
    let template = world
        .templates
        .iter_mut()
        .find(|t| t.id == template_id)
        .ok_or_else(|| request.unknown_object())?;
    if !matches!(template.status.as_str(), "APPROVED" | "REJECTED" | "PAUSED") {
        return Err(refused(
            None,
            "Template Can't Be Edited",
            format!(
                "A {} template can't be edited.",
                template.status.to_lowercase()
            ),
        ));
    }
    let category = match body["category"].as_str().map(str::to_ascii_uppercase) {
        Some(c) if c != template.category && template.status == "APPROVED" => {
            return Err(refused(
                None,
                "Category Can't Be Changed",
                "An approved template's category can't be changed.",
            ))
        }
        Some(c) if !CATEGORIES.contains(&c.as_str()) => {
            return Err(refused(
                None,
                "Invalid Category",
                "The category must be AUTHENTICATION, MARKETING or UTILITY.",
            ))
        }
        Some(c) => c,
        None => template.category.clone(),
    };
    if template.status == "APPROVED" {
        let recent = |window: i64| {
            template
                .approved_edits
                .iter()
                .filter(|at| now - **at < window)
                .count()
        };
        if recent(DAY) >= 1 || recent(30 * DAY) >= 10 {
            return Err(refused(
                None,
                "Edit Limit Reached",
                "An approved template can be edited once a day and 10 times in 30 days.",
            ));
        }
    }
    let components = match body.get("components") {
        Some(Value::Array(components)) => components.clone(),
        Some(_) => {
            return Err(refused(
                None,
                "Invalid Parameter",
                "components must be a list.",
            ))
        }
        None => template.components.clone(),
    };
    check_components(&components, &template.parameter_format)?;
    if template.status == "APPROVED" {
        template.approved_edits.push(now);
    }
    template.components = components;
    template.category = category;
    template.status = "PENDING".into();
    template.rejected_reason = None;
    let reviewed = template.clone();
    drop(world);
    review::schedule(state, reviewed);
    Ok(json!({ "success": true }))
}

fn check_components(components: &[Value], parameter_format: &str) -> GraphResult<()> {
    let of_type = |kind: &str| -> Vec<&Value> {
        components
            .iter()
            .filter(|c| {
                c["type"]
                    .as_str()
                    .is_some_and(|t| t.eq_ignore_ascii_case(kind))
            })
            .collect()
    };
    for component in components {
        let kind = component["type"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_uppercase();
        if !matches!(kind.as_str(), "HEADER" | "BODY" | "FOOTER" | "BUTTONS") {
            return Err(refused(
                None,
                "Invalid Component",
                format!("Unknown component type \"{kind}\"."),
            ));
        }
    }
    let bodies = of_type("BODY");
    let [body] = bodies.as_slice() else {
        return Err(refused(
            Some(2388047),
            "Invalid Body",
            "A template has exactly one BODY.",
        ));
    };
    let text = body["text"].as_str().unwrap_or_default();
    if text.trim().is_empty() {
        return Err(refused(
            Some(2388047),
            "Invalid Body",
            "The BODY needs text.",
        ));
    }
    if text.chars().count() > 1024 {
        return Err(too_long("The body", 1024));
    }
    check_variables(
        text,
        &body["example"],
        "body_text",
        parameter_format,
        "body",
    )?;

    let headers = of_type("HEADER");
    if headers.len() > 1 {
        return Err(refused(
            Some(2388047),
            "Invalid Header",
            "A template has at most one HEADER.",
        ));
    }
    if let Some(header) = headers.first() {
        match header["format"]
            .as_str()
            .unwrap_or("TEXT")
            .to_ascii_uppercase()
            .as_str()
        {
            "TEXT" => {
                let text = header["text"].as_str().unwrap_or_default();
                if text.trim().is_empty() {
                    return Err(refused(
                        Some(2388047),
                        "Invalid Header",
                        "A TEXT header needs text.",
                    ));
                }
                if text.chars().count() > 60 {
                    return Err(too_long("The header", 60));
                }
                if variables_in(text).len() > 1 {
                    return Err(refused(
                        Some(2388047),
                        "Invalid Header",
                        "A header has at most one variable.",
                    ));
                }
                check_variables(
                    text,
                    &header["example"],
                    "header_text",
                    parameter_format,
                    "header",
                )?;
            }
            "IMAGE" | "VIDEO" | "DOCUMENT" | "GIF" => {
                if header
                    .pointer("/example/header_handle/0")
                    .and_then(Value::as_str)
                    .is_none()
                {
                    return Err(refused(
                        Some(2388047),
                        "Invalid Header",
                        "A media header needs example.header_handle from the Resumable Upload API.",
                    ));
                }
            }
            "LOCATION" => {}
            other => {
                return Err(refused(
                    Some(2388047),
                    "Invalid Header",
                    format!("Unknown header format \"{other}\"."),
                ))
            }
        }
    }

    for footer in of_type("FOOTER") {
        let text = footer["text"].as_str().unwrap_or_default();
        if text.chars().count() > 60 {
            return Err(too_long("The footer", 60));
        }
        if !variables_in(text).is_empty() {
            return Err(refused(
                Some(2388073),
                "Invalid Footer",
                "A footer has no variables.",
            ));
        }
    }

    for buttons in of_type("BUTTONS") {
        check_buttons(
            buttons["buttons"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default(),
        )?;
    }
    Ok(())
}

/// Variables numbered 1, 2, 3... (or named in lowercase), none at the
/// start or end of the text, and an example for each.
fn check_variables(
    text: &str,
    example: &Value,
    example_key: &str,
    parameter_format: &str,
    part: &str,
) -> GraphResult<()> {
    let variables = variables_in(text);
    if variables.is_empty() {
        return Ok(());
    }
    // Meta's rule is the body's; headers like "Order {{1}}" are fine.
    let trimmed = text.trim();
    if part == "body" && (trimmed.starts_with("{{") || trimmed.ends_with("}}")) {
        return Err(refused(
            Some(2388299),
            "Variables Can't Be at the Start or End",
            format!("The {part} can't start or end with a variable."),
        ));
    }
    if parameter_format == "POSITIONAL" {
        for (i, variable) in variables.iter().enumerate() {
            if variable.parse::<usize>() != Ok(i + 1) {
                return Err(refused(
                    Some(2388047),
                    "Invalid Variable Numbering",
                    format!("The {part}'s variables must be {{{{1}}}}, {{{{2}}}}, ... in order; found {{{{{variable}}}}}."),
                ));
            }
        }
        let examples = match example_key {
            "body_text" => example
                .pointer("/body_text/0")
                .and_then(Value::as_array)
                .map(Vec::len),
            _ => example[example_key].as_array().map(Vec::len),
        };
        if examples != Some(variables.len()) {
            return Err(refused(
                Some(2388047),
                "Missing Sample Values",
                format!("The {part} needs example.{example_key} with one sample for each of its {} variables.", variables.len()),
            ));
        }
    } else {
        let named_key = format!("{example_key}_named_params");
        let named = example[&named_key].as_array().cloned().unwrap_or_default();
        for variable in &variables {
            if !variable
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_')
            {
                return Err(refused(
                    Some(2388047),
                    "Invalid Variable Name",
                    format!("Named variables use lowercase letters and underscores; found {{{{{variable}}}}}."),
                ));
            }
            if !named
                .iter()
                .any(|n| n["param_name"].as_str() == Some(variable))
            {
                return Err(refused(
                    Some(2388047),
                    "Missing Sample Values",
                    format!("The {part} needs an example in {named_key} for {{{{{variable}}}}}."),
                ));
            }
        }
    }
    Ok(())
}

fn check_buttons(buttons: &[Value]) -> GraphResult<()> {
    let invalid = |message: String| refused(Some(2388047), "Invalid Buttons", message);
    if buttons.is_empty() || buttons.len() > 10 {
        return Err(invalid("BUTTONS holds 1 to 10 buttons.".into()));
    }
    let kinds: Vec<String> = buttons
        .iter()
        .map(|b| b["type"].as_str().unwrap_or_default().to_ascii_uppercase())
        .collect();
    let count = |kind: &str| kinds.iter().filter(|k| *k == kind).count();
    if count("URL") > 2 || count("PHONE_NUMBER") > 1 {
        return Err(invalid(
            "At most 2 URL buttons and 1 phone number button.".into(),
        ));
    }
    // Quick replies sit together, not between other buttons.
    let quick: Vec<usize> = (0..kinds.len())
        .filter(|&i| kinds[i] == "QUICK_REPLY")
        .collect();
    if quick.windows(2).any(|w| w[1] != w[0] + 1) {
        return Err(invalid(
            "Quick reply buttons must be grouped together.".into(),
        ));
    }
    for (button, kind) in buttons.iter().zip(&kinds) {
        let text = button["text"].as_str().unwrap_or_default();
        if text.trim().is_empty() {
            return Err(invalid(format!("A {kind} button needs text.")));
        }
        if text.chars().count() > 25 {
            return Err(too_long("A button's text", 25));
        }
        match kind.as_str() {
            "QUICK_REPLY" => {}
            "URL" => {
                let url = button["url"].as_str().unwrap_or_default();
                if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2000
                {
                    return Err(invalid(
                        "A URL button needs an http(s) url of at most 2000 characters.".into(),
                    ));
                }
                let variables = variables_in(url);
                if variables.len() > 1 || (variables.len() == 1 && !url.ends_with("}}")) {
                    return Err(invalid(
                        "A URL button may have one variable, at the end.".into(),
                    ));
                }
            }
            "PHONE_NUMBER" => {
                let number = button["phone_number"].as_str().unwrap_or_default();
                let digits = number.trim_start_matches('+');
                if digits.is_empty()
                    || digits.len() > 20
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(invalid(
                        "A phone number button needs a number like +16467043595.".into(),
                    ));
                }
            }
            other => {
                return Err(invalid(format!(
                    "The sandbox does not take {other} buttons."
                )))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(text: &str, example: Value) -> Vec<Value> {
        vec![json!({ "type": "BODY", "text": text, "example": example })]
    }

    #[test]
    fn positional_variables_are_numbered_in_order_with_samples() {
        let ok = body(
            "Hi {{1}}, order {{2}} shipped.",
            json!({ "body_text": [["Ann", "42"]] }),
        );
        assert!(check_components(&ok, "POSITIONAL").is_ok());
        let gap = body(
            "Hi {{1}}, order {{3}} shipped.",
            json!({ "body_text": [["Ann", "42"]] }),
        );
        assert_eq!(
            check_components(&gap, "POSITIONAL").unwrap_err().subcode,
            Some(2388047)
        );
        let edge = body("{{1}} shipped.", json!({ "body_text": [["Ann"]] }));
        assert_eq!(
            check_components(&edge, "POSITIONAL").unwrap_err().subcode,
            Some(2388299)
        );
        let unsampled = body("Hi {{1}}, welcome.", json!({}));
        assert!(check_components(&unsampled, "POSITIONAL").is_err());
    }

    #[test]
    fn limits_are_meta_s() {
        let long = body(&"x".repeat(1025), json!({}));
        assert_eq!(
            check_components(&long, "POSITIONAL").unwrap_err().subcode,
            Some(2388040)
        );
        let mut footer = body("Hello there.", json!({}));
        footer.push(json!({ "type": "FOOTER", "text": "Reply {{1}}" }));
        assert_eq!(
            check_components(&footer, "POSITIONAL").unwrap_err().subcode,
            Some(2388073)
        );
        let eleven: Vec<Value> = (0..11)
            .map(|i| json!({ "type": "QUICK_REPLY", "text": format!("B{i}") }))
            .collect();
        assert!(check_buttons(&eleven).is_err());
        let split = [
            json!({ "type": "QUICK_REPLY", "text": "Yes" }),
            json!({ "type": "URL", "text": "Site", "url": "https://example.com" }),
            json!({ "type": "QUICK_REPLY", "text": "No" }),
        ];
        assert!(check_buttons(&split).is_err());
        assert!(
            check_components(&[], "POSITIONAL").is_err(),
            "a body is required"
        );
    }

    #[test]
    fn named_variables_need_named_samples() {
        let ok = body(
            "Hi {{first_name}}, welcome.",
            json!({ "body_text_named_params": [{ "param_name": "first_name", "example": "Ann" }] }),
        );
        assert!(check_components(&ok, "NAMED").is_ok());
        let missing = body("Hi {{first_name}}, welcome.", json!({}));
        assert!(check_components(&missing, "NAMED").is_err());
    }
}
