//! The engine's error: what went wrong, for the UI and the integration API
//! to answer in their own terms. When Meta refused, Meta's answer is kept
//! as it came (code, subcode, message, details), with what was asked of it.

use std::fmt;

use crate::{graph::GraphError, store, tokens::TokenError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("sign in to continue")]
    Unauthenticated,
    #[error("you do not have access to this")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("{message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// Deliberately the same for an unknown email and a wrong password.
    #[error("the email or the password is incorrect")]
    InvalidCredentials,
    #[error("too many sign-in attempts; try again in {} minutes", (retry_after_secs + 59) / 60)]
    RateLimited { retry_after_secs: i64 },
    #[error("this installation already has an owner; ask for an invite")]
    AlreadySetUp,
    /// The operator requires owners to sign in with a second factor, and
    /// this owner has none yet.
    #[error("owners here must use two-factor sign-in: set it up in Settings first")]
    SecondFactorRequired,
    /// Meta refused a call, or could not be reached (boxed: Meta's answer
    /// is large, every other error small).
    #[error("{0}")]
    Meta(Box<MetaRefusal>),
    /// Meta cannot be asked at all: the number is disconnected, has no
    /// live sibling, or its token cannot be opened. The message says what
    /// to do.
    #[error("{0}")]
    NotConnected(String),
    #[error("storage error: {0}")]
    Store(#[from] store::Error),
}

impl Error {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }

    /// Meta refused `call` (or did not answer) with `error`.
    pub fn meta(call: MetaCall, error: GraphError) -> Self {
        Self::Meta(Box::new(MetaRefusal { call, error }))
    }
}

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        Self::Store(store::Error::Database(error))
    }
}

/// A token that cannot be opened means reconnecting; a storage failure
/// while reading it is a storage failure.
impl From<TokenError> for Error {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::Store(error) => Self::Store(error),
            other => Self::NotConnected(other.to_string()),
        }
    }
}

/// What Switchboard asked of Meta when Meta refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaCall {
    /// Change a number's business profile or its picture.
    EditProfile,
    /// Read a WhatsApp Business Account's templates.
    ListTemplates,
    /// Create, edit or delete a template.
    ChangeTemplate,
    /// Upload a file to send.
    UploadMedia,
    /// Subscribe the app to a WhatsApp Business Account's webhooks.
    Subscribe,
}

/// Meta's answer to one call, kept whole; it reads as one sentence for
/// people (with Meta's words for people when it gave them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaRefusal {
    pub call: MetaCall,
    pub error: GraphError,
}

impl fmt::Display for MetaRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let error = &self.error;
        let for_people = match error {
            GraphError::Meta {
                user_message: Some(text),
                ..
            } => Some(text),
            _ => None,
        };
        match self.call {
            MetaCall::EditProfile if error.is_token_problem() => f.write_str(
                "Meta no longer accepts this number's access token; reconnect it on the onboarding page.",
            ),
            MetaCall::EditProfile => match error {
                GraphError::Meta { message, .. } => write!(
                    f,
                    "Meta refused the change: {}",
                    for_people.unwrap_or(message)
                ),
                other => write!(f, "Meta could not be reached: {other}"),
            },
            MetaCall::ChangeTemplate => match for_people {
                Some(text) => write!(f, "Meta refused the template: {text}"),
                None => write!(f, "Meta refused the template: {error}"),
            },
            MetaCall::ListTemplates => write!(f, "Meta did not list the templates: {error}"),
            MetaCall::UploadMedia => write!(f, "Meta did not take the file: {error}"),
            MetaCall::Subscribe => write!(f, "Meta did not subscribe the app: {error}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(user_message: Option<&str>) -> GraphError {
        GraphError::Meta {
            status: 400,
            code: 100,
            subcode: None,
            message: "Invalid parameter".into(),
            user_title: None,
            user_message: user_message.map(str::to_string),
            details: None,
            fbtrace_id: None,
        }
    }

    #[test]
    fn a_refusal_reads_with_meta_s_words_for_people_when_given() {
        let said = |call, error| Error::meta(call, error).to_string();
        assert_eq!(
            said(MetaCall::EditProfile, refused(Some("Too long."))),
            "Meta refused the change: Too long."
        );
        assert_eq!(
            said(MetaCall::EditProfile, refused(None)),
            "Meta refused the change: Invalid parameter"
        );
        assert_eq!(
            said(MetaCall::ChangeTemplate, refused(None)),
            "Meta refused the template: Meta error 100: Invalid parameter"
        );
        assert_eq!(
            said(MetaCall::UploadMedia, refused(Some("Too long."))),
            "Meta did not take the file: Meta error 100: Invalid parameter"
        );
        let down = GraphError::Transport("connection refused".into());
        assert_eq!(
            said(MetaCall::EditProfile, down.clone()),
            "Meta could not be reached: cannot reach Meta: connection refused"
        );
        assert_eq!(
            said(MetaCall::ListTemplates, down),
            "Meta did not list the templates: cannot reach Meta: connection refused"
        );
    }
}
