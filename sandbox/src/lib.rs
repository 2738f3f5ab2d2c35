//! A faithful local emulator of Meta's WhatsApp Business Platform: the Graph
//! API (versioned paths), webhook delivery, and the Embedded Signup popup
//! with a stand-in FB JS SDK. Tests and the server's demo mode run it in
//! process on a loopback port; `main.rs` runs it standalone.
//!
//! It writes Meta's JSON from its own definitions and shares no types with
//! the engine, so a field the engine misreads fails a test instead of
//! agreeing with itself. State lives in memory.

mod accounts;
mod auth;
mod clock;
mod coexistence;
mod control;
mod customers;
mod dialog;
mod error;
mod faults;
mod graph;
mod ids;
mod media;
mod messages;
mod oauth;
mod phones;
mod pricing;
mod profile;
mod seed;
mod signup;
mod subscriptions;
mod templates;
mod tokens;
mod uploads;
mod users;
mod verification;
mod wabas;
mod webhooks;
mod world;

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use axum::Router;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub use seed::DemoIds;
pub use tokens::{TokenExpiry, TokenRefresh};

/// How the sandbox behaves; [`SandboxConfig::default`] suits tests and demo
/// mode (time-compressed retries and statuses).
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    pub app_id: String,
    pub app_secret: String,
    pub app_name: String,
    /// The app-level webhook callback; `None` until configured.
    pub callback_url: Option<String>,
    pub verify_token: String,
    /// Seeds every random choice (ids, faults), so a run can be replayed.
    pub seed: u64,
    /// Start with one demo business, WABA and registered number.
    pub demo_business: bool,
    /// Delay between a send and each of its status webhooks.
    pub status_delay: Duration,
    /// Waits before the 2nd, 3rd, ... delivery attempt of a webhook; Meta's
    /// real schedule spans seven days, this one is compressed.
    pub retry_schedule: Vec<Duration>,
    /// Default messages per second per number (Meta: 80).
    pub throughput: u32,
    /// How long Meta's review of a new template takes here.
    pub template_review_delay: Duration,
    /// The App Dashboard's *Require App Secret*: calls made with a
    /// business's token must carry `appsecret_proof`.
    pub require_app_secret: bool,
    /// Facebook Login's *Valid OAuth Redirect URIs* (Strict Mode): the
    /// OAuth dialog redirects only to one of these, exactly. None by
    /// default, so every dialog is refused ("URL blocked") until a test
    /// registers its URI.
    pub redirect_uris: Vec<String>,
    /// A sandbox switch: every `FB.login` loses its code, as when the
    /// popup is blocked or the opener's `Cross-Origin-Opener-Policy` cuts
    /// it off. The flow still completes on Meta's side.
    pub fb_login_loses_code: bool,
    /// The login configuration's token expiration: business tokens from
    /// the code exchange never expire, or expire after 60 days.
    pub token_expiry: tokens::TokenExpiry,
    /// Whether `fb_exchange_token` refreshes business tokens (unconfirmed
    /// at Meta, so a test can try both).
    pub token_refresh: tokens::TokenRefresh,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            app_id: "1000000000000001".into(),
            app_secret: "sandbox-app-secret".into(),
            app_name: "Switchboard Sandbox App".into(),
            callback_url: None,
            verify_token: "sandbox-verify-token".into(),
            seed: 1,
            demo_business: true,
            status_delay: Duration::from_millis(50),
            retry_schedule: [0, 100, 250, 500, 1000, 2000]
                .into_iter()
                .map(Duration::from_millis)
                .collect(),
            throughput: 80,
            template_review_delay: Duration::from_millis(500),
            require_app_secret: false,
            redirect_uris: Vec::new(),
            fb_login_loses_code: false,
            token_expiry: tokens::TokenExpiry::Never,
            token_refresh: tokens::TokenRefresh::Allowed,
        }
    }
}

impl SandboxConfig {
    /// Keeps retrying an unanswered webhook every second until `total` has
    /// passed since the first attempt, after the usual quick retries. Meta
    /// retries for up to seven days; a fault run needs its retries to
    /// outlast a killed receiver.
    pub fn retry_for(&mut self, total: Duration) {
        let mut waited: Duration = self.retry_schedule.iter().sum();
        while waited < total {
            let wait = Duration::from_secs(1).min(total - waited);
            self.retry_schedule.push(wait);
            waited += wait;
        }
    }
}

/// Everything handlers share.
pub(crate) struct Shared {
    pub config: Mutex<SandboxConfig>,
    pub world: Mutex<world::World>,
    pub clock: clock::Clock,
    pub rng: Mutex<fastrand::Rng>,
    pub faults: Mutex<faults::Faults>,
    pub webhooks: webhooks::Outbox,
    pub base_url: String,
    pub demo: Option<DemoIds>,
}

impl Shared {
    pub fn world(&self) -> MutexGuard<'_, world::World> {
        self.world
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn config(&self) -> MutexGuard<'_, SandboxConfig> {
        self.config
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A snapshot of the current faults.
    pub fn faults(&self) -> faults::Faults {
        self.faults_mut().clone()
    }

    pub fn faults_mut(&self) -> MutexGuard<'_, faults::Faults> {
        self.faults
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn rng(&self) -> MutexGuard<'_, fastrand::Rng> {
        self.rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub(crate) type State = Arc<Shared>;

/// A running sandbox. Dropping it does not stop it; call [`Sandbox::stop`].
pub struct Sandbox {
    addr: SocketAddr,
    demo: Option<DemoIds>,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
    delivery: JoinHandle<()>,
}

impl Sandbox {
    /// Binds `addr` (use port 0 for any free port) and starts serving.
    pub async fn start(config: SandboxConfig, addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        let mut rng = fastrand::Rng::with_seed(config.seed);
        let mut world = world::World::default();
        let demo = config
            .demo_business
            .then(|| seed::demo_business(&mut world, &mut rng, &config));
        let (webhooks, queue) = webhooks::Outbox::new();
        let shared = Arc::new(Shared {
            config: Mutex::new(config),
            world: Mutex::new(world),
            clock: clock::Clock::default(),
            rng: Mutex::new(rng),
            faults: Mutex::new(faults::Faults::default()),
            webhooks,
            base_url,
            demo: demo.clone(),
        });
        let delivery = tokio::spawn(webhooks::run(shared.clone(), queue));
        let (stop, stopped) = oneshot::channel::<()>();
        let app = router(shared);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(Self {
            addr,
            demo,
            stop: Some(stop),
            server,
            delivery,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`: the Graph base URL and the popup's origin.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The ids of the seeded demo business, if there is one.
    pub fn demo(&self) -> Option<&DemoIds> {
        self.demo.as_ref()
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.server).await;
        self.delivery.abort();
    }
}

fn router(state: State) -> Router {
    Router::new()
        .merge(control::routes())
        .merge(accounts::control::routes())
        .merge(coexistence::control::routes())
        .merge(verification::routes())
        .merge(customers::routes())
        .merge(media::routes())
        .merge(signup::routes())
        .merge(dialog::routes())
        .merge(graph::routes())
        .with_state(state)
        .layer(axum::extract::DefaultBodyLimit::max(110 * 1024 * 1024))
}
