//! Licence images (rows of `driver_uploads`) and the upload attempts counted by the hourly cap.

use rusqlite::params;

use super::on;
use crate::db::conn::{AsConn, Optional};
use crate::drivers::uploads::UploadRecord;

pub fn insert_upload(
    conn: &impl AsConn,
    licence_id: i64,
    side: &str,
    record: &UploadRecord,
    (width, height): (u32, u32),
) -> rusqlite::Result<()> {
    on(conn, |conn| {
        conn.execute(
            "INSERT INTO driver_uploads (licence_id, side, path, size, sha256, content_type, width,
                                     height, key_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                licence_id,
                side,
                record.path,
                record.size,
                record.sha256,
                record.content_type,
                width,
                height,
                record.key_id
            ],
        )
    })?;
    Ok(())
}

/// Licence uploads `user_id` made after `since`: how many, the oldest and the newest time.
/// The caller counts, then records one ([`record_upload_attempt`]) in the same transaction: on
/// PostgreSQL the count first takes the account's turn, so two uploads at once on two nodes
/// cannot both see room for the last one (SQLite's writers take turns already).
pub fn upload_attempts_since(
    conn: &impl AsConn,
    user_id: &str,
    since: i64,
) -> rusqlite::Result<(i64, Option<i64>, Option<i64>)> {
    on(conn, |conn| {
        conn.serialize_on(&format!("driver_upload_attempts:{user_id}"))?;
        conn.query_row(
            "SELECT count(*), min(at), max(at) FROM driver_upload_attempts
             WHERE user_id = ?1 AND at > ?2",
            params![user_id, since],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
    })
}

/// Records an upload of `user_id` and forgets theirs from before `forget_until` (no longer
/// counted by any window).
pub fn record_upload_attempt(
    conn: &impl AsConn,
    user_id: &str,
    now: i64,
    forget_until: i64,
) -> rusqlite::Result<()> {
    on(conn, |conn| {
        conn.execute(
            "DELETE FROM driver_upload_attempts WHERE user_id = ?1 AND at <= ?2",
            params![user_id, forget_until],
        )?;
        conn.execute(
            "INSERT INTO driver_upload_attempts (user_id, at) VALUES (?1, ?2)",
            params![user_id, now],
        )?;
        Ok(())
    })
}

/// The stored image of one side of a licence.
pub fn upload(
    conn: &impl AsConn,
    licence_id: i64,
    side: &str,
) -> rusqlite::Result<Option<UploadRecord>> {
    on(conn, |conn| {
        conn.query_row(
            "SELECT path, size, sha256, content_type, key_id FROM driver_uploads
         WHERE licence_id = ?1 AND side = ?2",
            params![licence_id, side],
            |r| {
                Ok(UploadRecord {
                    path: r.get(0)?,
                    size: r.get(1)?,
                    sha256: r.get(2)?,
                    content_type: r.get(3)?,
                    key_id: r.get(4)?,
                })
            },
        )
        .optional()
    })
}

/// Forgets a licence's images, returning their file names: the caller deletes the files once
/// its transaction commits (a crash in between leaves a file no row names, never a row naming
/// no file).
pub fn take_uploads(conn: &impl AsConn, licence_id: i64) -> rusqlite::Result<Vec<String>> {
    on(conn, |conn| {
        conn.query_map(
            "DELETE FROM driver_uploads WHERE licence_id = ?1 RETURNING path",
            [licence_id],
            |r| r.get(0),
        )
    })
}

/// [`take_uploads`] of several licences (those a new licence superseded).
pub fn take_uploads_of(conn: &impl AsConn, licence_ids: &[i64]) -> rusqlite::Result<Vec<String>> {
    let mut paths = Vec::new();
    for id in licence_ids {
        paths.extend(take_uploads(conn, *id)?);
    }
    Ok(paths)
}
