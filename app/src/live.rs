//! Live data for every page: one `EventSource` per tab on `/live` (see the
//! server's `live_routes`), turned into version counters that pages read
//! as their resources' sources. A page never polls: it fetches when a
//! notice says its data changed.
//!
//! - Notices arriving close together are coalesced: a topic's version
//!   moves at most once per [`COALESCE`], however busy the workspace.
//! - A hidden tab keeps the stream but fetches nothing; what changed while
//!   it was hidden is fetched once when it shows again.
//! - The stream first catches up from when the page was drawn (or, when
//!   it reconnects, from the last event heard): the notices since, or
//!   `resync` (every topic moves) when the server no longer knows them
//!   all. So nothing is missed across a network drop, and a page just
//!   drawn fetches nothing again unless something changed.
//!
//! Usage: `let live = use_live();` then read `live.version(Topic::Templates)`
//! (or `live.number_version(&number)` for one number's threads) inside a
//! resource's source.

// The server renders pages without a stream: the machinery that moves the
// versions runs in the browser (and in the tests below) only.
#![cfg_attr(not(feature = "hydrate"), allow(dead_code))]

use std::collections::{HashMap, HashSet};

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What changed; mirrors `switchboard::live::Topic` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    Conversations,
    Templates,
    Numbers,
    Onboarding,
    Failures,
    Members,
}

const TOPICS: [Topic; 6] = [
    Topic::Conversations,
    Topic::Templates,
    Topic::Numbers,
    Topic::Onboarding,
    Topic::Failures,
    Topic::Members,
];

/// A notice as the stream sends it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Said {
    pub topic: Topic,
    #[serde(default)]
    pub phone_number_id: Option<String>,
}

/// How long notices gather before pages fetch.
#[cfg(feature = "hydrate")]
const COALESCE: std::time::Duration = std::time::Duration::from_millis(120);

/// What has changed since pages last fetched.
#[derive(Debug, Default)]
struct Pending {
    topics: HashSet<Topic>,
    numbers: HashSet<String>,
    resync: bool,
    flush_scheduled: bool,
}

/// The tab's live versions. Cheap to copy.
#[derive(Clone, Copy)]
pub struct Live {
    versions: RwSignal<HashMap<Topic, u64>>,
    numbers: RwSignal<HashMap<String, u64>>,
    resyncs: RwSignal<u64>,
    pending: StoredValue<Pending>,
    #[cfg(feature = "hydrate")]
    source: StoredValue<Option<web_sys::EventSource>, LocalStorage>,
}

impl Live {
    /// Provided once, at the root.
    pub fn provide() {
        provide_context(Self {
            versions: RwSignal::new(HashMap::new()),
            numbers: RwSignal::new(HashMap::new()),
            resyncs: RwSignal::new(0),
            pending: StoredValue::new(Pending::default()),
            #[cfg(feature = "hydrate")]
            source: StoredValue::new_local(None),
        });
    }

    /// Moves when `topic` changed (tracked).
    pub fn version(&self, topic: Topic) -> u64 {
        self.versions
            .with(|versions| versions.get(&topic).copied().unwrap_or(0))
    }

    /// Moves when a conversation of `phone_number_id` changed, or after a
    /// resync (tracked). A memo over it keeps other numbers' notices from
    /// refetching this one's thread.
    pub fn number_version(&self, phone_number_id: &str) -> (u64, u64) {
        let resyncs = self.resyncs.get();
        let number = self
            .numbers
            .with(|numbers| numbers.get(phone_number_id).copied().unwrap_or(0));
        (resyncs, number)
    }

    /// Notes a notice (or a resync) and schedules the pages' fetch.
    fn heard(&self, said: Option<Said>) {
        self.pending.update_value(|pending| match said {
            Some(said) => {
                pending.topics.insert(said.topic);
                if let Some(number) = said.phone_number_id {
                    pending.numbers.insert(number);
                }
            }
            None => pending.resync = true,
        });
        self.schedule_flush();
    }

    /// Moves the versions of what changed: all at once, so a page whose
    /// resource reads several topics fetches once.
    fn flush(&self) {
        let pending = self.pending.try_update_value(|pending| {
            pending.flush_scheduled = false;
            std::mem::take(pending)
        });
        let Some(pending) = pending else {
            return;
        };
        let topics: Vec<Topic> = if pending.resync {
            TOPICS.to_vec()
        } else {
            pending.topics.into_iter().collect()
        };
        if !topics.is_empty() {
            self.versions.update(|versions| {
                for topic in topics {
                    *versions.entry(topic).or_default() += 1;
                }
            });
        }
        if !pending.numbers.is_empty() {
            self.numbers.update(|numbers| {
                for number in pending.numbers {
                    *numbers.entry(number).or_default() += 1;
                }
            });
        }
        if pending.resync {
            self.resyncs.update(|n| *n += 1);
        }
    }
}

#[cfg(not(feature = "hydrate"))]
impl Live {
    fn schedule_flush(&self) {}
    /// Opens the tab's stream: in the browser only.
    pub fn connect(&self) {}
}

#[cfg(feature = "hydrate")]
impl Live {
    fn schedule_flush(&self) {
        if document().hidden() {
            // Fetched when the tab shows again (see `connect`).
            return;
        }
        let already = self.pending.with_value(|pending| pending.flush_scheduled);
        if already {
            return;
        }
        self.pending
            .update_value(|pending| pending.flush_scheduled = true);
        let live = *self;
        set_timeout(move || live.flush(), COALESCE);
    }

    /// Opens the tab's stream unless it is open or reconnecting. A stream
    /// the server refused (signed out) is opened again by the next page
    /// that asks, so signing in brings it back.
    pub fn connect(&self) {
        use wasm_bindgen::{closure::Closure, JsCast};
        const CLOSED: u16 = 2;
        let open = self.source.with_value(|source| {
            source
                .as_ref()
                .is_some_and(|source| source.ready_state() != CLOSED)
        });
        if open {
            return;
        }
        let Ok(source) = web_sys::EventSource::new(&stream_address()) else {
            return;
        };
        let live = *self;
        let on_notice =
            Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
                let said = event
                    .data()
                    .as_string()
                    .and_then(|data| serde_json::from_str::<Said>(&data).ok());
                // A notice that does not read (a newer server): fetch all.
                live.heard(said);
            });
        let on_resync =
            Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |_: web_sys::MessageEvent| {
                live.heard(None);
            });
        let _ =
            source.add_event_listener_with_callback("notice", on_notice.as_ref().unchecked_ref());
        let _ =
            source.add_event_listener_with_callback("resync", on_resync.as_ref().unchecked_ref());
        // They live as long as the tab's one stream.
        on_notice.forget();
        on_resync.forget();
        let first = self.source.with_value(Option::is_none);
        self.source.set_value(Some(source));
        if first {
            let on_visible = Closure::<dyn Fn()>::new(move || {
                if !document().hidden() {
                    live.schedule_flush();
                }
            });
            let _ = document().add_event_listener_with_callback(
                "visibilitychange",
                on_visible.as_ref().unchecked_ref(),
            );
            on_visible.forget();
        }
    }
}

/// The stream, caught up from when the server drew the page (its
/// `drawn-at`): the page fetches again only what changed since. A stream
/// the browser opens again asks from the last event it heard instead.
#[cfg(feature = "hydrate")]
fn stream_address() -> String {
    let drawn_at = document()
        .query_selector("meta[name=drawn-at]")
        .ok()
        .flatten()
        .and_then(|meta| meta.get_attribute("content"))
        .filter(|ms| !ms.is_empty() && ms.bytes().all(|b| b.is_ascii_digit()));
    match drawn_at {
        Some(ms) => format!("/live?since={ms}"),
        None => "/live".to_string(),
    }
}

/// The tab's live versions, opening its stream (in the browser) if needed.
pub fn use_live() -> Live {
    let live = expect_context::<Live>();
    Effect::new(move |_| live.connect());
    live
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "ssr")]
    #[test]
    fn every_topic_the_server_names_reads_here() {
        for topic in [
            switchboard::live::Topic::Conversations,
            switchboard::live::Topic::Templates,
            switchboard::live::Topic::Numbers,
            switchboard::live::Topic::Onboarding,
            switchboard::live::Topic::Failures,
            switchboard::live::Topic::Members,
        ] {
            let json = serde_json::to_string(&topic).unwrap();
            let read: Topic = serde_json::from_str(&json).unwrap();
            assert_eq!(serde_json::to_string(&read).unwrap(), json);
            assert!(TOPICS.contains(&read));
        }
    }

    #[test]
    fn a_resync_moves_every_topic_and_every_thread() {
        let owner = Owner::new();
        owner.set();
        Live::provide();
        let live = expect_context::<Live>();
        live.heard(Some(Said {
            topic: Topic::Conversations,
            phone_number_id: Some("1".into()),
        }));
        live.flush();
        assert_eq!(live.version(Topic::Conversations), 1);
        assert_eq!(live.version(Topic::Templates), 0);
        assert_eq!(live.number_version("1"), (0, 1));
        assert_eq!(live.number_version("2"), (0, 0));
        live.heard(None);
        live.flush();
        assert!(TOPICS.iter().all(|topic| live.version(*topic) >= 1));
        assert_eq!(live.number_version("2"), (1, 0));
    }
}
