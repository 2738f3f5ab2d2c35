//! Message templates as a business drafts them: Meta's rules for names,
//! positional variables, lengths and buttons, checked in the browser as
//! the draft is typed and again on the server before it goes to Meta.

pub const NAME_MAX: usize = 512;
pub const HEADER_MAX: usize = 60;
pub const BODY_MAX: usize = 1024;
pub const FOOTER_MAX: usize = 60;
pub const BUTTON_TEXT_MAX: usize = 25;
pub const BUTTONS_MAX: usize = 10;
pub const URL_MAX: usize = 2000;

pub const CATEGORIES: [&str; 3] = ["UTILITY", "MARKETING", "AUTHENTICATION"];

/// Languages offered when drafting (a part of Meta's list).
pub const LANGUAGES: [&str; 24] = [
    "en_US", "en_GB", "en", "es", "es_ES", "es_MX", "es_AR", "pt_BR", "pt_PT", "fr", "de", "it",
    "nl", "sv", "tr", "ru", "ar", "hi", "id", "ja", "ko", "zh_CN", "zh_TW", "af",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Button {
    QuickReply {
        text: String,
    },
    /// `url` may end in `{{1}}`, filled per send; `example` fills it for
    /// Meta's review.
    Url {
        text: String,
        url: String,
        example: String,
    },
    Phone {
        text: String,
        phone_number: String,
    },
}

/// A new template: text header (optional), body, footer (optional) and
/// buttons, with a sample value for every variable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Draft {
    pub name: String,
    pub language: String,
    pub category: String,
    pub header: String,
    pub header_example: String,
    pub body: String,
    pub body_examples: Vec<String>,
    pub footer: String,
    pub buttons: Vec<Button>,
}

/// What is wrong, and in which field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: &'static str,
    pub message: String,
}

fn problem(field: &'static str, message: impl Into<String>) -> Result<(), Problem> {
    Err(Problem {
        field,
        message: message.into(),
    })
}

/// The `{{...}}` placeholders of a text, in order.
pub fn variables(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        found.push(after[..end].trim().to_string());
        rest = &after[end + 2..];
    }
    found
}

/// The distinct placeholders of a text, in first-seen order: what a send
/// fills (`1`, `2`... for positional templates, names for NAMED ones).
pub fn distinct_variables(text: &str) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for variable in variables(text) {
        if !seen.contains(&variable) {
            seen.push(variable);
        }
    }
    seen
}

/// The text with each placeholder `{{x}}` replaced by `value(x)` (`x`
/// trimmed); placeholders without a non-empty value stay as they are.
fn replace_placeholders(text: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        out.push_str(&rest[..start]);
        match value(after[..end].trim()).filter(|v| !v.is_empty()) {
            Some(filled) => out.push_str(&filled),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// The text with each `{{name}}` replaced by the value given for that name
/// (`names[i]` takes `values[i]`); placeholders without a value stay.
pub fn fill_by_name(text: &str, names: &[String], values: &[String]) -> String {
    replace_placeholders(text, |name| {
        let i = names.iter().position(|n| n == name)?;
        values.get(i).cloned()
    })
}

/// The text with `{{n}}` replaced by `values[n-1]` where one is given.
pub fn fill(text: &str, values: &[String]) -> String {
    replace_placeholders(text, |inside| {
        let n = inside.parse::<usize>().ok()?;
        values.get(n.checked_sub(1)?).cloned()
    })
}

/// Variables numbered {{1}}, {{2}}, ... in order, none at the very start
/// or end, and a sample for each.
fn check_variables(field: &'static str, text: &str, samples: &[String]) -> Result<(), Problem> {
    let found = variables(text);
    for (i, variable) in found.iter().enumerate() {
        if variable.parse::<usize>() != Ok(i + 1) {
            return problem(
                field,
                format!("number the variables {{{{1}}}}, {{{{2}}}}, ... in order (found {{{{{variable}}}}})"),
            );
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    // Meta's rule is the body's; headers like "Order {{1}}" are fine.
    let trimmed = text.trim();
    if field == "body" && (trimmed.starts_with("{{") || trimmed.ends_with("}}")) {
        return problem(field, "a variable can't be the very first or last thing");
    }
    if samples.len() < found.len() || samples[..found.len()].iter().any(|s| s.trim().is_empty()) {
        return problem(
            field,
            "give a sample value for every variable (Meta reviews them)",
        );
    }
    Ok(())
}

fn within(field: &'static str, text: &str, max: usize) -> Result<(), Problem> {
    let count = text.chars().count();
    if count > max {
        return problem(field, format!("at most {max} characters ({count} now)"));
    }
    Ok(())
}

pub fn check(draft: &Draft) -> Result<(), Problem> {
    if draft.name.is_empty()
        || draft.name.len() > NAME_MAX
        || !draft
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return problem("name", "use lowercase letters, digits and underscores");
    }
    if !LANGUAGES.contains(&draft.language.as_str()) {
        return problem("language", "choose a language from the list");
    }
    if !CATEGORIES.contains(&draft.category.as_str()) {
        return problem("category", "choose UTILITY, MARKETING or AUTHENTICATION");
    }
    if !draft.header.is_empty() {
        within("header", &draft.header, HEADER_MAX)?;
        if variables(&draft.header).len() > 1 {
            return problem("header", "a header has at most one variable");
        }
        check_variables(
            "header",
            &draft.header,
            std::slice::from_ref(&draft.header_example),
        )?;
    }
    if draft.body.trim().is_empty() {
        return problem("body", "the body is required");
    }
    within("body", &draft.body, BODY_MAX)?;
    check_variables("body", &draft.body, &draft.body_examples)?;
    within("footer", &draft.footer, FOOTER_MAX)?;
    if !variables(&draft.footer).is_empty() {
        return problem("footer", "a footer has no variables");
    }
    check_buttons(&draft.buttons)
}

fn check_buttons(buttons: &[Button]) -> Result<(), Problem> {
    if buttons.len() > BUTTONS_MAX {
        return problem("buttons", format!("at most {BUTTONS_MAX} buttons"));
    }
    let urls = buttons
        .iter()
        .filter(|b| matches!(b, Button::Url { .. }))
        .count();
    let phones = buttons
        .iter()
        .filter(|b| matches!(b, Button::Phone { .. }))
        .count();
    if urls > 2 || phones > 1 {
        return problem("buttons", "at most 2 link buttons and 1 call button");
    }
    let quick: Vec<usize> = (0..buttons.len())
        .filter(|&i| matches!(buttons[i], Button::QuickReply { .. }))
        .collect();
    if quick.windows(2).any(|w| w[1] != w[0] + 1) {
        return problem("buttons", "keep quick replies together");
    }
    for button in buttons {
        let text = match button {
            Button::QuickReply { text } | Button::Url { text, .. } | Button::Phone { text, .. } => {
                text
            }
        };
        if text.trim().is_empty() {
            return problem("buttons", "every button needs a label");
        }
        within("buttons", text, BUTTON_TEXT_MAX)?;
        match button {
            Button::QuickReply { .. } => {}
            Button::Url { url, example, .. } => {
                if !url.starts_with("https://") && !url.starts_with("http://") {
                    return problem("buttons", "a link button needs an http(s) address");
                }
                within("buttons", url, URL_MAX)?;
                let found = variables(url);
                if found.len() > 1
                    || (found.len() == 1 && (found[0] != "1" || !url.ends_with("}}")))
                {
                    return problem(
                        "buttons",
                        "a link may end in {{1}}, and have no other variable",
                    );
                }
                if found.len() == 1 && example.trim().is_empty() {
                    return problem("buttons", "give a sample for the link's {{1}}");
                }
            }
            Button::Phone { phone_number, .. } => {
                let digits = phone_number.trim().trim_start_matches('+');
                if digits.is_empty()
                    || digits.len() > 20
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return problem("buttons", "a call button needs a number like +16505550100");
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(body: &str, samples: &[&str]) -> Draft {
        Draft {
            name: "order_shipped".into(),
            language: "en_US".into(),
            category: "UTILITY".into(),
            body: body.into(),
            body_examples: samples.iter().map(|s| s.to_string()).collect(),
            ..Draft::default()
        }
    }

    #[test]
    fn variables_are_numbered_in_order_sampled_and_inside() {
        assert!(check(&draft("Hi {{1}}, order {{2}} shipped.", &["Ann", "42"])).is_ok());
        assert_eq!(
            check(&draft("Hi {{2}}, shipped.", &["Ann"]))
                .unwrap_err()
                .field,
            "body"
        );
        assert!(check(&draft("Hi {{1}}, order {{2}} shipped.", &["Ann"])).is_err());
        assert!(check(&draft("{{1}} shipped.", &["Ann"])).is_err());
        assert!(check(&draft("Order shipped {{1}}", &["Ann"])).is_err());
    }

    #[test]
    fn names_lengths_and_buttons_follow_meta() {
        let mut bad = draft("Hello there.", &[]);
        bad.name = "Order Shipped".into();
        assert_eq!(check(&bad).unwrap_err().field, "name");
        assert_eq!(
            check(&draft(&"x".repeat(BODY_MAX + 1), &[]))
                .unwrap_err()
                .field,
            "body"
        );
        let mut buttons = draft("Hello there.", &[]);
        buttons.buttons = vec![
            Button::QuickReply { text: "Yes".into() },
            Button::Url {
                text: "Site".into(),
                url: "https://a.example/{{1}}".into(),
                example: "x".into(),
            },
            Button::QuickReply { text: "No".into() },
        ];
        assert_eq!(check(&buttons).unwrap_err().field, "buttons");
        buttons.buttons.swap(1, 2);
        assert!(check(&buttons).is_ok());
    }

    #[test]
    fn named_variables_are_filled_by_name_once_each() {
        let text = "Hi {{first_name}}, table for {{party}}; see you, {{first_name}}!";
        let names = distinct_variables(text);
        assert_eq!(names, ["first_name", "party"]);
        let values = vec!["Ann".to_string(), "4".to_string()];
        assert_eq!(
            fill_by_name(text, &names, &values),
            "Hi Ann, table for 4; see you, Ann!"
        );
        assert_eq!(fill_by_name(text, &names, &[]), text);
        assert_eq!(
            fill_by_name("Hi {{1}}", &["1".into()], &["Bo".into()]),
            "Hi Bo"
        );
    }

    #[test]
    fn fill_puts_samples_in_place_and_keeps_the_rest() {
        let values = vec!["Ann".to_string(), String::new()];
        assert_eq!(
            fill("Hi {{1}}, order {{2}}.", &values),
            "Hi Ann, order {{2}}."
        );
        assert_eq!(fill("No variables", &values), "No variables");
        assert_eq!(fill("Broken {{1", &values), "Broken {{1");
    }
}
