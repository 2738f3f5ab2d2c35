//! Time-based one-time passwords (RFC 6238 over RFC 4226): HMAC-SHA1, six
//! digits, 30-second steps, the parameters every authenticator app reads
//! from an `otpauth://` link. Secrets are written in base32 (RFC 4648,
//! unpadded), as those apps expect.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use hmac::{Hmac, Mac};
use sha1::Sha1;

pub const STEP_SECS: i64 = 30;
const DIGITS: u32 = 6;
/// Steps either side of now a code is still taken for: a phone's clock
/// a little off, or a code typed just as it changed.
const DRIFT_STEPS: i64 = 1;
const SECRET_BYTES: usize = 20;
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A shared TOTP secret. `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret([redacted])")
    }
}

impl TotpSecret {
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SECRET_BYTES];
        OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Reads a base32 secret (case, spaces and padding ignored).
    pub fn from_base32(text: &str) -> Option<Self> {
        let mut bits: u64 = 0;
        let mut held = 0u32;
        let mut bytes = Vec::new();
        for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
            let value = BASE32
                .iter()
                .position(|b| *b == c.to_ascii_uppercase() as u8)?;
            bits = (bits << 5) | value as u64;
            held += 5;
            if held >= 8 {
                held -= 8;
                bytes.push((bits >> held) as u8);
                bits &= (1 << held) - 1;
            }
        }
        (!bytes.is_empty()).then_some(Self(bytes))
    }

    pub fn to_base32(&self) -> String {
        let mut out = String::new();
        let mut bits: u64 = 0;
        let mut held = 0u32;
        for byte in &self.0 {
            bits = (bits << 8) | *byte as u64;
            held += 8;
            while held >= 5 {
                held -= 5;
                out.push(BASE32[((bits >> held) & 31) as usize] as char);
            }
            bits &= (1 << held) - 1;
        }
        if held > 0 {
            out.push(BASE32[((bits << (5 - held)) & 31) as usize] as char);
        }
        out
    }

    /// The code for time step `step` (RFC 4226's HOTP of the step).
    pub fn code_at_step(&self, step: i64) -> String {
        let mut mac =
            Hmac::<Sha1>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(&step.to_be_bytes());
        let digest = mac.finalize().into_bytes();
        let offset = (digest[digest.len() - 1] & 0x0f) as usize;
        let truncated = u32::from_be_bytes([
            digest[offset] & 0x7f,
            digest[offset + 1],
            digest[offset + 2],
            digest[offset + 3],
        ]);
        format!(
            "{:0width$}",
            truncated % 10u32.pow(DIGITS),
            width = DIGITS as usize
        )
    }

    /// The step a typed code matches near `now_secs`, if any. Spaces in
    /// the code are ignored; the caller refuses a step already used.
    pub fn matching_step(&self, code: &str, now_secs: i64) -> Option<i64> {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if code.len() != DIGITS as usize || !code.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let now = now_secs.div_euclid(STEP_SECS);
        (now - DRIFT_STEPS..=now + DRIFT_STEPS)
            .find(|step| constant_time_eq(self.code_at_step(*step).as_bytes(), code.as_bytes()))
    }

    /// The link an authenticator app reads (from a QR code, or tapped on
    /// the phone itself).
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        let label = url::form_urlencoded::byte_serialize(format!("{issuer}:{account}").as_bytes())
            .collect::<String>()
            .replace('+', "%20");
        let issuer: String = url::form_urlencoded::byte_serialize(issuer.as_bytes()).collect();
        format!(
            "otpauth://totp/{label}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}",
            self.to_base32()
        )
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 secret.
    fn rfc_secret() -> TotpSecret {
        TotpSecret(b"12345678901234567890".to_vec())
    }

    #[test]
    fn codes_match_rfc_6238_test_vectors() {
        // The RFC lists eight digits; six are their last six.
        for (time, eight_digits) in [
            (59, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ] {
            assert_eq!(
                rfc_secret().code_at_step(time / STEP_SECS),
                eight_digits[2..],
                "at {time}"
            );
        }
    }

    #[test]
    fn base32_round_trips_and_reads_what_apps_show() {
        let secret = TotpSecret::generate();
        assert_eq!(secret.to_base32().len(), 32);
        assert_eq!(TotpSecret::from_base32(&secret.to_base32()), Some(secret));
        // RFC 4648's vector: "foobar" is MZXW6YTBOI (padding dropped).
        assert_eq!(TotpSecret(b"foobar".to_vec()).to_base32(), "MZXW6YTBOI");
        assert_eq!(
            TotpSecret::from_base32("mzxw 6ytb oi=="),
            Some(TotpSecret(b"foobar".to_vec()))
        );
        assert_eq!(TotpSecret::from_base32("not base32!"), None);
        assert_eq!(TotpSecret::from_base32(""), None);
    }

    #[test]
    fn a_code_is_taken_one_step_either_side_and_no_further() {
        let secret = rfc_secret();
        let now = 1_000_000_020;
        let step = now / STEP_SECS;
        for (offset, expected) in [(-1, true), (0, true), (1, true), (-2, false), (2, false)] {
            let code = secret.code_at_step(step + offset);
            assert_eq!(
                secret.matching_step(&code, now) == Some(step + offset),
                expected,
                "offset {offset}"
            );
        }
        let spaced = secret.code_at_step(step);
        let spaced = format!("{} {}", &spaced[..3], &spaced[3..]);
        assert_eq!(secret.matching_step(&spaced, now), Some(step));
        for bad in ["", "12345", "1234567", "abcdef"] {
            assert_eq!(secret.matching_step(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn the_otpauth_link_names_issuer_account_and_parameters() {
        let uri = rfc_secret().otpauth_uri("Switchboard", "ana@example.com");
        assert_eq!(
            uri,
            "otpauth://totp/Switchboard%3Aana%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Switchboard&algorithm=SHA1&digits=6&period=30"
        );
        assert!(!format!("{:?}", rfc_secret()).contains("GEZ"));
    }
}
