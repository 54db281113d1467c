//! The field cipher: AES-256-GCM for personal data stored in the database (and, through
//! [`FieldCipher::seal`], for any byte blob such as an uploaded file).
//!
//! A sealed value is self-describing:
//!
//! ```text
//! 0x01 | key id (u32, big-endian) | nonce (12 random bytes) | ciphertext | tag (16 bytes)
//! ```
//!
//! Values in existing TEXT columns are stored as *sealed text*: the character U+0001 then the
//! sealed bytes in URL-safe base64 ([`FieldCipher::seal_text`]). No plain-text value stored
//! before encryption existed can start with U+0001 (emails, E.164 phones and names have no
//! control characters), which is how the start-up migration tells the two apart. The key id says which key of the [`KeyRing`] opens
//! it, so values sealed under different keys coexist during a rotation.
//!
//! Every seal and open names a *context* (e.g. `users.email`), bound to the ciphertext as
//! associated data: a value copied into another column does not open there.

use std::sync::Arc;

use aes_gcm::aead::{Aead, Payload};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::keyring::KeyRing;

pub const VERSION: u8 = 1;
const HEADER: usize = 1 + 4;
const NONCE: usize = 12;
const TAG: usize = 16;
/// The shortest sealed value (an empty plain text).
pub const MIN_SEALED_LEN: usize = HEADER + NONCE + TAG;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CipherError {
    #[error("the sealed value is truncated ({0} bytes, at least {MIN_SEALED_LEN} expected)")]
    Truncated(usize),
    #[error("the stored value is not sealed (unknown format version {0})")]
    UnknownVersion(u8),
    #[error("the value is sealed under key id {0}, which is not in the key ring")]
    UnknownKey(u32),
    #[error("the value does not open under key id {0} (wrong key file, or altered data)")]
    Undecryptable(u32),
    #[error("the opened value is not UTF-8 text")]
    NotText,
    #[error("the stored text is not sealed text (not U+0001 then base64)")]
    NotSealedText,
}

/// The first character of sealed text.
pub const TEXT_MARK: char = '\u{1}';

/// Seals and opens values with the keys of a [`KeyRing`]. Cheap to clone; share one.
#[derive(Clone)]
pub struct FieldCipher {
    ring: Arc<KeyRing>,
}

impl FieldCipher {
    pub fn new(ring: Arc<KeyRing>) -> Self {
        Self { ring }
    }

    pub fn ring(&self) -> &KeyRing {
        &self.ring
    }

    /// Seals `plain` under the active key.
    pub fn seal(&self, context: &str, plain: &[u8]) -> Vec<u8> {
        let (id, key) = self.ring.active();
        seal_with(id, &key, context, plain)
    }

    pub fn seal_str(&self, context: &str, plain: &str) -> Vec<u8> {
        self.seal(context, plain.as_bytes())
    }

    /// Seals `plain` under key `id` of the ring (rotation seals under its target key).
    pub fn seal_under(&self, id: u32, context: &str, plain: &[u8]) -> Result<Vec<u8>, CipherError> {
        let key = self.ring.key(id).ok_or(CipherError::UnknownKey(id))?;
        Ok(seal_with(id, &key, context, plain))
    }

    /// Opens a value sealed by [`seal`](Self::seal) under any key of the ring.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, CipherError> {
        let id = key_id(sealed)?;
        let key = self.ring.key(id).ok_or(CipherError::UnknownKey(id))?;
        let (nonce, body) = sealed[HEADER..].split_at(NONCE);
        let nonce = aes_gcm::Nonce::try_from(nonce).expect("12 bytes");
        key.decrypt(&nonce, Payload { msg: body, aad: context.as_bytes() })
            .map_err(|_| CipherError::Undecryptable(id))
    }

    pub fn open_str(&self, context: &str, sealed: &[u8]) -> Result<String, CipherError> {
        String::from_utf8(self.open(context, sealed)?).map_err(|_| CipherError::NotText)
    }

    /// Seals `plain` as text, for a TEXT column.
    pub fn seal_text(&self, context: &str, plain: &str) -> String {
        to_text(&self.seal(context, plain.as_bytes()))
    }

    /// Opens sealed text from a TEXT column.
    pub fn open_text(&self, context: &str, sealed: &str) -> Result<String, CipherError> {
        self.open_str(context, &from_text(sealed)?)
    }
}

/// Opens the sealed TEXT column `index` of a row (NULL stays None). A value that does not
/// open is a conversion error of that column, so it surfaces like any unreadable row.
pub fn open_column(
    pii: &FieldCipher,
    row: &crate::db::conn::Row<'_>,
    index: usize,
    context: &str,
) -> crate::db::conn::SqlResult<Option<String>> {
    let sealed: Option<String> = row.get(index)?;
    sealed
        .map(|s| {
            pii.open_text(context, &s).map_err(|e| crate::db::conn::SqlError::Conversion {
                column: index,
                message: e.to_string(),
            })
        })
        .transpose()
}

pub fn to_text(sealed: &[u8]) -> String {
    format!("{TEXT_MARK}{}", URL_SAFE_NO_PAD.encode(sealed))
}

/// The sealed bytes inside sealed text.
pub fn from_text(sealed: &str) -> Result<Vec<u8>, CipherError> {
    let body = sealed.strip_prefix(TEXT_MARK).ok_or(CipherError::NotSealedText)?;
    URL_SAFE_NO_PAD.decode(body).map_err(|_| CipherError::NotSealedText)
}

/// Whether a TEXT column's value is sealed text (not plain text from before encryption).
pub fn is_sealed_text(value: &str) -> bool {
    value.starts_with(TEXT_MARK)
}

/// Seals under a given key (rotation seals under its target key, not the active one).
pub fn seal_with(id: u32, key: &aes_gcm::Aes256Gcm, context: &str, plain: &[u8]) -> Vec<u8> {
    let nonce_bytes: [u8; NONCE] = rand::random();
    let nonce = aes_gcm::Nonce::from(nonce_bytes);
    let body = key
        .encrypt(&nonce, Payload { msg: plain, aad: context.as_bytes() })
        .expect("AES-GCM seals any value smaller than 64 GiB");
    let mut out = Vec::with_capacity(HEADER + NONCE + body.len());
    out.push(VERSION);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&nonce_bytes);
    out.extend_from_slice(&body);
    out
}

/// The key id a sealed value names, after checking its header and length.
pub fn key_id(sealed: &[u8]) -> Result<u32, CipherError> {
    if sealed.is_empty() {
        return Err(CipherError::Truncated(0));
    }
    if sealed[0] != VERSION {
        return Err(CipherError::UnknownVersion(sealed[0]));
    }
    if sealed.len() < MIN_SEALED_LEN {
        return Err(CipherError::Truncated(sealed.len()));
    }
    Ok(u32::from_be_bytes(sealed[1..HEADER].try_into().expect("4 bytes")))
}

/// A cipher with a fixed root key in a temporary key directory, for unit tests.
#[cfg(test)]
pub(crate) fn test_cipher() -> (tempfile::TempDir, FieldCipher) {
    let dir = tempfile::tempdir().unwrap();
    let ring = KeyRing::load(crate::keys::KeyBytes::from_bytes([7; 32]), dir.path()).unwrap();
    (dir, FieldCipher::new(Arc::new(ring)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> (tempfile::TempDir, FieldCipher) {
        test_cipher()
    }

    #[test]
    fn seals_and_opens_text_and_bytes() {
        let (_dir, c) = cipher();
        let sealed = c.seal_str("users.email", "ada@uni.example");
        assert_eq!(key_id(&sealed).unwrap(), 1);
        assert!(!sealed.windows(3).any(|w| w == b"ada"));
        assert_eq!(c.open_str("users.email", &sealed).unwrap(), "ada@uni.example");
        let blob = vec![0u8, 255, 1, 2];
        assert_eq!(c.open("upload", &c.seal("upload", &blob)).unwrap(), blob);
        assert_ne!(c.seal_str("x", "same"), c.seal_str("x", "same"), "nonces are random");
        let text = c.seal_text("users.display_name", "Ada");
        assert!(is_sealed_text(&text) && !is_sealed_text("Ada"));
        assert_eq!(c.open_text("users.display_name", &text).unwrap(), "Ada");
        assert_eq!(c.open_text("users.display_name", "Ada"), Err(CipherError::NotSealedText));
        assert_eq!(c.open_text("users.display_name", &text[..13]), Err(CipherError::Truncated(9)));
    }

    #[test]
    fn refuses_other_contexts_truncation_tampering_and_plain_text() {
        let (_dir, c) = cipher();
        let sealed = c.seal_str("users.email", "ada@uni.example");
        assert_eq!(c.open("users.phone", &sealed), Err(CipherError::Undecryptable(1)));
        assert_eq!(c.open("users.email", &sealed[..20]), Err(CipherError::Truncated(20)));
        assert_eq!(c.open("users.email", &[]), Err(CipherError::Truncated(0)));
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(c.open("users.email", &altered), Err(CipherError::Undecryptable(1)));
        let mut unknown = sealed.clone();
        unknown[4] = 9;
        assert_eq!(c.open("users.email", &unknown), Err(CipherError::UnknownKey(9)));
        assert_eq!(
            c.open("users.email", b"ada@uni.example"),
            Err(CipherError::UnknownVersion(b'a'))
        );
    }
}
