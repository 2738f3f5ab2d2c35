//! What keeps the server standing under abuse: a cap on open connections,
//! bodies refused by their announced size before they are read, and paths
//! that carry secrets kept out of the logs.

use std::{
    io,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use axum::{
    extract::Request,
    http::{header, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore},
};

/// Accepts a connection only while fewer than the cap are open; the rest
/// wait in the kernel's backlog, so a flood of idle connections cannot
/// exhaust the process.
pub struct CappedListener {
    listener: TcpListener,
    open: Arc<Semaphore>,
}

impl CappedListener {
    pub fn new(listener: TcpListener, max_connections: usize) -> Self {
        Self {
            listener,
            open: Arc::new(Semaphore::new(max_connections.max(1))),
        }
    }
}

/// A connection, holding its place under the cap until it closes.
pub struct CappedStream {
    stream: TcpStream,
    _place: OwnedSemaphorePermit,
}

impl axum::serve::Listener for CappedListener {
    type Io = CappedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let place = self
            .open
            .clone()
            .acquire_owned()
            .await
            .expect("the connection cap is never closed");
        loop {
            match self.listener.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    return (
                        CappedStream {
                            stream,
                            _place: place,
                        },
                        addr,
                    );
                }
                Err(error) => {
                    // Out of file descriptors and the like: wait, not spin.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

impl AsyncRead for CappedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for CappedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Refuses a request whose `Content-Length` is over `max` with 413, before
/// a byte of the body is read (axum's own limit counts as it reads).
pub async fn refuse_announced_oversize(max: usize, request: Request, next: Next) -> Response {
    let announced = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|length| length > max as u64) {
        metrics::counter!("http_bodies_refused_total").increment(1);
        return (StatusCode::PAYLOAD_TOO_LARGE, "body too large").into_response();
    }
    next.run(request).await
}

/// Path prefixes whose next segment is a secret (an invitation token).
const SECRET_SEGMENTS: [&str; 1] = ["/invite/"];

/// The path as logs may show it: secrets in it replaced.
pub fn loggable_path(path: &str) -> String {
    for prefix in SECRET_SEGMENTS {
        if let Some(rest) = path.strip_prefix(prefix) {
            let after = rest.find('/').map_or("", |i| &rest[i..]);
            return format!("{prefix}[redacted]{after}");
        }
    }
    path.to_string()
}

#[cfg(test)]
mod tests {
    use axum::serve::Listener;

    use super::*;

    #[tokio::test]
    async fn each_open_connection_holds_a_place_until_it_closes() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut capped = CappedListener::new(listener, 2);
        let _first_client = TcpStream::connect(addr).await.unwrap();
        let (first, _) = capped.accept().await;
        assert_eq!(capped.open.available_permits(), 1);
        let _second_client = TcpStream::connect(addr).await.unwrap();
        let (second, _) = capped.accept().await;
        assert_eq!(
            capped.open.available_permits(),
            0,
            "full: the next accept waits"
        );
        drop(first);
        assert_eq!(
            capped.open.available_permits(),
            1,
            "a closed connection frees its place"
        );
        drop(second);
    }

    #[test]
    fn invitation_tokens_never_reach_a_log_line() {
        assert_eq!(loggable_path("/invite/abc123secret"), "/invite/[redacted]");
        assert_eq!(loggable_path("/invite/abc/more"), "/invite/[redacted]/more");
        assert_eq!(loggable_path("/conversations"), "/conversations");
        assert_eq!(loggable_path("/api/v1/messages"), "/api/v1/messages");
    }
}
