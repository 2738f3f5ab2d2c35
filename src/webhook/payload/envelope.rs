//! The body of a webhook: every entry and every change of it. Its shape is
//! checked here and nowhere else; each change is read into a [`Change`] as
//! the body is parsed.

use serde::Deserialize;

use super::{scalar, Change};

#[derive(Debug, Deserialize)]
pub struct Envelope {
    pub object: String,
    #[serde(default)]
    pub entry: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
pub struct Entry {
    /// The WABA id (or, for some account fields, the business id).
    #[serde(default, deserialize_with = "scalar::text_or_empty")]
    pub id: String,
    /// When Meta made the entry (Unix seconds on the wire, ms here); some
    /// payloads leave it out.
    #[serde(default, deserialize_with = "scalar::millis_or_none")]
    pub time: Option<i64>,
    #[serde(default)]
    pub changes: Vec<Change>,
}

/// Why a signed body cannot be processed (it is kept, marked rejected).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("the object is `{0}`, not whatsapp_business_account")]
    WrongObject(String),
}

pub fn parse(body: &[u8]) -> Result<Envelope, Rejection> {
    let envelope: Envelope =
        serde_json::from_slice(body).map_err(|e| Rejection::NotJson(e.to_string()))?;
    if envelope.object != "whatsapp_business_account" {
        return Err(Rejection::WrongObject(envelope.object));
    }
    Ok(envelope)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_entry_and_change_is_read() {
        let body = json!({ "object": "whatsapp_business_account", "entry": [
            { "id": "1", "changes": [{ "field": "messages", "value": {} }, { "field": "account_update", "value": {} }] },
            { "id": 2, "changes": [{ "field": "messages", "value": {}, "unknown": true }] },
        ]});
        let envelope = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(envelope.entry.len(), 2);
        assert_eq!(envelope.entry[0].changes.len(), 2);
        assert_eq!(envelope.entry[1].id, "2");
    }

    #[test]
    fn other_objects_and_non_json_are_rejected_with_a_reason() {
        assert!(matches!(parse(b"not json"), Err(Rejection::NotJson(_))));
        let page = json!({ "object": "page", "entry": [] }).to_string();
        assert_eq!(
            parse(page.as_bytes()).unwrap_err(),
            Rejection::WrongObject("page".into())
        );
    }

    #[test]
    fn a_malformed_change_is_named_as_before_in_the_kept_reason() {
        let body = br#"{"object":"whatsapp_business_account","entry":[{"changes":[null]}]}"#;
        assert_eq!(
            parse(body).unwrap_err().to_string(),
            "the body is not JSON: invalid type: null, expected struct Change at line 1 column 63"
        );
    }
}
