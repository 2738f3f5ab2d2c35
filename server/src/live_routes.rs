//! `GET /live`: one Server-Sent Events stream per signed-in tab, carrying
//! the change notices of the caller's workspace (`switchboard::live`).
//!
//! - The session is checked when the stream opens (401 without one), and
//!   again whenever a membership or session of the workspace changes and
//!   every few minutes: a removed member's or a signed-out tab's stream
//!   ends, and the browser's reconnect is refused.
//! - A stream catches up first. The page says when it was drawn
//!   (`?since=`, Unix ms) and the browser, reopening a stream, the last
//!   event id it heard (`Last-Event-ID`; each event's id is when this
//!   instance handed it over): the stream starts with the notices since
//!   then, if this instance still holds them all, and otherwise with
//!   `resync` (the page fetches everything it shows). So a page just
//!   drawn fetches nothing again unless something changed, and a stream
//!   back after a drop misses nothing. A stream that falls behind the hub
//!   is told `resync` too.
//! - `notice` events carry `{"topic": ..., "phone_number_id": ...}`, never
//!   data: the page reads through its server functions.
//! - Streams end when the server begins to shut down.

use std::{collections::VecDeque, convert::Infallible, time::Duration};

use axum::{
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
    routing::get,
    Router,
};
use futures_util::stream;
use serde::Serialize;
use switchboard::{
    accounts::{Caller, Role},
    live::{Audience, CatchUp, Delivery, Notice, Stamped, Topic},
    pipeline, Engine,
};
use tokio::sync::{broadcast, watch};

/// How often an idle stream sends a comment (proxies close silent ones).
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How often an open stream checks its session even if nothing changed
/// (sessions expire).
const RECHECK_EVERY: Duration = Duration::from_secs(300);
/// How far apart two instances' clocks may be: a page drawn by one and
/// followed on another catches up from this much earlier (a few notices
/// twice, never one missed).
pub const CLOCK_SKEW_MS: i64 = 250;

#[derive(Clone)]
struct LiveState {
    engine: Engine,
    /// Raised when the server begins to shut down.
    closing: watch::Receiver<bool>,
}

pub fn routes(engine: Engine, closing: watch::Receiver<bool>) -> Router {
    Router::new()
        .route("/live", get(open))
        .with_state(LiveState { engine, closing })
}

/// What the browser reads of a notice.
#[derive(Serialize)]
struct Said<'a> {
    topic: Topic,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone_number_id: Option<&'a str>,
}

/// Who the stream is for, as checked.
#[derive(Clone, PartialEq, Eq)]
struct Listener {
    user_id: String,
    workspace_id: String,
    role: Role,
    operator: bool,
}

impl Listener {
    async fn of(engine: &Engine, headers: &HeaderMap) -> Result<Self, StatusCode> {
        let caller: Caller = app::session::caller_of_request(engine, headers, Role::Viewer).await?;
        let operator = pipeline::is_operator(&engine.store, &caller)
            .await
            .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
        Ok(Self {
            user_id: caller.user.id.to_string(),
            workspace_id: caller.workspace.id.to_string(),
            role: caller.role,
            operator,
        })
    }

    fn hears(&self, notice: &Notice) -> bool {
        match &notice.audience {
            Audience::Workspace(id) => *id == self.workspace_id,
            Audience::Operator => self.operator,
            // Resolved before publishing; never sent unresolved.
            Audience::Waba(_) => false,
        }
    }
}

/// When the page the stream is for was drawn (Unix ms).
#[derive(serde::Deserialize)]
struct Opening {
    since: Option<i64>,
}

/// From when the stream catches up: the browser's last event id when it
/// reopens one, else the page's drawing time.
fn catch_up_from(headers: &HeaderMap, opening: &Opening) -> Option<i64> {
    let last_heard = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|id| id.trim().parse::<i64>().ok());
    last_heard
        .or(opening.since)
        .map(|since| since.saturating_sub(CLOCK_SKEW_MS))
}

async fn open(
    State(state): State<LiveState>,
    Query(opening): Query<Opening>,
    headers: HeaderMap,
) -> Response {
    // Opened before the check, so nothing published meanwhile is missed.
    let (deliveries, catch_up) = state.engine.live.open(catch_up_from(&headers, &opening));
    let listener = match Listener::of(&state.engine, &headers).await {
        Ok(listener) => listener,
        Err(status) => return (status, "Sign in to follow live updates.").into_response(),
    };
    let first = match catch_up {
        CatchUp::Resync { at } => VecDeque::from([resync(at)]),
        CatchUp::Notices(missed) => missed
            .iter()
            .filter_map(|stamped| match &stamped.delivery {
                Delivery::Notice(notice) if listener.hears(notice) => {
                    Some(said(stamped.at, notice))
                }
                _ => None,
            })
            .collect(),
    };
    metrics::gauge!("live_streams_open").increment(1.0);
    let open = Open {
        state,
        headers,
        listener,
        deliveries,
        first,
        recheck_at: tokio::time::Instant::now() + RECHECK_EVERY,
        _counted: Counted,
    };
    let events = stream::unfold(open, |mut open| async move {
        let event = open.next_event().await?;
        Some((Ok::<_, Infallible>(event), open))
    });
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response();
    // Proxies that buffer responses (nginx) would hold the notices back.
    response.headers_mut().insert(
        "x-accel-buffering",
        axum::http::HeaderValue::from_static("no"),
    );
    response
}

/// Lowers the open-streams gauge when a stream ends, however it ends.
struct Counted;

impl Drop for Counted {
    fn drop(&mut self) {
        metrics::gauge!("live_streams_open").decrement(1.0);
    }
}

struct Open {
    state: LiveState,
    headers: HeaderMap,
    listener: Listener,
    deliveries: broadcast::Receiver<Stamped>,
    /// What the stream says before what it hears: its catch-up.
    first: VecDeque<Event>,
    recheck_at: tokio::time::Instant,
    _counted: Counted,
}

impl Open {
    /// The next event for the browser, or `None` to end the stream.
    async fn next_event(&mut self) -> Option<Event> {
        if let Some(event) = self.first.pop_front() {
            return Some(event);
        }
        loop {
            let received = tokio::select! {
                received = self.deliveries.recv() => Some(received),
                () = tokio::time::sleep_until(self.recheck_at) => None,
                _ = self.state.closing.wait_for(|closing| *closing) => return None,
            };
            let Some(received) = received else {
                self.recheck_at = tokio::time::Instant::now() + RECHECK_EVERY;
                if !self.still_allowed().await {
                    return None;
                }
                continue;
            };
            let Stamped { at, delivery } = match received {
                Ok(stamped) => stamped,
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    return Some(resync(switchboard::store::now_millis()))
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            match delivery {
                Delivery::Notice(notice) if self.listener.hears(&notice) => {
                    if notice.topic == Topic::Members && !self.still_allowed().await {
                        return None;
                    }
                    return Some(said(at, &notice));
                }
                Delivery::Notice(_) => {}
                Delivery::Resync => return Some(resync(at)),
            }
        }
    }

    /// Whether the session still belongs to the same person, workspace
    /// and role (a changed role opens a new stream with the new one).
    async fn still_allowed(&self) -> bool {
        Listener::of(&self.state.engine, &self.headers)
            .await
            .is_ok_and(|now| now == self.listener)
    }
}

/// Each event's id is when this instance handed it over: the browser sends
/// the last one back (`Last-Event-ID`) when it opens the stream again.
fn resync(at: i64) -> Event {
    Event::default()
        .event("resync")
        .id(at.to_string())
        .data("{}")
}

fn said(at: i64, notice: &Notice) -> Event {
    let said = Said {
        topic: notice.topic,
        phone_number_id: notice.phone_number_id.as_deref(),
    };
    Event::default()
        .event("notice")
        .id(at.to_string())
        .json_data(said)
        .unwrap_or_else(|_| resync(at))
}
