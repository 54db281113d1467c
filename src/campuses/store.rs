//! SQL and rules for `campuses` and `campus_domains`, on either engine ([`crate::db::conn`]).

use rusqlite::params;

use crate::audit::{self, Actor, AuditEvent, actions};
use crate::contact::email::is_domain;
use crate::db::conn::{AsConn, Conn, Optional, SqlError};

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
    Sql(#[from] SqlError),
}

impl From<rusqlite::Error> for CampusError {
    fn from(e: rusqlite::Error) -> Self {
        CampusError::Sql(e.into())
    }
}

/// Campus changes take turns on PostgreSQL too (see [`Conn::serialize_on`]): the name and
/// domain checks read before they write.
const CAMPUS_CHANGES: &str = "campuses";

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

fn domains_of(conn: &Conn, campus_id: i64) -> Result<Vec<String>, SqlError> {
    conn.query_map(
        "SELECT domain FROM campus_domains WHERE campus_id = ?1 ORDER BY domain",
        [campus_id],
        |r| r.get(0),
    )
}

pub fn list(conn: &impl AsConn) -> Result<Vec<Campus>, SqlError> {
    conn.with_conn(|conn| {
        let campuses: Vec<(i64, String, i64)> = conn.query_map(
            "SELECT id, name, created_at FROM campuses ORDER BY name",
            [] as [i64; 0],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        campuses
            .into_iter()
            .map(|(id, name, created_at)| {
                Ok(Campus { id, name, domains: domains_of(conn, id)?, created_at })
            })
            .collect()
    })
}

pub fn get(conn: &impl AsConn, id: i64) -> Result<Campus, CampusError> {
    conn.with_conn(|conn| {
        let found: Option<(String, i64)> = conn
            .query_row("SELECT name, created_at FROM campuses WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let (name, created_at) = found.ok_or(CampusError::NotFound)?;
        Ok(Campus { id, name, domains: domains_of(conn, id)?, created_at })
    })
}

/// The campus that owns exactly this email domain.
pub fn campus_for_domain(
    conn: &impl AsConn,
    domain: &str,
) -> Result<Option<(i64, String)>, SqlError> {
    conn.with_conn(|conn| {
        conn.query_row(
            "SELECT c.id, c.name FROM campus_domains d JOIN campuses c ON c.id = d.campus_id
             WHERE d.domain = ?1",
            [domain],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
    })
}

fn insert_domains(conn: &Conn, campus_id: i64, domains: &[String]) -> Result<(), CampusError> {
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

/// Whether another campus (any but `except`; -1 for none, as ids start at 1) has this name.
fn name_taken(conn: &Conn, name: &str, except: i64) -> Result<bool, SqlError> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM campuses WHERE lower(name) = lower(?1) AND id <> ?2)",
        params![name, except],
        |r| r.get(0),
    )
}

pub fn create(
    conn: &impl AsConn,
    name: &str,
    domains: &[String],
    now: i64,
    actor: &Actor<'_>,
) -> Result<Campus, CampusError> {
    let name = clean_name(name)?;
    let domains = clean_domains(domains)?;
    conn.with_conn(|conn| {
        let tx = conn.transaction()?;
        tx.serialize_on(CAMPUS_CHANGES)?;
        if name_taken(&tx, &name, -1)? {
            return Err(CampusError::NameTaken(name));
        }
        let id: i64 = tx.query_row(
            "INSERT INTO campuses (name, created_at) VALUES (?1, ?2) RETURNING id",
            params![name, now],
            |r| r.get(0),
        )?;
        insert_domains(&tx, id, &domains)?;
        audit_change(&tx, actions::CAMPUS_CREATED, id, &name, &domains, now, actor)?;
        tx.commit()?;
        get(conn, id)
    })
}

pub fn update(
    conn: &impl AsConn,
    id: i64,
    name: Option<&str>,
    domains: Option<&[String]>,
    now: i64,
    actor: &Actor<'_>,
) -> Result<Campus, CampusError> {
    let name = name.map(clean_name).transpose()?;
    let domains = domains.map(clean_domains).transpose()?;
    conn.with_conn(|conn| {
        let tx = conn.transaction()?;
        tx.serialize_on(CAMPUS_CHANGES)?;
        let current = get(&*tx, id)?;
        if let Some(name) = &name {
            if name_taken(&tx, name, id)? {
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
    })
}

/// Removes a campus named by id or by one of its domains. Its users keep their accounts.
pub fn remove(
    conn: &impl AsConn,
    id_or_domain: &str,
    now: i64,
    actor: &Actor<'_>,
) -> Result<Campus, CampusError> {
    conn.with_conn(|conn| {
        let tx = conn.transaction()?;
        tx.serialize_on(CAMPUS_CHANGES)?;
        let id = match id_or_domain.parse::<i64>() {
            Ok(id) => id,
            Err(_) => {
                campus_for_domain(&*tx, &id_or_domain.trim().to_lowercase())?
                    .ok_or(CampusError::NotFound)?
                    .0
            }
        };
        let campus = get(&*tx, id)?;
        tx.execute("DELETE FROM campuses WHERE id = ?1", [id])?;
        audit_change(&tx, actions::CAMPUS_REMOVED, id, &campus.name, &campus.domains, now, actor)?;
        tx.commit()?;
        Ok(campus)
    })
}

fn audit_change(
    conn: &Conn,
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
    use crate::db::conn_tests::on_both_engines;

    const CLI: Actor<'static> = Actor { user_id: None, ip: None };

    #[test]
    fn creates_lists_updates_and_removes_on_both_engines() {
        on_both_engines(|conn| {
            let north =
                create(conn, " North ", &["North.edu".into(), "@cs.north.edu".into()], 1, &CLI)
                    .unwrap();
            assert_eq!(north.name, "North");
            assert_eq!(north.domains, vec!["cs.north.edu", "north.edu"]);
            assert_eq!(campus_for_domain(conn, "north.edu").unwrap().unwrap().0, north.id);
            assert_eq!(campus_for_domain(conn, "sub.north.edu").unwrap(), None);
            let renamed =
                update(conn, north.id, Some("North Campus"), Some(&["north.edu".into()]), 2, &CLI)
                    .unwrap();
            assert_eq!(renamed.name, "North Campus");
            assert_eq!(renamed.domains, vec!["north.edu"]);
            let same_name = update(conn, north.id, Some("north campus"), None, 3, &CLI).unwrap();
            assert_eq!(same_name.name, "north campus", "its own name is not taken");
            let south = create(conn, "South", &["south.edu".into()], 4, &CLI).unwrap();
            assert!(south.id > north.id);
            let names: Vec<String> = list(conn).unwrap().into_iter().map(|c| c.name).collect();
            assert_eq!(names, ["South", "north campus"], "sorted bytewise");
            remove(conn, "north.edu", 5, &CLI).unwrap();
            remove(conn, &south.id.to_string(), 6, &CLI).unwrap();
            assert!(list(conn).unwrap().is_empty());
            let audit: i64 = conn
                .query_row(
                    "SELECT count(*) FROM audit_log WHERE action LIKE 'campus.%'",
                    [] as [i64; 0],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(audit, 6);
        });
    }

    #[test]
    fn refuses_bad_and_duplicate_input_on_both_engines() {
        on_both_engines(|conn| {
            let north = create(conn, "North", &["north.edu".into()], 1, &CLI).unwrap();
            let south = create(conn, "South", &["south.edu".into()], 1, &CLI).unwrap();
            assert!(matches!(
                create(conn, "north", &["x.edu".into()], 1, &CLI),
                Err(CampusError::NameTaken(_))
            ));
            assert!(matches!(
                update(conn, south.id, Some("NORTH"), None, 1, &CLI),
                Err(CampusError::NameTaken(_))
            ));
            assert!(matches!(
                create(conn, "West", &["north.edu".into()], 1, &CLI),
                Err(CampusError::DomainTaken(_))
            ));
            assert!(matches!(
                update(conn, south.id, None, Some(&["north.edu".into()]), 1, &CLI),
                Err(CampusError::DomainTaken(_))
            ));
            assert!(matches!(
                create(conn, "West", &["not a domain".into()], 1, &CLI),
                Err(CampusError::InvalidDomain(_))
            ));
            assert!(matches!(create(conn, "West", &[], 1, &CLI), Err(CampusError::NoDomains)));
            assert!(matches!(
                create(conn, "", &["s.edu".into()], 1, &CLI),
                Err(CampusError::InvalidName)
            ));
            assert!(matches!(remove(conn, "nowhere.edu", 1, &CLI), Err(CampusError::NotFound)));
            assert!(matches!(get(conn, 999), Err(CampusError::NotFound)));
            let campuses = list(conn).unwrap();
            assert_eq!(campuses.len(), 2, "nothing half-written");
            assert_eq!(get(conn, south.id).unwrap().domains, ["south.edu"], "rolled back");
            assert_eq!(get(conn, north.id).unwrap().name, "North");
        });
    }
}
