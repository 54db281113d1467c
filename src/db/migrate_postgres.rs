//! Migrations on PostgreSQL: the files in `migrations/postgres/`, twins of the SQLite ones
//! by name (a test checks that every migration exists for both engines), applied in order,
//! each in its own transaction and recorded with a checksum, as on SQLite.
//!
//! Several nodes may start at once against one database: the whole run holds a session-level
//! advisory lock, so one node migrates and the others find the work done.

use ::postgres::Client;
use sha2::{Digest, Sha256};

use super::migrate::MigrationReport;

#[derive(rust_embed::RustEmbed)]
#[folder = "migrations/postgres/"]
struct PostgresMigrations;

/// The advisory lock key of the migration run (any constant; "gatehous" in ASCII).
const MIGRATION_LOCK: i64 = 0x6761_7465_686f_7573;

#[derive(Debug, thiserror::Error)]
pub enum PostgresMigrateError {
    #[error("migration {name} failed: {source}")]
    Apply { name: String, source: ::postgres::Error },
    #[error(
        "migration {name} was applied with different contents; released migrations must not be \
         edited (add a new one instead)"
    )]
    Edited { name: String },
    #[error(
        "the database sorts text by {found:?}, not bytewise: create it with LC_COLLATE 'C' \
         (CREATE DATABASE gatehouse TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'), or pages of \
         lists ordered by text would skip or repeat rows"
    )]
    Collation { found: String },
    #[error(transparent)]
    Postgres(#[from] ::postgres::Error),
}

/// The PostgreSQL migrations' names and contents, in file-name order.
pub fn postgres_migrations() -> Vec<(String, String)> {
    let mut names: Vec<String> = PostgresMigrations::iter()
        .map(|n| n.into_owned())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    names.sort();
    names
        .into_iter()
        .filter_map(|name| {
            let file = PostgresMigrations::get(&name)?;
            Some((name, String::from_utf8_lossy(&file.data).into_owned()))
        })
        .collect()
}

/// Start-up on PostgreSQL: refuses a database that does not sort text bytewise (SQLite does,
/// and paging by text keys relies on it), then applies pending migrations.
pub fn prepare_postgres(client: &mut Client) -> Result<MigrationReport, PostgresMigrateError> {
    let collation: String = client
        .query_one("SELECT datcollate FROM pg_database WHERE datname = current_database()", &[])?
        .get(0);
    if collation != "C" && collation != "POSIX" {
        return Err(PostgresMigrateError::Collation { found: collation });
    }
    migrate_postgres(client)
}

/// Applies every PostgreSQL migration not yet recorded, in order.
pub fn migrate_postgres(client: &mut Client) -> Result<MigrationReport, PostgresMigrateError> {
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
    let result = apply_all(client);
    // Unlocked whatever happened (and by the server if this connection dies).
    let _ = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]);
    result
}

fn apply_all(client: &mut Client) -> Result<MigrationReport, PostgresMigrateError> {
    client.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            name TEXT PRIMARY KEY,
            checksum TEXT NOT NULL,
            applied_at TEXT NOT NULL
        )",
    )?;
    let mut report = MigrationReport::default();
    for (name, sql) in postgres_migrations() {
        let checksum = hex::encode(Sha256::digest(sql.as_bytes()));
        let recorded = client
            .query_opt("SELECT checksum FROM schema_migrations WHERE name = $1", &[&name])?
            .map(|row| row.get::<_, String>(0));
        match recorded {
            Some(existing) if existing == checksum => report.already_applied += 1,
            Some(_) => return Err(PostgresMigrateError::Edited { name }),
            None => {
                let mut tx = client.transaction()?;
                tx.batch_execute(&sql)
                    .map_err(|source| PostgresMigrateError::Apply { name: name.clone(), source })?;
                tx.execute(
                    "INSERT INTO schema_migrations (name, checksum, applied_at)
                     VALUES ($1, $2, to_char(now() AT TIME ZONE 'UTC',
                                             'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))",
                    &[&name, &checksum],
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
    use crate::db::conn_tests::{drop_schema, postgres_client};

    #[test]
    fn every_migration_exists_for_both_engines() {
        let postgres: Vec<String> = postgres_migrations().into_iter().map(|(n, _)| n).collect();
        let sqlite = crate::db::migrate::sqlite_migration_names();
        assert_eq!(postgres, sqlite);
    }

    #[test]
    fn migrates_a_fresh_postgres_database_once_and_refuses_an_edit() {
        let Some((mut client, schema)) = postgres_client() else { return };
        let first = migrate_postgres(&mut client).unwrap();
        assert_eq!(first.applied.len(), postgres_migrations().len());
        let second = migrate_postgres(&mut client).unwrap();
        assert!(second.applied.is_empty());
        assert_eq!(second.already_applied, first.applied.len());
        client
            .execute("UPDATE schema_migrations SET checksum = 'x' WHERE name LIKE '0003%'", &[])
            .unwrap();
        assert!(matches!(
            migrate_postgres(&mut client),
            Err(PostgresMigrateError::Edited { name }) if name.starts_with("0003")
        ));
        drop_schema(&mut client, &schema);
    }
}
