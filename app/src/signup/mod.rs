//! Embedded Signup in the browser: the `WA_EMBEDDED_SIGNUP` messages
//! (read here, testable on any target) and the FB JS SDK glue (`browser`,
//! WASM only).

#[cfg(feature = "hydrate")]
pub mod browser;

use serde_json::Value;

/// What the signup window reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignupMessage {
    /// `FINISH` or one of its variants, with the assets shared.
    Finish {
        event: String,
        waba_id: String,
        phone_number_id: Option<String>,
        business_id: Option<String>,
    },
    /// The person closed the flow at `current_step`.
    Cancel { current_step: Option<String> },
    /// The person reported an error (v3/v4: a CANCEL with `error_message`;
    /// v2: `ERROR`).
    Error {
        message: String,
        code: Option<String>,
    },
}

/// Reads a window message. `None` for anything that is not an Embedded
/// Signup message from an allowed origin: the origin must match exactly
/// (a suffix check would let `https://evilfacebook.com` in), and the data
/// must be JSON with `type: "WA_EMBEDDED_SIGNUP"`.
pub fn read_message(origin: &str, allowed: &[String], data: &str) -> Option<SignupMessage> {
    if !allowed.iter().any(|a| a == origin) {
        return None;
    }
    let message: Value = serde_json::from_str(data).ok()?;
    if message["type"].as_str()? != "WA_EMBEDDED_SIGNUP" {
        return None;
    }
    let event = message["event"].as_str()?;
    let data = &message["data"];
    let text = |key: &str| -> Option<String> {
        match &data[key] {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    if event.starts_with("FINISH") {
        // A FINISH without a WABA cannot be onboarded; say so.
        return Some(match text("waba_id") {
            Some(waba_id) => SignupMessage::Finish {
                event: event.to_string(),
                waba_id,
                phone_number_id: text("phone_number_id"),
                business_id: text("business_id"),
            },
            None => SignupMessage::Error {
                message: format!(
                    "The signup finished ({event}) without sharing a WhatsApp Business Account."
                ),
                code: None,
            },
        });
    }
    match (event, text("error_message")) {
        ("CANCEL" | "ERROR", Some(message)) => Some(SignupMessage::Error {
            message,
            code: text("error_code").or_else(|| text("error_id")),
        }),
        ("CANCEL", None) => Some(SignupMessage::Cancel {
            current_step: text("current_step"),
        }),
        ("ERROR", None) => Some(SignupMessage::Error {
            message: "The signup window reported an error.".into(),
            code: None,
        }),
        _ => None,
    }
}

/// A step name such as `PHONE_NUMBER_SETUP`, in words.
pub fn step_in_words(step: &str) -> String {
    let words = step.to_lowercase().replace('_', " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        vec![
            "https://www.facebook.com".into(),
            "https://web.facebook.com".into(),
        ]
    }

    #[test]
    fn only_exact_origins_and_signup_json_count() {
        let finish = r#"{"type":"WA_EMBEDDED_SIGNUP","event":"FINISH","data":{"phone_number_id":"106540352242922","waba_id":"524126980791429","business_id":"2729063490586005"}}"#;
        assert!(read_message("https://www.facebook.com", &allowed(), finish).is_some());
        for origin in [
            "https://evilfacebook.com",
            "https://www.facebook.com.evil.example",
            "http://www.facebook.com",
            "null",
        ] {
            assert_eq!(read_message(origin, &allowed(), finish), None, "{origin}");
        }
        assert_eq!(
            read_message("https://www.facebook.com", &allowed(), "not json"),
            None
        );
        assert_eq!(
            read_message(
                "https://www.facebook.com",
                &allowed(),
                r#"{"type":"OTHER"}"#
            ),
            None
        );
    }

    #[test]
    fn finish_variants_cancel_and_errors_are_read() {
        let origin = "https://web.facebook.com";
        let only_waba = r#"{"type":"WA_EMBEDDED_SIGNUP","event":"FINISH_ONLY_WABA","data":{"waba_id":"524126980791429"}}"#;
        assert_eq!(
            read_message(origin, &allowed(), only_waba),
            Some(SignupMessage::Finish {
                event: "FINISH_ONLY_WABA".into(),
                waba_id: "524126980791429".into(),
                phone_number_id: None,
                business_id: None,
            })
        );
        let cancel = r#"{"type":"WA_EMBEDDED_SIGNUP","event":"CANCEL","data":{"current_step":"PHONE_NUMBER_SETUP"}}"#;
        assert_eq!(
            read_message(origin, &allowed(), cancel),
            Some(SignupMessage::Cancel {
                current_step: Some("PHONE_NUMBER_SETUP".into())
            })
        );
        let reported = r#"{"type":"WA_EMBEDDED_SIGNUP","event":"CANCEL","data":{"error_message":"Number in use","error_code":"524126","session_id":"f3","timestamp":"1"}}"#;
        assert_eq!(
            read_message(origin, &allowed(), reported),
            Some(SignupMessage::Error {
                message: "Number in use".into(),
                code: Some("524126".into())
            })
        );
        let legacy =
            r#"{"type":"WA_EMBEDDED_SIGNUP","event":"ERROR","data":{"error_message":"Oops"}}"#;
        assert!(matches!(
            read_message(origin, &allowed(), legacy),
            Some(SignupMessage::Error { .. })
        ));
        let no_waba = r#"{"type":"WA_EMBEDDED_SIGNUP","event":"FINISH","data":{}}"#;
        assert!(matches!(
            read_message(origin, &allowed(), no_waba),
            Some(SignupMessage::Error { .. })
        ));
        assert_eq!(step_in_words("PHONE_NUMBER_SETUP"), "Phone number setup");
    }
}
