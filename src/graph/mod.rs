//! A client for Meta's Graph API: the calls onboarding and token health
//! make. Tokens travel in the `Authorization` header, never in a URL (but
//! for the token refresh, whose query Meta defines), and errors never carry
//! a URL (the code exchange's and the refresh's queries hold the app
//! secret, the refresh's the token too), so nothing secret reaches a log
//! line.

mod error;
pub mod health;
pub mod media;
pub mod numbers;
mod profile;
mod proof;
pub mod templates;

use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};
use url::Url;

pub use error::GraphError;
pub use profile::{LiveProfile, UploadOutcome};

use crate::{config::Config, secret::Secret, webhook::payload::Identity};

/// The scopes an Embedded Signup token must carry to run a number.
pub const REQUIRED_SCOPES: [&str; 2] = [
    "whatsapp_business_management",
    "whatsapp_business_messaging",
];

#[derive(Debug, Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    base: Url,
    version: String,
    app_id: String,
    app_secret: Secret<String>,
}

/// What the code exchange returns.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub access_token: Secret<String>,
    pub token_type: Option<String>,
    /// Seconds; absent for tokens that never expire.
    pub expires_in: Option<i64>,
}

/// One granular scope of a token and the assets it covers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GranularScope {
    pub scope: String,
    #[serde(default)]
    pub target_ids: Option<Vec<String>>,
}

/// What `debug_token` says about a token.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenInfo {
    pub is_valid: bool,
    pub token_type: Option<String>,
    /// Unix seconds; `None` when the token never expires (Meta sends 0).
    pub expires_at: Option<i64>,
    pub issued_at: Option<i64>,
    pub scopes: Vec<String>,
    pub granular_scopes: Vec<GranularScope>,
    /// Why an invalid token is invalid.
    pub error: Option<String>,
}

impl TokenInfo {
    pub fn missing_scopes(&self) -> Vec<&'static str> {
        REQUIRED_SCOPES
            .into_iter()
            .filter(|needed| !self.scopes.iter().any(|s| s == needed))
            .collect()
    }

    /// The WABAs the token was granted (`whatsapp_business_management`'s
    /// targets), in Meta's order without repeats: the redirect path has no
    /// `WA_EMBEDDED_SIGNUP` message to name them. Empty when Meta lists no
    /// targets.
    pub fn granted_wabas(&self) -> Vec<String> {
        let mut wabas: Vec<String> = Vec::new();
        let targets = self
            .granular_scopes
            .iter()
            .filter(|g| g.scope == REQUIRED_SCOPES[0])
            .filter_map(|g| g.target_ids.as_ref())
            .flatten();
        for id in targets {
            if !wabas.contains(id) {
                wabas.push(id.clone());
            }
        }
        wabas
    }

    /// Whether the token was granted `waba_id`. `None` when the WhatsApp
    /// scopes list no targets (Meta omits them when all assets were
    /// granted): the caller must then prove access another way.
    pub fn grants_waba(&self, waba_id: &str) -> Option<bool> {
        let targets: Vec<&String> = self
            .granular_scopes
            .iter()
            .filter(|g| REQUIRED_SCOPES.contains(&g.scope.as_str()))
            .filter_map(|g| g.target_ids.as_ref())
            .flatten()
            .collect();
        if targets.is_empty() {
            None
        } else {
            Some(targets.iter().any(|t| *t == waba_id))
        }
    }
}

/// A phone number as `GET /{phone-number-id}` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct PhoneNumber {
    pub id: String,
    #[serde(default)]
    pub display_phone_number: Option<String>,
    #[serde(default)]
    pub verified_name: Option<String>,
    #[serde(default)]
    pub quality_rating: Option<String>,
    #[serde(default)]
    pub code_verification_status: Option<String>,
    /// CONNECTED once registered with the Cloud API; PENDING and others before.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub platform_type: Option<String>,
}

impl PhoneNumber {
    pub fn is_registered(&self) -> bool {
        self.status.as_deref() == Some("CONNECTED")
            && self.platform_type.as_deref() != Some("NOT_APPLICABLE")
    }
}

const PHONE_FIELDS: &str =
    "id,display_phone_number,verified_name,quality_rating,code_verification_status,status,platform_type";

impl GraphClient {
    /// The client for the configured app and Graph API address. The first
    /// app secret signs (`appsecret_proof`).
    pub fn from_config(config: &Config) -> Self {
        Self::new(
            config.graph_base_url.clone(),
            &config.graph_version,
            &config.meta.app_id,
            config.meta.signing_secret().clone(),
        )
    }

    pub fn new(base: Url, version: &str, app_id: &str, app_secret: Secret<String>) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .expect("a client with timeouts builds");
        Self {
            http,
            base,
            version: version.to_string(),
            app_id: app_id.to_string(),
            app_secret,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!(
            "{}/{}/{}",
            self.base.as_str().trim_end_matches('/'),
            self.version,
            path.trim_start_matches('/')
        )
    }

    pub(crate) async fn send(&self, request: reqwest::RequestBuilder) -> Result<Value, GraphError> {
        let response = request
            .send()
            .await
            .map_err(|e| GraphError::Transport(e.without_url().to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| GraphError::Transport(e.without_url().to_string()))?;
        if !(200..300).contains(&status) {
            return Err(GraphError::from_response(status, &body));
        }
        serde_json::from_slice(&body).map_err(|_| GraphError::Unexpected {
            status,
            excerpt: error::excerpt(&body),
        })
    }

    /// Attaches a business's `token`, with its `appsecret_proof` (made now,
    /// for this request). App tokens go as they are.
    pub(crate) fn authorized(
        &self,
        request: reqwest::RequestBuilder,
        token: &Secret<String>,
    ) -> reqwest::RequestBuilder {
        self.with_proof(request.bearer_auth(token.expose()), token)
    }

    /// Adds the `appsecret_proof` of `token` (for calls that present the
    /// token some other way, like the upload API's `Authorization: OAuth`).
    pub(crate) fn with_proof(
        &self,
        request: reqwest::RequestBuilder,
        token: &Secret<String>,
    ) -> reqwest::RequestBuilder {
        if proof::is_app_token(token) {
            return request;
        }
        let now_secs = crate::store::now_millis() / 1000;
        request.query(&proof::params(&self.app_secret, token, now_secs))
    }

    pub(crate) async fn get(
        &self,
        token: &Secret<String>,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Value, GraphError> {
        self.send(
            self.authorized(self.http.get(self.url(path)), token)
                .query(query),
        )
        .await
    }

    pub(crate) async fn post(
        &self,
        token: &Secret<String>,
        path: &str,
        body: Value,
    ) -> Result<Value, GraphError> {
        self.send(
            self.authorized(self.http.post(self.url(path)), token)
                .json(&body),
        )
        .await
    }

    /// Exchanges an Embedded Signup code (valid about 30 s, single use) for
    /// the business's token. No `redirect_uri`: JS SDK codes have none.
    pub async fn exchange_code(&self, code: &str) -> Result<TokenGrant, GraphError> {
        self.exchange(code, &[]).await
    }

    /// Exchanges a code from the OAuth dialog opened as a page (the
    /// redirect path): `redirect_uri` must be the very string the dialog
    /// was given (else Meta answers 100, "Error validating verification
    /// code"), and `code_verifier` the PKCE verifier whose challenge it
    /// was given.
    pub async fn exchange_redirect_code(
        &self,
        code: &str,
        redirect_uri: &str,
        code_verifier: &Secret<String>,
    ) -> Result<TokenGrant, GraphError> {
        self.exchange(
            code,
            &[
                ("redirect_uri", redirect_uri),
                ("code_verifier", code_verifier.expose().as_str()),
            ],
        )
        .await
    }

    async fn exchange(&self, code: &str, more: &[(&str, &str)]) -> Result<TokenGrant, GraphError> {
        let body = self
            .send(
                self.http
                    .get(self.url("oauth/access_token"))
                    .query(&[
                        ("client_id", self.app_id.as_str()),
                        ("client_secret", self.app_secret.expose().as_str()),
                        ("code", code),
                    ])
                    .query(more),
            )
            .await?;
        TokenGrant::read(&body).ok_or_else(|| no_token_in("the code exchange"))
    }

    /// Exchanges a token that expires for a fresh one, good for another
    /// 60 days (`grant_type=fb_exchange_token`, with
    /// `set_token_expires_in_60_days=true`). Whether Meta does this for
    /// Embedded Signup's business tokens is unconfirmed (meta-2026 §6): a
    /// refusal is Meta's error. An expired token cannot be exchanged.
    pub async fn refresh_token(&self, token: &Secret<String>) -> Result<TokenGrant, GraphError> {
        let body = self
            .send(self.http.get(self.url("oauth/access_token")).query(&[
                ("grant_type", "fb_exchange_token"),
                ("client_id", self.app_id.as_str()),
                ("client_secret", self.app_secret.expose().as_str()),
                ("fb_exchange_token", token.expose().as_str()),
                ("set_token_expires_in_60_days", "true"),
            ]))
            .await?;
        TokenGrant::read(&body).ok_or_else(|| no_token_in("the token refresh"))
    }

    /// Asks Meta about a token with the app token (`app_id|app_secret`).
    /// Meta answers 200 even for an invalid token, with `is_valid: false`.
    pub async fn debug_token(&self, token: &Secret<String>) -> Result<TokenInfo, GraphError> {
        let app_token = Secret::new(format!("{}|{}", self.app_id, self.app_secret.expose()));
        let body = self
            .get(
                &app_token,
                "debug_token",
                &[("input_token", token.expose().as_str())],
            )
            .await?;
        let data = &body["data"];
        let strings = |value: &Value| -> Vec<String> {
            value
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|s| s.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let error = data["error"].as_object().map(|e| {
            let message = e
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("invalid token");
            match e.get("code").and_then(Value::as_i64) {
                Some(code) => format!("{message} (code {code})"),
                None => message.to_string(),
            }
        });
        Ok(TokenInfo {
            is_valid: data["is_valid"].as_bool().unwrap_or(false),
            token_type: data["type"].as_str().map(str::to_string),
            expires_at: data["expires_at"].as_i64().filter(|t| *t > 0),
            issued_at: data["issued_at"].as_i64().filter(|t| *t > 0),
            scopes: strings(&data["scopes"]),
            granular_scopes: serde_json::from_value(data["granular_scopes"].clone())
                .unwrap_or_default(),
            error,
        })
    }

    /// The WABA's phone numbers, following the cursor to the end.
    pub async fn waba_phone_numbers(
        &self,
        token: &Secret<String>,
        waba_id: &str,
    ) -> Result<Vec<PhoneNumber>, GraphError> {
        let mut numbers = Vec::new();
        let mut after: Option<String> = None;
        // Bounded: a WABA has at most a few dozen numbers.
        for _ in 0..50 {
            let mut query = vec![("fields", PHONE_FIELDS), ("limit", "100")];
            if let Some(cursor) = after.as_deref() {
                query.push(("after", cursor));
            }
            let page = self
                .get(token, &format!("{waba_id}/phone_numbers"), &query)
                .await?;
            let items: Vec<PhoneNumber> =
                serde_json::from_value(page["data"].clone()).unwrap_or_default();
            let done = items.is_empty() || page["paging"]["next"].as_str().is_none();
            numbers.extend(items);
            after = page["paging"]["cursors"]["after"]
                .as_str()
                .map(str::to_string);
            if done || after.is_none() {
                break;
            }
        }
        Ok(numbers)
    }

    pub async fn phone_number(
        &self,
        token: &Secret<String>,
        phone_number_id: &str,
    ) -> Result<PhoneNumber, GraphError> {
        let body = self
            .get(token, phone_number_id, &[("fields", PHONE_FIELDS)])
            .await?;
        serde_json::from_value(body.clone()).map_err(|_| GraphError::Unexpected {
            status: 200,
            excerpt: error::excerpt(body.to_string().as_bytes()),
        })
    }

    /// Subscribes the app to the WABA's webhooks; with `callback_override`,
    /// the WABA's webhooks go to that URL instead of the app's.
    pub async fn subscribe_app(
        &self,
        token: &Secret<String>,
        waba_id: &str,
        callback_override: Option<(&str, &Secret<String>)>,
    ) -> Result<(), GraphError> {
        let path = format!("{waba_id}/subscribed_apps");
        self.post(token, &path, json!({})).await?;
        if let Some((uri, verify_token)) = callback_override {
            // Meta accepts an override only on top of a plain subscription.
            self.post(
                token,
                &path,
                json!({ "override_callback_uri": uri, "verify_token": verify_token.expose() }),
            )
            .await?;
        }
        Ok(())
    }

    pub async fn unsubscribe_app(
        &self,
        token: &Secret<String>,
        waba_id: &str,
    ) -> Result<(), GraphError> {
        let url = self.url(&format!("{waba_id}/subscribed_apps"));
        self.send(self.authorized(self.http.delete(url), token))
            .await?;
        Ok(())
    }

    /// Registers the number with the Cloud API; `pin` is its two-step
    /// verification PIN (set by this call when the number has none).
    pub async fn register(
        &self,
        token: &Secret<String>,
        phone_number_id: &str,
        pin: &str,
    ) -> Result<(), GraphError> {
        self.post(
            token,
            &format!("{phone_number_id}/register"),
            json!({ "messaging_product": "whatsapp", "pin": pin }),
        )
        .await?;
        Ok(())
    }

    pub async fn deregister(
        &self,
        token: &Secret<String>,
        phone_number_id: &str,
    ) -> Result<(), GraphError> {
        self.post(token, &format!("{phone_number_id}/deregister"), json!({}))
            .await?;
        Ok(())
    }

    /// `POST /{phone-number-id}/messages`. Returns the new message's wamid
    /// and what Meta showed of the recipient (`contacts[0]`); `None` for
    /// calls that create no message (marking read), which answer
    /// `{"success": true}`.
    pub async fn send_message(
        &self,
        token: &Secret<String>,
        phone_number_id: &str,
        body: Value,
    ) -> Result<Option<Sent>, GraphError> {
        let answer = self
            .post(token, &format!("{phone_number_id}/messages"), body)
            .await?;
        if let Some(wamid) = answer["messages"][0]["id"].as_str() {
            return Ok(Some(Sent {
                wamid: wamid.to_string(),
                recipient: Identity::of_send_response(&answer["contacts"][0]),
            }));
        }
        if answer["success"].as_bool() == Some(true) {
            return Ok(None);
        }
        Err(GraphError::Unexpected {
            status: 200,
            excerpt: error::excerpt(answer.to_string().as_bytes()),
        })
    }
}

impl TokenGrant {
    /// Reads Meta's answer (`access_token`, `token_type`, `expires_in`);
    /// `None` when it holds no token.
    fn read(body: &Value) -> Option<Self> {
        let access_token = body["access_token"].as_str().filter(|t| !t.is_empty())?;
        Some(Self {
            access_token: Secret::new(access_token.to_string()),
            token_type: body["token_type"].as_str().map(str::to_string),
            expires_in: body["expires_in"].as_i64().filter(|s| *s > 0),
        })
    }
}

/// `what` answered without a token.
fn no_token_in(what: &str) -> GraphError {
    GraphError::Unexpected {
        status: 200,
        excerpt: format!("no access_token in {what}'s answer"),
    }
}

/// A message Meta accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub wamid: String,
    /// `wa_id` on the phone path, `user_id` on the BSUID path.
    pub recipient: Identity,
}
