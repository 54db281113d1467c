//! The expiry job's rules, and one driver's alert and suspension on both engines.

use super::*;
use crate::accounts;
use crate::db::conn_tests::on_both_engines;
use crate::drivers::licence::aamva::LicenceFields;
use crate::drivers::licence::front_check::FrontCheck;
use crate::drivers::store::NewLicence;

#[test]
fn the_alert_due_is_the_nearest_threshold() {
    let due: Vec<Option<i64>> = (-1..=9).map(alert_for).collect();
    assert_eq!(
        due,
        vec![None, None, Some(1), Some(3), Some(3), Some(7), Some(7), Some(7), Some(7), None, None]
    );
}

/// An approved driver `u1` whose licence expires on `expiry`, available to drive.
fn approved_driver(conn: &Conn, pii: &FieldCipher, expiry: NaiveDate) -> ApprovedDriver {
    let user = accounts::NewUser::ada("u1");
    assert!(accounts::insert(conn, pii, &user).unwrap());
    let fields = LicenceFields { expiry: Some(expiry), ..LicenceFields::default() };
    let new = NewLicence {
        user_id: "u1",
        status: "approved",
        source: "barcode",
        fields: &fields,
        name_score: None,
        review_notes: "",
        front_check: FrontCheck::Agrees,
        front_mismatches: &[],
    };
    let licence_id = store::insert_licence(conn, pii, &new, 2).unwrap();
    let mut profile = store::profile(conn, "u1").unwrap();
    profile.status = Status::Approved;
    profile.licence_id = Some(licence_id);
    profile.enabled = true;
    profile.available = true;
    profile.ever_approved = true;
    store::save_profile(conn, &profile, 2).unwrap();
    let drivers = store::approved_drivers(conn).unwrap();
    assert_eq!(drivers.len(), 1);
    drivers.into_iter().next().unwrap()
}

fn count(conn: &Conn, table: &str) -> i64 {
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [] as [i64; 0], |r| r.get(0)).unwrap()
}

#[test]
fn a_driver_is_alerted_once_then_suspended_on_both_engines() {
    let (_keys, pii) = crate::pii::cipher::test_cipher();
    let expiry = NaiveDate::from_ymd_opt(2031, 3, 15).unwrap();
    let day = |before: u64| expiry.checked_sub_days(chrono::Days::new(before)).unwrap();
    on_both_engines(|conn| {
        let driver = approved_driver(conn, &pii, expiry);
        let url = "https://id.north.edu";
        let run = |today, now| {
            let tx = conn.transaction().unwrap();
            let outcome = handle(&tx, &pii, &driver, today, now, url).unwrap();
            tx.commit().unwrap();
            outcome
        };
        assert_eq!(run(day(10), 10), Outcome::Nothing, "no alert is due yet");
        assert_eq!(run(day(3), 11), Outcome::Alerted);
        assert_eq!(run(day(3), 12), Outcome::Nothing, "each alert is sent once");
        assert_eq!((count(conn, "driver_expiry_alerts"), count(conn, "outbox")), (1, 1));

        assert_eq!(run(expiry, 13), Outcome::Suspended);
        let profile = store::profile(conn, "u1").unwrap();
        assert_eq!((profile.status, profile.available), (Status::Suspended, false));
        assert_eq!(profile.reason.as_deref(), Some("Your licence expired on 2031-03-15."));
        let actions: Vec<String> = conn
            .query_map("SELECT action FROM audit_log ORDER BY id", [] as [i64; 0], |r| r.get(0))
            .unwrap();
        assert_eq!(actions, [actions::DRIVER_UNAVAILABLE, actions::DRIVER_SUSPENDED]);
        assert_eq!(count(conn, "outbox"), 2, "the suspension is emailed");
        assert_eq!(run(expiry, 14), Outcome::Nothing, "a suspended driver is left alone");
    });
}
