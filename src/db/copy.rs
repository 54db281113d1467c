//! Copying a SQLite database into a migrated, empty PostgreSQL one (`gatehouse
//! migrate-to-postgres`, SPEC section 14), and checking the copy row by row.
//!
//! Both schemas come from twin migrations (same tables, same columns), so a table is copied
//! column by column with its explicit ids; each value is converted to the PostgreSQL column's
//! type as every query converts it ([`super::postgres::PgParam`]). The caller runs
//! [`copy_all`] inside one PostgreSQL transaction and commits only after [`verify_all`]
//! passed, so a failure anywhere leaves the target as empty as it was.

use std::collections::{BTreeMap, BTreeSet};

use ::postgres::fallible_iterator::FallibleIterator;
use ::postgres::{GenericClient, Transaction};
use anyhow::{Context, bail};
use rusqlite::Connection;
use rusqlite::types::Value;

use super::postgres::{PgParam, column_value};

/// Tables whose rows the migrations themselves insert (so a freshly migrated database holds
/// them): they may hold rows in the target, and the copy replaces them with SQLite's. A test
/// checks this list against a freshly migrated database.
pub const SEEDED_BY_MIGRATIONS: &[&str] = &["readiness_probe"];

/// Values per INSERT statement at most (PostgreSQL takes 65535 parameters): a few hundred
/// rows per round trip instead of one.
const VALUES_PER_INSERT: usize = 8_000;

/// One table as SQLite describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    pub columns: Vec<String>,
    /// The primary key's columns in key order; every column when there is none (rows are
    /// compared in that order).
    pub order_by: Vec<String>,
}

/// What the copy did to one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableReport {
    pub table: String,
    pub copied: u64,
    pub verified: u64,
}

/// `"name"`, quoted for either engine.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// SQLite's tables (not `schema_migrations` nor SQLite's own), parents before the tables
/// whose foreign keys point at them.
pub fn sqlite_tables(conn: &Connection) -> anyhow::Result<Vec<Table>> {
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' \
         ESCAPE '\\' AND name <> 'schema_migrations' ORDER BY name",
    )?;
    let names: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let mut tables = BTreeMap::new();
    let mut parents = BTreeMap::new();
    for name in names {
        let mut stmt = conn.prepare("SELECT name, pk FROM pragma_table_info(?1) ORDER BY cid")?;
        let columns: Vec<(String, i64)> =
            stmt.query_map([&name], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        let mut key: Vec<&(String, i64)> = columns.iter().filter(|(_, pk)| *pk > 0).collect();
        key.sort_by_key(|(_, pk)| *pk);
        let mut order_by: Vec<String> = key.into_iter().map(|(c, _)| c.clone()).collect();
        let columns: Vec<String> = columns.into_iter().map(|(c, _)| c).collect();
        if order_by.is_empty() {
            order_by = columns.clone();
        }
        let mut stmt =
            conn.prepare("SELECT DISTINCT \"table\" FROM pragma_foreign_key_list(?1)")?;
        let refs: BTreeSet<String> = stmt
            .query_map([&name], |r| r.get(0))?
            .collect::<Result<BTreeSet<String>, _>>()?
            .into_iter()
            .filter(|parent| *parent != name)
            .collect();
        parents.insert(name.clone(), refs);
        tables.insert(name.clone(), Table { name, columns, order_by });
    }
    let order = parents_first(&parents)?;
    Ok(order.into_iter().filter_map(|name| tables.remove(&name)).collect())
}

/// A topological order of `parents` (table → the tables it points at), ties by name; a
/// foreign key to a table that does not exist is ignored (SQLite allows one).
fn parents_first(parents: &BTreeMap<String, BTreeSet<String>>) -> anyhow::Result<Vec<String>> {
    let mut done: Vec<String> = Vec::new();
    let mut left: BTreeMap<&String, BTreeSet<&String>> = parents
        .iter()
        .map(|(t, ps)| (t, ps.iter().filter(|p| parents.contains_key(*p)).collect()))
        .collect();
    while !left.is_empty() {
        let ready: Vec<&String> =
            left.iter().filter(|(_, ps)| ps.is_empty()).map(|(t, _)| *t).collect();
        if ready.is_empty() {
            let cycle: Vec<&str> = left.keys().map(|t| t.as_str()).collect();
            bail!("the foreign keys of these tables form a cycle: {}", cycle.join(", "));
        }
        for table in ready {
            left.remove(table);
            for ps in left.values_mut() {
                ps.remove(table);
            }
            done.push(table.clone());
        }
    }
    Ok(done)
}

/// The tables of the target's schema (`current_schema()`), but `schema_migrations`.
pub fn postgres_tables(client: &mut impl GenericClient) -> anyhow::Result<BTreeSet<String>> {
    let rows = client.query(
        "SELECT table_name::text FROM information_schema.tables
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
           AND table_name <> 'schema_migrations'",
        &[],
    )?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Refuses a target that holds data: every table must be empty but `schema_migrations` and
/// the tables the migrations fill ([`SEEDED_BY_MIGRATIONS`]). The error names each table in
/// the way and its row count.
pub fn check_target_empty(client: &mut impl GenericClient) -> anyhow::Result<()> {
    let mut in_the_way = Vec::new();
    for table in postgres_tables(client)? {
        if SEEDED_BY_MIGRATIONS.contains(&table.as_str()) {
            continue;
        }
        let count: i64 =
            client.query_one(&format!("SELECT count(*) FROM {}", quoted(&table)), &[])?.get(0);
        if count > 0 {
            in_the_way.push(format!("{table} ({count} rows)"));
        }
    }
    if !in_the_way.is_empty() {
        bail!(
            "the target database is not empty: {}; migrate into a new, empty database \
             (CREATE DATABASE gatehouse TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C')",
            in_the_way.join(", ")
        );
    }
    Ok(())
}

/// Checks that both databases have the same tables (they do when both ran the same
/// migrations).
pub fn check_same_tables(tables: &[Table], client: &mut impl GenericClient) -> anyhow::Result<()> {
    let sqlite: BTreeSet<String> = tables.iter().map(|t| t.name.clone()).collect();
    let postgres = postgres_tables(client)?;
    if sqlite != postgres {
        let only_sqlite: Vec<&String> = sqlite.difference(&postgres).collect();
        let only_postgres: Vec<&String> = postgres.difference(&sqlite).collect();
        bail!(
            "the two databases do not have the same tables (only in SQLite: {only_sqlite:?}; \
             only in PostgreSQL: {only_postgres:?})"
        );
    }
    Ok(())
}

fn select_sql(table: &Table) -> String {
    let columns: Vec<String> = table.columns.iter().map(|c| quoted(c)).collect();
    let order: Vec<String> =
        table.order_by.iter().map(|c| format!("{} NULLS FIRST", quoted(c))).collect();
    format!(
        "SELECT {} FROM {} ORDER BY {}",
        columns.join(", "),
        quoted(&table.name),
        order.join(", ")
    )
}

fn insert_sql(table: &Table, rows: usize) -> String {
    let width = table.columns.len();
    let columns: Vec<String> = table.columns.iter().map(|c| quoted(c)).collect();
    let tuples: Vec<String> = (0..rows)
        .map(|r| {
            let places: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
            format!("({})", places.join(", "))
        })
        .collect();
    format!(
        "INSERT INTO {} ({}) VALUES {}",
        quoted(&table.name),
        columns.join(", "),
        tuples.join(", ")
    )
}

/// Copies every table, parents first, with its ids, into `tx` (the seeded tables' rows are
/// replaced). The rows are inserted a few hundred per statement.
pub fn copy_all(
    sqlite: &Connection,
    tables: &[Table],
    tx: &mut Transaction<'_>,
) -> anyhow::Result<Vec<TableReport>> {
    let mut reports = Vec::new();
    for table in tables {
        if SEEDED_BY_MIGRATIONS.contains(&table.name.as_str()) {
            tx.execute(&format!("DELETE FROM {}", quoted(&table.name)), &[])?;
        }
        let copied = copy_table(sqlite, table, tx)
            .with_context(|| format!("cannot copy the table {}", table.name))?;
        reports.push(TableReport { table: table.name.clone(), copied, verified: 0 });
    }
    Ok(reports)
}

fn copy_table(sqlite: &Connection, table: &Table, tx: &mut Transaction<'_>) -> anyhow::Result<u64> {
    let width = table.columns.len();
    let per_insert = (VALUES_PER_INSERT / width).max(1);
    let full = tx.prepare(&insert_sql(table, per_insert))?;
    let mut stmt = sqlite.prepare(&select_sql(table))?;
    let mut rows = stmt.query([])?;
    let mut batch: Vec<Value> = Vec::with_capacity(per_insert * width);
    let mut copied = 0u64;
    while let Some(row) = rows.next()? {
        for column in 0..width {
            batch.push(row.get::<_, Value>(column)?);
        }
        copied += 1;
        if batch.len() == per_insert * width {
            tx.execute(&full, &PgParam::refs(&PgParam::all(&batch)))?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        let rest = tx.prepare(&insert_sql(table, batch.len() / width))?;
        tx.execute(&rest, &PgParam::refs(&PgParam::all(&batch)))?;
    }
    Ok(copied)
}

/// Reads every table back from `tx` and from SQLite, both ordered by primary key, and
/// compares them value by value, then the counts; the first difference is an error naming
/// the table, the row's key and the column. Fills in each report's `verified`.
pub fn verify_all(
    sqlite: &Connection,
    tables: &[Table],
    tx: &mut Transaction<'_>,
    reports: &mut [TableReport],
) -> anyhow::Result<()> {
    for (table, report) in tables.iter().zip(reports.iter_mut()) {
        report.verified = verify_table(sqlite, table, tx)
            .with_context(|| format!("the copy of the table {} is not the same", table.name))?;
        let count: i64 =
            tx.query_one(&format!("SELECT count(*) FROM {}", quoted(&table.name)), &[])?.get(0);
        if count as u64 != report.copied || report.verified != report.copied {
            bail!(
                "the table {} has {count} rows in PostgreSQL, {} copied, {} verified",
                table.name,
                report.copied,
                report.verified
            );
        }
    }
    Ok(())
}

fn verify_table(
    sqlite: &Connection,
    table: &Table,
    tx: &mut Transaction<'_>,
) -> anyhow::Result<u64> {
    let sql = select_sql(table);
    let mut stmt = sqlite.prepare(&sql)?;
    let mut theirs = stmt.query([])?;
    let none: [&(dyn ::postgres::types::ToSql + Sync); 0] = [];
    let mut ours = tx.query_raw(sql.as_str(), none)?;
    let mut verified = 0u64;
    loop {
        let (sqlite_row, postgres_row) = (theirs.next()?, ours.next()?);
        let (sqlite_row, postgres_row) = match (sqlite_row, postgres_row) {
            (None, None) => return Ok(verified),
            (Some(_), None) => bail!("PostgreSQL has fewer rows ({verified}) than SQLite"),
            (None, Some(_)) => bail!("PostgreSQL has more rows than SQLite ({verified})"),
            (Some(s), Some(p)) => (s, p),
        };
        for (index, column) in table.columns.iter().enumerate() {
            let expected: Value = sqlite_row.get(index)?;
            let found = column_value(&postgres_row, index)?;
            if expected != found {
                let key: Vec<String> = table
                    .order_by
                    .iter()
                    .filter_map(|k| table.columns.iter().position(|c| c == k))
                    .map(|i| show(&sqlite_row.get::<_, Value>(i).unwrap_or(Value::Null)))
                    .collect();
                bail!(
                    "row {} (key {}): column {column} is {} in SQLite and {} in PostgreSQL",
                    verified + 1,
                    key.join(", "),
                    kind(&expected),
                    kind(&found)
                );
            }
        }
        verified += 1;
    }
}

/// A key for an error message (keys are ids, never personal data in the clear).
fn show(value: &Value) -> String {
    match value {
        Value::Integer(i) => i.to_string(),
        Value::Text(s) => s.chars().take(40).collect(),
        other => kind(other).to_string(),
    }
}

/// A value's kind, not the value (it may be personal data).
fn kind(value: &Value) -> String {
    match value {
        Value::Null => "NULL".into(),
        Value::Integer(_) => "an integer".into(),
        Value::Real(_) => "a real".into(),
        Value::Text(s) => format!("a text of {} bytes", s.len()),
        Value::Blob(b) => format!("a blob of {} bytes", b.len()),
    }
}

/// Moves every identity sequence of the target's schema past the largest id its table
/// holds, so that rows inserted after the copy do not collide with copied ids.
pub fn advance_sequences(tx: &mut Transaction<'_>) -> anyhow::Result<usize> {
    let identities = tx.query(
        "SELECT table_name::text, column_name::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND is_identity = 'YES'",
        &[],
    )?;
    for row in &identities {
        let (table, column): (String, String) = (row.get(0), row.get(1));
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence($1, $2), \
             coalesce((SELECT max({c}) FROM {t}), 0) + 1, false)",
            c = quoted(&column),
            t = quoted(&table),
        );
        tx.query_one(&sql, &[&quoted(&table), &column])
            .with_context(|| format!("cannot advance the id sequence of {table}.{column}"))?;
    }
    Ok(identities.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::conn_tests::{drop_schema, postgres_client};

    fn migrated_sqlite() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        crate::db::migrate(&mut conn).unwrap();
        conn
    }

    #[test]
    fn the_seeded_tables_are_those_a_fresh_migration_fills() {
        let conn = migrated_sqlite();
        let filled: Vec<String> = sqlite_tables(&conn)
            .unwrap()
            .into_iter()
            .filter(|t| {
                let sql = format!("SELECT count(*) FROM {}", quoted(&t.name));
                conn.query_row(&sql, [], |r| r.get::<_, i64>(0)).unwrap() > 0
            })
            .map(|t| t.name)
            .collect();
        assert_eq!(filled, SEEDED_BY_MIGRATIONS);
    }

    #[test]
    fn tables_come_after_the_tables_their_foreign_keys_point_at() {
        let conn = migrated_sqlite();
        let tables = sqlite_tables(&conn).unwrap();
        let at = |name: &str| tables.iter().position(|t| t.name == name).unwrap();
        assert!(at("campuses") < at("campus_domains"));
        assert!(at("campuses") < at("users"));
        assert!(at("users") < at("sessions"));
        assert!(!tables.iter().any(|t| t.name == "schema_migrations"));
        let domains = &tables[at("campus_domains")];
        assert_eq!(domains.order_by, ["domain"]);

        let parents: BTreeMap<String, BTreeSet<String>> =
            [("a", vec!["b"]), ("b", vec!["c", "gone"]), ("c", vec![])]
                .into_iter()
                .map(|(t, ps)| (t.to_string(), ps.into_iter().map(String::from).collect()))
                .collect();
        assert_eq!(parents_first(&parents).unwrap(), ["c", "b", "a"]);
        let cycle: BTreeMap<String, BTreeSet<String>> = [("a", "b"), ("b", "a")]
            .into_iter()
            .map(|(t, p)| (t.into(), [p.into()].into()))
            .collect();
        assert!(parents_first(&cycle).unwrap_err().to_string().contains("cycle"));
    }

    #[test]
    fn copies_into_postgres_verifies_and_moves_the_sequences_on() {
        let Some((mut client, schema)) = postgres_client() else { return };
        crate::db::migrate_postgres(&mut client).unwrap();
        let sqlite = migrated_sqlite();
        sqlite
            .execute_batch(
                "INSERT INTO campuses (id, name, created_at) VALUES (7, 'North', 1), (9, 'South', 2);
                 INSERT INTO campus_domains (domain, campus_id) VALUES ('n.edu', 7), ('s.edu', 9);
                 INSERT INTO users (id, email_index, email, display_name, role, created_at, campus_id)
                 VALUES ('u1', x'0100ff', 'a@n.edu', 'A\u{e9}', 'user', 5, 7);
                 INSERT INTO audit_log (id, at, actor_id, action, outcome, details)
                 VALUES (41, 3, NULL, 'test', 'success', '{}'),
                        (42, 4, 'u1', 'test', 'failure', '{\"a\":1}');",
            )
            .unwrap();
        check_target_empty(&mut client).unwrap();
        let tables = sqlite_tables(&sqlite).unwrap();
        check_same_tables(&tables, &mut client).unwrap();
        let mut tx = client.transaction().unwrap();
        let mut reports = copy_all(&sqlite, &tables, &mut tx).unwrap();
        verify_all(&sqlite, &tables, &mut tx, &mut reports).unwrap();
        assert!(advance_sequences(&mut tx).unwrap() >= 3);
        tx.commit().unwrap();
        let report = |name: &str| reports.iter().find(|r| r.table == name).unwrap().clone();
        assert_eq!(report("campuses").copied, 2);
        assert_eq!(report("audit_log").verified, 2);
        assert_eq!(report("readiness_probe").copied, 1);

        let next: i64 = client
            .query_one(
                "INSERT INTO audit_log (at, action, outcome) VALUES (5, 'next', 'success')
                 RETURNING id",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(next, 43, "a new row's id comes after the copied ones");
        let refused = check_target_empty(&mut client).unwrap_err().to_string();
        assert!(refused.contains("audit_log (3 rows)"), "{refused}");
        assert!(refused.contains("campuses (2 rows)"), "{refused}");

        // A difference is found and named by table and key, not by value.
        client.execute("DELETE FROM audit_log WHERE id = 43", &[]).unwrap();
        let mut tx = client.transaction().unwrap();
        tx.execute("UPDATE users SET display_name = 'B'", &[]).unwrap();
        let error =
            format!("{:#}", verify_all(&sqlite, &tables, &mut tx, &mut reports).unwrap_err());
        assert!(
            error.contains("users") && error.contains("u1") && error.contains("display_name"),
            "{error}"
        );
        drop(tx);
        drop_schema(&mut client, &schema);
    }
}
