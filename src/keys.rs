//! Key material: the session/HMAC secret, the JWT signing key seed, the PII encryption key and
//! the argon2 pepper. Each is 32 random bytes stored as hex in its own file. A key file named
//! in `[keys]` is read; otherwise the key lives in `<data_dir>/keys/` and is generated (mode
//! 0600) on first start. Key bytes never reach a log line or `Debug` output.
//!
//! Generated only on a first start: once the database holds data made with a key (password
//! hashes with the pepper, sessions and pseudonyms with the session secret, sealed values with
//! `pii.key`), a missing file stops start-up with a message naming it ([`KeysInUse`]). A fresh
//! key in its place would make every password, or every sealed value, stop working.

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::config::KeysConfig;
use crate::db::conn::{Conn, SqlResult};

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
    /// The JWT signing key at start-up. The server follows later changes on disk, and reads
    /// the retired keys itself (`tokens::key_files`).
    pub jwt_signing_seed: KeyBytes,
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
    #[error("key file {path} is not an RSA private key in PKCS#8 PEM")]
    MalformedRsa { path: PathBuf },
    #[error("{path} names PII key id {id}, but there is no key file {id}.key beside it")]
    MissingActivePii { path: PathBuf, id: u32 },
    #[error("{path} is not a PII key id (a positive whole number)")]
    MalformedActivePii { path: PathBuf },
    #[error(
        "{path}: the key file is missing, but the database depends on it ({needed_by}). Restore \
         the file from a backup (the keys/ directory of a `gatehouse backup` archive) and start \
         again. No new key was generated and nothing was changed"
    )]
    Lost { path: PathBuf, needed_by: &'static str },
    #[error(
        "cannot open the database {path} to see which keys it needs (is it a Gatehouse SQLite \
         database?): {error}; nothing was changed"
    )]
    // `error`, not `source`: the message names it already, and a source would be printed a
    // second time at the end of the error chain.
    Probe { path: PathBuf, error: rusqlite::Error },
    #[error(
        "cannot read the PostgreSQL database to see which keys it needs: {error}; nothing was changed"
    )]
    ProbePostgres { error: crate::db::conn::SqlError },
}

/// Which generated keys an existing database already depends on: those are never generated
/// anew, a missing file is [`KeyError::Lost`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct KeysInUse {
    /// Values are sealed with `pii.key` (its check value is recorded).
    pub pii: bool,
    /// Accounts exist: password hashes need the pepper; sessions, phone codes and audit
    /// pseudonyms need the session secret.
    pub accounts: bool,
}

impl KeysInUse {
    /// Reads `db_path` read-only (nothing is written, not even a WAL); a database that does
    /// not exist yet, or has no such tables yet, needs no key.
    pub fn of_database(db_path: &Path) -> Result<Self, KeyError> {
        if !db_path.exists() {
            return Ok(Self::default());
        }
        let probe = |error| KeyError::Probe { path: db_path.into(), error };
        let conn = rusqlite::Connection::open_with_flags(
            db_path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .map_err(probe)?;
        Self::read(&Conn::Sqlite(&conn)).map_err(|e| probe(e.into()))
    }

    /// The same, from a PostgreSQL database (whose migrations have perhaps not run yet).
    pub fn of_conn(conn: &Conn) -> Result<Self, KeyError> {
        Self::read(conn).map_err(|error| KeyError::ProbePostgres { error })
    }

    fn read(conn: &Conn) -> SqlResult<Self> {
        let any_row = |table: &str| -> SqlResult<bool> {
            if !conn.has_table(table)? {
                return Ok(false);
            }
            let sql = format!("SELECT EXISTS(SELECT 1 FROM {table})");
            conn.query_row(&sql, [] as [i64; 0], |r| r.get(0))
        };
        Ok(Self { pii: any_row("pii_keys")?, accounts: any_row("users")? })
    }
}

const PEPPER_NEEDED: &str = "every stored password hash was made with this pepper; a new one \
                             would make every password stop working";
const SESSION_SECRET_NEEDED: &str = "sessions, phone sign-in codes and the pseudonyms of deleted \
                                     accounts are keyed with it; a new one would sign everyone out";
const PII_NEEDED: &str = "personal data is sealed with it and the email and phone lookups are \
                          keyed with it";

impl Keys {
    /// Loads the four keys, generating the ones that are not configured and do not exist yet
    /// (a first start: nothing depends on them).
    pub fn load_or_generate(config: &KeysConfig, data_dir: &Path) -> Result<Self, KeyError> {
        Self::load(config, data_dir, KeysInUse::default())
    }

    /// Loads the four keys; generates a missing one only if `in_use` says nothing depends on
    /// it. The JWT signing key is always generated when missing: tokens it signed merely stop
    /// verifying (`gatehouse keys rotate --jwt` replaces it without breaking any).
    pub fn load(config: &KeysConfig, data_dir: &Path, in_use: KeysInUse) -> Result<Self, KeyError> {
        let dir = data_dir.join("keys");
        let load = |configured: &Path, name: &str, needed_by: Option<&'static str>| {
            if configured.as_os_str().is_empty() {
                load_or_create(&dir, &dir.join(name), needed_by)
            } else {
                read_key(configured)
            }
        };
        let accounts = |why| Some(why).filter(|_| in_use.accounts);
        Ok(Self {
            session_secret: load(
                &config.session_secret_file,
                "session_secret.key",
                accounts(SESSION_SECRET_NEEDED),
            )?,
            jwt_signing_seed: load(&config.jwt_signing_key_file, "jwt_signing.key", None)?,
            pii_key: load(
                &config.pii_key_file,
                "pii.key",
                Some(PII_NEEDED).filter(|_| in_use.pii),
            )?,
            pepper: load(&config.pepper_file, "pepper.key", accounts(PEPPER_NEEDED))?,
        })
    }
}

/// Reads the key at `path`, or makes it when it does not exist and nothing depends on it
/// (`needed_by`: what does, for the error).
fn load_or_create(
    dir: &Path,
    path: &Path,
    needed_by: Option<&'static str>,
) -> Result<KeyBytes, KeyError> {
    if path.exists() {
        return read_key(path);
    }
    if let Some(needed_by) = needed_by {
        return Err(KeyError::Lost { path: path.into(), needed_by });
    }
    create_key(dir, path)
}

/// Writes a new random key to `path` (mode 0600, in `dir` created with mode 0700); fails if the
/// file exists.
pub(crate) fn create_key(dir: &Path, path: &Path) -> Result<KeyBytes, KeyError> {
    let key = KeyBytes(rand::random());
    write_key(dir, path, &key)?;
    Ok(key)
}

/// Writes `key` to `path` (mode 0600, in `dir` created with mode 0700) and syncs it; fails if
/// the file exists.
pub(crate) fn write_key(dir: &Path, path: &Path, key: &KeyBytes) -> Result<(), KeyError> {
    fs::create_dir_all(dir)
        .and_then(|()| fs::set_permissions(dir, fs::Permissions::from_mode(0o700)))
        .map_err(|source| KeyError::CreateDir { path: dir.into(), source })?;
    let write_err = |source| KeyError::Write { path: path.into(), source };
    // create_new: two processes starting at once cannot overwrite each other's key.
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(write_err)?;
    file.write_all(format!("{}\n", hex::encode(key.0)).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(write_err)
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

    #[test]
    fn a_key_the_data_depends_on_is_never_generated_anew() {
        let dir = tempfile::tempdir().unwrap();
        Keys::load_or_generate(&KeysConfig::default(), dir.path()).unwrap();
        let in_use = KeysInUse { pii: true, accounts: true };
        for name in ["pepper.key", "session_secret.key", "pii.key"] {
            let path = dir.path().join("keys").join(name);
            let saved = fs::read(&path).unwrap();
            fs::remove_file(&path).unwrap();
            let err = Keys::load(&KeysConfig::default(), dir.path(), in_use).unwrap_err();
            assert!(matches!(&err, KeyError::Lost { path: p, .. } if *p == path), "{err}");
            assert!(err.to_string().contains("Restore the file from a backup"), "{err}");
            assert!(!path.exists(), "{name} was generated");
            fs::write(&path, saved).unwrap();
        }
        // The JWT signing key is made again: tokens it signed merely stop verifying.
        fs::remove_file(dir.path().join("keys/jwt_signing.key")).unwrap();
        Keys::load(&KeysConfig::default(), dir.path(), in_use).unwrap();
    }

    /// The probe on both engines: a database without the tables needs no key, then each
    /// table with a row needs its keys.
    #[test]
    fn keys_in_use_are_read_alike_on_both_engines() {
        let bare = rusqlite::Connection::open_in_memory().unwrap();
        assert_eq!(KeysInUse::of_conn(&Conn::Sqlite(&bare)).unwrap(), KeysInUse::default());
        if let Some((mut client, schema)) = crate::db::conn_tests::postgres_client() {
            {
                let conn = Conn::Postgres(std::cell::RefCell::new(&mut client));
                assert_eq!(KeysInUse::of_conn(&conn).unwrap(), KeysInUse::default());
            }
            crate::db::conn_tests::drop_schema(&mut client, &schema);
        }
        crate::db::conn_tests::on_both_engines(|conn| {
            assert_eq!(KeysInUse::of_conn(conn).unwrap(), KeysInUse::default());
            crate::db::conn_tests::insert_user(conn, "u1");
            let accounts = KeysInUse { pii: false, accounts: true };
            assert_eq!(KeysInUse::of_conn(conn).unwrap(), accounts);
            conn.execute(
                "INSERT INTO pii_keys (id, check_value, created_at) VALUES (1, ?1, 0)",
                [vec![1_u8]],
            )
            .unwrap();
            let both = KeysInUse { pii: true, accounts: true };
            assert_eq!(KeysInUse::of_conn(conn).unwrap(), both);
        });
    }
}
