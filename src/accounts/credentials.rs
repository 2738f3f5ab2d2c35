//! Parsed credentials (emails, passwords), password hashing with argon2id,
//! and random tokens stored only as hashes.

use argon2::{
    password_hash::{
        rand_core::OsRng, rand_core::RngCore, PasswordHash, PasswordHasher, PasswordVerifier,
        SaltString,
    },
    Argon2,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use sha2::{Digest, Sha256};

use super::Error;

/// A syntactically valid email address, trimmed and lowercased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let email = raw.trim().to_lowercase();
        let valid = email.len() <= 254
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            })
            && !email.chars().any(|c| c.is_whitespace() || c.is_control());
        if valid {
            Ok(Self(email))
        } else {
            Err(Error::invalid("email", "enter a valid email address"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password that meets the policy. Never logged: `Debug` hides it.
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

pub const MIN_PASSWORD_CHARS: usize = 10;

impl Password {
    pub fn parse(raw: &str, field: &'static str) -> Result<Self, Error> {
        let chars = raw.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(Error::invalid(
                field,
                format!("use at least {MIN_PASSWORD_CHARS} characters"),
            ));
        }
        if chars > 256 {
            return Err(Error::invalid(field, "use at most 256 characters"));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn hash(&self) -> Result<String, Error> {
        hash_password(&self.0)
    }
}

fn hash_password(password: &str) -> Result<String, Error> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| Error::invalid("password", "this password cannot be used"))
}

/// Checks a password against a stored argon2 hash.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Spends the time a real verification takes, so an unknown email answers
/// as slowly as a wrong password.
pub fn verify_against_nothing(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password("a password nobody has").unwrap_or_default());
    let _ = verify_password(password, dummy);
}

/// A new random token (for the browser) and the hash we store instead.
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_lowercased_and_checked() {
        assert_eq!(
            Email::parse("  Ana@Example.COM ").unwrap().as_str(),
            "ana@example.com"
        );
        for bad in [
            "",
            "ana",
            "@example.com",
            "ana@",
            "ana@example",
            "a b@example.com",
            "ana@@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let password = Password::parse("correct horse battery", "password").unwrap();
        let hash = password.hash().unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("wrong horse battery", &hash));
        assert!(!verify_password("anything", "not a hash"));
        assert_eq!(format!("{password:?}"), "[redacted]");
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(Password::parse("short", "password").is_err());
    }

    #[test]
    fn tokens_are_random_and_stored_as_hashes() {
        let (a, hash_a) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert_eq!(hash_a, token_hash(&a));
        assert_ne!(hash_a, a);
    }
}
