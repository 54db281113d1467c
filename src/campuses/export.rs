//! The campus section of the account export.

use crate::db::conn::{AsConn, Optional, SqlError};
use poem_openapi::Object;

#[derive(Debug, Object, serde::Serialize)]
pub struct ExportCampus {
    pub id: i64,
    pub name: String,
    pub domains: Vec<String>,
}

/// The campus section of the account export.
pub fn export_campus(
    conn: &impl AsConn,
    campus_id: Option<i64>,
) -> Result<Option<ExportCampus>, SqlError> {
    let Some(id) = campus_id else { return Ok(None) };
    conn.with_conn(|conn| {
        let name: Option<String> = conn
            .query_row("SELECT name FROM campuses WHERE id = ?1", [id], |r| r.get(0))
            .optional()?;
        let Some(name) = name else { return Ok(None) };
        let domains = conn.query_map(
            "SELECT domain FROM campus_domains WHERE campus_id = ?1 ORDER BY domain",
            [id],
            |r| r.get(0),
        )?;
        Ok(Some(ExportCampus { id, name, domains }))
    })
}
