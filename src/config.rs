//! The configuration, read once from the environment at start-up
//! ([`Settings`]), then resolved into the [`Config`] the engine runs with
//! once demo mode knows where its stand-in for Meta listens.
//!
//! Every variable is parsed into a typed value here, so the rest of the
//! program never sees a raw string. A missing or malformed value is a
//! [`ConfigError`] naming the variable, which `main` prints as one line.
//! Secrets are wrapped in [`Secret`] so `Debug` prints `[redacted]`.

use std::{collections::HashMap, fmt, net::SocketAddr, path::PathBuf};

use base64::{engine::general_purpose::STANDARD as BASE64, Engine};
use url::Url;

use crate::{egress::EgressPolicy, secret::Secret};

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/switchboard.db";
pub const DEFAULT_SITE_ADDR: &str = "127.0.0.1:3000";
pub const DEFAULT_GRAPH_VERSION: &str = "v25.0";
pub const DEFAULT_GRAPH_BASE_URL: &str = "https://graph.facebook.com";
/// Where Meta's media URLs point (`GET /{media-id}` answers with them).
pub const DEFAULT_MEDIA_DOWNLOAD_HOST: &str = "lookaside.fbsbx.com";

/// Where Meta's JS SDK comes from in live mode.
pub const META_SDK_ORIGIN: &str = "https://connect.facebook.net";
pub const META_SDK_URL: &str = "https://connect.facebook.net/en_US/sdk.js";
/// Where Meta's OAuth dialog lives in live mode (the redirect path opens
/// `{this}/{version}/dialog/oauth` as a page).
pub const META_DIALOG_BASE: &str = "https://www.facebook.com";
/// The origins Embedded Signup's window speaks from: its messages are
/// accepted only from these, by exact match.
pub const META_DIALOG_ORIGINS: [&str; 2] = ["https://www.facebook.com", "https://web.facebook.com"];

/// A variable that is missing or malformed, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl ConfigError {
    fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        Self {
            variable,
            problem: problem.into(),
        }
    }
}

/// Whether the server talks to Meta or to the local sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No `META_APP_ID`: the sandbox stands in for Meta.
    Demo,
    Live,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(String),
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.starts_with("sqlite:") {
            Ok(Self::Sqlite(raw.to_string()))
        } else if raw.starts_with("postgres:") || raw.starts_with("postgresql:") {
            Ok(Self::Postgres(raw.to_string()))
        } else {
            Err("must start with sqlite: or postgres:".into())
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Sqlite(url) | Self::Postgres(url) => url,
        }
    }
}

/// Database URLs may carry a password, so `Debug` shows only the scheme.
impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(url) => f.write_str(url),
            Self::Postgres(_) => f.write_str("postgres://[redacted]"),
        }
    }
}

/// One AES-256 key of the token vault's key ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptionKey {
    pub id: String,
    pub key: Secret<[u8; 32]>,
}

/// The credentials of the Meta app, present only in live mode.
#[derive(Debug, Clone)]
pub struct MetaApp {
    pub app_id: String,
    /// The first secret signs what we send; any of them verifies what we
    /// receive, so a secret can be rotated without losing webhooks.
    pub app_secrets: Vec<Secret<String>>,
    pub config_id: String,
    pub webhook_verify_token: Secret<String>,
}

impl MetaApp {
    /// The secret that signs; [`Settings::resolve`] guarantees one.
    pub fn signing_secret(&self) -> &Secret<String> {
        &self.app_secrets[0]
    }
}

/// What the environment says. In demo mode Meta's side is still missing:
/// [`Settings::resolve`] adds the sandbox that stands in for it.
#[derive(Debug, Clone)]
pub struct Settings {
    pub mode: Mode,
    pub database_url: DatabaseUrl,
    pub site_addr: SocketAddr,
    pub public_url: Url,
    /// Set in live mode only.
    meta: Option<MetaApp>,
    pub graph_version: String,
    /// `META_GRAPH_BASE_URL`, or Meta's address in live mode.
    graph_base_url: Option<Url>,
    /// Empty in demo mode when none is configured.
    pub token_encryption_keys: Vec<EncryptionKey>,
    pub log_format: LogFormat,
    /// `META_WEBHOOK_OVERRIDE=true`: onboarding points each WABA's webhooks
    /// at `PUBLIC_URL/webhook` instead of the app's callback.
    pub webhook_override: bool,
    /// Seconds between token health checks (`TOKEN_HEALTH_INTERVAL_SECS`).
    pub token_health_interval_secs: u64,
    pub picture: PictureRules,
    /// Customers' files larger than this are not kept
    /// (`INBOUND_MEDIA_MAX_BYTES`, default 16 MiB: Meta's video and audio cap).
    pub inbound_media_max_bytes: u64,
    /// Seconds between reading each WABA's templates from Meta
    /// (`TEMPLATE_SYNC_INTERVAL_SECS`, default 1 h); webhooks and new
    /// connections sync sooner.
    pub template_sync_interval_secs: u64,
    /// Seconds between reading each connected number's health from Meta
    /// (`NUMBER_HEALTH_INTERVAL_SECS`, default 15 min); a webhook saying
    /// something changed, or the Health page opening, reads it sooner.
    pub number_health_interval_secs: u64,
    /// Seconds between looks at each token that ends within 14 days
    /// (`TOKEN_REFRESH_INTERVAL_SECS`, default 1 h): refreshed with Meta,
    /// or its admins warned.
    pub token_refresh_interval_secs: u64,
    pub outbox: OutboxTiming,
    /// `OUTGOING_WEBHOOK_ALLOW`: hosts and networks outgoing webhooks may
    /// reach besides public HTTPS addresses (and over plain HTTP).
    pub outgoing_webhook_allow: EgressPolicy,
    /// `MEDIA_DOWNLOAD_HOSTS` (default `lookaside.fbsbx.com`, where Meta's
    /// media URLs point): customers' files are fetched from these hosts
    /// only, and from the Graph API's own host.
    pub media_download_hosts: Vec<String>,
    pub http: HttpLimits,
    pub retention: Retention,
    /// `REQUIRE_2FA_FOR_OWNERS=true`: owners act only once they sign in
    /// with a second factor.
    pub two_factor: TwoFactorPolicy,
    pub api_key_budget: ApiKeyBudget,
}

/// What each integration API key may ask, shared by every instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiKeyBudget {
    /// `API_KEY_BURST` (default 20): requests at once after a pause.
    pub burst: i64,
    /// `API_KEY_PER_SECOND` (default 10): requests per second after that.
    pub per_second: i64,
}

/// Whose sign-in needs a second factor besides the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TwoFactorPolicy {
    /// Everyone may turn it on; nobody must.
    #[default]
    Optional,
    RequiredForOwners,
}

/// How many days each kind of growing data is kept (`RETAIN_*_DAYS`).
/// Kinds that recognise Meta's retries are kept at least 7 days: Meta
/// retries a webhook for up to 7 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// `RETAIN_WEBHOOK_BODIES_DAYS` (default 14): raw bodies of processed webhooks.
    pub processed_webhooks_days: i64,
    /// `RETAIN_STATUSES_DAYS` (default 90): Meta's receipts (they dedupe status retries).
    pub statuses_days: i64,
    /// `RETAIN_DELIVERIES_DAYS` (default 30): settled outgoing-webhook deliveries.
    pub deliveries_days: i64,
    /// `RETAIN_AUDIT_DAYS` (default 365).
    pub audit_days: i64,
    /// `RETAIN_SENT_OUTBOX_DAYS` (default 30): outbox rows Meta accepted (their
    /// idempotency keys go with them).
    pub sent_outbox_days: i64,
    /// `RETAIN_MEDIA_DAYS` (default 365): customers' files (the message
    /// stays, saying the file is no longer kept).
    pub media_days: i64,
}

/// What one client may take of the server.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// `MAX_CONNECTIONS` (default 1024): connections open at once; more
    /// wait in the listen backlog.
    pub max_connections: usize,
    /// `REQUEST_TIMEOUT_SECS` (default 30): a request whose response has
    /// not begun by then is answered 408 (a page that streams goes on).
    pub request_timeout_secs: u64,
    /// `HEADER_READ_TIMEOUT_SECS` (default 10): a connection that has not
    /// sent a whole request head by then is closed (slow-header clients).
    pub header_read_timeout_secs: u64,
    /// `METRICS_TOKEN`: when set, `/metrics` answers only a request with
    /// `Authorization: Bearer <token>`.
    pub metrics_token: Option<Secret<String>>,
    /// `TRUSTED_PROXIES`: addresses of the reverse proxies in front. Only a
    /// request from one of them has its client taken from
    /// `X-Forwarded-For` (sign-in limits count per client address).
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

/// How long a number's sender holds what it claims, and how long a message
/// whose send may have reached Meta waits for its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxTiming {
    /// `OUTBOX_LEASE_MS` (default 30 s): a sender renews its lease every
    /// third of this while it works; an instance that stops renewing
    /// loses its numbers after this long.
    pub lease_ms: i64,
    /// `OUTBOX_STATUS_WAIT_MS` (default 60 s): a message a lapsed sender
    /// left claimed waits this long for a status proving Meta has it.
    pub status_wait_ms: i64,
}

impl Default for OutboxTiming {
    fn default() -> Self {
        Self {
            lease_ms: 30_000,
            status_wait_ms: 60_000,
        }
    }
}

/// What a profile picture must be: JPEG or PNG, square-ish bounds in
/// pixels (per side), and a size limit for the upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PictureRules {
    pub min_px: u32,
    pub max_px: u32,
    pub max_bytes: usize,
}

impl Default for PictureRules {
    fn default() -> Self {
        Self {
            min_px: 192,
            max_px: 640,
            max_bytes: 5 * 1024 * 1024,
        }
    }
}

/// The configuration the engine runs with: every setting, plus the Meta
/// app and the Graph API address it speaks to (Meta's, or the sandbox's in
/// demo mode). Reads through to [`Settings`] for everything else.
#[derive(Debug, Clone)]
pub struct Config {
    settings: Settings,
    pub meta: MetaApp,
    pub graph_base_url: Url,
}

impl std::ops::Deref for Config {
    type Target = Settings;
    fn deref(&self) -> &Settings {
        &self.settings
    }
}

impl std::ops::DerefMut for Config {
    fn deref_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }
}

/// Demo mode's stand-in for Meta: the sandbox's app and address.
#[derive(Debug, Clone)]
pub struct StandIn {
    pub app: MetaApp,
    pub graph_base_url: Url,
}

impl Config {
    /// Where Meta's OAuth dialog is opened from: Meta's in live mode, the
    /// sandbox's origin in demo mode (as the JS SDK's address is), no
    /// trailing slash.
    pub fn dialog_base(&self) -> String {
        match self.mode {
            Mode::Live => META_DIALOG_BASE.to_string(),
            Mode::Demo => self.graph_base_url.origin().ascii_serialization(),
        }
    }
}

impl Settings {
    /// `META_GRAPH_BASE_URL` (or Meta's address in live mode).
    pub fn graph_base_url(&self) -> Option<&Url> {
        self.graph_base_url.as_ref()
    }

    /// Resolves Meta's side: live mode's own app and address, or in demo
    /// mode the `stand_in` (an explicit `META_GRAPH_BASE_URL` still wins,
    /// for a sandbox run on its own). Demo mode without one is an error.
    pub fn resolve(self, stand_in: Option<StandIn>) -> Result<Config, ConfigError> {
        let (meta, graph_base_url) = match (self.meta.clone(), stand_in) {
            (Some(app), _) => (app, self.graph_base_url.clone()),
            (None, Some(stand_in)) => (
                stand_in.app,
                Some(
                    self.graph_base_url
                        .clone()
                        .unwrap_or(stand_in.graph_base_url),
                ),
            ),
            (None, None) => {
                return Err(ConfigError::new(
                    "META_APP_ID",
                    "is not set and no sandbox stands in for Meta",
                ))
            }
        };
        let graph_base_url =
            graph_base_url.ok_or_else(|| ConfigError::new("META_GRAPH_BASE_URL", "is not set"))?;
        if meta.app_secrets.is_empty() {
            return Err(ConfigError::new("META_APP_SECRET", "has no secret"));
        }
        Ok(Config {
            settings: self,
            meta,
            graph_base_url,
        })
    }

    /// Reads the process environment. Empty values count as unset.
    pub fn from_env() -> Result<Self, ConfigError> {
        let vars: HashMap<String, String> = std::env::vars().collect();
        Self::from_lookup(|name| vars.get(name).cloned())
    }

    /// Reads configuration through `lookup`, so tests need not touch the
    /// process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };

        let database_url = DatabaseUrl::parse(
            &get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string()),
        )
        .map_err(|problem| ConfigError::new("DATABASE_URL", problem))?;

        let site_addr: SocketAddr = get("LEPTOS_SITE_ADDR")
            .unwrap_or_else(|| DEFAULT_SITE_ADDR.to_string())
            .parse()
            .map_err(|_| {
                ConfigError::new("LEPTOS_SITE_ADDR", "must be an address like 127.0.0.1:3000")
            })?;

        let public_url = match get("PUBLIC_URL") {
            Some(raw) => parse_http_url("PUBLIC_URL", &raw)?,
            None => Url::parse(&format!("http://{site_addr}"))
                .map_err(|e| ConfigError::new("PUBLIC_URL", e.to_string()))?,
        };

        let graph_version =
            get("META_GRAPH_VERSION").unwrap_or_else(|| DEFAULT_GRAPH_VERSION.into());
        if !is_graph_version(&graph_version) {
            return Err(ConfigError::new(
                "META_GRAPH_VERSION",
                format!("`{graph_version}` is not a Graph API version like v25.0"),
            ));
        }

        let graph_base_url = get("META_GRAPH_BASE_URL")
            .map(|raw| parse_http_url("META_GRAPH_BASE_URL", &raw))
            .transpose()?;

        let token_encryption_keys = match get("TOKEN_ENCRYPTION_KEYS") {
            Some(raw) => parse_key_ring(&raw)?,
            None => Vec::new(),
        };

        let log_format = match get("LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::new(
                    "LOG_FORMAT",
                    format!("`{other}` is not one of: text, json"),
                ))
            }
        };

        let flag = |name: &'static str| match get(name).as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(ConfigError::new(
                name,
                format!("`{other}` is not one of: true, false"),
            )),
        };
        let webhook_override = flag("META_WEBHOOK_OVERRIDE")?;
        let two_factor = if flag("REQUIRE_2FA_FOR_OWNERS")? {
            TwoFactorPolicy::RequiredForOwners
        } else {
            TwoFactorPolicy::Optional
        };
        let token_health_interval_secs = match get("TOKEN_HEALTH_INTERVAL_SECS") {
            None => 6 * 60 * 60,
            Some(raw) => raw
                .parse::<u64>()
                .ok()
                .filter(|s| *s >= 10)
                .ok_or_else(|| {
                    ConfigError::new(
                        "TOKEN_HEALTH_INTERVAL_SECS",
                        "must be a number of seconds, at least 10",
                    )
                })?,
        };

        let number = |name: &'static str, default: u64| -> Result<u64, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(raw) => raw
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| ConfigError::new(name, "must be a positive whole number")),
            }
        };
        let defaults = PictureRules::default();
        let picture = PictureRules {
            min_px: number("PROFILE_PICTURE_MIN_PX", defaults.min_px.into())? as u32,
            max_px: number("PROFILE_PICTURE_MAX_PX", defaults.max_px.into())? as u32,
            max_bytes: number("PROFILE_PICTURE_MAX_BYTES", defaults.max_bytes as u64)? as usize,
        };
        if picture.min_px > picture.max_px {
            return Err(ConfigError::new(
                "PROFILE_PICTURE_MIN_PX",
                "is larger than PROFILE_PICTURE_MAX_PX",
            ));
        }

        let inbound_media_max_bytes = number("INBOUND_MEDIA_MAX_BYTES", 16 * 1024 * 1024)?;
        let template_sync_interval_secs = number("TEMPLATE_SYNC_INTERVAL_SECS", 60 * 60)?;
        let number_health_interval_secs = number("NUMBER_HEALTH_INTERVAL_SECS", 15 * 60)?;
        let token_refresh_interval_secs = number("TOKEN_REFRESH_INTERVAL_SECS", 60 * 60)?;
        let outgoing_webhook_allow = match get("OUTGOING_WEBHOOK_ALLOW") {
            Some(raw) => EgressPolicy::parse(&raw)
                .map_err(|problem| ConfigError::new("OUTGOING_WEBHOOK_ALLOW", problem))?,
            None => EgressPolicy::default(),
        };
        let media_download_hosts = get("MEDIA_DOWNLOAD_HOSTS")
            .unwrap_or_else(|| DEFAULT_MEDIA_DOWNLOAD_HOST.to_string())
            .split(',')
            .map(|host| host.trim().to_ascii_lowercase())
            .filter(|host| !host.is_empty())
            .collect();
        let http = HttpLimits {
            max_connections: number("MAX_CONNECTIONS", 1024)? as usize,
            request_timeout_secs: number("REQUEST_TIMEOUT_SECS", 30)?,
            header_read_timeout_secs: number("HEADER_READ_TIMEOUT_SECS", 10)?,
            metrics_token: get("METRICS_TOKEN").map(Secret::new),
            trusted_proxies: match get("TRUSTED_PROXIES") {
                None => Vec::new(),
                Some(raw) => raw
                    .split(',')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(|a| a.parse())
                    .collect::<Result<_, _>>()
                    .map_err(|_| {
                        ConfigError::new(
                            "TRUSTED_PROXIES",
                            "must be IP addresses separated by commas",
                        )
                    })?,
            },
        };
        let at_least_a_week = |name: &'static str, default: u64| -> Result<i64, ConfigError> {
            let days = number(name, default)?;
            if days < 7 {
                return Err(ConfigError::new(
                    name,
                    "must be at least 7 (Meta retries webhooks for 7 days)",
                ));
            }
            Ok(days as i64)
        };
        let retention = Retention {
            processed_webhooks_days: at_least_a_week("RETAIN_WEBHOOK_BODIES_DAYS", 14)?,
            statuses_days: at_least_a_week("RETAIN_STATUSES_DAYS", 90)?,
            deliveries_days: at_least_a_week("RETAIN_DELIVERIES_DAYS", 30)?,
            audit_days: number("RETAIN_AUDIT_DAYS", 365)? as i64,
            sent_outbox_days: at_least_a_week("RETAIN_SENT_OUTBOX_DAYS", 30)?,
            media_days: number("RETAIN_MEDIA_DAYS", 365)? as i64,
        };
        let api_key_budget = ApiKeyBudget {
            burst: number("API_KEY_BURST", crate::api_keys::BURST as u64)? as i64,
            per_second: number("API_KEY_PER_SECOND", crate::api_keys::PER_SECOND as u64)? as i64,
        };
        let timing = OutboxTiming::default();
        let outbox = OutboxTiming {
            lease_ms: number("OUTBOX_LEASE_MS", timing.lease_ms as u64)?.max(300) as i64,
            status_wait_ms: number("OUTBOX_STATUS_WAIT_MS", timing.status_wait_ms as u64)? as i64,
        };

        let meta = match get("META_APP_ID") {
            None => None,
            Some(app_id) => Some(read_meta_app(app_id, &get)?),
        };
        let mode = if meta.is_some() {
            Mode::Live
        } else {
            Mode::Demo
        };

        if mode == Mode::Live && token_encryption_keys.is_empty() {
            return Err(ConfigError::new(
                "TOKEN_ENCRYPTION_KEYS",
                "is required when META_APP_ID is set (format: id:base64key,...)",
            ));
        }
        let graph_base_url = match (mode, graph_base_url) {
            (_, Some(url)) => Some(url),
            (Mode::Live, None) => Some(Url::parse(DEFAULT_GRAPH_BASE_URL).expect("constant URL")),
            (Mode::Demo, None) => None,
        };

        Ok(Self {
            mode,
            database_url,
            site_addr,
            public_url,
            meta,
            graph_version,
            graph_base_url,
            token_encryption_keys,
            log_format,
            webhook_override,
            token_health_interval_secs,
            picture,
            inbound_media_max_bytes,
            template_sync_interval_secs,
            number_health_interval_secs,
            token_refresh_interval_secs,
            outbox,
            outgoing_webhook_allow,
            media_download_hosts,
            http,
            retention,
            two_factor,
            api_key_budget,
        })
    }

    /// The SQLite file behind the database URL, if it is a file.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        match &self.database_url {
            DatabaseUrl::Sqlite(url) => crate::store::sqlite_file(url),
            DatabaseUrl::Postgres(_) => None,
        }
    }
}

fn read_meta_app(
    app_id: String,
    get: &impl Fn(&str) -> Option<String>,
) -> Result<MetaApp, ConfigError> {
    if !app_id.chars().all(|c| c.is_ascii_digit()) {
        return Err(ConfigError::new(
            "META_APP_ID",
            "must be the numeric id of the Meta app",
        ));
    }
    let required = |name: &'static str| {
        get(name).ok_or_else(|| ConfigError::new(name, "is required when META_APP_ID is set"))
    };
    let app_secrets = required("META_APP_SECRET")?
        .split(',')
        .map(str::trim)
        .map(|s| {
            if s.is_empty() {
                Err(ConfigError::new(
                    "META_APP_SECRET",
                    "has an empty entry in its list",
                ))
            } else {
                Ok(Secret::new(s.to_string()))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let config_id = required("META_CONFIG_ID")?;
    if !config_id.chars().all(|c| c.is_ascii_digit()) {
        return Err(ConfigError::new(
            "META_CONFIG_ID",
            "must be the numeric id of the Embedded Signup configuration",
        ));
    }
    let webhook_verify_token = Secret::new(required("WEBHOOK_VERIFY_TOKEN")?);
    Ok(MetaApp {
        app_id,
        app_secrets,
        config_id,
        webhook_verify_token,
    })
}

fn parse_http_url(variable: &'static str, raw: &str) -> Result<Url, ConfigError> {
    let url =
        Url::parse(raw).map_err(|e| ConfigError::new(variable, format!("is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(ConfigError::new(
            variable,
            "must be an http(s) URL with a host",
        ));
    }
    Ok(url)
}

fn is_graph_version(v: &str) -> bool {
    v.strip_prefix('v')
        .and_then(|rest| rest.strip_suffix(".0"))
        .is_some_and(|major| !major.is_empty() && major.chars().all(|c| c.is_ascii_digit()))
}

/// Parses `id:base64key,id:base64key`; the first key is the active one.
pub fn parse_key_ring(raw: &str) -> Result<Vec<EncryptionKey>, ConfigError> {
    const VAR: &str = "TOKEN_ENCRYPTION_KEYS";
    let mut keys: Vec<EncryptionKey> = Vec::new();
    for (index, entry) in raw.split(',').map(str::trim).enumerate() {
        let position = index + 1;
        let (id, encoded) = entry.split_once(':').ok_or_else(|| {
            ConfigError::new(VAR, format!("entry {position} is not id:base64key"))
        })?;
        let id = id.trim();
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ConfigError::new(
                VAR,
                format!(
                    "entry {position} has an empty or invalid key id (letters, digits, - and _)"
                ),
            ));
        }
        let bytes = BASE64
            .decode(encoded.trim())
            .map_err(|_| ConfigError::new(VAR, format!("key `{id}` is not valid base64")))?;
        let key: [u8; 32] = bytes.try_into().map_err(|bytes: Vec<u8>| {
            ConfigError::new(
                VAR,
                format!("key `{id}` is {} bytes; AES-256 needs 32", bytes.len()),
            )
        })?;
        if keys.iter().any(|k| k.id == id) {
            return Err(ConfigError::new(
                VAR,
                format!("key id `{id}` appears twice"),
            ));
        }
        keys.push(EncryptionKey {
            id: id.to_string(),
            key: Secret::new(key),
        });
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| vars.get(name).cloned())
    }

    const KEY: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn live() -> Vec<(&'static str, &'static str)> {
        vec![
            ("META_APP_ID", "1234567890"),
            ("META_APP_SECRET", "first-secret, second-secret"),
            ("META_CONFIG_ID", "998877"),
            ("WEBHOOK_VERIFY_TOKEN", "verify-me"),
            ("TOKEN_ENCRYPTION_KEYS", KEY),
        ]
    }

    #[test]
    fn defaults_are_demo_mode_on_a_local_sqlite_file() {
        let c = config(&[]).unwrap();
        assert_eq!(c.mode, Mode::Demo);
        assert_eq!(
            c.database_url,
            DatabaseUrl::Sqlite(DEFAULT_DATABASE_URL.into())
        );
        assert_eq!(c.site_addr.to_string(), "127.0.0.1:3000");
        assert_eq!(c.public_url.as_str(), "http://127.0.0.1:3000/");
        assert_eq!(c.graph_version, "v25.0");
        assert_eq!(c.graph_base_url, None);
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(c.sqlite_path(), Some(PathBuf::from("data/switchboard.db")));
    }

    #[test]
    fn live_mode_reads_every_meta_variable() {
        let c = config(&live()).unwrap();
        assert_eq!(c.mode, Mode::Live);
        let meta = c.meta.as_ref().unwrap();
        assert_eq!(meta.app_id, "1234567890");
        let secrets: Vec<&str> = meta
            .app_secrets
            .iter()
            .map(|s| s.expose().as_str())
            .collect();
        assert_eq!(secrets, ["first-secret", "second-secret"]);
        assert_eq!(meta.config_id, "998877");
        assert_eq!(
            c.graph_base_url.unwrap().as_str(),
            "https://graph.facebook.com/"
        );
        assert_eq!(c.token_encryption_keys[0].id, "k1");
        assert_eq!(c.token_encryption_keys[0].key.expose()[31], 31);
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let c = config(&live()).unwrap();
        let printed = format!("{c:?}");
        for secret in ["first-secret", "second-secret", "verify-me", "AAECAwQF"] {
            assert!(!printed.contains(secret), "{secret} leaked into {printed}");
        }
        assert!(printed.contains("[redacted]"));
        let pg = DatabaseUrl::parse("postgres://u:hunter2@db/sb").unwrap();
        assert!(!pg.to_string().contains("hunter2"));
    }

    #[test]
    fn live_mode_requires_each_credential() {
        for missing in [
            "META_APP_SECRET",
            "META_CONFIG_ID",
            "WEBHOOK_VERIFY_TOKEN",
            "TOKEN_ENCRYPTION_KEYS",
        ] {
            let vars: Vec<_> = live().into_iter().filter(|(k, _)| *k != missing).collect();
            let err = config(&vars).unwrap_err();
            assert_eq!(err.variable, missing);
            assert!(err.to_string().starts_with(missing), "{err}");
        }
    }

    #[test]
    fn malformed_values_name_the_variable() {
        let cases: &[(&str, &str)] = &[
            ("DATABASE_URL", "mysql://localhost/db"),
            ("LEPTOS_SITE_ADDR", "localhost"),
            ("PUBLIC_URL", "ftp://example.com"),
            ("PUBLIC_URL", "not a url"),
            ("META_GRAPH_VERSION", "25"),
            ("META_GRAPH_VERSION", "v25.1"),
            ("META_GRAPH_BASE_URL", "graph"),
            ("TOKEN_ENCRYPTION_KEYS", "nokey"),
            ("TOKEN_ENCRYPTION_KEYS", "k1:not-base64!"),
            ("TOKEN_ENCRYPTION_KEYS", "k1:AAAA"),
            ("LOG_FORMAT", "xml"),
            ("META_APP_ID", "my-app"),
        ];
        for (variable, value) in cases {
            let err = config(&[(variable, value)]).unwrap_err();
            assert_eq!(&err.variable, variable, "{value} gave {err}");
        }
    }

    #[test]
    fn key_ring_keeps_order_and_refuses_duplicate_ids() {
        let ring = parse_key_ring(&format!("{KEY},k0:{}", BASE64.encode([7u8; 32]))).unwrap();
        assert_eq!(
            ring.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
            ["k1", "k0"]
        );
        let err = parse_key_ring(&format!("{KEY},{KEY}")).unwrap_err();
        assert!(err.problem.contains("twice"), "{err}");
    }

    #[test]
    fn the_token_refresh_interval_is_an_hour_unless_set() {
        assert_eq!(config(&[]).unwrap().token_refresh_interval_secs, 3600);
        let set = config(&[("TOKEN_REFRESH_INTERVAL_SECS", "600")]).unwrap();
        assert_eq!(set.token_refresh_interval_secs, 600);
        for bad in ["0", "-5", "soon"] {
            let err = config(&[("TOKEN_REFRESH_INTERVAL_SECS", bad)]).unwrap_err();
            assert_eq!(err.variable, "TOKEN_REFRESH_INTERVAL_SECS", "{bad}");
        }
    }

    #[test]
    fn empty_app_secret_entry_is_refused() {
        let mut vars = live();
        vars[1] = ("META_APP_SECRET", "a,,b");
        assert_eq!(config(&vars).unwrap_err().variable, "META_APP_SECRET");
    }

    fn stand_in() -> StandIn {
        StandIn {
            app: MetaApp {
                app_id: "1000000000000001".into(),
                app_secrets: vec![Secret::new("sandbox-secret".into())],
                config_id: "1".into(),
                webhook_verify_token: Secret::new("sandbox-token".into()),
            },
            graph_base_url: Url::parse("http://127.0.0.1:4000").unwrap(),
        }
    }

    #[test]
    fn demo_mode_needs_a_stand_in_for_meta() {
        let err = config(&[]).unwrap().resolve(None).unwrap_err();
        assert_eq!(err.variable, "META_APP_ID");
        let c = config(&[]).unwrap().resolve(Some(stand_in())).unwrap();
        assert_eq!(c.meta.app_id, "1000000000000001");
        assert_eq!(c.graph_base_url.as_str(), "http://127.0.0.1:4000/");
        assert_eq!(c.mode, Mode::Demo, "the settings read through");
    }

    #[test]
    fn demo_mode_keeps_an_explicit_graph_address() {
        let c = config(&[("META_GRAPH_BASE_URL", "http://127.0.0.1:4500")])
            .unwrap()
            .resolve(Some(stand_in()))
            .unwrap();
        assert_eq!(c.graph_base_url.as_str(), "http://127.0.0.1:4500/");
    }

    #[test]
    fn live_mode_speaks_to_meta_whatever_stands_in() {
        let c = config(&live()).unwrap().resolve(Some(stand_in())).unwrap();
        assert_eq!(c.meta.app_id, "1234567890");
        assert_eq!(c.graph_base_url.as_str(), "https://graph.facebook.com/");
        assert_eq!(c.dialog_base(), "https://www.facebook.com");
    }

    #[test]
    fn demo_mode_opens_the_dialog_on_the_sandbox() {
        let c = config(&[]).unwrap().resolve(Some(stand_in())).unwrap();
        assert_eq!(c.dialog_base(), "http://127.0.0.1:4000");
    }
}

impl HttpLimits {
    /// The client of a request that reached us from `peer`: the peer
    /// itself, unless it is a trusted proxy; then the last address in
    /// `X-Forwarded-For` that is not one (proxies append, so the ones on
    /// the left are whatever the client claimed).
    pub fn client_of(
        &self,
        peer: std::net::IpAddr,
        forwarded_for: Option<&str>,
    ) -> std::net::IpAddr {
        if !self.trusted_proxies.contains(&peer) {
            return peer;
        }
        forwarded_for
            .into_iter()
            .flat_map(|header| header.rsplit(','))
            .filter_map(|hop| hop.trim().parse::<std::net::IpAddr>().ok())
            .find(|hop| !self.trusted_proxies.contains(hop))
            .unwrap_or(peer)
    }
}

#[cfg(test)]
mod client_tests {
    use super::*;

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let limits = HttpLimits {
            max_connections: 1,
            request_timeout_secs: 1,
            header_read_timeout_secs: 1,
            metrics_token: None,
            trusted_proxies: vec!["10.0.0.2".parse().unwrap(), "10.0.0.3".parse().unwrap()],
        };
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert_eq!(
            limits.client_of(ip("203.0.113.9"), Some("1.2.3.4")),
            ip("203.0.113.9"),
            "not a proxy: ignored"
        );
        assert_eq!(
            limits.client_of(ip("10.0.0.2"), Some("1.2.3.4")),
            ip("1.2.3.4")
        );
        assert_eq!(
            limits.client_of(ip("10.0.0.2"), Some("6.6.6.6, 1.2.3.4, 10.0.0.3")),
            ip("1.2.3.4"),
            "the rightmost untrusted hop, not what the client claimed"
        );
        assert_eq!(
            limits.client_of(ip("10.0.0.2"), Some("garbage")),
            ip("10.0.0.2")
        );
        assert_eq!(limits.client_of(ip("10.0.0.2"), None), ip("10.0.0.2"));
    }
}
