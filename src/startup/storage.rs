//! Opening storage at start-up: the database of the configured engine, checked against the
//! key files before anything is written, migrated, and its personal data prepared.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use crate::accounts::service::blind_index_keys;
use crate::config::{Config, StorageConfig, StorageEngine};
use crate::db::{self, Db, DbError};
use crate::keys::{Keys, KeysInUse};
use crate::pii::{FieldCipher, KeyRing};

use super::SEALED;

/// The database, the keys it was checked against, and the cipher of its personal data.
pub struct Opened {
    pub db: Db,
    pub keys: Keys,
    pub pii: FieldCipher,
}

/// Opens the configured database. The keys are checked against it before it is written to:
/// a lost or wrong key file stops start-up before a migration, a checkpoint or a key
/// generated in its place changes anything.
pub fn open_checked(config: &Config, now: i64) -> anyhow::Result<Opened> {
    let data_dir = &config.storage.data_dir;
    let load_keys = |in_use: KeysInUse| -> anyhow::Result<(Keys, FieldCipher, [u8; 32])> {
        let keys = Keys::load(&config.keys, data_dir, in_use).context("cannot load keys")?;
        let ring =
            KeyRing::load(keys.pii_key.clone(), data_dir).context("cannot load the PII keys")?;
        let pii = FieldCipher::new(Arc::new(ring));
        let (email_index_key, _) = blind_index_keys(keys.pii_key.expose());
        Ok((keys, pii, email_index_key))
    };
    let db = match config.storage.engine {
        StorageEngine::Sqlite => {
            let db_path = data_dir.join("gatehouse.db");
            let in_use = KeysInUse::of_database(&db_path).context("cannot load keys")?;
            let (keys, pii, email_index_key) = load_keys(in_use)?;
            crate::pii::start_checks::verify_keys_read_only(&db_path, &pii, &email_index_key)
                .context("cannot open the personal data")?;
            let db = open_database(data_dir)?;
            (db, keys, pii)
        }
        StorageEngine::Postgres => {
            let db = connect_postgres(config.storage.postgres_url.expose())?;
            let in_use = db
                .blocking_conn(|conn| Ok::<_, DbError>(KeysInUse::of_conn(conn)))?
                .context("cannot load keys")?;
            let (keys, pii, email_index_key) = load_keys(in_use)?;
            db.blocking_conn(|conn| {
                Ok::<_, DbError>(crate::pii::start_checks::verify_keys(
                    conn,
                    &pii,
                    &email_index_key,
                ))
            })?
            .context("cannot open the personal data")?;
            migrate_postgres(&db)?;
            (db, keys, pii)
        }
    };
    let (db, keys, pii) = db;
    db.blocking_conn(|conn| {
        Ok::<_, DbError>(crate::pii::start_checks::prepare(conn, &pii, SEALED, now))
    })?
    .context("cannot open the personal data")?;
    Ok(Opened { db, keys, pii })
}

/// Opens the configured database (SQLite in `data_dir`, or PostgreSQL) and applies pending
/// migrations.
pub fn open_storage(storage: &StorageConfig) -> anyhow::Result<Db> {
    match storage.engine {
        StorageEngine::Sqlite => open_database(&storage.data_dir),
        StorageEngine::Postgres => open_postgres(storage.postgres_url.expose()),
    }
}

/// Connects to PostgreSQL, checks that it sorts text bytewise and applies pending migrations
/// (one node at a time when several start together).
fn open_postgres(url: &str) -> anyhow::Result<Db> {
    let db = connect_postgres(url)?;
    migrate_postgres(&db)?;
    Ok(db)
}

fn connect_postgres(url: &str) -> anyhow::Result<Db> {
    // The message does not quote the URL, which may carry the password.
    db::open_postgres(url)
        .context("cannot connect to the PostgreSQL database named by storage.postgres_url")
}

fn migrate_postgres(db: &Db) -> anyhow::Result<()> {
    let report = db
        .blocking_postgres(db::prepare_postgres)?
        .context("cannot prepare the PostgreSQL database")?;
    if !report.applied.is_empty() {
        tracing::info!(applied = ?report.applied, "database migrated");
    }
    Ok(())
}

/// Opens the SQLite database in `data_dir` and applies pending migrations.
fn open_database(data_dir: &Path) -> anyhow::Result<Db> {
    let path = data_dir.join("gatehouse.db");
    let db = db::open(&path).with_context(|| {
        format!(
            "cannot open the database {} (is it a Gatehouse SQLite database?); nothing was changed",
            path.display()
        )
    })?;
    let mut conn = db.get()?;
    let report = db::migrate(&mut conn)
        .with_context(|| format!("cannot migrate the database {}", path.display()))?;
    if !report.applied.is_empty() {
        tracing::info!(applied = ?report.applied, "database migrated");
    }
    drop(conn);
    Ok(db)
}
