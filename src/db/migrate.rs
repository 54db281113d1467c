//! Migrations: the SQL files in `migrations/`, embedded at build time, applied in file-name
//! order inside one transaction each, and recorded with a checksum. An applied migration whose
//! file has since changed stops start-up: released migrations are never edited.

use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

#[derive(rust_embed::RustEmbed)]
#[folder = "migrations/"]
struct Migrations;

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("migration {name} failed: {source}")]
    Apply { name: String, source: rusqlite::Error },
    #[error(
        "migration {name} was applied with different contents; released migrations must not be \
         edited (add a new one instead)"
    )]
    Edited { name: String },
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

#[derive(Debug, Default)]
pub struct MigrationReport {
    pub applied: Vec<String>,
    pub already_applied: usize,
}

fn sorted_migrations() -> Vec<(String, String)> {
    // The folder's own files only: `migrations/postgres/` holds the other engine's twins.
    let mut names: Vec<String> = Migrations::iter()
        .map(|n| n.into_owned())
        .filter(|n| n.ends_with(".sql") && !n.contains('/'))
        .collect();
    names.sort();
    names
        .into_iter()
        .filter_map(|name| {
            let file = Migrations::get(&name)?;
            Some((name, String::from_utf8_lossy(&file.data).into_owned()))
        })
        .collect()
}

/// The SQLite migrations' names, in order (their PostgreSQL twins must match them).
#[cfg(test)]
pub fn sqlite_migration_names() -> Vec<String> {
    sorted_migrations().into_iter().map(|(name, _)| name).collect()
}

/// The first line of a migration that rebuilds a table (see `migrate`).
const FOREIGN_KEYS_OFF: &str = "-- gatehouse: foreign_keys=off";

fn apply(
    conn: &mut Connection,
    name: &str,
    sql: &str,
    checksum: &str,
    check_keys: bool,
) -> Result<(), MigrateError> {
    let tx = crate::db::write_tx(conn)?;
    tx.execute_batch(sql)
        .map_err(|source| MigrateError::Apply { name: name.to_string(), source })?;
    if check_keys {
        let broken: i64 =
            tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0))?;
        if broken > 0 {
            return Err(MigrateError::Apply {
                name: name.to_string(),
                source: rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
                    Some(format!("{broken} rows break a foreign key after the rebuild")),
                ),
            });
        }
    }
    tx.execute(
        "INSERT INTO schema_migrations (name, checksum, applied_at)
         VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
        params![name, checksum],
    )?;
    tx.commit()?;
    Ok(())
}

/// Applies every migration not yet recorded, in order.
pub fn migrate(conn: &mut Connection) -> Result<MigrationReport, MigrateError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            name TEXT PRIMARY KEY,
            checksum TEXT NOT NULL,
            applied_at TEXT NOT NULL
        ) STRICT;",
    )?;
    let mut report = MigrationReport::default();
    for (name, sql) in sorted_migrations() {
        let checksum = hex::encode(Sha256::digest(sql.as_bytes()));
        let recorded: Option<String> = conn
            .query_row("SELECT checksum FROM schema_migrations WHERE name = ?1", [&name], |row| {
                row.get(0)
            })
            .optional()?;
        match recorded {
            Some(existing) if existing == checksum => report.already_applied += 1,
            Some(_) => return Err(MigrateError::Edited { name }),
            None => {
                // A table rebuild must not fire ON DELETE actions when the old table is dropped:
                // such a migration says so on its first line, and runs with foreign keys off
                // (which SQLite allows only outside a transaction), checked before commit.
                let rebuild = sql.starts_with(FOREIGN_KEYS_OFF);
                if rebuild {
                    conn.pragma_update(None, "foreign_keys", "OFF")?;
                }
                let applied = apply(conn, &name, &sql, &checksum, rebuild);
                if rebuild {
                    conn.pragma_update(None, "foreign_keys", "ON")?;
                }
                applied?;
                report.applied.push(name);
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_a_fresh_database_once() {
        let mut conn = Connection::open_in_memory().unwrap();
        let first = migrate(&mut conn).unwrap();
        assert!(!first.applied.is_empty());
        assert_eq!(first.already_applied, 0);
        let second = migrate(&mut conn).unwrap();
        assert!(second.applied.is_empty());
        assert_eq!(second.already_applied, first.applied.len());
        let recorded: i64 =
            conn.query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0)).unwrap();
        assert_eq!(recorded as usize, first.applied.len());
    }

    #[test]
    fn a_table_rebuild_keeps_the_rows_that_point_at_it() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        migrate(&mut conn).unwrap();
        // Roll back to before 0005 with a user and a session in place, then rebuild again.
        conn.execute_batch(
            "INSERT INTO users (id, email_index, email, display_name, role, created_at)
             VALUES ('u1', x'01', 'a@b.edu', 'A', 'user', 0);
             INSERT INTO sessions (id, token_hash, user_id, remember_me, created_at, last_seen_at, expires_at)
             VALUES ('s1', x'02', 'u1', 0, 0, 0, 1);
             DELETE FROM schema_migrations WHERE name LIKE '0005_%';",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let sessions: i64 =
            conn.query_row("SELECT count(*) FROM sessions", [], |r| r.get(0)).unwrap();
        assert_eq!(sessions, 1, "dropping the old users table must not cascade");
        let fk: i64 = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0)).unwrap();
        assert_eq!(fk, 1, "foreign keys are back on");
    }

    #[test]
    fn refuses_an_edited_migration() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        conn.execute("UPDATE schema_migrations SET checksum = 'x'", []).unwrap();
        assert!(matches!(migrate(&mut conn), Err(MigrateError::Edited { .. })));
    }

    #[test]
    fn applies_in_file_name_order() {
        let names: Vec<String> = sorted_migrations().into_iter().map(|(n, _)| n).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert!(names[0].starts_with("0001_"));
    }
}
