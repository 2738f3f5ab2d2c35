//! Meta's error envelope, written from the sandbox's own definitions:
//! `{"error":{"message","type","code","error_subcode"?,"error_data"?,"fbtrace_id"}}`
//! with the HTTP status Meta uses for each code.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct GraphError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: i64,
    pub subcode: Option<i64>,
    pub message: String,
    pub details: Option<String>,
    /// Meta's `WWW-Authenticate` header on OAuth failures.
    pub www_authenticate: Option<&'static str>,
    /// `error_user_title` and `error_user_msg`: text meant for people.
    pub user_text: Option<Box<(String, String)>>,
}

impl GraphError {
    fn new(status: StatusCode, kind: &'static str, code: i64, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            code,
            subcode: None,
            message: message.into(),
            details: None,
            www_authenticate: None,
            user_text: None,
        }
    }

    pub fn with_user_text(mut self, title: &str, message: &str) -> Self {
        self.user_text = Some(Box::new((title.to_string(), message.to_string())));
        self
    }

    pub fn with_subcode(mut self, subcode: i64) -> Self {
        self.subcode = Some(subcode);
        self
    }

    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }

    /// 100/33: the id does not exist or the token may not see it.
    pub fn unknown_object(method: &str, id: &str) -> Self {
        let mut error = Self::new(
            StatusCode::BAD_REQUEST,
            "GraphMethodException",
            100,
            format!(
                "Unsupported {method} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
            ),
        )
        .with_subcode(33);
        error.www_authenticate =
            Some("OAuth \"Facebook Platform\" \"invalid_request\" \"Unsupported request\"");
        error
    }

    /// 100: *Require App Secret* is on and the call has no proof.
    pub fn proof_required() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "GraphMethodException",
            100,
            "API calls from the server require an appsecret_proof argument",
        )
    }

    /// 100: the proof does not match the token (or its time has passed).
    /// Meta's wording for this one is not confirmed.
    pub fn proof_invalid() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "GraphMethodException",
            100,
            "Invalid appsecret_proof provided in the API argument",
        )
    }

    /// 100: a missing or invalid parameter.
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "OAuthException",
            100,
            format!("(#100) {}", message.into()),
        )
    }

    /// 100: the exchange's `redirect_uri` is not the one of the OAuth
    /// dialog request (for a JS SDK code: any `redirect_uri` at all).
    pub fn redirect_uri_mismatch() -> Self {
        let mut error = Self::oauth(
            100,
            "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
        );
        error.www_authenticate = Some(
            "OAuth \"Facebook Platform\" \"invalid_code\" \"Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request\"",
        );
        error
    }

    /// 190 without a subcode: a token that is not one of ours at all.
    pub fn unparsable_token() -> Self {
        Self::oauth(
            190,
            "Invalid OAuth access token - Cannot parse access token",
        )
    }

    pub fn token_expired(expired_at: &str, now: &str) -> Self {
        Self::oauth(
            190,
            format!("Error validating access token: Session has expired on {expired_at}. The current time is {now}."),
        )
        .with_subcode(463)
    }

    pub fn token_revoked() -> Self {
        Self::oauth(
            190,
            "Error validating access token: The user has not authorized application.",
        )
        .with_subcode(458)
    }

    pub fn missing_token() -> Self {
        Self::oauth(
            2500,
            "An active access token must be used to query information about the current user.",
        )
        .with_status(StatusCode::BAD_REQUEST)
    }

    /// An `OAuthException`; HTTP 401 for token codes (0, 190), else 400.
    pub fn oauth(code: i64, message: impl Into<String>) -> Self {
        let status = if matches!(code, 0 | 190) {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        };
        let mut error = Self::new(status, "OAuthException", code, message);
        if code == 190 {
            error.www_authenticate = Some(
                "OAuth \"Facebook Platform\" \"invalid_token\" \"Invalid OAuth access token\"",
            );
        }
        error
    }

    /// A WhatsApp error: message prefixed `(#code)`, details in `error_data`.
    pub fn whatsapp(
        status: StatusCode,
        code: i64,
        title: &str,
        details: impl Into<String>,
    ) -> Self {
        Self::new(status, "OAuthException", code, format!("(#{code}) {title}"))
            .with_details(details)
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn body(&self) -> Value {
        let mut error = json!({
            "message": self.message,
            "type": self.kind,
            "code": self.code,
            "fbtrace_id": "ASandboxTraceId0000000",
        });
        if let Some(subcode) = self.subcode {
            error["error_subcode"] = json!(subcode);
        }
        if let Some(text) = &self.user_text {
            let (title, message) = text.as_ref();
            error["error_user_title"] = json!(title);
            error["error_user_msg"] = json!(message);
        }
        if let Some(details) = &self.details {
            error["error_data"] = json!({"messaging_product": "whatsapp", "details": details});
            error["is_transient"] = json!(matches!(
                self.code,
                1 | 2 | 4 | 80007 | 130429 | 131000 | 131016 | 131056
            ));
        }
        json!({ "error": error })
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if let Some(value) = self.www_authenticate {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(value));
        }
        response
    }
}

pub type GraphResult<T> = Result<T, GraphError>;
