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
    let mut names: Vec<String> =
        Migrations::iter().map(|n| n.into_owned()).filter(|n| n.ends_with(".sql")).collect();
    names.sort();
    names
        .into_iter()
        .filter_map(|name| {
            let file = Migrations::get(&name)?;
            Some((name, String::from_utf8_lossy(&file.data).into_owned()))
        })
        .collect()
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
                let tx = crate::db::write_tx(conn)?;
                tx.execute_batch(&sql)
                    .map_err(|source| MigrateError::Apply { name: name.clone(), source })?;
                tx.execute(
                    "INSERT INTO schema_migrations (name, checksum, applied_at)
                     VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                    params![name, checksum],
                )?;
                tx.commit()?;
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
