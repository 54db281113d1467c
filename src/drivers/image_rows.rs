//! Licence images in the database (`licence_images`), for installations of several nodes on
//! PostgreSQL (SPEC section 14): an image uploaded through one node is shown by every other.
//! Each row is the image sealed whole under the PII key, as [`FileUploadStore`] seals a file;
//! SQLite installations (one node) keep the files.
//!
//! The store's calls run on the blocking pool that handles images (never on an async worker),
//! each on a pooled connection of its own. On PostgreSQL that is safe inside another
//! transaction: re-sealing an image holds its `driver_uploads` row, not this table's.
//!
//! [`FileUploadStore`]: super::uploads::FileUploadStore

use std::io;

use rusqlite::params;

use super::image_kind::ImageKind;
use super::uploads::{SEALED_FILE, UploadStore, invalid_data};
use crate::db::conn::{Optional, SqlError};
use crate::db::{Db, DbError};
use crate::pii::{FieldCipher, cipher};

pub struct DatabaseUploadStore {
    db: Db,
    pii: FieldCipher,
}

impl DatabaseUploadStore {
    pub fn new(db: Db, pii: FieldCipher) -> Self {
        Self { db, pii }
    }

    fn seal(&self, key_id: u32, plain: &[u8]) -> io::Result<Vec<u8>> {
        self.pii.seal_under(key_id, SEALED_FILE, plain).map_err(invalid_data)
    }

    fn sql<T>(
        &self,
        work: impl FnOnce(&crate::db::conn::Conn) -> Result<T, SqlError>,
    ) -> io::Result<T> {
        self.db
            .blocking_conn(|conn| work(conn).map_err(DbError::from))
            .map_err(|e| io::Error::other(e.to_string()))
    }
}

impl UploadStore for DatabaseUploadStore {
    fn put(&self, bytes: &[u8]) -> io::Result<(String, u32)> {
        let name = hex::encode(rand::random::<[u8; 16]>());
        let key_id = self.pii.ring().active_id();
        let sealed = self.seal(key_id, bytes)?;
        self.sql(|conn| {
            conn.execute(
                "INSERT INTO licence_images (name, sealed) VALUES (?1, ?2)",
                params![name, sealed],
            )
        })?;
        Ok((name, key_id))
    }

    fn get(&self, name: &str) -> io::Result<Vec<u8>> {
        let sealed: Option<Vec<u8>> = self.sql(|conn| {
            conn.query_row("SELECT sealed FROM licence_images WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()
        })?;
        let stored =
            sealed.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such upload"))?;
        // As the file store: an image stored plain (put there by hand, or by a tool that did
        // not seal) is read as it is, and start-up seals it.
        if stored.first() == Some(&cipher::VERSION) {
            self.pii.open(SEALED_FILE, &stored).map_err(invalid_data)
        } else if ImageKind::sniff(&stored).is_some() {
            Ok(stored)
        } else {
            Err(invalid_data("neither a sealed image nor an image"))
        }
    }

    fn delete(&self, name: &str) -> io::Result<()> {
        self.sql(|conn| conn.execute("DELETE FROM licence_images WHERE name = ?1", [name]))?;
        Ok(())
    }

    fn reseal(&self, name: &str, key_id: u32) -> io::Result<()> {
        let sealed = self.seal(key_id, &self.get(name)?)?;
        let changed = self.sql(|conn| {
            conn.execute(
                "UPDATE licence_images SET sealed = ?2 WHERE name = ?1",
                params![name, sealed],
            )
        })?;
        if changed == 0 {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no such upload"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The store on one engine's database: put, get, re-seal under another key, delete.
    fn round_trip(db: Db) {
        let (_keys, pii) = crate::pii::cipher::test_cipher();
        let store = DatabaseUploadStore::new(db.clone(), pii.clone());
        let image = b"\x89PNG\r\n\x1a\n a made-up image".to_vec();
        let (name, key_id) = store.put(&image).unwrap();
        assert_eq!((name.len(), key_id), (32, 1));
        assert_eq!(store.get(&name).unwrap(), image);
        let stored: Vec<u8> = db
            .blocking_conn(|conn| {
                conn.query_row("SELECT sealed FROM licence_images WHERE name = ?1", [&name], |r| {
                    r.get(0)
                })
                .map_err(DbError::from)
            })
            .unwrap();
        assert!(!stored.windows(image.len()).any(|w| w == image), "the image is stored plain");
        let newer = pii.ring().add_key(1).unwrap();
        store.reseal(&name, newer).unwrap();
        assert_eq!(store.get(&name).unwrap(), image);
        store.delete(&name).unwrap();
        store.delete(&name).unwrap();
        assert_eq!(store.get(&name).unwrap_err().kind(), io::ErrorKind::NotFound);
        assert_eq!(store.reseal(&name, newer).unwrap_err().kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn images_round_trip_sealed_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::open(&dir.path().join("images.db")).unwrap();
        crate::db::migrate(&mut db.get().unwrap()).unwrap();
        round_trip(db);
    }

    #[test]
    fn images_round_trip_sealed_on_postgres() {
        let Some((mut admin, schema)) = crate::db::conn_tests::postgres_client() else { return };
        let name = format!("images_{}", uuid::Uuid::new_v4().simple());
        admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let mut url =
            url::Url::parse(&std::env::var("GATEHOUSE_TEST_POSTGRES_URL").unwrap()).unwrap();
        url.set_path(&name);
        let db = crate::db::open_postgres(url.as_str()).unwrap();
        db.blocking_postgres(crate::db::prepare_postgres).unwrap().unwrap();
        round_trip(db);
        admin.batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)")).unwrap();
        crate::db::conn_tests::drop_schema(&mut admin, &schema);
    }
}
