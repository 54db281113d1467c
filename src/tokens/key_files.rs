//! The JWT signing keys on disk, and their rotation (`gatehouse keys rotate --jwt`).
//!
//! Layout, in `<data_dir>/keys/` (files 0600, 64 hex characters like the other keys):
//!
//! - `jwt_signing.key` signs new access tokens. When `keys.jwt_signing_key_file` names another
//!   file, that one does, and Gatehouse never replaces it: rotation is refused.
//! - `jwt_retired/<unix time>-<kid>.key`: a former signing key and when it was retired. It
//!   verifies the tokens it signed, and stays in the JWK set, until they have all expired:
//!   [`ACCESS_TOKEN_SECONDS`] after its retirement, plus [`RETIRED_GRACE_SECONDS`] for a token
//!   signed while a running server was switching keys. Then it is ignored, and the next
//!   rotation deletes the file.
//! - `jwt_retired/<any other name>.key`: a key retired by hand (the procedure before the
//!   command existed). Its retirement time is unknown, so it verifies until it is deleted.
//!
//! Rotation writes the new key beside the current one, copies the current one into
//! `jwt_retired/`, then renames the new one over `jwt_signing.key`. Whenever it stops, there
//! is a signing key, and every key that may have signed a live token still verifies. A
//! running server follows the change at its next use of the keys (`super::live_keys`).
//!
//! The OpenID Connect provider's RSA key follows the same pattern: `oidc_rsa.pem` signs ID
//! tokens, made at the first start; a rotation retires it as `jwt_retired/<unix time>-<kid>.pem`
//! beside the Ed25519 key, and both kinds are published in the JWK set until their tokens
//! have expired.

use std::fs;
use std::path::{Path, PathBuf};

use super::jwt::{ACCESS_TOKEN_SECONDS, RetiredKey, kid_of};
use super::rsa_key::{self, RsaKey};
use crate::config::KeysConfig;
use crate::keys::{self, KeyBytes, KeyError};

pub const SIGNING_FILE: &str = "jwt_signing.key";
pub const RSA_FILE: &str = "oidc_rsa.pem";
pub const RETIRED_DIR: &str = "jwt_retired";

/// How long past the last possible expiry a retired key still verifies: a token signed by a
/// running server just as the key was swapped under it expires up to this much later.
pub const RETIRED_GRACE_SECONDS: i64 = 60;

/// The signing key and the retired keys, as read from disk.
pub struct OnDisk {
    pub signing: KeyBytes,
    pub retired: Vec<RetiredKey>,
    /// The RSA key, once made (the server makes it at its first start).
    pub rsa: Option<RsaKey>,
    /// Retired RSA keys and until when each verifies.
    pub retired_rsa: Vec<(RsaKey, Option<i64>)>,
}

/// What a rotation did.
#[derive(Debug)]
pub struct Rotation {
    pub old_kid: String,
    pub new_kid: String,
    /// Where the former key now lives.
    pub retired_file: PathBuf,
    /// Retired keys whose tokens had all expired: their files were deleted.
    pub deleted: Vec<PathBuf>,
    /// Retired keys of unknown age (retired by hand): kept, for a person to delete.
    pub undated: Vec<PathBuf>,
    /// The RSA key's (old, new) `kid`, when there was one to rotate.
    pub rsa: Option<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error(
        "keys.jwt_signing_key_file names the JWT signing key ({path}): Gatehouse does not \
         replace a key it did not make. Copy the old key into {retired}/<unix time>-old.key, \
         then write the new one into {path}"
    )]
    Configured { path: PathBuf, retired: PathBuf },
    #[error("there is no JWT signing key at {path} yet: start Gatehouse once, which makes one")]
    NoKey { path: PathBuf },
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("cannot {what} {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
}

/// Where the JWT keys of one installation are.
#[derive(Debug, Clone)]
pub struct KeyFiles {
    keys_dir: PathBuf,
    configured: Option<PathBuf>,
}

impl KeyFiles {
    pub fn new(config: &KeysConfig, data_dir: &Path) -> Self {
        let configured = &config.jwt_signing_key_file;
        Self {
            keys_dir: data_dir.join("keys"),
            configured: (!configured.as_os_str().is_empty()).then(|| configured.clone()),
        }
    }

    /// The file that signs new tokens.
    pub fn signing_path(&self) -> PathBuf {
        self.configured.clone().unwrap_or_else(|| self.keys_dir.join(SIGNING_FILE))
    }

    pub fn retired_dir(&self) -> PathBuf {
        self.keys_dir.join(RETIRED_DIR)
    }

    /// The file of the RSA key that signs ID tokens.
    pub fn rsa_path(&self) -> PathBuf {
        self.keys_dir.join(RSA_FILE)
    }

    /// Makes the RSA key when there is none yet (the first start).
    pub fn ensure_rsa(&self) -> Result<(), KeyError> {
        rsa_key::read_or_create(&self.keys_dir, &self.rsa_path()).map(|_| ())
    }

    /// Reads the signing key and every retired key.
    pub fn load(&self) -> Result<OnDisk, KeyError> {
        let signing = keys::read_key(&self.signing_path())?;
        let (mut retired, mut retired_rsa) = (Vec::new(), Vec::new());
        for (path, retired_at) in self.retired_files()? {
            let until = retired_at.map(verifies_until);
            if is_rsa(&path) {
                retired_rsa.push((RsaKey::read(&path)?, until));
            } else {
                retired.push(RetiredKey { seed: *keys::read_key(&path)?.expose(), until });
            }
        }
        let rsa_path = self.rsa_path();
        let rsa = if rsa_path.exists() { Some(RsaKey::read(&rsa_path)?) } else { None };
        Ok(OnDisk { signing, retired, rsa, retired_rsa })
    }

    /// Every `*.key` (Ed25519) and `*.pem` (RSA) file in the retired directory (none when it
    /// does not exist) with its retirement time when its name tells it, in name order.
    fn retired_files(&self) -> Result<Vec<(PathBuf, Option<i64>)>, KeyError> {
        let dir = self.retired_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(KeyError::Read { path: dir, source }),
        };
        let mut files: Vec<(PathBuf, Option<i64>)> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "key" || e == "pem"))
            .map(|p| {
                let retired_at = retired_at(&p);
                (p, retired_at)
            })
            .collect();
        files.sort();
        Ok(files)
    }

    /// Makes a new signing key and retires the current one at `now`, then deletes retired
    /// keys whose tokens have all expired.
    pub fn rotate(&self, now: i64) -> Result<Rotation, RotateError> {
        if let Some(path) = &self.configured {
            return Err(RotateError::Configured {
                path: path.clone(),
                retired: self.retired_dir(),
            });
        }
        let signing_path = self.signing_path();
        if !signing_path.exists() {
            return Err(RotateError::NoKey { path: signing_path });
        }
        let old = keys::read_key(&signing_path)?;
        let old_kid = kid_of(old.expose());

        // A leftover of a rotation stopped before its rename never signed anything.
        let next_path = self.keys_dir.join(format!("{SIGNING_FILE}.next"));
        remove_if_present(&next_path)?;
        let new = keys::create_key(&self.keys_dir, &next_path)?;
        let retired_file = self.retired_dir().join(format!("{now}-{old_kid}.key"));
        if !retired_file.exists() {
            keys::write_key(&self.retired_dir(), &retired_file, &old)?;
        }
        // The RSA key first, then the Ed25519 one: a running server reloads when either changes.
        let rsa = self.rotate_rsa(now)?;
        fs::rename(&next_path, &signing_path).map_err(|source| RotateError::Io {
            what: "replace",
            path: signing_path.clone(),
            source,
        })?;
        sync_dir(&self.keys_dir)?;

        let mut deleted = Vec::new();
        let mut undated = Vec::new();
        for (path, retired_at) in self.retired_files()? {
            match retired_at {
                Some(at) if verifies_until(at) <= now => {
                    remove_if_present(&path)?;
                    deleted.push(path);
                }
                Some(_) => {}
                None => undated.push(path),
            }
        }
        let new_kid = kid_of(new.expose());
        Ok(Rotation { old_kid, new_kid, retired_file, deleted, undated, rsa })
    }

    /// Replaces the RSA key (when there is one) the same way: the new one beside it, the old
    /// one into `jwt_retired/`, then a rename.
    fn rotate_rsa(&self, now: i64) -> Result<Option<(String, String)>, RotateError> {
        let path = self.rsa_path();
        if !path.exists() {
            return Ok(None);
        }
        let old = RsaKey::read(&path)?;
        let next_path = self.keys_dir.join(format!("{RSA_FILE}.next"));
        remove_if_present(&next_path)?;
        let new = RsaKey::generate().map_err(|e| RotateError::Io {
            what: "make a new RSA key for",
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        new.write(&self.keys_dir, &next_path)?;
        let retired = self.retired_dir().join(format!("{now}-{}.pem", old.kid));
        if !retired.exists() {
            old.write(&self.retired_dir(), &retired)?;
        }
        fs::rename(&next_path, &path).map_err(|source| RotateError::Io {
            what: "replace",
            path: path.clone(),
            source,
        })?;
        Ok(Some((old.kid, new.kid)))
    }
}

fn is_rsa(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "pem")
}

/// Until when a key retired at `retired_at` verifies.
fn verifies_until(retired_at: i64) -> i64 {
    retired_at + ACCESS_TOKEN_SECONDS + RETIRED_GRACE_SECONDS
}

/// The retirement time in a `<unix time>-<kid>.key` name.
fn retired_at(path: &Path) -> Option<i64> {
    let stem = path.file_stem()?.to_str()?;
    let (time, _kid) = stem.split_once('-')?;
    time.parse().ok()
}

fn remove_if_present(path: &Path) -> Result<(), RotateError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(RotateError::Io { what: "delete", path: path.into(), source: e })
        }
        _ => Ok(()),
    }
}

/// Makes a rename in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), RotateError> {
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|source| RotateError::Io {
        what: "sync",
        path: dir.into(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::jwt::JwtKeys;

    fn files(dir: &Path) -> KeyFiles {
        KeyFiles::new(&KeysConfig::default(), dir)
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn rotation_retires_the_old_key_with_its_time_and_later_deletes_it() {
        let dir = tempfile::tempdir().unwrap();
        let files = files(dir.path());
        let first = keys::create_key(&dir.path().join("keys"), &files.signing_path()).unwrap();

        let rotation = files.rotate(1_000).unwrap();
        assert_eq!(rotation.old_kid, kid_of(first.expose()));
        assert_ne!(rotation.new_kid, rotation.old_kid);
        let on_disk = files.load().unwrap();
        assert_eq!(kid_of(on_disk.signing.expose()), rotation.new_kid);
        assert_eq!(on_disk.retired.len(), 1);
        assert_eq!(on_disk.retired[0].seed, *first.expose());
        assert_eq!(on_disk.retired[0].until, Some(1_000 + 15 * 60 + 60));
        assert_eq!(names(&files.retired_dir()), vec![format!("1000-{}.key", rotation.old_kid)]);
        let mode = |p: &Path| {
            std::os::unix::fs::PermissionsExt::mode(&fs::metadata(p).unwrap().permissions())
        };
        assert_eq!(mode(&rotation.retired_file) & 0o777, 0o600);
        assert_eq!(mode(&files.signing_path()) & 0o777, 0o600);
        assert_eq!(names(&dir.path().join("keys")), vec!["jwt_retired", "jwt_signing.key"]);

        // Within the window the retired key stays; after it, the next rotation deletes it.
        let second = files.rotate(1_000 + 15 * 60 + 59).unwrap();
        assert!(second.deleted.is_empty());
        assert_eq!(files.load().unwrap().retired.len(), 2);
        let third = files.rotate(1_000 + 15 * 60 + 60).unwrap();
        assert_eq!(third.deleted, vec![rotation.retired_file.clone()]);
        assert_eq!(files.load().unwrap().retired.len(), 2, "the second and third old keys");
    }

    #[test]
    fn the_rsa_key_rotates_with_the_ed25519_key_and_its_old_key_stays_published() {
        let dir = tempfile::tempdir().unwrap();
        let files = files(dir.path());
        keys::create_key(&dir.path().join("keys"), &files.signing_path()).unwrap();
        files.ensure_rsa().unwrap();
        let first = files.load().unwrap().rsa.unwrap().kid;
        let rotation = files.rotate(1_000).unwrap();
        let (old, new) = rotation.rsa.unwrap();
        assert_eq!(old, first);
        assert_ne!(new, old);
        let on_disk = files.load().unwrap();
        assert_eq!(on_disk.rsa.as_ref().unwrap().kid, new);
        assert_eq!(on_disk.retired_rsa.len(), 1);
        assert_eq!(on_disk.retired_rsa[0].0.kid, old);
        assert_eq!(on_disk.retired_rsa[0].1, Some(1_000 + 15 * 60 + 60));
        let set = JwtKeys::with_retired(on_disk.signing.expose(), &on_disk.retired, "i", "a")
            .with_rsa(on_disk.rsa.unwrap(), on_disk.retired_rsa);
        let kids: Vec<String> = set.jwks(1_000)["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect();
        assert!(kids.contains(&old) && kids.contains(&new), "{kids:?}");
        assert!(!set.jwks(1_000 + 15 * 60 + 60)["keys"].to_string().contains(&old));
        // Past the window the next rotation deletes the old RSA file too.
        let later = files.rotate(1_000 + 15 * 60 + 60).unwrap();
        assert!(later.deleted.iter().any(|p| p.to_string_lossy().ends_with(&format!("{old}.pem"))));
    }

    #[test]
    fn keys_retired_by_hand_are_kept_and_a_half_done_rotation_finishes() {
        let dir = tempfile::tempdir().unwrap();
        let files = files(dir.path());
        let keys_dir = dir.path().join("keys");
        keys::create_key(&keys_dir, &files.signing_path()).unwrap();
        let by_hand = files.retired_dir().join("old.key");
        keys::create_key(&files.retired_dir(), &by_hand).unwrap();
        // A rotation that stopped after writing its new key, before the rename.
        keys::create_key(&keys_dir, &keys_dir.join("jwt_signing.key.next")).unwrap();

        let rotation = files.rotate(5_000).unwrap();
        assert_eq!(rotation.undated, vec![by_hand.clone()]);
        let rotation = files.rotate(1_000_000).unwrap();
        assert_eq!(rotation.undated, vec![by_hand.clone()]);
        assert_eq!(rotation.deleted.len(), 1);
        let on_disk = files.load().unwrap();
        assert!(on_disk.retired.iter().any(|k| k.until.is_none()));
        assert!(!keys_dir.join("jwt_signing.key.next").exists());
    }

    #[test]
    fn tokens_signed_before_a_rotation_verify_after_it_until_they_expire() {
        let dir = tempfile::tempdir().unwrap();
        let files = files(dir.path());
        keys::create_key(&dir.path().join("keys"), &files.signing_path()).unwrap();
        let set = |files: &KeyFiles| {
            let on_disk = files.load().unwrap();
            JwtKeys::with_retired(on_disk.signing.expose(), &on_disk.retired, "iss", "aud")
        };
        let before = set(&files);
        let claims = crate::tokens::jwt::Claims {
            iss: "iss".into(),
            aud: "aud".into(),
            sub: "u".into(),
            iat: 1_000,
            exp: 1_000 + ACCESS_TOKEN_SECONDS,
            jti: "j".into(),
            fam: "f".into(),
            role: "user".into(),
            amr: vec![],
        };
        let token = before.sign(&claims).unwrap();
        files.rotate(1_000).unwrap();
        let after = set(&files);
        assert_ne!(after.kid(), before.kid());
        assert!(after.verify(&token, 1_000 + ACCESS_TOKEN_SECONDS - 1).is_ok());
        assert!(after.verify(&token, 1_000 + ACCESS_TOKEN_SECONDS).is_err());
    }

    #[test]
    fn a_configured_key_is_not_rotated_and_a_missing_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let config =
            KeysConfig { jwt_signing_key_file: dir.path().join("mine.key"), ..Default::default() };
        let err = KeyFiles::new(&config, dir.path()).rotate(0).unwrap_err();
        assert!(matches!(err, RotateError::Configured { .. }), "{err}");
        assert!(err.to_string().contains("mine.key"), "{err}");
        let err = files(dir.path()).rotate(0).unwrap_err();
        assert!(err.to_string().contains("start Gatehouse once"), "{err}");
    }
}
