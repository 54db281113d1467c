//! A decision's email queued alike on both engines.

use super::*;
use crate::db::conn_tests::on_both_engines;

#[test]
fn a_decision_is_queued_for_an_account_with_an_email_on_both_engines() {
    let (_keys, pii) = crate::pii::cipher::test_cipher();
    on_both_engines(|conn| {
        for (id, email) in [("u1", Some("ada@north.edu")), ("u2", None)] {
            let user = accounts::NewUser {
                email: email.unwrap_or_default(),
                email_verified_at: None,
                ..accounts::NewUser::ada(id)
            };
            assert!(accounts::insert(conn, &pii, &user).unwrap());
            if email.is_none() {
                conn.execute(
                    "UPDATE users SET email = NULL, email_index = NULL, phone_verified_at = 1 WHERE id = ?1",
                    [id],
                )
                .unwrap();
            }
        }
        let expiry = NaiveDate::from_ymd_opt(2031, 3, 15).unwrap();
        let decision = Decision::Approved { expiry, automatic: false };
        queue_decision(conn, &pii, "u1", &decision, "https://id.north.edu/", 5).unwrap();
        let rejected = Decision::Rejected { reason: "blurry", still_valid_until: Some(expiry) };
        queue_decision(conn, &pii, "u1", &rejected, "https://id.north.edu", 6).unwrap();
        queue_decision(conn, &pii, "u2", &decision, "https://id.north.edu", 7).unwrap();
        queue_decision(conn, &pii, "nobody", &decision, "https://id.north.edu", 8).unwrap();
        let queued: i64 =
            conn.query_row("SELECT count(*) FROM outbox", [] as [i64; 0], |r| r.get(0)).unwrap();
        assert_eq!(queued, 2, "one email per decision, none without an address");
    });
    assert_eq!(driver_page("https://id.north.edu/"), "https://id.north.edu/driver");
}
