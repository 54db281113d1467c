//! The approved drivers the expiry job looks at, and the alerts it has sent.

use chrono::NaiveDate;
use rusqlite::params;

use super::{date_of, on};
use crate::db::conn::AsConn;

/// An approved driver and the expiry of the licence that makes them one.
#[derive(Debug, Clone)]
pub struct ApprovedDriver {
    pub user_id: String,
    pub licence_id: i64,
    pub expiry: Option<NaiveDate>,
}

pub fn approved_drivers(conn: &impl AsConn) -> rusqlite::Result<Vec<ApprovedDriver>> {
    on(conn, |conn| {
        conn.query_map(
            "SELECT p.user_id, l.id, l.expiry_date FROM driver_profiles p
             JOIN driver_licences l ON l.id = p.licence_id
             WHERE p.status = 'approved' ORDER BY p.user_id",
            [] as [i64; 0],
            |r| {
                let expiry = date_of(r.get(2)?);
                Ok(ApprovedDriver { user_id: r.get(0)?, licence_id: r.get(1)?, expiry })
            },
        )
    })
}

/// Records an expiry alert; false when it had been sent already.
pub fn record_alert(
    conn: &impl AsConn,
    licence_id: i64,
    days_before: i64,
    now: i64,
) -> rusqlite::Result<bool> {
    let inserted = on(conn, |conn| {
        conn.execute(
        "INSERT INTO driver_expiry_alerts (licence_id, days_before, sent_at) VALUES (?1, ?2, ?3)
         ON CONFLICT DO NOTHING",
        params![licence_id, days_before, now],
    )
    })?;
    Ok(inserted == 1)
}
