//! The PII key ring: every key that may have sealed a stored value, by id, and which one seals
//! new values.
//!
//! Layout (all files 0600, hex like the other keys):
//!
//! - key id 1 is the original `pii.key` (`<data_dir>/keys/pii.key`, or `keys.pii_key_file`).
//!   It also roots the blind indexes (email and phone lookups), which cannot be rotated without
//!   downtime, so that file is kept for good even once no value is sealed under it.
//! - key ids 2, 3, ... are `<data_dir>/keys/pii/<id>.key`, made by `gatehouse keys rotate`.
//! - `<data_dir>/keys/pii/active` holds the id that seals new values (absent: 1).
//!
//! Another process (the rotation command) may add keys and switch the active id while the
//! server runs: [`KeyRing::active`] re-reads the small `active` file on each seal, and a value
//! under an id the ring has not loaded yet makes [`KeyRing::key`] reload the directory, so
//! reads keep working during a rotation.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::KeyInit;

use crate::keys::{self, KeyBytes, KeyError};

/// The id of the original `pii.key`.
pub const ROOT_KEY_ID: u32 = 1;

pub struct KeyRing {
    dir: PathBuf,
    root: Arc<Aes256Gcm>,
    state: RwLock<Ring>,
}

struct Ring {
    keys: BTreeMap<u32, Arc<Aes256Gcm>>,
    active: u32,
}

fn aes(key: &KeyBytes) -> Arc<Aes256Gcm> {
    Arc::new(Aes256Gcm::new_from_slice(key.expose()).expect("32-byte key"))
}

impl KeyRing {
    /// The ring for `data_dir`, with `root` (the loaded `pii.key`) as key id 1. Fails with a
    /// message naming the file when a key file is unreadable or malformed, or when the active
    /// id has no key file.
    pub fn load(root: KeyBytes, data_dir: &Path) -> Result<Self, KeyError> {
        let dir = data_dir.join("keys").join("pii");
        let root = aes(&root);
        let ring = read_ring(&dir, &root)?;
        Ok(Self { dir, root, state: RwLock::new(ring) })
    }

    /// Where rotated keys and the `active` file live.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The key that seals new values now. Follows a switch made by another process.
    pub fn active(&self) -> (u32, Arc<Aes256Gcm>) {
        let cached = self.state.read().expect("key ring lock").active;
        match read_active(&self.dir) {
            Ok(id) if id == cached => {}
            Ok(_) => self.reload(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the active PII key id; keeping {cached}")
            }
        }
        let ring = self.state.read().expect("key ring lock");
        (ring.active, ring.keys[&ring.active].clone())
    }

    /// The key with this id, reloading the directory once if it is not known yet.
    pub fn key(&self, id: u32) -> Option<Arc<Aes256Gcm>> {
        if let Some(key) = self.state.read().expect("key ring lock").keys.get(&id) {
            return Some(key.clone());
        }
        self.reload();
        self.state.read().expect("key ring lock").keys.get(&id).cloned()
    }

    /// Ids of every loaded key, ascending.
    pub fn ids(&self) -> Vec<u32> {
        self.state.read().expect("key ring lock").keys.keys().copied().collect()
    }

    pub fn active_id(&self) -> u32 {
        self.active().0
    }

    fn reload(&self) {
        match read_ring(&self.dir, &self.root) {
            Ok(ring) => *self.state.write().expect("key ring lock") = ring,
            Err(e) => tracing::warn!(error = %e, "cannot reload the PII key ring"),
        }
    }

    /// Creates the next key file (0600) without making it active. Its id is above every loaded
    /// id and above `used`, the highest id ever recorded (a retired id is never reused).
    pub fn add_key(&self, used: u32) -> Result<u32, KeyError> {
        self.reload();
        let id = self.ids().last().copied().unwrap_or(ROOT_KEY_ID).max(used) + 1;
        keys::create_key(&self.dir, &key_path(&self.dir, id))?;
        self.reload();
        Ok(id)
    }

    /// Makes `id` the key that seals new values (written atomically: temp file, fsync, rename).
    pub fn set_active(&self, id: u32) -> Result<(), KeyError> {
        let path = self.dir.join("active");
        let tmp = self.dir.join("active.tmp");
        let write_err = |source| KeyError::Write { path: path.clone(), source };
        let _ = fs::remove_file(&tmp);
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(write_err)?;
        file.write_all(format!("{id}\n").as_bytes())
            .and_then(|()| file.sync_all())
            .and_then(|()| fs::rename(&tmp, &path))
            .map_err(write_err)?;
        self.reload();
        Ok(())
    }

    /// Deletes a rotated key file that nothing is sealed under any more. The root key (id 1) is
    /// never deleted: the blind indexes depend on it.
    pub fn remove_key(&self, id: u32) -> Result<bool, KeyError> {
        if id == ROOT_KEY_ID || id == self.active_id() {
            return Ok(false);
        }
        let path = key_path(&self.dir, id);
        fs::remove_file(&path).map_err(|source| KeyError::Write { path, source })?;
        self.state.write().expect("key ring lock").keys.remove(&id);
        Ok(true)
    }
}

fn key_path(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("{id}.key"))
}

fn read_active(dir: &Path) -> Result<u32, KeyError> {
    let path = dir.join("active");
    match fs::read_to_string(&path) {
        Ok(text) => match text.trim().parse::<u32>() {
            Ok(id) if id >= ROOT_KEY_ID => Ok(id),
            _ => Err(KeyError::MalformedActivePii { path }),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ROOT_KEY_ID),
        Err(source) => Err(KeyError::Read { path, source }),
    }
}

fn read_ring(dir: &Path, root: &Arc<Aes256Gcm>) -> Result<Ring, KeyError> {
    let mut keys = BTreeMap::from([(ROOT_KEY_ID, root.clone())]);
    if let Ok(entries) = fs::read_dir(dir) {
        for path in entries.flatten().map(|e| e.path()) {
            let id = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".key"))
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|id| *id > ROOT_KEY_ID);
            if let Some(id) = id {
                keys.insert(id, aes(&keys::read_key(&path)?));
            }
        }
    }
    let active = read_active(dir)?;
    if !keys.contains_key(&active) {
        return Err(KeyError::MissingActivePii { path: dir.join("active"), id: active });
    }
    Ok(Ring { keys, active })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_keys_are_found_by_another_ring_and_never_the_root_removed() {
        let data = tempfile::tempdir().unwrap();
        let root = KeyBytes::from_bytes([1; 32]);
        let server = KeyRing::load(root.clone(), data.path()).unwrap();
        assert_eq!(server.active_id(), ROOT_KEY_ID);
        let cli = KeyRing::load(root.clone(), data.path()).unwrap();
        let id = cli.add_key(1).unwrap();
        assert_eq!(id, 2);
        cli.set_active(id).unwrap();
        // The server follows the switch and finds the new key without a restart.
        assert_eq!(server.active_id(), 2);
        assert!(server.key(2).is_some());
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(data.path().join("keys/pii/2.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!cli.remove_key(ROOT_KEY_ID).unwrap());
        assert!(!cli.remove_key(2).unwrap(), "the active key stays");
    }

    #[test]
    fn an_active_id_without_its_key_file_is_a_clear_error() {
        let data = tempfile::tempdir().unwrap();
        fs::create_dir_all(data.path().join("keys/pii")).unwrap();
        fs::write(data.path().join("keys/pii/active"), "3\n").unwrap();
        let err = KeyRing::load(KeyBytes::from_bytes([1; 32]), data.path()).err().unwrap();
        assert!(matches!(err, KeyError::MissingActivePii { id: 3, .. }), "{err}");
        fs::write(data.path().join("keys/pii/active"), "three\n").unwrap();
        let err = KeyRing::load(KeyBytes::from_bytes([1; 32]), data.path()).err().unwrap();
        assert!(matches!(err, KeyError::MalformedActivePii { .. }), "{err}");
    }
}
