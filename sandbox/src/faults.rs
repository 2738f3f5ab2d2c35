//! Fault injection, for the whole sandbox or for a number of calls:
//! duplicate, reordered and batched webhooks; 5xx, slow and throttled Graph
//! answers. Random choices use the sandbox's seeded generator, so a failing
//! run replays the same way.

use serde::Deserialize;

use crate::State;

#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Chance (0 to 1) that a webhook POST is delivered twice.
    pub duplicate_webhooks: f64,
    /// Chance (0 to 1) that a webhook is held back so later ones overtake
    /// it (a status before its message, read before delivered).
    pub reorder_webhooks: f64,
    /// Group changes that are ready together into one POST.
    pub batch_webhooks: bool,
    /// Rules for Graph calls, applied in order; the first match wins.
    pub graph: Vec<GraphFault>,
    /// The next resumable-upload POST keeps only this many bytes, then
    /// fails as a dropped connection would (once).
    pub interrupt_next_upload_after: Option<usize>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct GraphFault {
    /// Applies to calls whose path contains this text (all calls if absent).
    #[serde(default)]
    pub path_contains: Option<String>,
    /// Only this method (`GET`, `POST`, `DELETE`), if given.
    #[serde(default)]
    pub method: Option<String>,
    /// How many calls it applies to; forever if absent.
    #[serde(default)]
    pub times: Option<u32>,
    /// The chance (0 to 1) that it applies to a matching call; always if
    /// absent. A call it spares goes on to the next rule.
    #[serde(default)]
    pub chance: Option<f64>,
    pub effect: Effect,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Effect {
    /// Answer with this 5xx status and Meta's error 2 (or 1 for 500).
    ServerError { status: u16 },
    /// Wait this long before answering normally.
    Slow { millis: u64 },
    /// Answer 429 with Meta's throughput error (130429) or app limit (4).
    Throttle { code: i64 },
    /// Answer with any WhatsApp error (131026 undeliverable, 131047
    /// outside the window...), in Meta's envelope.
    MetaError {
        status: u16,
        code: i64,
        #[serde(default)]
        title: Option<String>,
    },
}

impl Faults {
    pub fn roll_duplicate(&self, state: &State) -> bool {
        self.duplicate_webhooks > 0.0 && state.rng().f64() < self.duplicate_webhooks
    }

    pub fn roll_reorder(&self, state: &State) -> bool {
        self.reorder_webhooks > 0.0 && state.rng().f64() < self.reorder_webhooks
    }
}

/// Takes the one-shot upload interruption, if one is set.
pub fn take_upload_interruption(state: &State) -> Option<usize> {
    state.faults_mut().interrupt_next_upload_after.take()
}

/// The effect for a Graph call, if a rule matches; uses up one of its times.
pub fn graph_effect(state: &State, method: &str, path: &str) -> Option<Effect> {
    let mut faults = state.faults_mut();
    let index = faults.graph.iter().position(|rule| {
        rule.path_contains
            .as_deref()
            .is_none_or(|p| path.contains(p))
            && rule
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && rule.chance.is_none_or(|chance| state.rng().f64() < chance)
    })?;
    let effect = faults.graph[index].effect.clone();
    if let Some(times) = &mut faults.graph[index].times {
        *times = times.saturating_sub(1);
        if *times == 0 {
            faults.graph.remove(index);
        }
    }
    Some(effect)
}
