//! The UI's responses run to their end even when the browser has gone.
//!
//! Leptos disposes of a page's reactive state (its signals, resources and
//! memos) as soon as its response is dropped, but a `Suspense` boundary
//! reads its children in a task of its own, and that task does not stop
//! with the response: when a browser left a page mid-render (a click to
//! another page, a closed tab), the task read values already disposed and
//! panicked. So the response is made in a task of its own and read to its
//! end there: the browser gets what it still listens for, and the page's
//! state is disposed of only once its render is over. A render that never
//! ends is dropped after the request time limit, so none lives forever.

use std::{
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    http::StatusCode,
    middleware::Next,
    response::{IntoResponse, Response},
};
use futures_util::{stream, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

/// Chunks held for a browser that reads slower than the page renders.
const CHUNKS_IN_HAND: usize = 16;

static UNFINISHED: AtomicUsize = AtomicUsize::new(0);

/// How many responses are still being made or read out, in this process:
/// a drain for tests, and a gauge for operators.
pub fn unfinished() -> usize {
    UNFINISHED.load(Ordering::SeqCst)
}

/// How long a response may take to be made and read out: the request time
/// limit, which the browser sees anyway.
#[derive(Clone, Copy)]
pub struct Limit(pub Duration);

/// The layer around the UI's routes (pages, server functions, the site's
/// files and the not-found page).
pub async fn layer(State(Limit(limit)): State<Limit>, request: Request, next: Next) -> Response {
    let (head_tx, head_rx) = oneshot::channel();
    let (chunks_tx, chunks_rx) = mpsc::channel::<Result<Bytes, axum::Error>>(CHUNKS_IN_HAND);
    let counted = Unfinished::start();
    let respond = async move {
        let (head, body) = next.run(request).await.into_parts();
        // Gone before the first byte or not, the body is read out.
        let _ = head_tx.send(head);
        let mut chunks = body.into_data_stream();
        let mut listening = true;
        while let Some(chunk) = chunks.next().await {
            listening = listening && chunks_tx.send(chunk).await.is_ok();
        }
    };
    tokio::spawn(
        async move {
            let _counted = counted;
            if tokio::time::timeout(limit, respond).await.is_err() {
                tracing::warn!(
                    ?limit,
                    "a UI response was still unfinished at the time limit"
                );
            }
        }
        .in_current_span(),
    );
    match head_rx.await {
        Ok(head) => {
            let chunks = stream::unfold(chunks_rx, |mut rx| async move {
                rx.recv().await.map(|chunk| (chunk, rx))
            });
            Response::from_parts(head, Body::from_stream(chunks))
        }
        // The handler panicked in its task (the panic is logged there), or
        // ran past the limit.
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Counts one response from its start until its task ends.
struct Unfinished;

impl Unfinished {
    fn start() -> Self {
        let now = UNFINISHED.fetch_add(1, Ordering::SeqCst) + 1;
        metrics::gauge!("ui_responses_unfinished").set(now as f64);
        Self
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        let now = UNFINISHED.fetch_sub(1, Ordering::SeqCst) - 1;
        metrics::gauge!("ui_responses_unfinished").set(now as f64);
    }
}
