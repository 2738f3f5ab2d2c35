//! Review: a new template is decided after the configured delay, and every
//! status change is announced with a `message_template_status_update`
//! webhook, as Meta does.
//!
//! The sandbox approves what it is given, except a UTILITY template whose
//! text reads as promotion, which it rejects as INCORRECT_CATEGORY (Meta
//! rejects or recategorises such templates). Tests and demos can set any
//! status through the control API.

use serde_json::{json, Value};

use super::Template;
use crate::{webhooks::Change, State};

/// Words that make a UTILITY template promotional.
const PROMOTIONAL: [&str; 6] = ["sale", "discount", "% off", "offer", "promo", "free gift"];

/// The decision a review comes to: (status, rejection reason).
fn decide(template: &Template) -> (&'static str, Option<&'static str>) {
    let text: String = template
        .components
        .iter()
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    if template.category == "UTILITY" && PROMOTIONAL.iter().any(|word| text.contains(word)) {
        ("REJECTED", Some("INCORRECT_CATEGORY"))
    } else {
        ("APPROVED", None)
    }
}

/// Decides `template` after the configured review delay.
pub fn schedule(state: &State, template: Template) {
    let delay = state.config().template_review_delay;
    let state = state.clone();
    let reviewing = state.webhooks.in_flight.hold();
    tokio::spawn(async move {
        let _reviewing = reviewing;
        tokio::time::sleep(delay).await;
        let (status, reason) = decide(&template);
        // Only if nobody decided it meanwhile (a test through the control API).
        let still_pending = state
            .world()
            .templates
            .iter()
            .any(|t| t.id == template.id && t.status == "PENDING");
        if still_pending {
            let _ = set_status(&state, &template.id, status, reason);
        }
    });
}

/// Sets a template's status and announces it. `None` for an unknown id.
pub fn set_status(
    state: &State,
    template_id: &str,
    status: &str,
    reason: Option<&str>,
) -> Option<Value> {
    let changed = {
        let mut world = state.world();
        let template = world.templates.iter_mut().find(|t| t.id == template_id)?;
        template.status = status.to_string();
        template.rejected_reason =
            (status == "REJECTED").then(|| reason.unwrap_or("NONE").to_string());
        template.clone()
    };
    let mut value = json!({
        "event": status,
        "message_template_id": changed.id.parse::<u64>().map(Value::from).unwrap_or(json!(changed.id)),
        "message_template_name": changed.name,
        "message_template_language": changed.language,
        "message_template_category": changed.category,
        "reason": reason.unwrap_or("NONE"),
    });
    if status == "REJECTED" {
        value["rejection_info"] = json!({
            "reason": reason.unwrap_or("NONE"),
            "recommendation": "Choose the MARKETING category for promotional content.",
        });
    }
    state.webhooks.send(Change {
        waba_id: changed.waba_id.clone(),
        field: "message_template_status_update".into(),
        value: value.clone(),
    });
    Some(value)
}

/// The template's id as Meta writes it in webhooks: an integer.
fn webhook_id(id: &str) -> Value {
    id.parse::<u64>().map(Value::from).unwrap_or(json!(id))
}

/// Meta rescored a template from its recipients' feedback: the stored
/// score changes and `message_template_quality_update` goes out.
pub fn set_quality(state: &State, template_id: &str, score: &str) -> Option<Value> {
    let (previous, changed) = {
        let mut world = state.world();
        let template = world.templates.iter_mut().find(|t| t.id == template_id)?;
        let previous = std::mem::replace(&mut template.quality, score.to_string());
        (previous, template.clone())
    };
    let value = json!({
        "previous_quality_score": previous,
        "new_quality_score": score,
        "message_template_id": webhook_id(&changed.id),
        "message_template_name": changed.name,
        "message_template_language": changed.language,
    });
    state.webhooks.send(Change {
        waba_id: changed.waba_id.clone(),
        field: "message_template_quality_update".into(),
        value: value.clone(),
    });
    Some(value)
}

/// Meta moved a template to another category (the completed form of
/// `template_category_update`: `previous_category` and `new_category`).
pub fn set_category(state: &State, template_id: &str, category: &str) -> Option<Value> {
    let (previous, changed) = {
        let mut world = state.world();
        let template = world.templates.iter_mut().find(|t| t.id == template_id)?;
        let previous = std::mem::replace(&mut template.category, category.to_string());
        (previous, template.clone())
    };
    let value = json!({
        "message_template_id": webhook_id(&changed.id),
        "message_template_name": changed.name,
        "message_template_language": changed.language,
        "previous_category": previous,
        "new_category": category,
    });
    state.webhooks.send(Change {
        waba_id: changed.waba_id.clone(),
        field: "template_category_update".into(),
        value: value.clone(),
    });
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promotional_utility_templates_are_rejected() {
        let mut template = Template::approved("1", "w", "deal", "Big sale: 20% off today, {{1}}!");
        assert_eq!(decide(&template), ("REJECTED", Some("INCORRECT_CATEGORY")));
        template.category = "MARKETING".into();
        assert_eq!(decide(&template).0, "APPROVED");
        let plain = Template::approved("2", "w", "receipt", "Your receipt {{1}} is ready.");
        assert_eq!(decide(&plain).0, "APPROVED");
    }
}
