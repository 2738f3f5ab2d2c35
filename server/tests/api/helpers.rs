use std::collections::HashMap;

use server::Application;
use switchboard::{
    config::Settings,
    test_support::{TestBackend, TestDatabase},
};
use tokio::{sync::oneshot, task::JoinHandle};

/// Server functions whose arguments are JSON, or multipart, not a form.
pub const JSON_INPUT: &[&str] = &[
    "save_profile",
    "save_bot",
    "send_template",
    "create_template",
    "edit_template",
];
pub const MULTIPART_INPUT: &[&str] = &["upload_profile_picture", "send_file", "load_rate_card"];

pub struct TestApp {
    pub base: String,
    /// Where the engine's Graph client points (the sandbox in demo mode).
    pub graph_base_url: String,
    pub engine: switchboard::Engine,
    pub client: reqwest::Client,
    pub db: TestDatabase,
    stop: Option<oneshot::Sender<()>>,
    running: Option<JoinHandle<std::io::Result<()>>>,
}

pub fn test_config(db: &TestDatabase, extra: &[(&str, &str)]) -> Settings {
    let mut vars: HashMap<String, String> = HashMap::from([
        ("DATABASE_URL".into(), db.url.as_str().to_string()),
        ("LEPTOS_SITE_ADDR".into(), "127.0.0.1:0".into()),
        // Otherwise demo mode keeps a key file in data/ of the working
        // directory (beside the database for SQLite, but Postgres has none).
        (
            "TOKEN_ENCRYPTION_KEYS".into(),
            switchboard::vault::generate_key_entry("test"),
        ),
    ]);
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Settings::from_lookup(|name| vars.get(name).cloned()).expect("valid test config")
}

/// Starts the application on a fresh database; `customise` may add routes.
pub async fn spawn_app_with(
    backend: TestBackend,
    customise: impl FnOnce(Application) -> Application,
) -> TestApp {
    spawn_app_configured(backend, &[], customise).await
}

/// Like [`spawn_app_with`], with more settings from `extra`.
pub async fn spawn_app_configured(
    backend: TestBackend,
    extra: &[(&str, &str)],
    customise: impl FnOnce(Application) -> Application,
) -> TestApp {
    let db = TestDatabase::create(backend).await;
    let app = customise(
        Application::build(test_config(&db, extra))
            .await
            .expect("app builds"),
    );
    let base = format!("http://{}", app.local_addr());
    let graph_base_url = app.engine().config.graph_base_url.to_string();
    let engine = app.engine().clone();
    let (stop, stopped) = oneshot::channel();
    let running = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    TestApp {
        base,
        graph_base_url,
        engine,
        client: reqwest::Client::new(),
        db,
        stop: Some(stop),
        running: Some(running),
    }
}

pub async fn spawn_app(backend: TestBackend) -> TestApp {
    spawn_app_with(backend, |app| app).await
}

/// A browser-like client for server functions: keeps its cookie, sends
/// the app's Origin.
pub struct Visitor {
    pub base: String,
    pub cookie: Option<String>,
    client: reqwest::Client,
}

impl Visitor {
    pub fn new(app: &TestApp) -> Self {
        Self {
            base: app.base.clone(),
            cookie: None,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    /// Calls `/api/{endpoint}` with form arguments; keeps any new cookie.
    /// Calls a server function, encoding `args` the way it takes them:
    /// a form by default, JSON or multipart for the few that say so.
    pub async fn call(&mut self, endpoint: &str, args: &[(&str, &str)]) -> (u16, String) {
        let request = self
            .client
            .post(format!("{}/api/{endpoint}", self.base))
            .header("origin", &self.base);
        let mut request = if JSON_INPUT.contains(&endpoint) {
            // Values that look like JSON objects or lists are sent as such.
            let body: serde_json::Map<String, serde_json::Value> = args
                .iter()
                .map(|(k, v)| {
                    let value = if v.starts_with('{') || v.starts_with('[') {
                        serde_json::from_str(v).expect("JSON argument")
                    } else {
                        serde_json::Value::String(v.to_string())
                    };
                    (k.to_string(), value)
                })
                .collect();
            request.json(&body)
        } else if MULTIPART_INPUT.contains(&endpoint) {
            let form = args
                .iter()
                .fold(reqwest::multipart::Form::new(), |form, (k, v)| {
                    form.text(k.to_string(), v.to_string())
                });
            request.multipart(form)
        } else {
            request.form(args)
        };
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        // A cookie jar of sorts: each cookie set is kept, each cleared goes.
        for set in response.headers().get_all("set-cookie") {
            let pair = set.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let mut jar: Vec<(String, String)> = self
                .cookie
                .iter()
                .flat_map(|c| c.split("; "))
                .filter_map(|p| p.split_once('='))
                .filter(|(n, _)| *n != name)
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            if !value.is_empty() {
                jar.push((name.to_string(), value.to_string()));
            }
            let joined: Vec<String> = jar.iter().map(|(n, v)| format!("{n}={v}")).collect();
            self.cookie = (!joined.is_empty()).then(|| joined.join("; "));
        }
        (response.status().as_u16(), response.text().await.unwrap())
    }

    pub async fn page(&self, path: &str) -> reqwest::Response {
        let mut request = self
            .client
            .get(format!("{}{path}", self.base))
            .header("accept", "text/html");
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        request.send().await.unwrap()
    }
}

pub const PASSWORD: &str = "a long enough password";

/// Signs up the installation's owner ("Acme") and returns their visitor.
pub async fn owner(app: &TestApp) -> Visitor {
    let mut owner = Visitor::new(app);
    let (status, body) = owner
        .call(
            "sign_up_owner",
            &[
                ("email", "owner@example.com"),
                ("name", "Olive"),
                ("password", PASSWORD),
                ("workspace_name", "Acme"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(owner.cookie.is_some());
    owner
}

/// Invites `email` with `role` and signs them up through the link.
pub async fn member(app: &TestApp, owner: &mut Visitor, email: &str, role: &str) -> Visitor {
    let (status, link) = owner.call("invite_member", &[("role", role)]).await;
    assert_eq!(status, 200, "{link}");
    let link: String = serde_json::from_str(&link).unwrap();
    let token = link.rsplit('/').next().unwrap().to_string();
    let mut visitor = Visitor::new(app);
    let (status, body) = visitor
        .call(
            "sign_up_with_invite",
            &[
                ("token", &token),
                ("email", email),
                ("name", "Member"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    visitor
}

/// A member who then creates a workspace of their own, "Elsewhere": the
/// someone-from-another-workspace of the isolation checks.
pub async fn member_elsewhere(
    app: &TestApp,
    owner: &mut Visitor,
    email: &str,
    role: &str,
) -> Visitor {
    let mut visitor = member(app, owner, email, role).await;
    let (status, body) = visitor
        .call("create_workspace", &[("name", "Elsewhere")])
        .await;
    assert_eq!(status, 200, "{body}");
    visitor
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
