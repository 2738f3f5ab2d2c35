//! The UI's responses run to their end even when the browser has gone.
//!
//! Leptos disposes of a page's reactive state (its signals, resources and
//! memos) as soon as its response is dropped, but a `Suspense` boundary
//! reads its children in a task of its own, and that task does not stop
//! with the response: when a browser left a page mid-render (a click to
//! another page, a closed tab), the task read values already disposed and
//! panicked. So the response is made in a task of its own and read to its
//! end there: the browser gets what it still listens for, and the page's
//! state is disposed of only once its render is over.
//!
//! Limits, so that no task lives forever: the response's head within the
//! request time limit (the browser has had its 408 by then), and the rest
//! within that limit again once nobody listens. A browser still reading
//! a long download is never cut off.
//!
//! A page render is polled where it may block its thread ([`MayBlock`]).

use std::{
    future::Future,
    pin::Pin,
    sync::atomic::{AtomicUsize, Ordering},
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::{Body, Bytes, HttpBody},
    extract::{Request, State},
    http::{header, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use futures_util::{stream, StreamExt};
use tokio::{
    runtime::{Handle, RuntimeFlavor},
    sync::{mpsc, oneshot, Notify},
    task::block_in_place,
    time::timeout,
};
use tracing::Instrument;

/// Chunks held for a browser that reads slower than the page renders.
const CHUNKS_IN_HAND: usize = 16;

static UNFINISHED: AtomicUsize = AtomicUsize::new(0);

/// How many responses are still being made or read out, in this process:
/// a drain for tests and for shutdown, and a gauge for operators.
pub fn unfinished() -> usize {
    UNFINISHED.load(Ordering::SeqCst)
}

/// Told each time the last unfinished response ends.
static ALL_FINISHED: Notify = Notify::const_new();

/// Waits, up to `grace`, until no response is being made (shutdown: the
/// store closes after; tests: every page they left has ended). Whether
/// they all ended.
pub async fn drained(grace: Duration) -> bool {
    timeout(grace, async {
        loop {
            let finished = ALL_FINISHED.notified();
            tokio::pin!(finished);
            // Listening before looking, so an end in between is not missed.
            finished.as_mut().enable();
            if unfinished() == 0 {
                return;
            }
            finished.await;
        }
    })
    .await
    .is_ok()
}

/// The request time limit: for a response's head, and for the rest of it
/// once its browser has gone.
#[derive(Clone, Copy)]
pub struct Limit(pub Duration);

type Chunk = Result<Bytes, axum::Error>;

/// The layer around the UI's pages, server functions, site files and
/// not-found page.
pub async fn layer(State(limit): State<Limit>, request: Request, next: Next) -> Response {
    let (head_tx, head_rx) = oneshot::channel();
    let (chunks_tx, chunks_rx) = mpsc::channel::<Chunk>(CHUNKS_IN_HAND);
    let counted = Unfinished::start();
    let failed = chunks_tx.clone();
    let hand_over = is_page(&request) && can_hand_over();
    let respond = tokio::spawn(
        MayBlock::new(respond(request, next, limit, head_tx, chunks_tx), hand_over)
            .in_current_span(),
    );
    tokio::spawn(async move {
        let _counted = counted;
        if respond.await.is_err() {
            // It panicked (logged by the panic hook): a browser still
            // reading must see a broken response, not a whole one.
            let _ = failed
                .send(Err(axum::Error::new("the response failed")))
                .await;
        }
    });
    match head_rx.await {
        Ok(head) => {
            let chunks = stream::unfold(chunks_rx, |mut rx| async move {
                rx.recv().await.map(|chunk| (chunk, rx))
            });
            Response::from_parts(head, Body::from_stream(chunks))
        }
        // No head within the limit, or the handler panicked.
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn respond(
    request: Request,
    next: Next,
    Limit(limit): Limit,
    head_tx: oneshot::Sender<axum::http::response::Parts>,
    chunks_tx: mpsc::Sender<Chunk>,
) {
    let Ok(response) = timeout(limit, next.run(request)).await else {
        tracing::warn!(?limit, "a UI response had no head at the time limit");
        return;
    };
    let (mut head, body) = response.into_parts();
    // A whole body keeps its length (it now goes through a stream); an
    // empty one (HEAD, 204, 304) is left as it was.
    if let Some(length) = body.size_hint().exact().filter(|length| *length > 0) {
        head.headers
            .entry(header::CONTENT_LENGTH)
            .or_insert_with(|| HeaderValue::from(length));
    }
    // Gone before the first byte or not, the body is read out.
    let mut listening = head_tx.send(head).is_ok();
    let mut chunks = body.into_data_stream();
    while listening {
        let Some(chunk) = chunks.next().await else {
            return;
        };
        listening = chunks_tx.send(chunk).await.is_ok();
    }
    let rest = async { while chunks.next().await.is_some() {} };
    if timeout(limit, rest).await.is_err() {
        tracing::warn!(
            ?limit,
            "a UI response nobody read was unfinished at the time limit"
        );
    }
}

/// A page render, polled where it may block its thread.
///
/// Leptos reads a resource's value with a blocking lock, in the middle of a
/// synchronous render pass. If the task that must run for that lock to
/// come free (its writer, or a reader handed the wake-up) was woken from
/// this same thread, it waits in this worker's LIFO slot, and no other
/// worker is sure to take it from there: the worker stopped for good, and
/// the page with it (a 408 at the time limit; gdb showed the worker parked
/// in such a read). Inside `block_in_place`, tokio hands this worker's
/// queue to another thread first, so a read that waits, waits only until
/// its task has run.
///
/// Only for a response task of its own (`tokio::spawn`), and only for
/// page renders: each poll hands the worker over (about a microsecond,
/// and a blocking-pool thread while it runs), which the site's files and
/// server functions, drawing no view, need not pay. A current-thread
/// runtime (plain `#[tokio::test]`s) cannot hand over: polled as it is.
/// Not covered: the tasks Leptos spawns itself (a `Suspense`'s effect, a
/// resource's load). Handing those over too (a spawner of our own for
/// Leptos) was tried: 1,000 renders at 20 at once took 7.5 s instead of
/// 6.2, with 426 threads at peak instead of 48.
struct MayBlock<F> {
    inner: Pin<Box<F>>,
    hand_over: bool,
}

impl<F: Future> MayBlock<F> {
    fn new(inner: F, hand_over: bool) -> Self {
        Self {
            inner: Box::pin(inner),
            hand_over,
        }
    }
}

impl<F: Future> Future for MayBlock<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let hand_over = self.hand_over;
        let inner = self.inner.as_mut();
        if hand_over {
            block_in_place(|| inner.poll(cx))
        } else {
            inner.poll(cx)
        }
    }
}

/// Whether this runtime has other threads to hand a worker's queue to.
fn can_hand_over() -> bool {
    Handle::current().runtime_flavor() == RuntimeFlavor::MultiThread
}

/// Whether a request is for a page the server draws: a GET of a path
/// that is not a site file (`/pkg/`, a name with an extension) nor a
/// server function (`/api/`).
fn is_page(request: &Request) -> bool {
    let path = request.uri().path();
    let last = path.rsplit('/').next().unwrap_or_default();
    request.method() == axum::http::Method::GET
        && !path.starts_with("/pkg/")
        && !path.starts_with("/api/")
        && !last.contains('.')
}

/// Counts one response from its start until its tasks end.
struct Unfinished;

impl Unfinished {
    fn start() -> Self {
        UNFINISHED.fetch_add(1, Ordering::SeqCst);
        metrics::gauge!("ui_responses_unfinished").increment(1.0);
        Self
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if UNFINISHED.fetch_sub(1, Ordering::SeqCst) == 1 {
            ALL_FINISHED.notify_waiters();
        }
        metrics::gauge!("ui_responses_unfinished").decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What stopped a worker for good: a render that blocks its thread
    /// until a task it woke has run (in this worker's LIFO slot). With one
    /// worker, nothing but the hand-over can run that task; more workers
    /// only make it rarer.
    #[test]
    fn a_render_that_blocks_until_a_task_it_woke_has_run_finishes() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let ran = runtime.block_on(async {
            let render = MayBlock::new(
                async {
                    let (ran_tx, ran_rx) = std::sync::mpsc::channel();
                    tokio::spawn(async move {
                        let _ = ran_tx.send(());
                    });
                    ran_rx.recv_timeout(Duration::from_secs(10)).is_ok()
                },
                can_hand_over(),
            );
            tokio::spawn(render)
                .await
                .expect("the render does not panic")
        });
        assert!(ran, "the task the render waited for never ran");
    }

    fn get(path: &str) -> Request {
        Request::get(path).body(Body::empty()).expect("a request")
    }

    #[test]
    fn pages_are_told_from_files_and_server_functions() {
        for page in [
            "/",
            "/conversations",
            "/settings/members",
            "/invite/abc-123",
        ] {
            assert!(is_page(&get(page)), "{page}");
        }
        for other in [
            "/pkg/switchboard.Abc.wasm",
            "/favicon.svg",
            "/api/list_members",
        ] {
            assert!(!is_page(&get(other)), "{other}");
        }
        let post = Request::post("/sign-in")
            .body(Body::empty())
            .expect("a request");
        assert!(!is_page(&post));
    }
}
