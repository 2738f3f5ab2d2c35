//! Which pages a batch of webhook effects concerns, read off the planned
//! operations (the plan already knows each one's workspace or WABA).

use super::{Notice, Topic};
use crate::pipeline::plan::{Op, WabaRoute};

/// The notices a committed batch of `(event id, operations)` gives, each
/// once. Unrouted events concern nobody yet.
pub fn notices_of(events: &[(i64, Vec<Op>)]) -> Vec<Notice> {
    let mut notices: Vec<Notice> = Vec::new();
    for op in events.iter().flat_map(|(_, ops)| ops) {
        for notice in notices_of_op(op) {
            if !notices.contains(&notice) {
                notices.push(notice);
            }
        }
    }
    notices
}

fn to_owner(route: &WabaRoute, topic: Topic) -> Notice {
    match &route.workspace_id {
        Some(workspace_id) => Notice::to_workspace(workspace_id, topic),
        None => Notice::to_waba(&route.waba_id, topic),
    }
}

fn notices_of_op(op: &Op) -> Vec<Notice> {
    match op {
        Op::Inbound {
            workspace_id,
            phone_number_id,
            ..
        }
        | Op::Status {
            workspace_id,
            phone_number_id,
            ..
        } => vec![Notice::conversation(workspace_id, phone_number_id)],
        Op::HistoryChunk { number, .. }
        | Op::Echo { number, .. }
        | Op::SavedNames { number, .. } => {
            vec![
                Notice::conversation(&number.workspace_id, &number.phone_number_id),
                // The onboarding page counts what was imported.
                Notice::to_workspace(&number.workspace_id, Topic::Onboarding),
            ]
        }
        Op::HistoryDeclined { number } => {
            vec![Notice::to_workspace(
                &number.workspace_id,
                Topic::Onboarding,
            )]
        }
        Op::NumberErrors { workspace_id, .. } => {
            vec![Notice::to_workspace(workspace_id, Topic::Numbers)]
        }
        Op::Account {
            workspace_id,
            waba_id,
            ..
        } => vec![match workspace_id {
            Some(workspace_id) => Notice::to_workspace(workspace_id, Topic::Numbers),
            None => Notice::to_waba(waba_id, Topic::Numbers),
        }],
        Op::Quality { waba_id, .. }
        | Op::ThroughputRaised { waba_id, .. }
        | Op::AppRemoved { waba_id, .. }
        | Op::ProbeNumber { waba_id, .. } => vec![Notice::to_waba(waba_id, Topic::Numbers)],
        Op::TemplateStatus { waba_id, .. } | Op::TemplateChanged { waba_id, .. } => {
            vec![Notice::to_waba(waba_id, Topic::Templates)]
        }
        Op::Offboarded { waba, .. }
        | Op::Reconnected { waba, .. }
        | Op::PartnerRemoved { waba, .. }
        | Op::Restricted { waba, .. }
        | Op::Ban { waba, .. }
        | Op::Violation { waba, .. }
        | Op::Granted { waba, .. }
        | Op::PricingTier { waba, .. }
        | Op::Limits { waba, .. }
        | Op::NameDecision { waba, .. } => vec![to_owner(waba, Topic::Numbers)],
        Op::Unrouted { .. } => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::Audience;

    #[test]
    fn each_notice_of_a_batch_is_given_once() {
        let quality = |waba_id: &str| Op::Quality {
            waba_id: waba_id.into(),
            display_phone_number: "15550001111".into(),
            rating: "GREEN".into(),
        };
        let events = vec![
            (1, vec![quality("waba-1"), quality("waba-1")]),
            (2, vec![quality("waba-2")]),
        ];
        let notices = notices_of(&events);
        assert_eq!(
            notices,
            vec![
                Notice::to_waba("waba-1", Topic::Numbers),
                Notice::to_waba("waba-2", Topic::Numbers)
            ]
        );
        assert!(notices
            .iter()
            .all(|n| matches!(n.audience, Audience::Waba(_))));
    }

    #[test]
    fn unrouted_events_concern_nobody() {
        let events = vec![(
            1,
            vec![Op::Unrouted {
                change_index: 0,
                phone_number_id: Some("1".into()),
                waba_id: "2".into(),
                field: "messages".into(),
                value: "{}".into(),
                received_at: 0,
            }],
        )];
        assert!(notices_of(&events).is_empty());
    }
}
