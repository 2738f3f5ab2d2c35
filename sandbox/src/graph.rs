//! The Graph API surface: `/{version}/...` for any `vNN.0`, dispatched by
//! method and path segments the way Graph resolves node ids and edges.

use axum::{
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Response},
    routing::any,
    Json, Router,
};
use serde_json::Value;

use crate::{
    auth, coexistence, dialog,
    error::{GraphError, GraphResult},
    faults::{self, Effect},
    media, messages, oauth, phones, profile, subscriptions, templates, uploads, verification,
    wabas,
    world::Token,
    State as AppState,
};

pub fn routes() -> Router<AppState> {
    Router::new().route("/{version}/{*rest}", any(dispatch))
}

/// One Graph call, with its parameters from wherever Graph accepts them.
pub struct GraphRequest {
    pub method: Method,
    pub segments: Vec<String>,
    pub query: Vec<(String, String)>,
    /// The Graph version of the path (`v25.0`), for links back.
    pub version: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    form: Vec<(String, String)>,
    json: Option<Value>,
}

impl GraphRequest {
    fn new(
        method: Method,
        rest: &str,
        query: Option<String>,
        headers: HeaderMap,
        body: Bytes,
    ) -> Self {
        let query = query
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let form = if content_type.starts_with("application/x-www-form-urlencoded") {
            url::form_urlencoded::parse(&body).into_owned().collect()
        } else {
            Vec::new()
        };
        let json = if content_type.starts_with("application/json") {
            serde_json::from_slice(&body).ok()
        } else {
            None
        };
        Self {
            method,
            segments: rest
                .split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            query,
            version: String::new(),
            headers,
            body,
            form,
            json,
        }
    }

    /// A parameter from the query string, a form body or a JSON body.
    pub fn param(&self, name: &str) -> Option<String> {
        let from = |pairs: &[(String, String)]| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        from(&self.query).or_else(|| from(&self.form)).or_else(|| {
            self.json.as_ref()?.get(name).map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        })
    }

    /// The JSON body, or Meta's error for a body that is not JSON.
    pub fn json(&self) -> GraphResult<&Value> {
        self.json.as_ref().ok_or_else(|| {
            GraphError::invalid_parameter(
                "The request body must be JSON (Content-Type: application/json)",
            )
        })
    }

    pub fn token(&self) -> Option<String> {
        auth::presented_token(&self.headers, &self.query)
    }

    pub fn fields(&self) -> Option<Vec<String>> {
        self.param("fields").map(|f| {
            f.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
    }

    pub fn method_name(&self) -> &'static str {
        match self.method {
            Method::POST => "post",
            Method::DELETE => "delete",
            _ => "get",
        }
    }

    /// The object id in the path (the first segment).
    pub fn id(&self) -> &str {
        self.segments.first().map(String::as_str).unwrap_or("")
    }

    pub fn unknown_object(&self) -> GraphError {
        GraphError::unknown_object(self.method_name(), self.id())
    }
}

/// Checks the token and returns it, for calls that need one.
/// The proof of the app secret is checked as Meta does, after the token.
pub fn authorized(state: &AppState, request: &GraphRequest) -> GraphResult<Token> {
    let now = state.clock.now();
    let presented_token = request.token();
    let token = {
        let world = state.world();
        auth::require(&world, presented_token.as_deref(), now)?
    };
    let (proof, time) = (
        request.param("appsecret_proof"),
        request.param("appsecret_time"),
    );
    let presented = auth::Proof {
        proof: proof.as_deref(),
        time: time.as_deref(),
    };
    let (secret, required) = {
        let config = state.config();
        (config.app_secret.clone(), config.require_app_secret)
    };
    let token_text = presented_token.unwrap_or_default();
    let wall_clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    auth::check_proof(&secret, &token_text, &presented, required, wall_clock)?;
    Ok(token)
}

fn injected_server_error(status: u16) -> GraphError {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        GraphError::whatsapp(
            status,
            131000,
            "Something went wrong",
            "An unknown error occurred.",
        )
    } else {
        GraphError::oauth(2, "Service temporarily unavailable").with_status(status)
    }
}

fn injected_throttle(code: i64) -> GraphError {
    match code {
        4 => GraphError::oauth(4, "(#4) Application request limit reached")
            .with_status(StatusCode::TOO_MANY_REQUESTS),
        _ => GraphError::whatsapp(
            StatusCode::TOO_MANY_REQUESTS,
            130429,
            "Rate limit hit",
            "Cloud API message throughput has been reached.",
        ),
    }
}

fn is_version(v: &str) -> bool {
    v.strip_prefix('v')
        .and_then(|rest| rest.strip_suffix(".0"))
        .is_some_and(|major| !major.is_empty() && major.bytes().all(|b| b.is_ascii_digit()))
}

async fn dispatch(
    State(state): State<AppState>,
    method: Method,
    Path((version, rest)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !is_version(&version) {
        return GraphError::invalid_parameter(format!(
            "Unknown path components: /{version}/{rest}"
        ))
        .into_response();
    }
    // The OAuth dialog is a page, not a Graph node (Meta serves it from
    // www.facebook.com; the sandbox from its one origin).
    if method == Method::GET && rest == "dialog/oauth" {
        return dialog::page(&state, query).await;
    }
    let method_name = method.to_string();
    let mut request = GraphRequest::new(method, &rest, query, headers, body);
    request.version = version.clone();
    let result = match faults::graph_effect(&state, &method_name, &rest) {
        Some(Effect::ServerError { status }) => Err(injected_server_error(status)),
        Some(Effect::Throttle { code }) => Err(injected_throttle(code)),
        Some(Effect::MetaError {
            status,
            code,
            title,
        }) => Err(GraphError::whatsapp(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            code,
            title.as_deref().unwrap_or("Injected error"),
            "Injected by the sandbox's faults.",
        )),
        Some(Effect::Slow { millis }) => {
            tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
            route(&state, &request).await
        }
        None => route(&state, &request).await,
    };
    let mut response = match result {
        Ok(value) => Json(value).into_response(),
        Err(error) => error.into_response(),
    };
    if let Ok(value) = HeaderValue::from_str(&version) {
        response.headers_mut().insert("facebook-api-version", value);
    }
    response
}

async fn route(state: &AppState, request: &GraphRequest) -> GraphResult<Value> {
    let segments: Vec<&str> = request.segments.iter().map(String::as_str).collect();
    match (&request.method, segments.as_slice()) {
        (&Method::GET | &Method::POST, ["oauth", "access_token"]) => {
            oauth::access_token(state, request)
        }
        (&Method::GET, ["debug_token"]) => oauth::debug_token(state, request),
        (&Method::GET, ["me"]) => oauth::me(state, request),
        (&Method::GET, [_, "phone_numbers"]) => phones::list(state, request),
        (&Method::GET, [waba, "message_templates"]) => templates::list(state, request, waba),
        (&Method::POST, [waba, "message_templates"]) => templates::create(state, request, waba),
        (&Method::DELETE, [waba, "message_templates"]) => templates::delete(state, request, waba),
        (&Method::POST, [_, "register"]) => phones::register(state, request),
        (&Method::POST, [_, "deregister"]) => phones::deregister(state, request),
        (&Method::POST, [_, "request_code"]) => verification::request_code(state, request),
        (&Method::POST, [_, "verify_code"]) => verification::verify_code(state, request),
        (&Method::POST, [_, "smb_app_data"]) => {
            coexistence::sync::smb_app_data(state, request).await
        }
        (&Method::POST, [_, "messages"]) => messages::send(state, request).await,
        (&Method::POST, [_, "media"]) => media::upload(state, request).await,
        (_, [_, "whatsapp_business_profile"]) => profile::handle(state, request).await,
        (&Method::POST, [_, "uploads"]) => uploads::start(state, request),
        (&Method::GET, [id]) if id.starts_with("upload:") => uploads::status(state, request),
        (&Method::POST, [id]) if id.starts_with("upload:") => uploads::append(state, request),
        (&Method::GET, [id]) if media::is_media(state, id) => media::get(state, request),
        (&Method::DELETE, [_]) => media::delete(state, request),
        (_, [_, "subscribed_apps"]) => subscriptions::handle(state, request).await,
        (&Method::GET, [id]) if wabas::is_waba(state, id) => wabas::get(state, request),
        (&Method::GET, [_]) => phones::get(state, request),
        (&Method::POST, [id]) if templates::is_template(state, id) => {
            templates::edit(state, request)
        }
        (&Method::POST, [_]) => phones::update(state, request),
        _ => Err(request.unknown_object()),
    }
}
