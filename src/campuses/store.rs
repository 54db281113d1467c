//! SQL and rules for `campuses` and `campus_domains`.

use rusqlite::{Connection, OptionalExtension, params};

use crate::audit::{self, Actor, AuditEvent, actions};
use crate::contact::email::is_domain;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Campus {
    pub id: i64,
    pub name: String,
    pub domains: Vec<String>,
    pub created_at: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum CampusError {
    #[error("There is no such campus.")]
    NotFound,
    #[error("A campus needs a name of 1 to 100 characters.")]
    InvalidName,
    #[error("A campus needs at least one email domain.")]
    NoDomains,
    #[error("{0:?} is not a domain like campus.edu.")]
    InvalidDomain(String),
    #[error("A campus named {0:?} exists already.")]
    NameTaken(String),
    #[error("The domain {0:?} belongs to another campus.")]
    DomainTaken(String),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

fn clean_name(name: &str) -> Result<String, CampusError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(CampusError::InvalidName);
    }
    Ok(name.to_string())
}

fn clean_domains(domains: &[String]) -> Result<Vec<String>, CampusError> {
    let mut clean: Vec<String> = Vec::new();
    for domain in domains {
        let domain = domain.trim().trim_start_matches('@').to_lowercase();
        if !is_domain(&domain) {
            return Err(CampusError::InvalidDomain(domain));
        }
        if !clean.contains(&domain) {
            clean.push(domain);
        }
    }
    if clean.is_empty() {
        return Err(CampusError::NoDomains);
    }
    Ok(clean)
}

fn domains_of(conn: &Connection, campus_id: i64) -> rusqlite::Result<Vec<String>> {
    let mut stmt =
        conn.prepare("SELECT domain FROM campus_domains WHERE campus_id = ?1 ORDER BY domain")?;
    let rows = stmt.query_map([campus_id], |r| r.get(0))?;
    rows.collect()
}

pub fn list(conn: &Connection) -> rusqlite::Result<Vec<Campus>> {
    let mut stmt = conn.prepare("SELECT id, name, created_at FROM campuses ORDER BY name")?;
    let campuses = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    campuses
        .into_iter()
        .map(|(id, name, created_at)| {
            Ok(Campus { id, name, domains: domains_of(conn, id)?, created_at })
        })
        .collect()
}

pub fn get(conn: &Connection, id: i64) -> Result<Campus, CampusError> {
    let found = conn
        .query_row("SELECT name, created_at FROM campuses WHERE id = ?1", [id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })
        .optional()?;
    let (name, created_at) = found.ok_or(CampusError::NotFound)?;
    Ok(Campus { id, name, domains: domains_of(conn, id)?, created_at })
}

/// The campus that owns exactly this email domain.
pub fn campus_for_domain(
    conn: &Connection,
    domain: &str,
) -> rusqlite::Result<Option<(i64, String)>> {
    conn.query_row(
        "SELECT c.id, c.name FROM campus_domains d JOIN campuses c ON c.id = d.campus_id
         WHERE d.domain = ?1",
        [domain],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

fn insert_domains(
    conn: &Connection,
    campus_id: i64,
    domains: &[String],
) -> Result<(), CampusError> {
    for domain in domains {
        let owner: Option<i64> = conn
            .query_row("SELECT campus_id FROM campus_domains WHERE domain = ?1", [domain], |r| {
                r.get(0)
            })
            .optional()?;
        match owner {
            Some(owner) if owner != campus_id => {
                return Err(CampusError::DomainTaken(domain.clone()));
            }
            Some(_) => {}
            None => {
                conn.execute(
                    "INSERT INTO campus_domains (domain, campus_id) VALUES (?1, ?2)",
                    params![domain, campus_id],
                )?;
            }
        }
    }
    Ok(())
}

fn name_taken(conn: &Connection, name: &str, except: Option<i64>) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM campuses WHERE lower(name) = lower(?1) AND id IS NOT ?2)",
        params![name, except],
        |r| r.get(0),
    )
}

pub fn create(
    conn: &mut Connection,
    name: &str,
    domains: &[String],
    now: i64,
    actor: &Actor<'_>,
) -> Result<Campus, CampusError> {
    let name = clean_name(name)?;
    let domains = clean_domains(domains)?;
    let tx = crate::db::write_tx(conn)?;
    if name_taken(&tx, &name, None)? {
        return Err(CampusError::NameTaken(name));
    }
    tx.execute("INSERT INTO campuses (name, created_at) VALUES (?1, ?2)", params![name, now])?;
    let id = tx.last_insert_rowid();
    insert_domains(&tx, id, &domains)?;
    audit_change(&tx, actions::CAMPUS_CREATED, id, &name, &domains, now, actor)?;
    tx.commit()?;
    get(conn, id)
}

pub fn update(
    conn: &mut Connection,
    id: i64,
    name: Option<&str>,
    domains: Option<&[String]>,
    now: i64,
    actor: &Actor<'_>,
) -> Result<Campus, CampusError> {
    let name = name.map(clean_name).transpose()?;
    let domains = domains.map(clean_domains).transpose()?;
    let tx = crate::db::write_tx(conn)?;
    let current = get(&tx, id)?;
    if let Some(name) = &name {
        if name_taken(&tx, name, Some(id))? {
            return Err(CampusError::NameTaken(name.clone()));
        }
        tx.execute("UPDATE campuses SET name = ?2 WHERE id = ?1", params![id, name])?;
    }
    if let Some(domains) = &domains {
        tx.execute("DELETE FROM campus_domains WHERE campus_id = ?1", [id])?;
        insert_domains(&tx, id, domains)?;
    }
    let name = name.unwrap_or(current.name);
    let domains = domains.unwrap_or(current.domains);
    audit_change(&tx, actions::CAMPUS_UPDATED, id, &name, &domains, now, actor)?;
    tx.commit()?;
    get(conn, id)
}

/// Removes a campus named by id or by one of its domains. Its users keep their accounts.
pub fn remove(
    conn: &mut Connection,
    id_or_domain: &str,
    now: i64,
    actor: &Actor<'_>,
) -> Result<Campus, CampusError> {
    let tx = crate::db::write_tx(conn)?;
    let id = match id_or_domain.parse::<i64>() {
        Ok(id) => id,
        Err(_) => {
            campus_for_domain(&tx, &id_or_domain.trim().to_lowercase())?
                .ok_or(CampusError::NotFound)?
                .0
        }
    };
    let campus = get(&tx, id)?;
    tx.execute("DELETE FROM campuses WHERE id = ?1", [id])?;
    audit_change(&tx, actions::CAMPUS_REMOVED, id, &campus.name, &campus.domains, now, actor)?;
    tx.commit()?;
    Ok(campus)
}

fn audit_change(
    conn: &Connection,
    action: &str,
    id: i64,
    name: &str,
    domains: &[String],
    now: i64,
    actor: &Actor<'_>,
) -> rusqlite::Result<()> {
    audit::record(
        conn,
        &AuditEvent {
            at: now,
            actor_id: actor.user_id,
            action,
            subject_id: None,
            ip: actor.ip,
            success: true,
            details: serde_json::json!({"campus_id": id, "name": name, "domains": domains}),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::db::migrate(&mut conn).unwrap();
        conn
    }

    const CLI: Actor<'static> = Actor { user_id: None, ip: None };

    #[test]
    fn creates_lists_updates_and_removes() {
        let mut conn = db();
        let north =
            create(&mut conn, " North ", &["North.edu".into(), "@cs.north.edu".into()], 1, &CLI)
                .unwrap();
        assert_eq!(north.name, "North");
        assert_eq!(north.domains, vec!["cs.north.edu", "north.edu"]);
        assert_eq!(campus_for_domain(&conn, "north.edu").unwrap().unwrap().0, north.id);
        assert_eq!(campus_for_domain(&conn, "sub.north.edu").unwrap(), None);
        let renamed =
            update(&mut conn, north.id, Some("North Campus"), Some(&["north.edu".into()]), 2, &CLI)
                .unwrap();
        assert_eq!(renamed.domains, vec!["north.edu"]);
        assert_eq!(list(&conn).unwrap().len(), 1);
        remove(&mut conn, "north.edu", 3, &CLI).unwrap();
        assert!(list(&conn).unwrap().is_empty());
        let audit: i64 = conn
            .query_row("SELECT count(*) FROM audit_log WHERE action LIKE 'campus.%'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(audit, 3);
    }

    #[test]
    fn refuses_bad_and_duplicate_input() {
        let mut conn = db();
        create(&mut conn, "North", &["north.edu".into()], 1, &CLI).unwrap();
        assert!(matches!(
            create(&mut conn, "north", &["x.edu".into()], 1, &CLI),
            Err(CampusError::NameTaken(_))
        ));
        assert!(matches!(
            create(&mut conn, "South", &["north.edu".into()], 1, &CLI),
            Err(CampusError::DomainTaken(_))
        ));
        assert!(matches!(
            create(&mut conn, "South", &["not a domain".into()], 1, &CLI),
            Err(CampusError::InvalidDomain(_))
        ));
        assert!(matches!(create(&mut conn, "South", &[], 1, &CLI), Err(CampusError::NoDomains)));
        assert!(matches!(
            create(&mut conn, "", &["s.edu".into()], 1, &CLI),
            Err(CampusError::InvalidName)
        ));
        assert!(matches!(remove(&mut conn, "nowhere.edu", 1, &CLI), Err(CampusError::NotFound)));
        assert_eq!(list(&conn).unwrap().len(), 1, "nothing half-written");
    }
}
