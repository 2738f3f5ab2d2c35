//! Builds the whole server from a [`Config`]: store, routes, workers. Tests
//! start the real thing on port 0 through the same code as `main`.

use std::{
    future::Future,
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
    config::{ConfigError, MetaApp, Mode, Settings, StandIn},
    onboarding::redirect,
    runtime::Runtime,
    secret::Secret,
    store::{self, Store},
    Engine,
};
use tokio::{net::TcpListener, sync::watch};
use tower::ServiceBuilder;
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    timeout::TimeoutLayer,
    trace::{DefaultOnResponse, TraceLayer},
};
use tracing::Level;

use crate::{
    health, http_metrics,
    limits::{self, CappedListener},
    renders_to_the_end,
    security::{self, AllowedOrigins},
    site_assets::{self, Hashing},
    webhook_routes,
};

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
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
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
    /// The journal's writer and the workers.
    runtime: Runtime,
    /// Demo mode's stand-in for Meta, on its own loopback port.
    sandbox: Option<Sandbox>,
    /// Raised when shutdown begins: live streams end, so that open tabs
    /// never hold the drain up.
    closing: watch::Sender<bool>,
}

impl Application {
    /// Resolves demo mode (starting the sandbox that stands in for Meta),
    /// opens the store (applying migrations), starts the workers, builds
    /// the routes and binds the listener. Nothing is served until
    /// [`Application::run_until`].
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        // Before anything records a metric, or it goes to the no-op recorder.
        crate::telemetry::prometheus();
        let (sandbox, stand_in) = match (settings.mode, settings.graph_base_url()) {
            (Mode::Live, _) => (None, None),
            // A sandbox run on its own (`cargo run -p sandbox`) stands in.
            (Mode::Demo, Some(url)) => {
                tracing::warn!(sandbox = %url, "demo mode: META_APP_ID is not set, the sandbox at META_GRAPH_BASE_URL stands in for Meta");
                let stand_in = StandIn {
                    app: sandbox_app(&SandboxConfig::default()),
                    graph_base_url: url.clone(),
                };
                (None, Some(stand_in))
            }
            (Mode::Demo, None) => {
                let (sandbox, stand_in) = start_demo_sandbox().await?;
                (Some(sandbox), Some(stand_in))
            }
        };
        let config = settings.resolve(stand_in)?;
        if let Some(sandbox) = &sandbox {
            // Strict Mode: the OAuth dialog redirects only to registered
            // URIs, and the sandbox starts with none.
            allow_redirect_to_us(&sandbox.base_url(), &redirect::redirect_uri(&config)).await;
        }
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
        let engine = Engine::new(config, store, vault);
        let addr = engine.config.site_addr;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        let runtime = Runtime::start(&engine).await?;
        let local = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;
        let closing = watch::channel(false).0;
        Ok(Self {
            router: router(engine.clone(), local)
                .merge(crate::live_routes::routes(
                    engine.clone(),
                    closing.subscribe(),
                ))
                .merge(webhook_routes::routes(engine.clone(), runtime.journal()))
                .merge(app::media::routes(engine.clone()))
                .merge(app::exports::routes(engine.clone()))
                .merge(crate::onboarding_routes::routes(engine.clone()))
                .merge(crate::api_v1::routes(engine.clone())),
            listener,
            engine,
            runtime,
            sandbox,
            closing,
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

    /// The in-process sandbox's address, when demo mode started one.
    pub fn own_sandbox_url(&self) -> Option<String> {
        self.sandbox.as_ref().map(Sandbox::base_url)
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
        let fired = self.closing;
        let mut fired_rx = fired.subscribe();
        let router = with_common_layers(self.router, &self.engine.config);
        let listener = CappedListener::new(self.listener, self.engine.config.http.max_connections);
        let header_read_timeout =
            Duration::from_secs(self.engine.config.http.header_read_timeout_secs);
        let serve = crate::serve::serve(listener, router, header_read_timeout, async move {
            shutdown.await;
            let _ = fired.send(true);
        });
        let grace_exceeded = async move {
            let _ = fired_rx.wait_for(|fired| *fired).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        tokio::select! {
            () = serve => {}
            () = grace_exceeded => tracing::warn!("requests still running after the grace period; closing"),
        }
        // Pages still rendering for browsers that left read the store too.
        if !renders_to_the_end::drained(SHUTDOWN_GRACE).await {
            tracing::warn!("pages still rendering after the grace period; closing");
        }
        // HTTP is drained, so nothing appends any more: the writer finishes
        // what is queued, then the workers finish their batches.
        self.runtime.stop(SHUTDOWN_GRACE).await;
        if let Some(sandbox) = self.sandbox {
            sandbox.stop().await;
        }
        self.engine.store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Starts the sandbox in process; its app credentials and address stand in
/// for Meta's.
async fn start_demo_sandbox() -> Result<(Sandbox, StandIn), StartError> {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let sandbox_config = SandboxConfig::default();
    let app = sandbox_app(&sandbox_config);
    let sandbox = Sandbox::start(sandbox_config, loopback)
        .await
        .map_err(StartError::Sandbox)?;
    let graph_base_url = url::Url::parse(&sandbox.base_url())
        .map_err(|e| StartError::Sandbox(io::Error::other(e)))?;
    tracing::warn!(sandbox = %graph_base_url, "demo mode: META_APP_ID is not set, a local sandbox stands in for Meta");
    Ok((
        sandbox,
        StandIn {
            app,
            graph_base_url,
        },
    ))
}

/// The sandbox's app credentials, standing in for the Meta app's.
fn sandbox_app(sandbox: &SandboxConfig) -> MetaApp {
    MetaApp {
        app_id: sandbox.app_id.clone(),
        app_secrets: vec![Secret::new(sandbox.app_secret.clone())],
        config_id: "1".into(),
        webhook_verify_token: Secret::new(sandbox.verify_token.clone()),
    }
}

/// Registers our OAuth callback among the sandbox app's Valid OAuth
/// Redirect URIs, as an operator does in Meta's App Dashboard.
async fn allow_redirect_to_us(sandbox: &str, redirect_uri: &str) {
    let settings = serde_json::json!({ "redirect_uris": [redirect_uri] });
    let result = reqwest::Client::new()
        .put(format!("{sandbox}/_sandbox/app"))
        .json(&settings)
        .send()
        .await;
    match result {
        Ok(response) if response.status().is_success() => {}
        Ok(response) => {
            tracing::warn!(status = %response.status(), "the sandbox refused our OAuth redirect URI")
        }
        Err(error) => tracing::warn!(%error, "cannot reach the sandbox"),
    }
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

fn leptos_options(config: &switchboard::config::Config, hashing: &Hashing) -> LeptosOptions {
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
        .hash_files(hashing.enabled)
        .hash_file(std::sync::Arc::from(hashing.file_name.as_str()))
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
    let render_limit = renders_to_the_end::Limit(Duration::from_secs(
        engine.config.http.request_timeout_secs.max(1),
    ));
    let hashing = Hashing::from_env();
    let leptos = leptos_options(&engine.config, &hashing);
    let site_files =
        hashing.site_files(&leptos.site_root, &leptos.site_pkg_dir, &leptos.output_name);
    let state = AppState {
        leptos,
        engine: engine.clone(),
    };
    let document =
        app::api::api_reference::OpenApiText(Arc::new(crate::api_v1::document().to_string()));
    let ui_context = move || {
        provide_context(engine.clone());
        provide_context(document.clone());
    };
    let leptos = state.leptos.clone();

    Router::new()
        .leptos_routes_with_context(&state, route_list(), ui_context.clone(), move || {
            shell(leptos.clone())
        })
        .fallback(file_and_error_handler_with_context::<AppState, _>(
            ui_context, shell,
        ))
        .layer(middleware::from_fn_with_state(
            render_limit,
            renders_to_the_end::layer,
        ))
        .layer(middleware::from_fn_with_state(
            site_files,
            site_assets::cache_lifetimes,
        ))
        // Added after the two layers above, which are Leptos' alone.
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(http_metrics::render))
        .layer(middleware::from_fn_with_state(
            allowed,
            security::require_same_origin,
        ))
        // Server functions' storage failures, logged inside the request's
        // span (the common layers around it open that span). The UI's
        // alone: the webhook path has none to note.
        .layer(middleware::from_fn(app::failures::collect))
        .with_state(state)
}

/// What every route group gets, the webhook, media and the API included:
/// a request id and an access log line (secrets in paths redacted), the
/// security headers, metrics and a time limit.
fn with_common_layers(router: Router, config: &switchboard::config::Config) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let http_layers = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
        .layer(
            TraceLayer::new_for_http()
                // Only the path, redacted: query strings and some paths
                // carry secrets (the handshake's verify token, invitations).
                .make_span_with(|request: &Request<Body>| {
                    let request_id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %limits::loggable_path(request.uri().path()),
                        request_id = %request_id,
                    )
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(request_id));
    let timeout = Duration::from_secs(config.http.request_timeout_secs.max(1));
    router
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(middleware::from_fn(security::headers))
        .layer(middleware::from_fn(http_metrics::track))
        .layer(http_layers)
}
