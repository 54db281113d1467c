//! Spent challenges, in the database so that every node sees them (a challenge solved once
//! cannot be spent again on another node) and a restart forgets none.

use rusqlite::params;

use crate::db::conn::{Conn, SqlResult};

/// Spends challenge `id`: true the first time, false when it was spent before. Now and then
/// it also deletes spends whose challenges have expired (they can no longer be offered).
pub fn spend(conn: &Conn, id: &str, expires_at: i64, now: i64) -> SqlResult<bool> {
    let first = conn.execute(
        "INSERT INTO captcha_spends (id, expires_at) VALUES (?1, ?2) ON CONFLICT (id) DO NOTHING",
        params![id, expires_at],
    )? == 1;
    // One spend in 32 cleans up: a few minutes of rows each time, no job to schedule.
    if first && rand::random::<u8>() < 8 {
        conn.execute("DELETE FROM captcha_spends WHERE expires_at <= ?1", [now])?;
    }
    Ok(first)
}

/// Spends held now (for tests and the memory benchmark).
pub fn count(conn: &Conn) -> SqlResult<i64> {
    conn.query_row("SELECT count(*) FROM captcha_spends", [] as [i64; 0], |r| r.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::conn_tests::on_both_engines;

    #[test]
    fn a_challenge_is_spent_once_and_expired_spends_go() {
        on_both_engines(|conn| {
            assert!(spend(conn, "a", 100, 0).unwrap());
            assert!(!spend(conn, "a", 100, 0).unwrap(), "spent twice");
            assert!(spend(conn, "b", 200, 0).unwrap());
            // Spends keep coming after "a" expired: the clean-up runs within a few hundred.
            for i in 0..400 {
                spend(conn, &format!("later-{i}"), 1_000, 150).unwrap();
            }
            let a_left: i64 = conn
                .query_row(
                    "SELECT count(*) FROM captcha_spends WHERE id = 'a'",
                    [] as [i64; 0],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(a_left, 0, "an expired spend was never deleted");
            assert!(!spend(conn, "b", 200, 150).unwrap(), "a live spend was deleted");
        });
    }
}
