//! `GET /live` over real HTTP: who may open a stream, what reaches it (and
//! what never does), a removed member's stream ending, and a notice
//! crossing from one instance to another through Postgres.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use server::Application;
use switchboard::test_support::TestBackend;

use crate::{
    helpers::{member, member_elsewhere, owner, spawn_app, test_config, TestApp, Visitor},
    webhooks::{post, sign},
};

const ACME_NUMBER: &str = "106540352242922";
const ACME_WABA: &str = "524126980791429";
const ELSEWHERE_NUMBER: &str = "106540352249999";
const ELSEWHERE_WABA: &str = "524126980799999";
/// Long enough for a loaded CI machine; a notice normally takes milliseconds.
const PATIENCE: Duration = Duration::from_secs(20);

/// One Server-Sent Events stream, read event by event.
struct EventStream {
    response: reqwest::Response,
    buffer: String,
    /// The id of the last event read, as a browser keeps it.
    last_id: Option<String>,
}

#[derive(Debug, PartialEq)]
struct SentEvent {
    event: String,
    data: Value,
}

/// Where a stream asks to catch up from, as a browser opens it.
#[derive(Clone, Copy)]
enum From<'a> {
    /// Nothing said: a resync first.
    Nowhere,
    /// `?since=`: when the page was drawn.
    Drawn(i64),
    /// `Last-Event-ID`: a stream opened again.
    LastHeard(&'a str),
}

impl EventStream {
    async fn open(base: &str, cookie: Option<&str>) -> Result<Self, u16> {
        Self::open_from(base, cookie, From::Nowhere).await
    }

    async fn open_from(base: &str, cookie: Option<&str>, from: From<'_>) -> Result<Self, u16> {
        let address = match from {
            From::Drawn(ms) => format!("{base}/live?since={ms}"),
            _ => format!("{base}/live"),
        };
        let mut request = reqwest::Client::new().get(address);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        if let From::LastHeard(id) = from {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        if response.status() != 200 {
            return Err(response.status().as_u16());
        }
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
        Ok(Self {
            response,
            buffer: String::new(),
            last_id: None,
        })
    }

    /// The next event (keep-alive comments skipped), or `None` once the
    /// server ended the stream. Panics after [`PATIENCE`].
    async fn next(&mut self) -> Option<SentEvent> {
        tokio::time::timeout(PATIENCE, self.next_unbounded())
            .await
            .expect("an event or the stream's end in time")
    }

    async fn next_unbounded(&mut self) -> Option<SentEvent> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = String::new();
                let mut data = String::new();
                let mut id = None;
                for line in block.lines() {
                    if let Some(name) = line.strip_prefix("event:") {
                        event = name.trim().to_string();
                    } else if let Some(text) = line.strip_prefix("data:") {
                        data.push_str(text.trim());
                    } else if let Some(value) = line.strip_prefix("id:") {
                        id = Some(value.trim().to_string());
                    }
                }
                if event.is_empty() {
                    continue; // a keep-alive comment
                }
                let id = id.expect("every event has an id");
                assert!(id.parse::<i64>().is_ok(), "an id in ms: {id}");
                self.last_id = Some(id);
                return Some(SentEvent {
                    event,
                    data: serde_json::from_str(&data).unwrap(),
                });
            }
            match self.response.chunk().await {
                Ok(Some(chunk)) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(None) | Err(_) => return None,
            }
        }
    }

    async fn expect_resync(&mut self) {
        let first = self.next().await.expect("the stream's first event");
        assert_eq!(first.event, "resync");
    }
}

async fn workspace_of(visitor: &mut Visitor) -> String {
    let (_, welcome) = visitor.call("welcome", &[]).await;
    serde_json::from_str::<Value>(&welcome).unwrap()["me"]["current"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Connects `number` to the visitor's current workspace.
async fn connect_theirs(app: &TestApp, visitor: &mut Visitor, number: &str, waba: &str) {
    let workspace = workspace_of(visitor).await;
    connect(app, &workspace, number, waba).await;
}

async fn connect(app: &TestApp, workspace: &str, number: &str, waba: &str) {
    app.engine
        .store
        .connect_number(&workspace.into(), &number.into(), &waba.into(), None, 0)
        .await
        .unwrap();
}

fn inbound(number: &str, waba: &str, wamid: &str) -> Vec<u8> {
    json!({ "object": "whatsapp_business_account", "entry": [{ "id": waba, "changes": [{ "field": "messages", "value": {
        "metadata": { "phone_number_id": number },
        "contacts": [{ "profile": { "name": "Sheena" }, "wa_id": "16505551234" }],
        "messages": [{ "from": "16505551234", "id": wamid, "timestamp": "1700000000", "type": "text", "text": { "body": "Hello there" } }],
    }}]}]})
    .to_string()
    .into_bytes()
}

async fn deliver(app: &TestApp, body: Vec<u8>) {
    let signature = sign(&body);
    assert_eq!(post(app, body, Some(signature)).await.status(), 200);
}

/// An instance for a test of catching up. A stream catches up from a
/// little before the time it gives (other instances' clocks), and a fresh
/// instance knows nothing from before it started: the test starts once
/// that margin is behind it (a time to pass, nothing to wait on).
async fn spawn_app_to_catch_up() -> TestApp {
    let app = spawn_app(TestBackend::Sqlite).await;
    let spawned = switchboard::store::now_millis();
    let ready_at = spawned + server::live_routes::CLOCK_SKEW_MS + 1;
    let left = ready_at - switchboard::store::now_millis();
    if left > 0 {
        tokio::time::sleep(Duration::from_millis(left as u64)).await;
    }
    app
}

fn conversation_notice(number: &str) -> SentEvent {
    SentEvent {
        event: "notice".into(),
        data: json!({ "topic": "conversations", "phone_number_id": number }),
    }
}

#[tokio::test]
async fn only_a_signed_in_person_opens_a_stream_and_it_starts_with_a_resync() {
    let app = spawn_app(TestBackend::Sqlite).await;
    assert_eq!(EventStream::open(&app.base, None).await.err(), Some(401));
    assert_eq!(
        EventStream::open(&app.base, Some("sb_session=forged"))
            .await
            .err(),
        Some(401)
    );
    let owner = owner(&app).await;
    let mut stream = EventStream::open(&app.base, owner.cookie.as_deref())
        .await
        .unwrap();
    stream.expect_resync().await;
}

/// A page just drawn: its stream tells it only what changed since, and
/// never to fetch everything again. Before what the instance still
/// knows (a page from before it started), the stream resyncs.
#[tokio::test]
async fn a_stream_for_a_page_just_drawn_hears_only_what_changed_since() {
    let app = spawn_app_to_catch_up().await;
    let mut acme = owner(&app).await;
    let mut elsewhere = member_elsewhere(&app, &mut acme, "eli@example.com", "viewer").await;
    connect_theirs(&app, &mut acme, ACME_NUMBER, ACME_WABA).await;
    connect_theirs(&app, &mut elsewhere, ELSEWHERE_NUMBER, ELSEWHERE_WABA).await;

    let drawn = switchboard::store::now_millis();
    deliver(&app, inbound(ACME_NUMBER, ACME_WABA, "wamid.after-drawing")).await;
    // Opened before or after the message is applied: the notice either way.
    let mut stream = EventStream::open_from(&app.base, acme.cookie.as_deref(), From::Drawn(drawn))
        .await
        .unwrap();
    assert_eq!(stream.next().await, Some(conversation_notice(ACME_NUMBER)));

    // Another workspace's page drawn at the same time: Acme's notice is not
    // in its catch-up, so its first event is its own workspace's.
    let mut other =
        EventStream::open_from(&app.base, elsewhere.cookie.as_deref(), From::Drawn(drawn))
            .await
            .unwrap();
    deliver(
        &app,
        inbound(ELSEWHERE_NUMBER, ELSEWHERE_WABA, "wamid.else"),
    )
    .await;
    assert_eq!(
        other.next().await,
        Some(conversation_notice(ELSEWHERE_NUMBER))
    );

    let mut from_long_ago =
        EventStream::open_from(&app.base, acme.cookie.as_deref(), From::Drawn(1))
            .await
            .unwrap();
    from_long_ago.expect_resync().await;
}

/// A browser opening its stream again (`Last-Event-ID`) hears what was
/// said while it was away, not a resync.
#[tokio::test]
async fn a_stream_opened_again_hears_what_it_missed() {
    let app = spawn_app_to_catch_up().await;
    let mut acme = owner(&app).await;
    connect_theirs(&app, &mut acme, ACME_NUMBER, ACME_WABA).await;
    let cookie = acme.cookie.as_deref();

    let mut first = EventStream::open(&app.base, cookie).await.unwrap();
    first.expect_resync().await;
    let last_heard = first.last_id.clone().unwrap();
    drop(first);

    // A second tab sees the notice go out while the first is away.
    let mut witness = EventStream::open(&app.base, cookie).await.unwrap();
    witness.expect_resync().await;
    deliver(&app, inbound(ACME_NUMBER, ACME_WABA, "wamid.while-away")).await;
    assert_eq!(witness.next().await, Some(conversation_notice(ACME_NUMBER)));

    let mut again = EventStream::open_from(&app.base, cookie, From::LastHeard(&last_heard))
        .await
        .unwrap();
    assert_eq!(again.next().await, Some(conversation_notice(ACME_NUMBER)));
    // A malformed id is no id: a resync.
    let mut garbled = EventStream::open_from(&app.base, cookie, From::LastHeard("yesterday"))
        .await
        .unwrap();
    garbled.expect_resync().await;
}

/// A message for Acme's number reaches Acme's stream; the stream of a
/// member of another workspace hears only its own workspace's notice,
/// published after Acme's (notices keep their order, so Acme's would
/// have come first).
#[tokio::test]
async fn a_workspace_hears_its_own_changes_and_never_another_workspaces() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let mut acme = owner(&app).await;
    let mut elsewhere = member_elsewhere(&app, &mut acme, "eli@example.com", "viewer").await;
    let acme_workspace = workspace_of(&mut acme).await;
    let elsewhere_workspace = workspace_of(&mut elsewhere).await;
    assert_ne!(acme_workspace, elsewhere_workspace);
    connect(&app, &acme_workspace, ACME_NUMBER, ACME_WABA).await;
    connect(&app, &elsewhere_workspace, ELSEWHERE_NUMBER, ELSEWHERE_WABA).await;

    let mut acme_stream = EventStream::open(&app.base, acme.cookie.as_deref())
        .await
        .unwrap();
    let mut elsewhere_stream = EventStream::open(&app.base, elsewhere.cookie.as_deref())
        .await
        .unwrap();
    acme_stream.expect_resync().await;
    elsewhere_stream.expect_resync().await;

    deliver(&app, inbound(ACME_NUMBER, ACME_WABA, "wamid.acme1")).await;
    assert_eq!(
        acme_stream.next().await,
        Some(conversation_notice(ACME_NUMBER))
    );
    deliver(
        &app,
        inbound(ELSEWHERE_NUMBER, ELSEWHERE_WABA, "wamid.else1"),
    )
    .await;
    assert_eq!(
        elsewhere_stream.next().await,
        Some(conversation_notice(ELSEWHERE_NUMBER))
    );
    // And the page's read shows the message the notice announced.
    let (_, list) = acme.call("list_conversations", &[]).await;
    assert_eq!(
        serde_json::from_str::<Value>(&list).unwrap()[0]["last_summary"],
        "Hello there"
    );
}

/// Removing a member ends their open stream at once, and their browser's
/// reconnect is refused; the remaining people's streams carry on.
#[tokio::test]
async fn a_removed_members_stream_ends_and_cannot_reopen() {
    let app = spawn_app(TestBackend::Sqlite).await;
    let mut acme = owner(&app).await;
    let mut agent = member(&app, &mut acme, "ada@example.com", "agent").await;
    let (_, members) = acme.call("list_members", &[]).await;
    let agent_id = serde_json::from_str::<Value>(&members)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == "ada@example.com")
        .expect("the agent is a member")["user_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut agent_stream = EventStream::open(&app.base, agent.cookie.as_deref())
        .await
        .unwrap();
    let mut owner_stream = EventStream::open(&app.base, acme.cookie.as_deref())
        .await
        .unwrap();
    agent_stream.expect_resync().await;
    owner_stream.expect_resync().await;

    let (status, body) = acme.call("remove_member", &[("user_id", &agent_id)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        agent_stream.next().await,
        None,
        "the removed member's stream ends"
    );
    assert_eq!(
        owner_stream.next().await.map(|e| e.data["topic"].clone()),
        Some(json!("members"))
    );
    // The agent is signed in still, in no workspace of Acme's.
    let (status, _) = agent.call("list_conversations", &[]).await;
    assert_ne!(status, 200);
    assert!(EventStream::open(&app.base, agent.cookie.as_deref())
        .await
        .is_err());
}

/// Two instances on one Postgres database: a webhook taken by instance A
/// reaches a stream open on instance B within 200 ms (median of five;
/// each printed).
#[tokio::test]
async fn a_webhook_taken_by_one_instance_reaches_a_stream_on_another() {
    let a = spawn_app(TestBackend::Postgres).await;
    let b = Application::build(test_config(&a.db, &[]))
        .await
        .expect("the second instance builds");
    let b_base = format!("http://{}", b.local_addr());
    let (stop_b, stopped) = tokio::sync::oneshot::channel::<()>();
    let running_b = tokio::spawn(b.run_until(async {
        let _ = stopped.await;
    }));

    let mut acme = owner(&a).await;
    let workspace = workspace_of(&mut acme).await;
    connect(&a, &workspace, ACME_NUMBER, ACME_WABA).await;
    let mut on_b = EventStream::open(&b_base, acme.cookie.as_deref())
        .await
        .unwrap();
    on_b.expect_resync().await;

    let mut latencies = Vec::new();
    for i in 0..5 {
        let body = inbound(ACME_NUMBER, ACME_WABA, &format!("wamid.cross{i}"));
        let signature = sign(&body);
        let response = post(&a, body, Some(signature)).await;
        assert_eq!(response.status(), 200);
        let acknowledged = Instant::now();
        assert_eq!(on_b.next().await, Some(conversation_notice(ACME_NUMBER)));
        latencies.push(acknowledged.elapsed());
    }
    println!("acknowledged on A -> notice on B: {latencies:?}");
    latencies.sort();
    assert!(
        latencies[2] < Duration::from_millis(200),
        "median {:?}",
        latencies[2]
    );

    drop(on_b);
    let _ = stop_b.send(());
    let stopped = running_b.await.expect("instance B's task");
    assert!(stopped.is_ok(), "instance B stops cleanly: {stopped:?}");
    a.shutdown().await.unwrap();
}

/// Shutting down ends open streams instead of waiting out the grace.
#[tokio::test]
async fn shutdown_ends_open_streams() {
    let mut app = spawn_app(TestBackend::Sqlite).await;
    let owner = owner(&app).await;
    let mut stream = EventStream::open(&app.base, owner.cookie.as_deref())
        .await
        .unwrap();
    stream.expect_resync().await;
    let started = Instant::now();
    app.begin_shutdown();
    assert_eq!(stream.next().await, None);
    app.shutdown().await.unwrap();
    // The grace is 20 s; an open stream would have held it that long.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}
