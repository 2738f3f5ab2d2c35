use std::collections::HashMap;

use server::Application;
use switchboard::{
    config::Config,
    test_support::{TestBackend, TestDatabase},
};
use tokio::{sync::oneshot, task::JoinHandle};

pub struct TestApp {
    pub base: String,
    /// Where the engine's Graph client points (the sandbox in demo mode).
    pub graph_base_url: Option<String>,
    pub client: reqwest::Client,
    pub db: TestDatabase,
    stop: Option<oneshot::Sender<()>>,
    running: Option<JoinHandle<std::io::Result<()>>>,
}

pub fn test_config(db: &TestDatabase, extra: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = HashMap::from([
        ("DATABASE_URL".into(), db.url.as_str().to_string()),
        ("LEPTOS_SITE_ADDR".into(), "127.0.0.1:0".into()),
    ]);
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::from_lookup(|name| vars.get(name).cloned()).expect("valid test config")
}

/// Starts the application on a fresh database; `customise` may add routes.
pub async fn spawn_app_with(
    backend: TestBackend,
    customise: impl FnOnce(Application) -> Application,
) -> TestApp {
    let db = TestDatabase::create(backend).await;
    let app = customise(
        Application::build(test_config(&db, &[]))
            .await
            .expect("app builds"),
    );
    let base = format!("http://{}", app.local_addr());
    let graph_base_url = app
        .engine()
        .config
        .graph_base_url
        .as_ref()
        .map(|u| u.to_string());
    let (stop, stopped) = oneshot::channel();
    let running = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    TestApp {
        base,
        graph_base_url,
        client: reqwest::Client::new(),
        db,
        stop: Some(stop),
        running: Some(running),
    }
}

pub async fn spawn_app(backend: TestBackend) -> TestApp {
    spawn_app_with(backend, |app| app).await
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request reaches the server")
    }

    /// Starts a graceful shutdown without waiting for it.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Shuts down and waits until the server has stopped.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        self.begin_shutdown();
        self.running
            .take()
            .expect("running")
            .await
            .expect("server task")
    }
}
