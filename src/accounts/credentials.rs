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

    /// The argon2id hash to store, made on the blocking pool within the
    /// hashing bound (see [`verify_password`]).
    pub async fn hash(&self) -> Result<String, Error> {
        let password = self.0.clone();
        off_the_async_threads(move || hash_password(&password)).await
    }
}

fn hash_password(password: &str) -> Result<String, Error> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|_| Error::invalid("password", "this password cannot be used"))
}

/// Password hashes running at once: argon2 takes tens of milliseconds of
/// a core each, so a sign-in flood waits its turn here instead of taking
/// every core from webhook acknowledgements.
fn hashing_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        tokio::sync::Semaphore::new((cores / 2).max(1))
    })
}

/// Runs `work` (a hash) on the blocking pool, within the bound.
async fn off_the_async_threads<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    let _slot = hashing_slots()
        .acquire()
        .await
        .expect("the hashing semaphore is never closed");
    tokio::task::spawn_blocking(work)
        .await
        .expect("password hashing does not panic")
}

/// Checks a password against a stored argon2 hash.
pub async fn verify_password(password: &str, stored: &str) -> bool {
    let (password, stored) = (password.to_string(), stored.to_string());
    off_the_async_threads(move || verify_now(&password, &stored)).await
}

fn verify_now(password: &str, stored: &str) -> bool {
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
pub async fn verify_against_nothing(password: &str) {
    let password = password.to_string();
    off_the_async_threads(move || {
        static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let dummy =
            DUMMY.get_or_init(|| hash_password("a password nobody has").unwrap_or_default());
        let _ = verify_now(&password, dummy);
    })
    .await
}

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

    #[tokio::test]
    async fn passwords_hash_with_argon2id_and_verify() {
        let password = Password::parse("correct horse battery", "password").unwrap();
        let hash = password.hash().await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash).await);
        assert!(!verify_password("wrong horse battery", &hash).await);
        assert!(!verify_password("anything", "not a hash").await);
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
