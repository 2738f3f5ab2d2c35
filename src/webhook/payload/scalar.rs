//! Meta's scalars, read loosely: ids and timestamps come as strings in the
//! documentation but as numbers in some payloads, and any may be missing.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A string, or a number written as one.
pub fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A string only (for names and enumerations, which are never numbers).
pub fn string(value: &Value) -> Option<String> {
    value.as_str().map(str::to_string)
}

/// Meta's Unix-seconds timestamps, as milliseconds.
pub fn millis(value: &Value) -> Option<i64> {
    text(value)
        .and_then(|t| t.parse::<i64>().ok())
        .and_then(|secs| secs.checked_mul(1000))
}

/// For serde: [`text`], `None` when the field is neither.
pub fn text_or_none<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Ok(text(&Value::deserialize(deserializer)?))
}

/// For serde: an integer, or one written as a string; `None` otherwise.
pub fn integer_or_none<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    Ok(text(&Value::deserialize(deserializer)?).and_then(|t| t.parse().ok()))
}

/// For serde: [`millis`], or `None` when the field is not a timestamp.
pub fn millis_or_none<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    Ok(millis(&Value::deserialize(deserializer)?))
}

/// For serde: [`text`], or empty when the field is neither.
pub fn text_or_empty<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(text(&Value::deserialize(deserializer)?).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_are_read_as_strings_and_other_shapes_as_nothing() {
        assert_eq!(
            text(&json!("106540352242922")).as_deref(),
            Some("106540352242922")
        );
        assert_eq!(
            text(&json!(106540352242922_u64)).as_deref(),
            Some("106540352242922")
        );
        assert_eq!(text(&json!({ "id": 1 })), None);
        assert_eq!(string(&json!(5)), None);
        assert_eq!(millis(&json!("1700000000")), Some(1_700_000_000_000));
        assert_eq!(millis(&json!(1700000000)), Some(1_700_000_000_000));
        assert_eq!(millis(&json!("soon")), None);
        assert_eq!(millis(&Value::Null), None);
    }
}
