//! The load balancer in front of the instances, where Meta's webhooks
//! arrive: each request goes to the next instance in turn, and to the one
//! after when an instance does not answer (killed, restarting). A request
//! cut off mid-way is passed on again, so an instance may have stored what
//! it never acknowledged: one more duplicate, as Meta itself makes.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
    Router,
};
use tokio::{sync::watch, task::JoinHandle};

#[derive(Clone)]
struct Targets {
    urls: Arc<Vec<String>>,
    next: Arc<AtomicUsize>,
    http: reqwest::Client,
}

pub struct Front {
    pub url: String,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Front {
    pub async fn start(urls: Vec<String>) -> Self {
        let targets = Targets {
            urls: Arc::new(urls),
            next: Arc::new(AtomicUsize::new(0)),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(15))
                .build()
                .expect("client"),
        };
        let app = Router::new().fallback(forward).with_state(targets);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the front");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await;
        });
        Self { url, stop, task }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// The headers a webhook or the handshake carries that the app reads.
const PASSED_ON: [&str; 3] = ["content-type", "x-hub-signature-256", "user-agent"];

async fn forward(
    State(targets): State<Targets>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let first = targets.next.fetch_add(1, Ordering::Relaxed);
    for i in 0..targets.urls.len() {
        let base = &targets.urls[(first + i) % targets.urls.len()];
        let mut request = targets
            .http
            .request(method.clone(), format!("{base}{path}"))
            .body(body.clone());
        for name in PASSED_ON {
            if let Some(value) = headers.get(name) {
                request = request.header(name, value);
            }
        }
        if let Ok(answer) = request.send().await {
            let status =
                StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let body = answer.bytes().await.unwrap_or_default();
            return (status, body).into_response();
        }
    }
    (StatusCode::BAD_GATEWAY, "no instance answered").into_response()
}
