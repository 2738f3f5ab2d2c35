//! The accept loop: each connection under the cap, spoken to over HTTP/1
//! with a deadline for its request headers (axum's `serve` sets none, so a
//! client trickling a header a byte at a time would hold its connection
//! forever), told the peer's address, and drained on shutdown.

use std::{future::Future, time::Duration};

use axum::{extract::ConnectInfo, serve::Listener, Router};
use hyper::{body::Incoming, server::conn::http1, Request};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use tower::ServiceExt;

use crate::limits::CappedListener;

/// Serves `router` on `listener` until `shutdown` resolves, then waits for
/// the requests under way (idle connections close at once).
pub async fn serve(
    mut listener: CappedListener,
    router: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let service = router
            .clone()
            .map_request(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_read_timeout)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                // Clients that go away or time out: routine, not a fault.
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
