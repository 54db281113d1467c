//! Key material: the session/HMAC secret, the JWT signing key seed, the PII encryption key and
//! the argon2 pepper. Each is 32 random bytes stored as hex in its own file. A key file named
//! in `[keys]` is read; otherwise the key lives in `<data_dir>/keys/` and is generated (mode
//! 0600) on first start. Key bytes never reach a log line or `Debug` output.

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::config::KeysConfig;

/// 32 bytes of secret key material.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyBytes([u8; 32]);

impl KeyBytes {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyBytes(<redacted>)")
    }
}

#[derive(Clone, Debug)]
pub struct Keys {
    pub session_secret: KeyBytes,
    pub jwt_signing_seed: KeyBytes,
    /// Former JWT signing keys (`<data_dir>/keys/jwt_retired/*.key`): they no longer sign,
    /// but tokens they signed keep verifying and their public keys stay in the JWK set.
    pub jwt_retired_seeds: Vec<KeyBytes>,
    /// `pii.key`: PII key id 1 and the root of the blind indexes (see `privacy::keyring`).
    pub pii_key: KeyBytes,
    pub pepper: KeyBytes,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot create key directory {path}: {source}")]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("cannot read key file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write key file {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("key file {path} is not 64 hex characters (32 bytes)")]
    Malformed { path: PathBuf },
    #[error("{path} names PII key id {id}, but there is no key file {id}.key beside it")]
    MissingActivePii { path: PathBuf, id: u32 },
    #[error("{path} is not a PII key id (a positive whole number)")]
    MalformedActivePii { path: PathBuf },
}

impl Keys {
    /// Loads the four keys, generating the ones that are not configured and do not exist yet.
    pub fn load_or_generate(config: &KeysConfig, data_dir: &Path) -> Result<Self, KeyError> {
        let dir = data_dir.join("keys");
        let load = |configured: &Path, name: &str| -> Result<KeyBytes, KeyError> {
            if configured.as_os_str().is_empty() {
                load_or_create(&dir, &dir.join(name))
            } else {
                read_key(configured)
            }
        };
        Ok(Self {
            session_secret: load(&config.session_secret_file, "session_secret.key")?,
            jwt_signing_seed: load(&config.jwt_signing_key_file, "jwt_signing.key")?,
            jwt_retired_seeds: retired_keys(&dir.join("jwt_retired"))?,
            pii_key: load(&config.pii_key_file, "pii.key")?,
            pepper: load(&config.pepper_file, "pepper.key")?,
        })
    }
}

/// Every `*.key` file in `dir` (none when it does not exist), in name order.
fn retired_keys(dir: &Path) -> Result<Vec<KeyBytes>, KeyError> {
    let Ok(entries) = fs::read_dir(dir) else { return Ok(Vec::new()) };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "key"))
        .collect();
    paths.sort();
    paths.iter().map(|p| read_key(p)).collect()
}

fn load_or_create(dir: &Path, path: &Path) -> Result<KeyBytes, KeyError> {
    if path.exists() {
        return read_key(path);
    }
    create_key(dir, path)
}

/// Writes a new random key to `path` (mode 0600, in `dir` created with mode 0700); fails if the
/// file exists.
pub(crate) fn create_key(dir: &Path, path: &Path) -> Result<KeyBytes, KeyError> {
    fs::create_dir_all(dir)
        .and_then(|()| fs::set_permissions(dir, fs::Permissions::from_mode(0o700)))
        .map_err(|source| KeyError::CreateDir { path: dir.into(), source })?;
    let key: [u8; 32] = rand::random();
    let write_err = |source| KeyError::Write { path: path.into(), source };
    // create_new: two processes starting at once cannot overwrite each other's key.
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(write_err)?;
    file.write_all(format!("{}\n", hex::encode(key)).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(write_err)?;
    Ok(KeyBytes(key))
}

pub(crate) fn read_key(path: &Path) -> Result<KeyBytes, KeyError> {
    let text =
        fs::read_to_string(path).map_err(|source| KeyError::Read { path: path.into(), source })?;
    if let Ok(meta) = fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(path = %path.display(), "key file is readable by other users; chmod 600 it");
    }
    let mut key = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut key)
        .map_err(|_| KeyError::Malformed { path: path.into() })?;
    Ok(KeyBytes(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_then_reads_the_same_keys() {
        let dir = tempfile::tempdir().unwrap();
        let first = Keys::load_or_generate(&KeysConfig::default(), dir.path()).unwrap();
        let again = Keys::load_or_generate(&KeysConfig::default(), dir.path()).unwrap();
        assert_eq!(first.pii_key, again.pii_key);
        assert_ne!(first.pii_key, first.pepper);
        let mode = fs::metadata(dir.path().join("keys/pii.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!format!("{first:?}").contains(&hex::encode(first.pii_key.expose())));
    }

    #[test]
    fn refuses_a_malformed_configured_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.key");
        fs::write(&path, "not hex").unwrap();
        let config = KeysConfig { pepper_file: path, ..KeysConfig::default() };
        let err = Keys::load_or_generate(&config, dir.path()).unwrap_err();
        assert!(matches!(err, KeyError::Malformed { .. }), "{err}");
    }
}
