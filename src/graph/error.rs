//! Graph API errors, read tolerantly: Meta's envelope is
//! `{"error": {"message", "type", "code", "error_subcode", "error_user_title",
//! "error_user_msg", "error_data": {"details"}, "fbtrace_id"}}`, but a proxy
//! or an outage may answer with anything.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// Meta answered with its error envelope.
    #[error("Meta error {code}{}: {message}", subcode.map(|s| format!(" ({s})")).unwrap_or_default())]
    Meta {
        status: u16,
        code: i64,
        subcode: Option<i64>,
        message: String,
        /// `error_user_title` when Meta gives one: meant for people.
        user_title: Option<String>,
        /// `error_user_msg` when Meta gives one: meant for people.
        user_message: Option<String>,
        /// `error_data.details`: what exactly was wrong, when Meta says.
        details: Option<String>,
        fbtrace_id: Option<String>,
    },
    /// No answer: connection refused, reset, or timed out.
    #[error("cannot reach Meta: {0}")]
    Transport(String),
    /// An answer that is not what the Graph API sends.
    #[error("unexpected answer from Meta (HTTP {status}): {excerpt}")]
    Unexpected { status: u16, excerpt: String },
}

impl GraphError {
    pub fn code(&self) -> Option<i64> {
        match self {
            Self::Meta { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The token is expired, invalid or revoked (OAuthException 190, or a
    /// 401 without a code): only reconnecting helps.
    pub fn is_token_problem(&self) -> bool {
        matches!(self, Self::Meta { code: 190, .. })
            || matches!(
                self,
                Self::Meta {
                    status: 401,
                    code: 0,
                    ..
                }
            )
    }

    /// Worth trying again later: Meta's rate limits, its 5xx, no answer.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transport(_) => true,
            Self::Unexpected { status, .. } => *status >= 500,
            Self::Meta { status, code, .. } => {
                *status >= 500 || matches!(code, 1 | 2 | 4 | 17 | 80007 | 130429 | 131000 | 133004)
            }
        }
    }

    /// Reads an error answer.
    pub fn from_response(status: u16, body: &[u8]) -> Self {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        match parsed
            .as_ref()
            .map(|v| &v["error"])
            .filter(|e| e.is_object())
        {
            Some(error) => Self::Meta {
                status,
                code: error["code"].as_i64().unwrap_or(0),
                subcode: error["error_subcode"].as_i64(),
                message: error["message"]
                    .as_str()
                    .unwrap_or("(no message)")
                    .to_string(),
                user_title: error["error_user_title"].as_str().map(str::to_string),
                user_message: error["error_user_msg"].as_str().map(str::to_string),
                details: error["error_data"]["details"].as_str().map(str::to_string),
                fbtrace_id: error["fbtrace_id"].as_str().map(str::to_string),
            },
            None => Self::Unexpected {
                status,
                excerpt: excerpt(body),
            },
        }
    }
}

/// The first bytes of a body, for an error message.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    text.chars().filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_envelopes_and_other_bodies_are_read() {
        let expired = br#"{"error":{"message":"Error validating access token: Session has expired","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"A1"}}"#;
        let error = GraphError::from_response(401, expired);
        assert!(error.is_token_problem());
        assert!(!error.is_transient());
        assert_eq!(error.code(), Some(190));
        assert!(error.to_string().contains("190 (463)"));

        let throttled = br#"{"error":{"message":"Rate limit hit","code":130429}}"#;
        assert!(GraphError::from_response(400, throttled).is_transient());

        let gateway = GraphError::from_response(502, b"<html>Bad gateway</html>");
        assert!(matches!(
            gateway,
            GraphError::Unexpected { status: 502, .. }
        ));
        assert!(gateway.is_transient());
        assert!(!GraphError::from_response(400, b"{}").is_transient());
    }

    #[test]
    fn words_for_people_and_details_are_kept() {
        let duplicate = br#"{"error":{"message":"Invalid parameter","type":"OAuthException","code":100,"error_subcode":2388024,"error_user_title":"Content in this language already exists","error_user_msg":"Try a different language.","error_data":{"details":"weekend_deal (en_US)"},"fbtrace_id":"A2"}}"#;
        let GraphError::Meta {
            code,
            subcode,
            user_title,
            user_message,
            details,
            ..
        } = GraphError::from_response(400, duplicate)
        else {
            panic!("Meta's envelope is read");
        };
        assert_eq!((code, subcode), (100, Some(2388024)));
        assert_eq!(
            user_title.as_deref(),
            Some("Content in this language already exists")
        );
        assert_eq!(user_message.as_deref(), Some("Try a different language."));
        assert_eq!(details.as_deref(), Some("weekend_deal (en_US)"));
    }
}
