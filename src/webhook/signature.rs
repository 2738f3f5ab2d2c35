//! `X-Hub-Signature-256` over the exact bytes received, checked in constant
//! time against every configured app secret (so a secret can rotate), and
//! the handshake's verify token.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secret::Secret;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no X-Hub-Signature-256 header")]
    Missing,
    #[error("the signature header is not sha256=<hex>")]
    Malformed,
    #[error("the signature does not match any app secret")]
    Mismatch,
}

impl SignatureError {
    /// A label for metrics.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Malformed => "malformed",
            Self::Mismatch => "mismatch",
        }
    }
}

pub fn verify(
    secrets: &[Secret<String>],
    header: Option<&str>,
    body: &[u8],
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let hex_digest = header
        .trim()
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)?;
    let expected = hex::decode(hex_digest).map_err(|_| SignatureError::Malformed)?;
    let matches = secrets.iter().any(|secret| {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes any key");
        mac.update(body);
        // verify_slice compares in constant time.
        mac.verify_slice(&expected).is_ok()
    });
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Compares two secrets without leaking where they differ.
pub fn same_token(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    let mut difference = a.len() ^ b.len();
    for (x, y) in a.iter().zip(b.iter().cycle()) {
        difference |= usize::from(x ^ y);
    }
    difference == 0 && !b.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn any_configured_secret_verifies() {
        let secrets = vec![
            Secret::new("new".to_string()),
            Secret::new("old".to_string()),
        ];
        let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        assert_eq!(verify(&secrets, Some(&sign("old", body)), body), Ok(()));
        assert_eq!(verify(&secrets, Some(&sign("new", body)), body), Ok(()));
        assert_eq!(
            verify(&secrets, Some(&sign("other", body)), body),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn the_exact_bytes_are_signed() {
        let secrets = vec![Secret::new("s".to_string())];
        let sent = br#"{"url":"https:\/\/example.com"}"#;
        let reserialised = br#"{"url":"https://example.com"}"#;
        assert_eq!(
            verify(&secrets, Some(&sign("s", sent)), reserialised),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn missing_and_malformed_headers_are_refused() {
        let secrets = vec![Secret::new("s".to_string())];
        assert_eq!(verify(&secrets, None, b"{}"), Err(SignatureError::Missing));
        assert_eq!(
            verify(&secrets, Some("sha1=abc"), b"{}"),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(&secrets, Some("sha256=zz"), b"{}"),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(&[], Some(&sign("s", b"{}")), b"{}"),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same_token("verify-me", "verify-me"));
        assert!(!same_token("verify-m", "verify-me"));
        assert!(!same_token("verify-me!", "verify-me"));
        assert!(!same_token("", ""));
    }
}
