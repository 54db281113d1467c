//! What the sessions keep about a person: their browser sessions (address, browser, times).

use std::sync::Arc;

use poem_openapi::Object;
use rusqlite::params;

use super::{BROWSER_SESSION, REMEMBERED_SESSION, Sessions};
use crate::clock::rfc3339;
use crate::config::RetentionConfig;
use crate::db::conn::{Conn, SqlResult};
use crate::pii::{AfterErase, Person, PersonalData, Purged};

/// Last activity is written at most once a minute: a session is idle only past that too.
const TOUCH_SLACK: i64 = 60;

pub struct SessionsData {
    pub sessions: Arc<Sessions>,
}

impl PersonalData for SessionsData {
    fn feature(&self) -> &'static str {
        "sessions"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["sessions"]
    }

    fn erase_in(&self, tx: &Conn, person: &Person, after: &mut AfterErase) -> SqlResult<()> {
        let hashes = super::store::delete_all(tx, &person.id, None)?;
        let sessions = self.sessions.clone();
        after.then(move || sessions.forget_now(&hashes));
        Ok(())
    }

    /// Sessions past their absolute or idle lifetime.
    fn purge_in(
        &self,
        tx: &Conn,
        now: i64,
        _retention: &RetentionConfig,
        purged: &mut Purged,
    ) -> SqlResult<()> {
        // `remember_me <> 0`: the flag is a BIGINT on PostgreSQL, which `WHEN remember_me`
        // cannot test; the CASE's parameters are cast, as PostgreSQL cannot tell their type.
        let rows = tx.execute(
            "DELETE FROM sessions
             WHERE expires_at <= ?1
                OR last_seen_at
                   + CASE WHEN remember_me <> 0 THEN CAST(?2 AS BIGINT) ELSE CAST(?3 AS BIGINT) END
                   + ?4 <= ?1",
            params![now, REMEMBERED_SESSION.idle, BROWSER_SESSION.idle, TOUCH_SLACK],
        )?;
        purged.add("sessions", rows);
        Ok(())
    }
}

#[derive(Debug, Object, serde::Serialize)]
#[oai(skip_serializing_if_is_none)]
pub struct ExportSession {
    pub id: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
    pub remember_me: bool,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// The sessions section of the account export.
pub fn export_sessions(conn: &Conn, user_id: &str) -> SqlResult<Vec<ExportSession>> {
    conn.query_map(
        "SELECT id, created_at, last_seen_at, expires_at, remember_me, ip, user_agent
         FROM sessions WHERE user_id = ?1 ORDER BY created_at",
        [user_id],
        |r| {
            Ok(ExportSession {
                id: r.get(0)?,
                created_at: rfc3339(r.get(1)?),
                last_seen_at: rfc3339(r.get(2)?),
                expires_at: rfc3339(r.get(3)?),
                remember_me: r.get(4)?,
                ip: r.get(5)?,
                user_agent: r.get(6)?,
            })
        },
    )
}
