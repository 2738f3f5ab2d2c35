//! The notices this process handed to its streams lately, so that a stream
//! that opens after a page was drawn, or opens again after a drop (the
//! browser's `Last-Event-ID`), hears what it missed instead of making the
//! page fetch everything again.

use std::collections::VecDeque;

use super::{Delivery, Notice};

/// How long notices are kept for a stream that catches up...
const KEEP_FOR_MS: i64 = 60_000;
/// ...and at most how many (a busy installation keeps less time).
const KEEP_AT_MOST: usize = 4096;

/// A delivery and when this process handed it over (Unix ms, never going
/// back): the stream's event id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamped {
    pub at: i64,
    pub delivery: Delivery,
}

#[derive(Debug)]
pub(super) struct Recent {
    kept: VecDeque<(i64, Notice)>,
    /// Every notice handed over from this time on is in `kept`: the time
    /// this process started, the last resync (notices may have been lost
    /// before it), or just after the last notice let go.
    complete_since: i64,
    last_at: i64,
}

impl Recent {
    pub(super) fn new(now: i64) -> Self {
        Self {
            kept: VecDeque::new(),
            complete_since: now,
            last_at: now,
        }
    }

    /// Notes a delivery handed over at `now`; returns its stamp.
    pub(super) fn stamp(&mut self, now: i64, delivery: Delivery) -> Stamped {
        let at = now.max(self.last_at);
        self.last_at = at;
        match &delivery {
            Delivery::Notice(notice) => self.kept.push_back((at, notice.clone())),
            Delivery::Resync => {
                self.kept.clear();
                self.complete_since = at;
            }
        }
        while let Some(&(oldest, _)) = self.kept.front() {
            if oldest >= at - KEEP_FOR_MS && self.kept.len() <= KEEP_AT_MOST {
                break;
            }
            self.kept.pop_front();
            self.complete_since = self.complete_since.max(oldest + 1);
        }
        Stamped { at, delivery }
    }

    /// The notices handed over at `from` or later, or `None` when some of
    /// them may be missing (before this process started, a resync, or let
    /// go): then the stream must resync.
    pub(super) fn since(&self, from: i64) -> Option<Vec<Stamped>> {
        (from >= self.complete_since).then(|| {
            self.kept
                .iter()
                .filter(|(at, _)| *at >= from)
                .map(|(at, notice)| Stamped {
                    at: *at,
                    delivery: Delivery::Notice(notice.clone()),
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::Topic;

    fn notice(workspace: &str) -> Delivery {
        Delivery::Notice(Notice::to_workspace(workspace, Topic::Templates))
    }

    fn workspaces(stamped: &[Stamped]) -> Vec<String> {
        stamped
            .iter()
            .map(|s| match &s.delivery {
                Delivery::Notice(Notice {
                    audience: crate::live::Audience::Workspace(id),
                    ..
                }) => id.clone(),
                other => panic!("not a workspace notice: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_stream_catches_up_from_any_time_since_the_start() {
        let mut recent = Recent::new(1_000);
        recent.stamp(1_010, notice("a"));
        recent.stamp(1_020, notice("b"));
        assert_eq!(workspaces(&recent.since(1_000).unwrap()), ["a", "b"]);
        assert_eq!(workspaces(&recent.since(1_011).unwrap()), ["b"]);
        assert!(recent.since(1_021).unwrap().is_empty());
        assert_eq!(recent.since(999), None, "before the process started");
    }

    #[test]
    fn stamps_never_go_back() {
        let mut recent = Recent::new(1_000);
        assert_eq!(recent.stamp(1_050, notice("a")).at, 1_050);
        assert_eq!(
            recent.stamp(1_040, notice("b")).at,
            1_050,
            "the clock stepped back"
        );
        assert_eq!(workspaces(&recent.since(1_050).unwrap()), ["a", "b"]);
    }

    #[test]
    fn nothing_from_before_a_resync_is_vouched_for() {
        let mut recent = Recent::new(1_000);
        recent.stamp(1_010, notice("a"));
        recent.stamp(1_020, Delivery::Resync);
        recent.stamp(1_030, notice("b"));
        assert_eq!(recent.since(1_015), None);
        assert_eq!(workspaces(&recent.since(1_020).unwrap()), ["b"]);
    }

    #[test]
    fn notices_let_go_make_older_times_resync() {
        let mut recent = Recent::new(0);
        recent.stamp(10, notice("old"));
        recent.stamp(10 + KEEP_FOR_MS + 1, notice("new"));
        assert_eq!(recent.since(10), None, "the old notice was let go");
        assert_eq!(workspaces(&recent.since(11).unwrap()), ["new"]);

        let mut busy = Recent::new(0);
        for i in 0..=KEEP_AT_MOST as i64 {
            busy.stamp(i, notice("w"));
        }
        assert_eq!(busy.since(0), None);
        assert_eq!(busy.since(1).unwrap().len(), KEEP_AT_MOST);
    }
}
