//! The token vault: access tokens encrypted at rest with AES-256-GCM.
//!
//! Each value gets a fresh random 96-bit nonce and records the id of the key
//! that sealed it, so keys can rotate: the first key of the ring seals, any
//! key of the ring opens. The associated data binds a ciphertext to its
//! owner (workspace and row), so a ciphertext copied to another row fails to
//! open instead of lending its token to someone else.

use std::{
    io,
    path::{Path, PathBuf},
};

use aes_gcm::{
    aead::{Aead, AeadCore, KeyInit, OsRng, Payload},
    Aes256Gcm, Key, Nonce,
};
use base64::{engine::general_purpose::STANDARD as BASE64, Engine as _};

use crate::{
    config::{parse_key_ring, EncryptionKey, Mode, Settings},
    secret::Secret,
};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VaultError {
    #[error("the token vault has no encryption key")]
    NoKeys,
    #[error("no key `{0}` in TOKEN_ENCRYPTION_KEYS; it sealed a stored token, so it must stay in the ring until `server rotate-keys` has run")]
    UnknownKey(String),
    #[error("a stored token does not decrypt: it was altered or belongs to another row")]
    Tampered,
}

/// A sealed value as it is stored: key id, nonce and ciphertext (with tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// What a ciphertext is bound to. Changing the format breaks every stored
/// token, hence the version tag.
pub fn binding(workspace_id: &str, owner: &str) -> Vec<u8> {
    format!("switchboard/token/v1\0{workspace_id}\0{owner}").into_bytes()
}

/// The keys from `TOKEN_ENCRYPTION_KEYS`; the first one is active.
#[derive(Clone)]
pub struct KeyRing {
    keys: Vec<EncryptionKey>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("KeyRing").field("key_ids", &ids).finish()
    }
}

impl KeyRing {
    pub fn new(keys: Vec<EncryptionKey>) -> Result<Self, VaultError> {
        if keys.is_empty() {
            return Err(VaultError::NoKeys);
        }
        Ok(Self { keys })
    }

    pub fn active_key_id(&self) -> &str {
        &self.keys[0].id
    }

    pub fn has_key(&self, key_id: &str) -> bool {
        self.keys.iter().any(|k| k.id == key_id)
    }

    fn cipher(key: &EncryptionKey) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.key.expose()))
    }

    pub fn seal(&self, plaintext: &str, binding: &[u8]) -> Sealed {
        let key = &self.keys[0];
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = Self::cipher(key)
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: binding,
                },
            )
            .expect("AES-GCM encryption of a short value cannot fail");
        Sealed {
            key_id: key.id.clone(),
            nonce: nonce.to_vec(),
            ciphertext,
        }
    }

    pub fn open(&self, sealed: &Sealed, binding: &[u8]) -> Result<Secret<String>, VaultError> {
        let key = self
            .keys
            .iter()
            .find(|k| k.id == sealed.key_id)
            .ok_or_else(|| VaultError::UnknownKey(sealed.key_id.clone()))?;
        if sealed.nonce.len() != 12 {
            return Err(VaultError::Tampered);
        }
        let plaintext = Self::cipher(key)
            .decrypt(
                Nonce::from_slice(&sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: binding,
                },
            )
            .map_err(|_| VaultError::Tampered)?;
        String::from_utf8(plaintext)
            .map(Secret::new)
            .map_err(|_| VaultError::Tampered)
    }

    /// Opens `sealed` and seals it again under the active key; `None` when
    /// it already is under the active key.
    pub fn reseal(&self, sealed: &Sealed, binding: &[u8]) -> Result<Option<Sealed>, VaultError> {
        if sealed.key_id == self.active_key_id() {
            return Ok(None);
        }
        let plaintext = self.open(sealed, binding)?;
        Ok(Some(self.seal(plaintext.expose(), binding)))
    }
}

/// A new random key as `id:base64key`.
pub fn generate_key_entry(id: &str) -> String {
    let key = Aes256Gcm::generate_key(&mut OsRng);
    format!("{id}:{}", BASE64.encode(key))
}

/// Demo mode's key ring: read from `path`, or generated there on first run
/// (readable by the owner only), so a demo needs no configuration and its
/// tokens survive restarts.
pub fn demo_key_ring(path: &Path) -> io::Result<KeyRing> {
    let raw = match std::fs::read_to_string(path) {
        Ok(raw) => raw,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let entry = generate_key_entry("demo1");
            match write_private(path, &entry) {
                Ok(()) => entry,
                // Another process made it first: use theirs.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => read_complete(path)?,
                Err(e) => return Err(e),
            }
        }
        Err(e) => return Err(e),
    };
    let keys = parse_key_ring(raw.trim()).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })?;
    KeyRing::new(keys).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
}

/// The key ring the configuration asks for: `TOKEN_ENCRYPTION_KEYS`, or in
/// demo mode without it, a key file beside the SQLite database (or in
/// `data/`), generated on first run.
pub fn key_ring_for(config: &Settings) -> io::Result<KeyRing> {
    if !config.token_encryption_keys.is_empty() {
        return KeyRing::new(config.token_encryption_keys.clone())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()));
    }
    if config.mode == Mode::Live {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "TOKEN_ENCRYPTION_KEYS is required in live mode",
        ));
    }
    let folder = config
        .sqlite_path()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("data"));
    demo_key_ring(&folder.join(DEMO_KEY_FILE))
}

/// The demo key file's name.
pub const DEMO_KEY_FILE: &str = "token-encryption-keys";

/// Reads a key file another process is writing, once it is complete.
fn read_complete(path: &Path) -> io::Result<String> {
    for _ in 0..50 {
        let raw = std::fs::read_to_string(path)?;
        if !raw.trim().is_empty() {
            return Ok(raw);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{} stays empty", path.display()),
    ))
}

fn write_private(path: &Path, contents: &str) -> io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(entries: &str) -> KeyRing {
        KeyRing::new(parse_key_ring(entries).unwrap()).unwrap()
    }

    #[test]
    fn a_sealed_token_opens_with_its_binding_only() {
        let keys = ring(&generate_key_entry("k1"));
        let here = binding("ws-1", "number:111");
        let sealed = keys.seal("EAAG-token", &here);
        assert_eq!(sealed.key_id, "k1");
        assert_eq!(sealed.nonce.len(), 12);
        assert!(!sealed.ciphertext.windows(4).any(|w| w == b"EAAG"));
        assert_eq!(keys.open(&sealed, &here).unwrap().expose(), "EAAG-token");
        // Moved to another number or workspace, it no longer opens.
        assert_eq!(
            keys.open(&sealed, &binding("ws-1", "number:222")),
            Err(VaultError::Tampered)
        );
        assert_eq!(
            keys.open(&sealed, &binding("ws-2", "number:111")),
            Err(VaultError::Tampered)
        );
    }

    #[test]
    fn nonces_are_fresh_for_each_seal() {
        let keys = ring(&generate_key_entry("k1"));
        let a = keys.seal("same", b"x");
        let b = keys.seal("same", b"x");
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
    }

    #[test]
    fn a_flipped_bit_is_detected() {
        let keys = ring(&generate_key_entry("k1"));
        let mut sealed = keys.seal("EAAG-token", b"x");
        sealed.ciphertext[0] ^= 1;
        assert_eq!(keys.open(&sealed, b"x"), Err(VaultError::Tampered));
    }

    #[test]
    fn old_keys_open_and_reseal_moves_to_the_active_key() {
        let old = generate_key_entry("old");
        let sealed = ring(&old).seal("EAAG-token", b"x");
        let rotated = ring(&format!("{},{old}", generate_key_entry("new")));
        assert_eq!(rotated.open(&sealed, b"x").unwrap().expose(), "EAAG-token");
        let resealed = rotated.reseal(&sealed, b"x").unwrap().expect("moved");
        assert_eq!(resealed.key_id, "new");
        assert_eq!(
            rotated.open(&resealed, b"x").unwrap().expose(),
            "EAAG-token"
        );
        assert_eq!(rotated.reseal(&resealed, b"x").unwrap(), None);
        // Without the old key, its ciphertexts are named, not garbled.
        let new_only = ring(&generate_key_entry("new"));
        assert_eq!(
            new_only.open(&sealed, b"x"),
            Err(VaultError::UnknownKey("old".into()))
        );
    }

    #[test]
    fn the_demo_key_file_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/token-keys");
        let first = demo_key_ring(&path).unwrap();
        let sealed = first.seal("EAAG-token", b"x");
        let again = demo_key_ring(&path).unwrap();
        assert_eq!(again.open(&sealed, b"x").unwrap().expose(), "EAAG-token");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "garbage").unwrap();
        assert!(demo_key_ring(&path).is_err());
    }
}
