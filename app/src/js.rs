//! Small conversions between JavaScript values and Rust, for the browser
//! glue (WASM only).

use js_sys::JSON;
use wasm_bindgen::JsValue;

/// A value as text: a string as is, anything else as JSON (a thrown error,
/// a posted message object).
pub fn text(value: &JsValue) -> Option<String> {
    value
        .as_string()
        .or_else(|| JSON::stringify(value).ok().and_then(|s| s.as_string()))
}

/// A thrown JavaScript error in words.
pub fn error_text(error: JsValue) -> String {
    text(&error).unwrap_or_else(|| "unknown error".into())
}

/// A random 128-bit id in hex (a key that pairs or deduplicates requests,
/// not a secret).
pub fn random_id() -> String {
    (0..4)
        .map(|_| {
            format!(
                "{:08x}",
                (js_sys::Math::random() * f64::from(u32::MAX)) as u32
            )
        })
        .collect()
}
