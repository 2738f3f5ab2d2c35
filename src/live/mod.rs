//! Live notices: small "this changed" messages for the pages people have
//! open, so a page fetches again when (and only when) its data changed.
//!
//! A notice names a topic and, for conversations, the number; never the
//! data itself, so a page always reads through its own server function and
//! the permissions it checks. Notices are published after the change is
//! committed. One [`Hub`] per process fans them out to the open streams:
//! on SQLite (one process) straight away; on Postgres through
//! `LISTEN/NOTIFY`, so an instance's streams hear what any instance did
//! (see [`relay`]).

mod changes;
mod recent;
pub mod relay;

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

pub use changes::notices_of;
pub use recent::Stamped;

use crate::store::{now_millis, Store};

/// What changed, as pages care about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    /// A message arrived, was sent, or changed status.
    Conversations,
    /// A template's status, quality or category.
    Templates,
    /// A number's health, status, limits or restrictions.
    Numbers,
    /// An onboarding run moved.
    Onboarding,
    /// A webhook event failed or was dead-lettered.
    Failures,
    /// Someone's membership or session changed: streams check theirs.
    Members,
}

/// Who may hear a notice.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// The people of one workspace.
    Workspace(String),
    /// Whoever owns the workspace of a WABA (resolved when published).
    Waba(String),
    /// The installation's operator (installation-wide pages).
    Operator,
}

/// One change notice.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Notice {
    pub audience: Audience,
    pub topic: Topic,
    /// The number a conversation notice concerns, so a page showing
    /// another number's thread need not fetch it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_id: Option<String>,
}

impl Notice {
    pub fn to_workspace(workspace_id: impl Into<String>, topic: Topic) -> Self {
        Self {
            audience: Audience::Workspace(workspace_id.into()),
            topic,
            phone_number_id: None,
        }
    }

    pub fn conversation(
        workspace_id: impl Into<String>,
        phone_number_id: impl Into<String>,
    ) -> Self {
        Self {
            phone_number_id: Some(phone_number_id.into()),
            ..Self::to_workspace(workspace_id, Topic::Conversations)
        }
    }

    pub fn to_waba(waba_id: impl Into<String>, topic: Topic) -> Self {
        Self {
            audience: Audience::Waba(waba_id.into()),
            topic,
            phone_number_id: None,
        }
    }
}

/// What a stream receives from the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Notice(Notice),
    /// Notices may have been lost (the relay reconnected): every page
    /// fetches again.
    Resync,
}

/// How many deliveries wait for a slow stream before it is told to resync.
const BACKLOG: usize = 1024;

/// A worker another instance may have to wake: work was queued that the
/// instance holding it (a number's sender lease, say) should start now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Wake {
    Outbox,
    Deliveries,
    Onboarding,
}

/// The process's fan-out of notices. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Hub {
    local: broadcast::Sender<Stamped>,
    /// What was handed over lately, for streams that catch up; locked
    /// while handing over, so a stream opening sees each delivery once.
    recent: Arc<Mutex<recent::Recent>>,
    relay: relay::Relay,
    /// This process's workers, woken by other instances' [`Wake`]s.
    wakes: crate::Wakes,
}

/// Where a stream that opens starts.
#[derive(Debug, PartialEq, Eq)]
pub enum CatchUp {
    /// What it missed since the time it gave (possibly nothing).
    Notices(Vec<Stamped>),
    /// It gave no time, or some of what it missed is no longer known: the
    /// page fetches everything again.
    Resync { at: i64 },
}

impl Hub {
    pub fn new(store: &Store, wakes: crate::Wakes) -> Self {
        Self {
            local: broadcast::channel(BACKLOG).0,
            recent: Arc::new(Mutex::new(recent::Recent::new(now_millis()))),
            relay: relay::Relay::for_store(store),
            wakes,
        }
    }

    /// Wakes `worker` here and, on Postgres, in every other instance.
    pub async fn wake_everywhere(&self, worker: Wake) {
        self.wake_here(worker);
        self.wake_elsewhere(worker).await;
    }

    /// Wakes `worker` in every other instance (on Postgres; SQLite is one).
    pub async fn wake_elsewhere(&self, worker: Wake) {
        if let Err(error) = self.relay.send_wake(worker).await {
            tracing::warn!(%error, "cannot wake the other instances");
        }
    }

    /// Wakes `worker` in this process, at once.
    pub fn wake_here(&self, worker: Wake) {
        let notify = match worker {
            Wake::Outbox => &self.wakes.outbox,
            Wake::Deliveries => &self.wakes.deliveries,
            Wake::Onboarding => &self.wakes.onboarding,
        };
        notify.notify_one();
    }

    /// Every delivery from now on, and what to tell the stream first: the
    /// notices handed over at `since` or later (a page drawn then, or the
    /// last event id the browser heard), else a resync.
    pub fn open(&self, since: Option<i64>) -> (broadcast::Receiver<Stamped>, CatchUp) {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let deliveries = self.local.subscribe();
        let catch_up = match since.and_then(|since| recent.since(since)) {
            Some(notices) => CatchUp::Notices(notices),
            None => CatchUp::Resync { at: now_millis() },
        };
        (deliveries, catch_up)
    }

    /// Publishes notices of committed changes: to this process's streams
    /// (SQLite) or to every instance's (Postgres). WABA audiences are
    /// resolved to their workspace first; a WABA nobody owns is dropped.
    /// Never fails the caller: a lost notice costs a page its freshness
    /// until the next one, and is logged.
    pub async fn publish(&self, store: &Store, notices: impl IntoIterator<Item = Notice>) {
        let mut resolved = Vec::new();
        for mut notice in notices {
            if let Audience::Waba(waba_id) = &notice.audience {
                match store.waba_owner(waba_id).await {
                    Ok(Some(workspace_id)) => notice.audience = Audience::Workspace(workspace_id),
                    Ok(None) => continue,
                    Err(error) => {
                        tracing::warn!(%error, "cannot resolve a notice's workspace");
                        continue;
                    }
                }
            }
            if !resolved.contains(&notice) {
                resolved.push(notice);
            }
        }
        if resolved.is_empty() {
            return;
        }
        if let Err(error) = self.relay.send(self, resolved).await {
            tracing::warn!(%error, "cannot publish live notices");
        }
    }

    /// Hands deliveries to this process's streams, and keeps them for
    /// streams that catch up later.
    fn deliver(&self, delivery: Delivery) {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let stamped = recent.stamp(now_millis(), delivery);
        // No stream open: nobody to tell.
        let _ = self.local.send(stamped);
    }
}
