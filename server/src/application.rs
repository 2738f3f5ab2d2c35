//! Builds the whole server from a [`Config`]: store, routes, workers. Tests
//! start the real thing on port 0 through the same code as `main`.

use std::{
    future::{Future, IntoFuture},
    io,
    net::SocketAddr,
    sync::{Arc, OnceLock},
    time::Duration,
};

use app::{shell, App};
use axum::{
    body::Body,
    extract::FromRef,
    http::{HeaderName, Request},
    middleware,
    routing::get,
    Router,
};
use leptos::prelude::{provide_context, LeptosOptions};
use leptos_axum::{
    file_and_error_handler_with_context, generate_route_list, AxumRouteListing, LeptosRoutes,
};
use sandbox::{Sandbox, SandboxConfig};
use switchboard::{
    config::{Config, MetaApp, Mode},
    pipeline,
    secret::Secret,
    store::{self, Store},
    webhook::Journal,
    Engine,
};
use tokio::{
    net::TcpListener,
    sync::{watch, Notify},
};
use tower::ServiceBuilder;
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;

use crate::{
    health, http_metrics,
    security::{self, AllowedOrigins},
    webhook_routes,
    workers::Workers,
};

/// Pipeline workers per instance (claims keep them from colliding).
const WEBHOOK_WORKERS: usize = 2;

/// How long in-flight requests, then workers, get to finish on shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Store(#[from] store::Error),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("cannot start the demo sandbox: {0}")]
    Sandbox(io::Error),
    #[error("token vault: {0}")]
    Vault(io::Error),
    #[error("the Meta app and Graph API address are not configured")]
    NoGraph,
}

/// Router state: the engine for our handlers, Leptos' options for its own.
#[derive(Clone)]
struct AppState {
    engine: Engine,
    leptos: LeptosOptions,
}

impl FromRef<AppState> for Engine {
    fn from_ref(state: &AppState) -> Self {
        state.engine.clone()
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    engine: Engine,
    workers: Workers,
    /// The journal's writer: finishes once the HTTP side has let go of it.
    journal_writer: tokio::task::JoinHandle<()>,
    /// Demo mode's stand-in for Meta, on its own loopback port.
    sandbox: Option<Sandbox>,
}

impl Application {
    /// Opens the store (applying migrations), builds the routes and binds
    /// the listener. Nothing is served until [`Application::run_until`].
    pub async fn build(mut config: Config) -> Result<Self, StartError> {
        // Before anything records a metric, or it goes to the no-op recorder.
        crate::telemetry::prometheus();
        let sandbox = match config.mode {
            Mode::Live => None,
            Mode::Demo => Some(start_demo_sandbox(&mut config).await?),
        };
        tracing::info!(database = %config.database_url, "opening the database");
        let store = Store::open(&config.database_url).await?;
        let installation = store.installation_id().await?;
        tracing::info!(%installation, backend = store.backend().name(), "installation");

        let vault = switchboard::vault::key_ring_for(&config).map_err(StartError::Vault)?;
        switchboard::tokens::check_key_ring(&store, &vault)
            .await
            .map_err(|e| {
                StartError::Vault(io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))
            })?;
        let engine = Engine::new(config, store, vault).ok_or(StartError::NoGraph)?;
        let addr = engine.config.site_addr;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;

        let mut workers = Workers::new();
        let probe = engine.store.clone();
        workers.spawn("database-probe", move |stop| database_probe(probe, stop));

        let released = pipeline::recover_after_restart(&engine.store).await?;
        if released > 0 {
            tracing::warn!(
                released,
                "resuming webhook events a previous run had claimed"
            );
        }
        let journaled = Arc::new(Notify::new());
        let (journal, journal_writer) = Journal::start(engine.store.clone(), journaled.clone());
        for _ in 0..WEBHOOK_WORKERS {
            let (store, wake) = (engine.store.clone(), journaled.clone());
            let (queued, pressure) = (pipeline::Queued::of(&engine), journal.pressure());
            workers.spawn("webhook-pipeline", move |stop| {
                pipeline::run(store, wake, queued, pressure, stop.into_receiver())
            });
        }
        let media = engine.clone();
        workers.spawn("inbound-media", move |stop| {
            let wake = media.media_wake.clone();
            switchboard::media::run(media, wake, stop.into_receiver())
        });
        let deliveries = engine.clone();
        workers.spawn("outgoing-webhooks", move |stop| {
            let wake = deliveries.deliveries_wake.clone();
            switchboard::outgoing::delivery::run(deliveries, wake, stop.into_receiver())
        });
        let sender = engine.clone();
        workers.spawn("outbox-sender", move |stop| {
            let wake = sender.outbox_wake.clone();
            switchboard::outbox::sender::run(sender, wake, stop.into_receiver())
        });

        let onboarding = engine.clone();
        workers.spawn("onboarding", move |stop| {
            switchboard::onboarding::run(onboarding, stop.into_receiver())
        });
        let templates = engine.clone();
        workers.spawn("template-sync", move |stop| {
            switchboard::templates::sync::run(templates, stop.into_receiver())
        });
        let health = engine.clone();
        workers.spawn("token-health", move |stop| token_health(health, stop));

        let local = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;
        Ok(Self {
            router: router(engine.clone(), local)
                .merge(webhook_routes::routes(engine.clone(), journal))
                .merge(app::media::routes(engine.clone()))
                .merge(crate::api_v1::routes(engine.clone())),
            journal_writer,
            listener,
            engine,
            workers,
            sandbox,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Adds routes beside the application's own (for embedding and tests).
    pub fn merge(mut self, routes: Router) -> Self {
        self.router = self.router.merge(routes);
        self
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish
    /// (up to a grace period), stops the workers and closes the database.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        tracing::info!(addr = %self.local_addr(), "listening");
        if let Some(sandbox) = &self.sandbox {
            // The sandbox checks the callback with the GET handshake, so
            // this waits until we are serving.
            tokio::spawn(point_sandbox_webhooks_here(
                sandbox.base_url(),
                self.local_addr(),
            ));
        }
        let (fired, mut fired_rx) = watch::channel(false);
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let serve = axum::serve(self.listener, service).with_graceful_shutdown(async move {
            shutdown.await;
            let _ = fired.send(true);
        });
        let grace_exceeded = async move {
            let _ = fired_rx.wait_for(|fired| *fired).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        tokio::select! {
            served = serve.into_future() => served?,
            () = grace_exceeded => tracing::warn!("requests still running after the grace period; closing"),
        }
        // HTTP is drained, so nothing appends any more: the writer finishes
        // what is queued, then the workers finish their batches.
        let _ = self.journal_writer.await;
        self.workers.stop(SHUTDOWN_GRACE).await;
        if let Some(sandbox) = self.sandbox {
            sandbox.stop().await;
        }
        self.engine.store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Starts the sandbox in process and points the Graph client at it; the
/// sandbox's app credentials stand in for the Meta app's.
async fn start_demo_sandbox(config: &mut Config) -> Result<Sandbox, StartError> {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let sandbox_config = SandboxConfig::default();
    config.meta.get_or_insert_with(|| MetaApp {
        app_id: sandbox_config.app_id.clone(),
        app_secrets: vec![Secret::new(sandbox_config.app_secret.clone())],
        config_id: "1".into(),
        webhook_verify_token: Secret::new(sandbox_config.verify_token.clone()),
    });
    let sandbox = Sandbox::start(sandbox_config, loopback)
        .await
        .map_err(StartError::Sandbox)?;
    let url = url::Url::parse(&sandbox.base_url())
        .map_err(|e| StartError::Sandbox(io::Error::other(e)))?;
    tracing::warn!(sandbox = %url, "demo mode: META_APP_ID is not set, a local sandbox stands in for Meta");
    config.graph_base_url.get_or_insert(url);
    Ok(sandbox)
}

async fn point_sandbox_webhooks_here(sandbox: String, local: SocketAddr) {
    let callback = serde_json::json!({ "url": format!("http://{local}/webhook") });
    let result = reqwest::Client::new()
        .put(format!("{sandbox}/_sandbox/webhook"))
        .json(&callback)
        .send()
        .await;
    match result {
        Ok(response) if response.status().is_success() => {
            tracing::info!("the sandbox delivers webhooks here")
        }
        Ok(response) => {
            tracing::warn!(status = %response.status(), "the sandbox refused our webhook callback")
        }
        Err(error) => tracing::warn!(%error, "cannot reach the sandbox"),
    }
}

fn leptos_options(config: &Config) -> LeptosOptions {
    // cargo-leptos sets these when it runs the server; the defaults match
    // the workspace metadata so the release binary runs from the repo root.
    let env_or = |name: &str, default: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.to_string())
    };
    LeptosOptions::builder()
        .output_name(env_or("LEPTOS_OUTPUT_NAME", "switchboard"))
        .site_root(env_or("LEPTOS_SITE_ROOT", "target/site"))
        .site_pkg_dir(env_or("LEPTOS_SITE_PKG_DIR", "pkg"))
        .site_addr(config.site_addr)
        .build()
}

/// The UI's routes, worked out once per process. Leptos renders the whole
/// app to list them and, meanwhile, holds back every resource in the
/// process (a global flag, leptos issue #4773): a page rendered by another
/// instance in the same process at that moment would never finish. One
/// generation, before any instance serves, rules that out.
fn route_list() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

fn router(engine: Engine, local: SocketAddr) -> Router {
    let allowed = AllowedOrigins(Arc::new(vec![
        engine.config.public_url.origin().ascii_serialization(),
        format!("http://{local}"),
    ]));
    let state = AppState {
        leptos: leptos_options(&engine.config),
        engine: engine.clone(),
    };
    let document =
        app::api::developers::OpenApiText(Arc::new(crate::api_v1::document().to_string()));
    let ui_context = move || {
        provide_context(engine.clone());
        provide_context(document.clone());
    };
    let leptos = state.leptos.clone();

    let request_id = HeaderName::from_static("x-request-id");
    let http_layers = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http()
                // Only the path: query strings can carry secrets
                // (the webhook handshake's verify token).
                .make_span_with(|request: &Request<Body>| {
                    let request_id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                        request_id = %request_id,
                    )
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(request_id));

    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(http_metrics::render))
        .leptos_routes_with_context(&state, route_list(), ui_context.clone(), move || {
            shell(leptos.clone())
        })
        .fallback(file_and_error_handler_with_context::<AppState, _>(
            ui_context, shell,
        ))
        .layer(middleware::from_fn_with_state(
            allowed,
            security::require_same_origin,
        ))
        .layer(middleware::from_fn(security::headers))
        .layer(middleware::from_fn(http_metrics::track))
        .layer(http_layers)
        .with_state(state)
}

/// Checks every token now and then; the first check comes a minute after
/// start-up so a restart loop does not hammer Meta.
async fn token_health(engine: Engine, mut stop: crate::workers::StopSignal) {
    let every = Duration::from_secs(engine.config.token_health_interval_secs);
    let mut wait = Duration::from_secs(60).min(every);
    loop {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stop.stopped() => return,
        }
        match switchboard::tokens::check_health(&engine).await {
            Ok(report) => tracing::info!(
                checked = report.checked,
                healthy = report.healthy,
                flagged = report.flagged.len(),
                skipped = report.skipped,
                "token health checked"
            ),
            Err(error) => tracing::warn!(%error, "token health check failed"),
        }
        wait = every;
    }
}

/// Publishes whether the database answers, for alerting between scrapes of
/// `/readyz`.
async fn database_probe(store: Store, mut stop: crate::workers::StopSignal) {
    let mut tick = tokio::time::interval(Duration::from_secs(15));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let up = store.ping().await.is_ok();
                metrics::gauge!("switchboard_database_up").set(if up { 1.0 } else { 0.0 });
            }
            () = stop.stopped() => return,
        }
    }
}
