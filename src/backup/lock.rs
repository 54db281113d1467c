//! The data dir's lock: `<data_dir>/gatehouse.lock`, held (an advisory `flock`) by a serving
//! Gatehouse for as long as it runs, so that `gatehouse restore` can tell that a server is
//! using the data dir and refuse. The kernel releases it when the process ends, however it
//! ends, so a crash leaves no stale lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

pub const LOCK_FILE: &str = "gatehouse.lock";

/// Held while alive.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    path: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "a Gatehouse server is running on the data directory {} (it holds {}); stop it first \
         (e.g. `systemctl stop gatehouse`)",
        dir.display(),
        LOCK_FILE
    )]
    InUse { dir: PathBuf },
    #[error("cannot lock {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

impl DataDirLock {
    /// Takes the lock at once or fails with [`LockError::InUse`].
    pub fn acquire(data_dir: &Path) -> Result<Self, LockError> {
        let path = data_dir.join(LOCK_FILE);
        let io = |source| LockError::Io { path: path.clone(), source };
        let file =
            OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file, path }),
            Err(TryLockError::WouldBlock) => Err(LockError::InUse { dir: data_dir.to_path_buf() }),
            Err(TryLockError::Error(e)) => Err(io(e)),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        assert!(matches!(DataDirLock::acquire(dir.path()), Err(LockError::InUse { .. })));
        drop(first);
        DataDirLock::acquire(dir.path()).unwrap();
    }
}
