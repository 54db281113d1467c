//! Which stored columns hold sealed personal data, and the row-by-row work on them shared by
//! the start-up migration (seal what is still plain text) and key rotation (re-seal under the
//! active key): both walk a table in primary-key order, a batch per write transaction, so a
//! concurrent writer never has its change overwritten by a stale copy (on PostgreSQL the
//! batch's rows are read `FOR UPDATE`: another node's change waits for the batch, or the
//! batch for it, instead of being overwritten by a copy read before it).
//!
//! A feature that stores personal data declares its sealed columns ([`SealedColumns`], in its
//! `personal_data.rs`), seals with the context `"<table>.<column>"`, and gets migration and
//! rotation for free once its columns are in the list the wiring hands these passes
//! (`startup::SEALED`). TEXT columns hold sealed text ([`FieldCipher::seal_text`]); BLOB
//! columns hold sealed bytes ([`FieldCipher::seal`]). Sealed files (licence images) are walked
//! through [`SealedFiles`] in the same passes.
//!
//! The column passes and [`SealedFiles`] (its one implementation, the licence images, is the
//! drivers') run on either engine ([`Conn`]).

use aes_gcm::Aes256Gcm;
use rusqlite::types::{ToSql, Value};

use std::collections::BTreeMap;
use std::io;

use crate::db::conn::{AsConn, Conn, SqlError, SqlResult};
use crate::pii::cipher::{self, CipherError, FieldCipher};

/// A table's sealed columns.
pub struct SealedColumns {
    pub table: &'static str,
    /// An integer or text primary key; rows are walked in its order.
    pub key: &'static str,
    pub columns: &'static [&'static str],
}

impl SealedColumns {
    pub fn context(&self, column: &str) -> String {
        format!("{}.{column}", self.table)
    }
}

/// Sealed files a feature keeps (licence images), for the passes over sealed data. Each file
/// is re-sealed in a write transaction that first checks its row still exists, so a re-seal
/// never brings back a file that was being deleted.
pub trait SealedFiles {
    /// Files in all (the progress bar's length).
    fn count(&self, conn: &Conn) -> SqlResult<u64>;
    /// How many files are sealed under each key id (plain files are not counted).
    fn per_key(&self, conn: &Conn) -> SqlResult<BTreeMap<u32, u64>>;
    /// Re-seals every file not sealed under `target` (None: seals the plain ones under
    /// `active`). `progress` gets one per file. Returns the number of files rewritten.
    fn reseal(
        &self,
        conn: &Conn,
        target: u32,
        only_plain: bool,
        progress: &mut dyn FnMut(u64),
    ) -> Result<usize, FileSealError>;
}

#[derive(Debug, thiserror::Error)]
pub enum FileSealError {
    #[error("sealed file {name}: {source}")]
    File { name: String, source: io::Error },
    #[error(transparent)]
    Sql(#[from] SqlError),
}

/// What a pass does to a value that needs work.
#[derive(Clone, Copy)]
pub enum Pass {
    /// Seal plain text left from before encryption (sealed values are left alone).
    SealPlain,
    /// Re-seal values under any key but `target` with `target` (which must be active).
    Reseal { target: u32 },
}

/// The key id of a stored value (None: plain text or empty, i.e. nothing sealed).
pub fn value_key_id(value: &Value) -> Result<Option<u32>, CipherError> {
    match value {
        Value::Text(t) if cipher::is_sealed_text(t) => {
            Ok(Some(cipher::key_id(&cipher::from_text(t)?)?))
        }
        Value::Blob(b) if !b.is_empty() => Ok(Some(cipher::key_id(b)?)),
        _ => Ok(None),
    }
}

/// The new value for `value` in this pass, or None when it stays. New seals use `key`.
fn rework(
    pii: &FieldCipher,
    (key_id, key): (u32, &Aes256Gcm),
    context: &str,
    value: &Value,
    pass: Pass,
) -> Result<Option<Value>, CipherError> {
    let id = value_key_id(value)?;
    let seal = |plain: &[u8]| cipher::seal_with(key_id, key, context, plain);
    match (pass, value, id) {
        (Pass::SealPlain, Value::Text(t), None) if !t.is_empty() => {
            Ok(Some(Value::Text(cipher::to_text(&seal(t.as_bytes())))))
        }
        (Pass::Reseal { target }, Value::Text(t), Some(id)) if id != target => {
            let plain = pii.open_text(context, t)?;
            Ok(Some(Value::Text(cipher::to_text(&seal(plain.as_bytes())))))
        }
        (Pass::Reseal { target }, Value::Blob(b), Some(id)) if id != target => {
            Ok(Some(Value::Blob(seal(&pii.open(context, b)?))))
        }
        _ => Ok(None),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("{table}.{column} of row {row}: {source}")]
    Cipher { table: &'static str, column: &'static str, row: String, source: CipherError },
    #[error(transparent)]
    Sql(#[from] SqlError),
}

/// One batch: up to `limit` rows after `after` (None: from the start), in one write
/// transaction. Returns the last key seen (None: the table is done), the rows read and how
/// many values changed.
pub fn batch(
    conn: &impl AsConn,
    pii: &FieldCipher,
    spec: &SealedColumns,
    after: Option<&Value>,
    limit: usize,
    pass: Pass,
) -> Result<(Option<Value>, usize, usize), SealError> {
    conn.with_conn(|conn| batch_on(conn, pii, spec, after, limit, pass))
}

fn batch_on(
    conn: &Conn,
    pii: &FieldCipher,
    spec: &SealedColumns,
    after: Option<&Value>,
    limit: usize,
    pass: Pass,
) -> Result<(Option<Value>, usize, usize), SealError> {
    let (key_id, aes_key) = match pass {
        Pass::SealPlain => pii.ring().active(),
        Pass::Reseal { target } => (
            target,
            pii.ring().key(target).ok_or(CipherError::UnknownKey(target)).map_err(|source| {
                SealError::Cipher { table: spec.table, column: "*", row: "-".into(), source }
            })?,
        ),
    };
    let tx = conn.transaction()?;
    let cols = spec.columns.join(", ");
    let (table, key) = (spec.table, spec.key);
    // Locked until the batch commits: a change made meanwhile on another node would otherwise
    // be overwritten by the re-sealed copy of the value read here.
    let lock = tx.for_update();
    let limit_value = limit as i64;
    let n = spec.columns.len() + 1;
    let read = |r: &crate::db::conn::Row| -> SqlResult<Vec<Value>> {
        (0..n).map(|i| r.get::<Value>(i)).collect()
    };
    let rows: Vec<Vec<Value>> = match after {
        Some(a) => tx.query_map(
            &format!(
                "SELECT {key}, {cols} FROM {table} WHERE {key} > ?1 ORDER BY {key} LIMIT ?2{lock}"
            ),
            &[a as &dyn ToSql, &limit_value][..],
            read,
        )?,
        None => tx.query_map(
            &format!("SELECT {key}, {cols} FROM {table} ORDER BY {key} LIMIT ?1{lock}"),
            [limit_value],
            read,
        )?,
    };
    let mut changed = 0;
    for row in &rows {
        for (i, column) in spec.columns.iter().enumerate() {
            let context = spec.context(column);
            let new =
                rework(pii, (key_id, &aes_key), &context, &row[i + 1], pass).map_err(|source| {
                    SealError::Cipher { table, column, row: describe(&row[0]), source }
                })?;
            if let Some(new) = new {
                tx.execute(
                    &format!("UPDATE {table} SET {column} = ?1 WHERE {key} = ?2"),
                    [&new, &row[0]],
                )?;
                changed += 1;
            }
        }
    }
    tx.commit()?;
    let last = if rows.len() < limit { None } else { rows.last().map(|r| r[0].clone()) };
    Ok((last, rows.len(), changed))
}

fn describe(key: &Value) -> String {
    match key {
        Value::Integer(i) => i.to_string(),
        Value::Text(t) => t.clone(),
        _ => "?".into(),
    }
}

/// Runs `pass` over every row of every sealed table. `progress` gets the number of rows read
/// by each batch. Returns the number of values changed.
pub fn run_pass(
    conn: &impl AsConn,
    pii: &FieldCipher,
    sealed: &[SealedColumns],
    pass: Pass,
    batch_size: usize,
    mut progress: impl FnMut(u64),
) -> Result<usize, SealError> {
    let mut changed = 0;
    for spec in sealed {
        let mut after: Option<Value> = None;
        loop {
            let (last, rows, n) = batch(conn, pii, spec, after.as_ref(), batch_size, pass)?;
            changed += n;
            progress(rows as u64);
            match last {
                Some(last) => after = Some(last),
                None => break,
            }
        }
    }
    Ok(changed)
}

/// How many stored values are sealed under each key id (plain values are not counted).
pub fn values_per_key(
    conn: &impl AsConn,
    sealed: &[SealedColumns],
) -> Result<BTreeMap<u32, u64>, SealError> {
    conn.with_conn(|conn| values_per_key_on(conn, sealed))
}

fn values_per_key_on(
    conn: &Conn,
    sealed: &[SealedColumns],
) -> Result<BTreeMap<u32, u64>, SealError> {
    let mut counts = BTreeMap::new();
    for spec in sealed {
        for column in spec.columns {
            let values: Vec<Value> = conn.query_map(
                &format!("SELECT {column} FROM {} WHERE {column} IS NOT NULL", spec.table),
                [] as [i64; 0],
                |r| r.get(0),
            )?;
            for value in values {
                let id = value_key_id(&value).map_err(|source| SealError::Cipher {
                    table: spec.table,
                    column,
                    row: "?".into(),
                    source,
                })?;
                if let Some(id) = id {
                    *counts.entry(id).or_insert(0) += 1;
                }
            }
        }
    }
    Ok(counts)
}

/// Rows in every sealed table (the progress bar's length).
pub fn total_rows(conn: &impl AsConn, sealed: &[SealedColumns]) -> SqlResult<u64> {
    conn.with_conn(|conn| {
        let mut total = 0u64;
        for spec in sealed {
            let sql = format!("SELECT count(*) FROM {}", spec.table);
            let n: i64 = conn.query_row(&sql, [] as [i64; 0], |r| r.get(0))?;
            total += n as u64;
        }
        Ok(total)
    })
}
