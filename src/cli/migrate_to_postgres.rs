//! `gatehouse migrate-to-postgres --to URL` (SPEC section 14): copies this installation's
//! SQLite database into an empty PostgreSQL database, checks the copy row by row, and says
//! how to switch. The keys stay files (every node needs a copy); the copy itself is
//! [`crate::db::copy`].
//!
//! It refuses, before writing anything, unless the server is stopped (the data dir's lock),
//! the SQLite database has exactly this binary's migrations, and the target holds no data.
//! Everything is copied and checked in one PostgreSQL transaction, committed only when every
//! table matches, so a failure leaves the target empty.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};

use super::load;
use crate::backup::lock::DataDirLock;
use crate::config::StorageEngine;
use crate::db::copy::{self, TableReport};

pub(super) fn migrate_to_postgres(file: Option<&Path>, to: &str) -> anyhow::Result<()> {
    let config = load(file)?;
    if config.storage.engine == StorageEngine::Postgres {
        bail!(
            "this installation already runs on PostgreSQL (storage.engine = \"postgres\"); \
             migrate-to-postgres copies a SQLite installation"
        );
    }
    let data_dir = &config.storage.data_dir;
    let path = data_dir.join("gatehouse.db");
    if !path.is_file() {
        bail!("there is no SQLite database at {} to migrate", path.display());
    }
    let target = redacted(to);
    let _lock = DataDirLock::acquire(data_dir)
        .context("the server must be stopped while its database is copied")?;

    let sqlite = crate::db::open(&path)
        .with_context(|| format!("cannot open the database {}", path.display()))?;
    let sqlite = sqlite.get()?;
    check_fully_migrated(&sqlite, &path)?;
    // One read transaction: every table is read, and read again for the check, as of one
    // moment, even if a CLI command writes meanwhile.
    let snapshot = sqlite.unchecked_transaction()?;
    let tables = copy::sqlite_tables(&snapshot)?;

    let postgres = crate::db::open_postgres(to)
        .with_context(|| format!("cannot connect to the PostgreSQL database {target}"))?;
    let (reports, sequences, elapsed) = postgres
        .blocking_postgres(|client| -> anyhow::Result<_> {
            crate::db::prepare_postgres(client)
                .with_context(|| format!("cannot prepare the PostgreSQL database {target}"))?;
            copy::check_target_empty(client)?;
            copy::check_same_tables(&tables, client)?;
            let started = Instant::now();
            let mut tx = client.transaction()?;
            let mut reports = copy::copy_all(&snapshot, &tables, &mut tx)?;
            copy::verify_all(&snapshot, &tables, &mut tx, &mut reports)?;
            reports.push(copy_licence_images(&snapshot, data_dir, &mut tx)?);
            let sequences = copy::advance_sequences(&mut tx)?;
            tx.commit().context("cannot commit the copy")?;
            Ok((reports, sequences, started.elapsed()))
        })
        .with_context(|| format!("cannot use the PostgreSQL database {target}"))?
        .with_context(|| {
            format!("nothing was copied into {target} (its tables are as empty as they were)")
        })?;
    drop(snapshot);

    print_summary(&path, &target, &reports, sequences, elapsed);
    print_next_steps(data_dir, &target);
    Ok(())
}

/// Copies the licence images, sealed files in the data dir's `uploads/` on SQLite, into
/// `licence_images` as they are stored (sealed under the key their row names: the keys
/// travel as files), and reads each back to compare. A file missing for a row, or one still
/// plain from before images were sealed, stops the copy.
fn copy_licence_images(
    sqlite: &rusqlite::Connection,
    data_dir: &Path,
    tx: &mut postgres::Transaction<'_>,
) -> anyhow::Result<copy::TableReport> {
    let mut stmt = sqlite.prepare("SELECT path, key_id FROM driver_uploads ORDER BY path")?;
    let rows: Vec<(String, Option<i64>)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    let insert = tx.prepare("INSERT INTO licence_images (name, sealed) VALUES ($1, $2)")?;
    let read_back = tx.prepare("SELECT sealed FROM licence_images WHERE name = $1")?;
    let mut report = copy::TableReport {
        table: "licence_images (from uploads/)".into(),
        copied: 0,
        verified: 0,
    };
    for (name, key_id) in rows {
        if key_id.is_none() {
            bail!(
                "licence image {name} is still stored plain: start the server once on SQLite \
                 (start-up seals such images), then migrate"
            );
        }
        let file = data_dir.join("uploads").join(&name);
        let sealed = std::fs::read(&file)
            .with_context(|| format!("cannot read the licence image {}", file.display()))?;
        tx.execute(&insert, &[&name, &sealed])?;
        report.copied += 1;
        let stored: Vec<u8> = tx.query_one(&read_back, &[&name])?.get(0);
        if stored != sealed {
            bail!("licence image {name} differs after the copy");
        }
        report.verified += 1;
    }
    Ok(report)
}

/// Refuses a SQLite database whose migrations are not exactly this binary's: one that lacks
/// some (run `gatehouse migrate`) or has some this binary does not know (a newer version
/// wrote it), since the PostgreSQL twins would then have other tables or columns.
fn check_fully_migrated(conn: &rusqlite::Connection, path: &Path) -> anyhow::Result<()> {
    let mut expected = rusqlite::Connection::open_in_memory()?;
    crate::db::migrate(&mut expected).context("this binary's migrations")?;
    let applied = |conn: &rusqlite::Connection| -> anyhow::Result<Vec<(String, String)>> {
        if !crate::db::has_table(conn, "schema_migrations")? {
            return Ok(Vec::new());
        }
        let mut stmt =
            conn.prepare("SELECT name, checksum FROM schema_migrations ORDER BY name")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    };
    let (found, expected) = (applied(conn)?, applied(&expected)?);
    let missing: Vec<&str> =
        expected.iter().filter(|m| !found.contains(m)).map(|(n, _)| n.as_str()).collect();
    let unknown: Vec<&str> =
        found.iter().filter(|m| !expected.contains(m)).map(|(n, _)| n.as_str()).collect();
    if !unknown.is_empty() {
        bail!(
            "the database {} has migrations this gatehouse does not have ({}): migrate with the \
             version that wrote it",
            path.display(),
            unknown.join(", ")
        );
    }
    if !missing.is_empty() {
        bail!(
            "the database {} is not fully migrated ({} of this version's migrations are not \
             applied, from {}): run `gatehouse migrate` first",
            path.display(),
            missing.len(),
            missing[0]
        );
    }
    Ok(())
}

/// The URL without its password (for messages; the password is never printed).
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        // A key=value connection string, or not a URL at all: say which database by none of
        // its text, which may hold a password.
        Err(_) => "(the --to connection string)".to_string(),
    }
}

fn print_summary(
    path: &Path,
    target: &str,
    reports: &[TableReport],
    sequences: usize,
    elapsed: std::time::Duration,
) {
    println!("Copied {} into {target}:", path.display());
    let width = reports.iter().map(|r| r.table.len()).max().unwrap_or(5).max(5);
    println!("  {:width$}  {:>10}  {:>10}", "table", "copied", "verified");
    for r in reports {
        println!("  {:width$}  {:>10}  {:>10}", r.table, r.copied, r.verified);
    }
    let rows: u64 = reports.iter().map(|r| r.copied).sum();
    println!(
        "{rows} rows in {} tables copied and verified row by row in {:.2} s, in one transaction; \
         {sequences} id sequences moved past the copied ids.",
        reports.len(),
        elapsed.as_secs_f64()
    );
}

fn print_next_steps(data_dir: &Path, target: &str) {
    println!(
        "\nTo switch, set in the configuration of every node (and keep this SQLite file as it \
         is, as a fallback):\n\n  [storage]\n  engine = \"postgres\"\n  postgres_url = \
         \"{target}\"   # with its password, or postgres_url_file\n\nEvery node needs a copy of \
         {keys}: the keys stay files, they are not in the database (the licence images now \
         are, sealed).",
        keys = data_dir.join("keys").display(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_never_shown() {
        assert_eq!(
            redacted("postgres://gh:s3cret@db.example.edu:5432/gatehouse"),
            "postgres://gh:***@db.example.edu:5432/gatehouse"
        );
        assert_eq!(redacted("postgres://gh@db/gatehouse"), "postgres://gh@db/gatehouse");
        assert!(!redacted("host=db password=s3cret").contains("s3cret"));
    }
}
