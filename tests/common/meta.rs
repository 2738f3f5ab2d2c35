//! A sandbox standing in for Meta, an engine pointed at it, and an owner:
//! what the suites that talk to Meta share.
#![allow(dead_code)]

use std::collections::HashMap;

use sandbox::{DemoIds, Sandbox, SandboxConfig};
use serde_json::{json, Value};
use switchboard::{
    accounts::Caller,
    config::{Config, MetaApp, Settings, StandIn},
    onboarding::{self, Progress, SignupData},
    outbox::{self, Origin, OutboundMessage},
    secret::Secret,
    store::{self, NumberRow, NumberStatus, Store},
    test_support::{TestBackend, TestDatabase},
    tokens,
    vault::generate_key_entry,
    Engine, Error,
};

pub const PIN: &str = "135790";

pub struct Env {
    pub db: TestDatabase,
    pub sandbox: Sandbox,
    pub demo: DemoIds,
    pub engine: Engine,
    pub caller: Caller,
    pub http: reqwest::Client,
    pub keys: String,
}

/// Demo mode with `sandbox` standing in for Meta, as the server runs it.
pub fn config_for(db: &TestDatabase, sandbox: &Sandbox, keys: &str) -> Config {
    let vars: HashMap<&str, String> = HashMap::from([
        ("DATABASE_URL", db.url.as_str().to_string()),
        ("TOKEN_ENCRYPTION_KEYS", keys.to_string()),
        // The suites' receivers listen on loopback, over plain HTTP.
        ("OUTGOING_WEBHOOK_ALLOW", "127.0.0.1".to_string()),
    ]);
    let settings = Settings::from_lookup(|name| vars.get(name).cloned()).expect("settings");
    let defaults = SandboxConfig::default();
    let stand_in = StandIn {
        app: MetaApp {
            app_id: defaults.app_id,
            app_secrets: vec![Secret::new(defaults.app_secret)],
            config_id: "1".into(),
            webhook_verify_token: Secret::new(defaults.verify_token),
        },
        graph_base_url: sandbox.base_url().parse().expect("the sandbox's URL"),
    };
    settings.resolve(Some(stand_in)).expect("config")
}

pub async fn engine_for(db: &TestDatabase, sandbox: &Sandbox, keys: &str) -> Engine {
    let config = config_for(db, sandbox, keys);
    let store = Store::open(&db.url).await.expect("store");
    let ring = switchboard::vault::key_ring_for(&config).expect("keys");
    Engine::new(config, store, ring)
}

pub async fn owner(store: &Store) -> Caller {
    switchboard::test_support::acme_owner(store).await
}

pub async fn setup(backend: TestBackend) -> Env {
    setup_with(backend, |_| {}).await
}

/// An environment whose demo number is connected (onboarding done), and
/// that number.
pub async fn connected(backend: TestBackend) -> (Env, String) {
    let env = setup(backend).await;
    let phone = env.demo.phone_number_id.clone();
    let progress = env.connect("attempt-0001", &phone).await;
    assert_eq!(progress.state, onboarding::RunState::Done, "{progress:?}");
    (env, phone)
}

/// Like [`setup`], with the engine's configuration adjusted.
pub async fn setup_with(backend: TestBackend, adjust: impl FnOnce(&mut Config)) -> Env {
    let db = TestDatabase::create(backend).await;
    let sandbox = Sandbox::start(SandboxConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("sandbox");
    let demo = sandbox.demo().expect("demo business").clone();
    let keys = generate_key_entry("k1");
    let mut config = config_for(&db, &sandbox, &keys);
    adjust(&mut config);
    let store = Store::open(&db.url).await.expect("store");
    let ring = switchboard::vault::key_ring_for(&config).expect("keys");
    let engine = Engine::new(config, store, ring);
    let caller = owner(&engine.store).await;
    Env {
        db,
        sandbox,
        demo,
        engine,
        caller,
        http: reqwest::Client::new(),
        keys,
    }
}

impl Env {
    /// A call to the sandbox's control API that must succeed.
    pub async fn control_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.sandbox.base_url()));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("sandbox answers");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.expect("json")
    }

    pub async fn control(&self, path: &str, body: Value) -> Value {
        self.control_call(reqwest::Method::POST, path, Some(body))
            .await
    }

    pub async fn code(&self) -> String {
        self.control("/_sandbox/codes", json!({})).await["code"]
            .as_str()
            .expect("code")
            .to_string()
    }

    pub async fn graph(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Value {
        let mut request = self
            .http
            .request(method, format!("{}/v25.0/{path}", self.sandbox.base_url()))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request
            .send()
            .await
            .expect("graph")
            .json()
            .await
            .expect("json")
    }

    pub fn signup(&self, phone: &str) -> SignupData {
        SignupData {
            event: "FINISH".into(),
            waba_id: self.demo.waba_id.clone(),
            phone_number_id: Some(phone.to_string()),
            business_id: Some(self.demo.business_id.clone()),
        }
    }

    /// Code, signup data, then the worker: where the run waits for a PIN.
    pub async fn until_pin(&self, attempt: &str, phone: &str) -> Progress {
        let code = self.code().await;
        onboarding::submit_code(&self.engine, &self.caller, attempt, &code)
            .await
            .expect("code");
        onboarding::submit_signup(&self.engine, &self.caller, attempt, &self.signup(phone))
            .await
            .expect("signup");
        self.advance_onboarding().await;
        self.latest().await
    }

    /// Runs every ready onboarding step here and waits for those the
    /// onboarding worker (if running) took, until no run is ready. Steps
    /// that become ready meanwhile (a retry's short backoff) are run here
    /// too, so it settles without a worker, however slow the machine.
    pub async fn advance_onboarding(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            onboarding::run_ready(&self.engine).await;
            let due = self.engine.store.due_work(store::now_millis()).await;
            if due.expect("due work").onboarding_runs == 0 {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "onboarding settles");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    pub async fn connect(&self, attempt: &str, phone: &str) -> Progress {
        let progress = self.until_pin(attempt, phone).await;
        if progress.waiting_for == Some(onboarding::Awaiting::Pin) {
            onboarding::submit_pin(&self.engine, &self.caller, &progress.id, PIN)
                .await
                .expect("pin");
            self.advance_onboarding().await;
        }
        self.latest().await
    }

    pub async fn latest(&self) -> Progress {
        onboarding::latest(&self.engine, &self.caller)
            .await
            .expect("latest")
            .expect("a run")
    }

    pub async fn token_of(&self, phone: &str) -> String {
        tokens::open_number_token(&self.engine, phone)
            .await
            .expect("token")
            .expose()
            .clone()
    }

    /// The number's token as stored (sealed, with what is known of it).
    pub async fn stored_token(&self, phone: &str) -> store::StoredToken {
        self.engine
            .store
            .number_token(phone)
            .await
            .unwrap()
            .expect("a stored token")
    }

    /// The number's row, if it is stored.
    pub async fn number(&self, phone: &str) -> Option<NumberRow> {
        self.engine.store.number(&phone.into()).await.unwrap()
    }

    /// The contact `customer` (a phone, a BSUID or a contact id) names on
    /// the number.
    pub async fn contact(&self, phone: &str, customer: &str) -> switchboard::contacts::ContactRow {
        self.find_contact(phone, customer).await.expect("a contact")
    }

    pub async fn find_contact(
        &self,
        phone: &str,
        customer: &str,
    ) -> Option<switchboard::contacts::ContactRow> {
        switchboard::conversations::contact_of(
            &self.engine.store,
            &self.caller.workspace.id,
            phone,
            customer,
        )
        .await
        .unwrap()
    }

    /// Queues `count` `hello_world` templates (no window needed) from
    /// `phone`, one to each of the customers `{prefix}0000`, `{prefix}0001`...
    /// after syncing the templates, as going live does.
    pub async fn queue_templates(&self, phone: &str, prefix: &str, count: i64) {
        switchboard::templates::sync::sync_waba(&self.engine, &self.demo.waba_id)
            .await
            .expect("templates sync");
        for i in 0..count {
            let message = OutboundMessage {
                phone_number_id: phone.to_string(),
                recipient: format!("{prefix}{i:04}"),
                content: switchboard::outbox::Content::Template {
                    name: "hello_world".into(),
                    language: "en_US".into(),
                    components: vec![],
                },
                context_wamid: None,
            };
            self.agent_send(&message).await.expect("queued");
        }
    }

    /// Queues a message as the owner, from the inbox (no idempotency key).
    pub async fn agent_send(&self, message: &OutboundMessage) -> Result<(i64, bool), Error> {
        outbox::send(&self.engine, &self.caller, message, Origin::Agent, None).await
    }

    pub async fn status_of(&self, phone: &str) -> NumberStatus {
        self.number(phone).await.expect("number").status
    }

    /// The owner acting in a second workspace of theirs ("other-workspace").
    pub async fn in_another_workspace(&self) -> Caller {
        let other = switchboard::accounts::Workspace {
            id: "other-workspace".into(),
            name: "Other".into(),
        };
        self.engine
            .store
            .insert_workspace(&other, &self.caller.user.id, 0)
            .await
            .unwrap();
        Caller {
            workspace: other,
            ..self.caller.clone()
        }
    }

    /// Whether the audit log holds an entry for `action`.
    pub async fn audited(&self, action: &str) -> bool {
        self.audit_actions().await.iter().any(|a| a == action)
    }

    pub async fn audit_actions(&self) -> Vec<String> {
        switchboard::audit::entries(&self.engine.store, &self.caller, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect()
    }
}
