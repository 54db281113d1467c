//! The campus section of the account export.

use poem_openapi::Object;
use rusqlite::{Connection, OptionalExtension};

#[derive(Debug, Object, serde::Serialize)]
pub struct ExportCampus {
    pub id: i64,
    pub name: String,
    pub domains: Vec<String>,
}

/// The campus section of the account export.
pub fn export_campus(
    conn: &Connection,
    campus_id: Option<i64>,
) -> rusqlite::Result<Option<ExportCampus>> {
    let Some(id) = campus_id else { return Ok(None) };
    let name: Option<String> =
        conn.query_row("SELECT name FROM campuses WHERE id = ?1", [id], |r| r.get(0)).optional()?;
    let Some(name) = name else { return Ok(None) };
    let mut stmt =
        conn.prepare("SELECT domain FROM campus_domains WHERE campus_id = ?1 ORDER BY domain")?;
    let domains = stmt.query_map([id], |r| r.get(0))?.collect::<Result<_, _>>()?;
    Ok(Some(ExportCampus { id, name, domains }))
}
