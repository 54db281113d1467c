//! The policy tables: versions and acceptances, on either engine ([`crate::db::conn`]). Every
//! function runs inside other features' transactions (publishing and accepting in privacy,
//! registration in accounts), so each takes [`AsConn`] and its callers pass what they hold.

use rusqlite::params;

use crate::db::conn::{AsConn, Optional, SqlResult};

pub const POLICY_PUBLISHED: &str = "policy.published";
pub const POLICY_ACCEPTED: &str = "policy.accepted";
pub const MAX_VERSION_CHARS: usize = 64;
pub const MAX_TEXT_BYTES: usize = 200_000;

#[derive(Debug, Clone)]
pub struct Policy {
    pub id: i64,
    pub version: String,
    pub text: String,
    pub published_at: i64,
}

#[derive(Debug, Clone)]
pub struct PolicySummary {
    pub version: String,
    pub published_at: i64,
    pub acceptances: i64,
}

#[derive(Debug, Clone)]
pub struct Acceptance {
    pub version: String,
    pub accepted_at: i64,
}

pub fn current(conn: &impl AsConn) -> SqlResult<Option<Policy>> {
    conn.with_conn(|conn| {
        conn.query_row(
            "SELECT id, version, text, published_at FROM privacy_policies
             ORDER BY id DESC LIMIT 1",
            [] as [i64; 0],
            |r| {
                Ok(Policy {
                    id: r.get(0)?,
                    version: r.get(1)?,
                    text: r.get(2)?,
                    published_at: r.get(3)?,
                })
            },
        )
        .optional()
    })
}

pub fn list(conn: &impl AsConn) -> SqlResult<Vec<PolicySummary>> {
    conn.with_conn(|conn| {
        conn.query_map(
            "SELECT p.version, p.published_at,
                    (SELECT count(*) FROM policy_acceptances a WHERE a.policy_id = p.id)
             FROM privacy_policies p ORDER BY p.id DESC",
            [] as [i64; 0],
            |r| {
                Ok(PolicySummary {
                    version: r.get(0)?,
                    published_at: r.get(1)?,
                    acceptances: r.get(2)?,
                })
            },
        )
    })
}

/// Whether `version` is published already: the check before [`publish`], in the same
/// transaction. It takes the publishing turn first (`serialize_on`, held to the end of the
/// transaction), so that two admins publishing one version at once on PostgreSQL do not both
/// pass it (the second would fail on the UNIQUE version instead of being told it exists), and
/// so that no other version is published between this check and the publisher's reading of
/// [`current`]. On SQLite the write transaction already takes turns.
pub fn version_exists(conn: &impl AsConn, version: &str) -> SqlResult<bool> {
    conn.with_conn(|conn| {
        conn.serialize_on("privacy_policies")?;
        let found: i64 = conn.query_row(
            "SELECT count(*) FROM privacy_policies WHERE version = ?1",
            [version],
            |r| r.get(0),
        )?;
        Ok(found > 0)
    })
}

pub fn publish(conn: &impl AsConn, version: &str, text: &str, by: &str, now: i64) -> SqlResult<()> {
    conn.with_conn(|conn| {
        conn.execute(
            "INSERT INTO privacy_policies (version, text, published_at, published_by)
             VALUES (?1, ?2, ?3, ?4)",
            params![version, text, now, by],
        )?;
        Ok(())
    })
}

/// Records that `user_id` accepted `policy_id` (again: no change).
pub fn accept(conn: &impl AsConn, user_id: &str, policy_id: i64, now: i64) -> SqlResult<()> {
    conn.with_conn(|conn| {
        conn.execute(
            "INSERT INTO policy_acceptances (user_id, policy_id, accepted_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (user_id, policy_id) DO NOTHING",
            params![user_id, policy_id, now],
        )?;
        Ok(())
    })
}

/// The current version, if one is published and `user_id` has not accepted it.
pub fn pending_for(conn: &impl AsConn, user_id: &str) -> SqlResult<Option<String>> {
    conn.with_conn(|conn| {
        conn.query_row(
            "SELECT p.version FROM privacy_policies p
             WHERE p.id = (SELECT max(id) FROM privacy_policies)
               AND NOT EXISTS (SELECT 1 FROM policy_acceptances a
                               WHERE a.policy_id = p.id AND a.user_id = ?1)",
            [user_id],
            |r| r.get(0),
        )
        .optional()
    })
}

pub fn acceptances_of(conn: &impl AsConn, user_id: &str) -> SqlResult<Vec<Acceptance>> {
    conn.with_conn(|conn| {
        conn.query_map(
            "SELECT p.version, a.accepted_at FROM policy_acceptances a
             JOIN privacy_policies p ON p.id = a.policy_id
             WHERE a.user_id = ?1 ORDER BY a.accepted_at, a.id",
            [user_id],
            |r| Ok(Acceptance { version: r.get(0)?, accepted_at: r.get(1)? }),
        )
    })
}

/// Why a version given at registration or acceptance is not acceptable, if it is not.
pub fn refusal(current: Option<&Policy>, given: Option<&str>) -> Option<String> {
    let current = current?;
    match given.map(str::trim).filter(|v| !v.is_empty()) {
        None => {
            Some(format!("Accept the privacy policy (version {}) to continue.", current.version))
        }
        Some(v) if v != current.version => Some(format!(
            "Version {v} is not the current privacy policy; the current version is {}.",
            current.version
        )),
        Some(_) => None,
    }
}
