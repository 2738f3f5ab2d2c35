//! `health_status`, the Graph field on a number and on a WABA that says
//! whether messages can go (Meta's "Messaging health status"): one entity
//! per node a send passes through (the number when the number is asked
//! about, then the WABA, the business portfolio and the app), each
//! AVAILABLE, LIMITED or BLOCKED with the errors that make it so; the
//! overall value is the worst of them. Computed on every read from the
//! account's standing and the sandbox clock, never stored, so a
//! restriction stops showing the moment its expiration passes.

use serde::Serialize;
use serde_json::{json, Value};

use super::LOCKED_DETAILS;
use crate::world::{Millis, Phone, Waba, World};

/// `can_send_message`, from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum CanSend {
    Available,
    Limited,
    Blocked,
}

/// One entry of an entity's `errors`.
struct Problem {
    /// How bad it is for the entity.
    effect: CanSend,
    code: i64,
    description: String,
    solution: String,
}

struct Entity {
    kind: &'static str,
    id: String,
    problems: Vec<Problem>,
}

impl Entity {
    fn new(kind: &'static str, id: &str) -> Self {
        Self {
            kind,
            id: id.to_string(),
            problems: Vec::new(),
        }
    }

    fn can_send(&self) -> CanSend {
        self.problems
            .iter()
            .map(|p| p.effect)
            .max()
            .unwrap_or(CanSend::Available)
    }

    fn to_json(&self) -> Value {
        let mut entity = json!({
            "entity_type": self.kind,
            "id": self.id,
            "can_send_message": self.can_send(),
        });
        if !self.problems.is_empty() {
            let errors: Vec<Value> = self
                .problems
                .iter()
                .map(|p| {
                    json!({
                        "error_code": p.code,
                        "error_description": p.description,
                        "possible_solution": p.solution,
                    })
                })
                .collect();
            entity["errors"] = json!(errors);
        }
        entity
    }
}

/// An unregistered number can send nothing (133010).
fn phone_entity(phone: &Phone) -> Entity {
    let mut entity = Entity::new("PHONE_NUMBER", &phone.id);
    if !phone.registered {
        entity.problems.push(Problem {
            effect: CanSend::Blocked,
            code: 133010,
            description: "The phone number is not registered on the WhatsApp Business Platform."
                .into(),
            solution:
                "Register the number (POST /{phone-number-id}/register with its two-step PIN)."
                    .into(),
        });
    }
    entity
}

/// A disabled WABA sends nothing (131031); each messaging restriction in
/// force limits it (368). Calling restrictions do not touch messaging.
fn waba_entity(waba: &Waba, now: Millis) -> Entity {
    let mut entity = Entity::new("WABA", &waba.id);
    if let Some(ban) = waba
        .standing
        .ban
        .as_ref()
        .filter(|_| waba.standing.disabled())
    {
        entity.problems.push(Problem {
            effect: CanSend::Blocked,
            code: 131031,
            description: format!("{LOCKED_DETAILS} (since {}).", ban.date.long()),
            solution: "Request a review of the decision in WhatsApp Manager; sending resumes once the account is reinstated.".into(),
        });
    }
    for restriction in waba
        .standing
        .active(now)
        .filter(|r| r.kind.limits_messaging())
    {
        entity.problems.push(Problem {
            effect: CanSend::Limited,
            code: 368,
            description: format!("{}.", restriction.sentence()),
            solution: restriction.remediation.clone().unwrap_or_else(|| {
                "Review the policy violation in WhatsApp Manager; the restriction lifts by itself when it expires.".into()
            }),
        });
    }
    entity
}

/// The summary for the nodes a send from `phone` (or, without one, from
/// any number of `waba`) passes through.
fn summary(world: &World, phone: Option<&Phone>, waba: &Waba, app_id: &str, now: Millis) -> Value {
    let mut entities: Vec<Entity> = phone.map(phone_entity).into_iter().collect();
    entities.push(waba_entity(waba, now));
    if let Some(business) = world.businesses.get(&waba.business_id) {
        entities.push(Entity::new("BUSINESS", &business.id));
    }
    entities.push(Entity::new("APP", app_id));
    let overall = entities
        .iter()
        .map(Entity::can_send)
        .max()
        .unwrap_or(CanSend::Available);
    json!({
        "can_send_message": overall,
        "entities": entities.iter().map(Entity::to_json).collect::<Vec<_>>(),
    })
}

/// `health_status` of a number: its own entity first.
pub fn of_phone(world: &World, phone: &Phone, app_id: &str, now: Millis) -> Value {
    match world.wabas.get(&phone.waba_id) {
        Some(waba) => summary(world, Some(phone), waba, app_id, now),
        None => json!({
            "can_send_message": CanSend::Blocked,
            "entities": [phone_entity(phone).to_json()],
        }),
    }
}

/// `health_status` of a WABA: no number entity.
pub fn of_waba(world: &World, waba: &Waba, app_id: &str, now: Millis) -> Value {
    summary(world, None, waba, app_id, now)
}
