//! Server functions, grouped by what they own; a page that calls them has
//! the same module name in `crate::pages`. Each is thin: who is asking
//! (session, role, workspace), then one engine call, then a view type.
//! Every one of them must be listed in the server's refusal test.

/// Text fields of an upload form (captions, ids, keys) are short: at most
/// this many bytes each...
#[cfg(feature = "ssr")]
pub(crate) const MAX_TEXT_FIELD_BYTES: usize = 64 * 1024;
/// ...and this many of them.
#[cfg(feature = "ssr")]
pub(crate) const MAX_FORM_FIELDS: usize = 16;

/// Reads a multipart text field of at most [`MAX_TEXT_FIELD_BYTES`]; `$bad`
/// makes the refusal from a message. A macro: the field's type (multer's)
/// is not one this crate names.
#[cfg(feature = "ssr")]
macro_rules! bounded_text_field {
    ($field:expr, $name:expr, $bad:expr) => {{
        let mut value = Vec::new();
        let mut too_long = false;
        while let Some(chunk) = $field.chunk().await.map_err(|e| $bad(e.to_string()))? {
            if value.len() + chunk.len() > $crate::api::MAX_TEXT_FIELD_BYTES {
                too_long = true;
                break;
            }
            value.extend_from_slice(&chunk);
        }
        if too_long {
            Err($bad(format!("The field {} is too long.", $name)))
        } else {
            String::from_utf8(value).map_err(|_| $bad(format!("The field {} is not text.", $name)))
        }
    }};
}
#[cfg(feature = "ssr")]
pub(crate) use bounded_text_field;

pub mod account;
pub mod api_keys;
pub mod api_reference;
pub mod audit;
pub mod bot;
pub mod conversations;
pub mod costs;
pub mod health;
pub mod installation;
pub mod members;
pub mod onboarding;
pub mod outgoing_webhooks;
pub mod profile;
pub mod templates;
pub mod tokens;
pub mod two_factor;
pub mod webhook_events;
