//! The server's JWT key set, kept in step with the files: `gatehouse keys rotate --jwt` runs
//! in another process, and a running server follows it without a restart.
//!
//! Each use (signing, verifying a token not in the verified cache, the JWK set) compares the
//! identity (device, inode, size, modification time) of the signing key file and of the RSA
//! key file with the ones loaded: two `stat`s, about a microsecond each. When it changed, the files are read again
//! (`super::key_files`). A rotation replaces the file by a rename, so a reader sees the old
//! key or the new one, never half of one.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use super::jwt::JwtKeys;
use super::key_files::{KeyFiles, OnDisk};
use crate::keys::KeyError;

/// What identifies one version of the signing key file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_ns: i128,
}

fn stamp(path: &PathBuf) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(FileStamp {
        dev: meta.dev(),
        ino: meta.ino(),
        len: meta.len(),
        mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
    })
}

/// The stamps of the Ed25519 signing key file and of the RSA key file.
type Stamps = (Option<FileStamp>, Option<FileStamp>);

struct Loaded {
    stamp: Stamps,
    keys: Arc<JwtKeys>,
}

pub struct LiveJwtKeys {
    files: KeyFiles,
    signing_path: PathBuf,
    rsa_path: PathBuf,
    issuer: String,
    audience: String,
    loaded: RwLock<Loaded>,
}

impl LiveJwtKeys {
    /// Reads the keys now (making the RSA key at the first start); fails with a message
    /// naming the file when one is unreadable.
    pub fn open(files: KeyFiles, issuer: &str, audience: &str) -> Result<Self, KeyError> {
        files.ensure_rsa()?;
        let (signing_path, rsa_path) = (files.signing_path(), files.rsa_path());
        let stamp = (stamp(&signing_path), stamp(&rsa_path));
        let keys = Arc::new(key_set(files.load()?, issuer, audience));
        Ok(Self {
            files,
            signing_path,
            rsa_path,
            issuer: issuer.into(),
            audience: audience.into(),
            loaded: RwLock::new(Loaded { stamp, keys }),
        })
    }

    /// The key set as the files are now.
    pub fn current(&self) -> Arc<JwtKeys> {
        let stamp = (stamp(&self.signing_path), stamp(&self.rsa_path));
        {
            let loaded = self.loaded.read().unwrap_or_else(|e| e.into_inner());
            if loaded.stamp == stamp {
                return loaded.keys.clone();
            }
        }
        let mut loaded = self.loaded.write().unwrap_or_else(|e| e.into_inner());
        if loaded.stamp == stamp {
            return loaded.keys.clone();
        }
        // Whatever happens, this version of the file is not read again: a broken file is
        // reported once, not on every request.
        loaded.stamp = stamp;
        match self.files.load() {
            Ok(on_disk) => {
                let keys = Arc::new(key_set(on_disk, &self.issuer, &self.audience));
                if keys.kid() != loaded.keys.kid() {
                    tracing::info!(
                        kid = keys.kid(),
                        previous_kid = loaded.keys.kid(),
                        "JWT signing key changed on disk: new access tokens are signed with it; \
                         the previous key verifies until its tokens expire"
                    );
                }
                loaded.keys = keys;
            }
            Err(error) => tracing::error!(
                %error,
                "cannot read the JWT keys again; the ones loaded before stay in use"
            ),
        }
        loaded.keys.clone()
    }
}

fn key_set(on_disk: OnDisk, issuer: &str, audience: &str) -> JwtKeys {
    let keys = JwtKeys::with_retired(on_disk.signing.expose(), &on_disk.retired, issuer, audience);
    match on_disk.rsa {
        Some(rsa) => keys.with_rsa(rsa, on_disk.retired_rsa),
        None => keys,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KeysConfig;
    use crate::tokens::rsa_key::RsaKey;

    #[test]
    fn a_new_rsa_key_on_disk_is_followed_without_the_ed25519_key_changing() {
        let dir = tempfile::tempdir().unwrap();
        let files = KeyFiles::new(&KeysConfig::default(), dir.path());
        crate::keys::create_key(&dir.path().join("keys"), &files.signing_path()).unwrap();
        let live = LiveJwtKeys::open(files.clone(), "iss", "aud").unwrap();
        let before = live.current().rsa_kid().unwrap().to_string();
        let ed25519 = live.current().kid().to_string();
        std::fs::remove_file(files.rsa_path()).unwrap();
        let next = RsaKey::generate().unwrap();
        next.write(&dir.path().join("keys"), &files.rsa_path()).unwrap();
        let after = live.current();
        assert_eq!(after.rsa_kid(), Some(next.kid.as_str()));
        assert_ne!(after.rsa_kid(), Some(before.as_str()));
        assert_eq!(after.kid(), ed25519);
    }
}
