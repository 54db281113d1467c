//! The driver store on both engines (SQLite, and PostgreSQL when the tests have a server), and
//! the upload cap and a reviewer's decision holding when two PostgreSQL connections race.

use std::sync::Barrier;

use super::*;
use crate::db::conn::Tx;
use crate::db::conn_tests::{drop_schema, on_both_engines, postgres_client, postgres_client_in};
use crate::drivers::uploads::UploadRecord;

fn add_user(conn: &Conn, id: &str) {
    conn.execute(
        "INSERT INTO users (id, email_index, email, display_name, created_at)
         VALUES (?1, ?2, ?3, 'A', 0)",
        params![id, id.as_bytes(), format!("{id}@north.edu")],
    )
    .unwrap();
}

fn fields() -> LicenceFields {
    LicenceFields {
        family_name: Some("GARCIA".into()),
        given_names: Some("MARIA".into()),
        licence_number: Some("D1".into()),
        expiry: NaiveDate::from_ymd_opt(2031, 3, 15),
        birth_date: NaiveDate::from_ymd_opt(2001, 7, 4),
        issuer: Some("NY".into()),
    }
}

fn new_licence<'a>(user_id: &'a str, fields: &'a LicenceFields) -> NewLicence<'a> {
    NewLicence {
        user_id,
        status: "pending_review",
        source: "barcode",
        fields,
        name_score: Some(0.97),
        review_notes: "",
        front_check: FrontCheck::Disagrees,
        front_mismatches: &["expiry_date", "name"],
    }
}

#[test]
fn licences_round_trip_with_their_fields_and_images_on_both_engines() {
    let (_keys, pii) = crate::pii::cipher::test_cipher();
    on_both_engines(|conn| {
        add_user(conn, "u1");
        assert_eq!(profile(conn, "u1").unwrap().status, Status::None);
        let fields = fields();
        let id = insert_licence(conn, &pii, &new_licence("u1", &fields), 5).unwrap();
        let stored_name: String = conn
            .query_row("SELECT family_name FROM driver_licences WHERE id = ?1", [id], |r| r.get(0))
            .unwrap();
        assert!(crate::pii::cipher::is_sealed_text(&stored_name), "sealed at rest");
        let record = UploadRecord {
            path: "a".repeat(32),
            size: 10,
            sha256: "00".repeat(32),
            content_type: "image/png".into(),
            key_id: Some(1),
        };
        insert_upload(conn, id, "back", &record, (800, 500)).unwrap();
        let stored = licence(conn, &pii, id).unwrap().unwrap();
        assert_eq!(stored.fields, fields);
        assert_eq!((stored.name_score, stored.created_at), (Some(0.97), 5));
        assert_eq!(stored.front_check, "disagrees");
        assert_eq!(stored.front_mismatches, ["expiry_date", "name"]);
        assert_eq!(licence_to_decide(conn, &pii, id).unwrap().as_ref(), Some(&stored));
        assert_eq!(licence(conn, &pii, id + 100).unwrap(), None);
        assert_eq!(upload(conn, id, "back").unwrap(), Some(record));
        assert_eq!(upload(conn, id, "front").unwrap(), None);
        assert_eq!(pending(conn, &pii, 10).unwrap().len(), 1);
        assert!(has_pending(conn, "u1").unwrap());
        assert_eq!(queue_size(conn).unwrap(), (1, Some(5)));
        assert_eq!(licences_of(conn, &pii, "u1").unwrap(), vec![stored]);

        let second = insert_licence(conn, &pii, &new_licence("u1", &fields), 6).unwrap();
        assert!(second > id);
        assert_eq!(supersede(conn, "u1", "pending_review", second).unwrap(), vec![id]);
        assert_eq!(take_uploads_of(conn, &[id]).unwrap(), vec!["a".repeat(32)]);
        set_expiry(conn, second, NaiveDate::from_ymd_opt(2032, 1, 2).unwrap()).unwrap();
        decide(conn, second, "approved", Some("fine"), None, 7).unwrap();
        let latest = latest_licence(conn, &pii, "u1", "approved").unwrap().unwrap();
        assert_eq!(latest.fields.expiry, NaiveDate::from_ymd_opt(2032, 1, 2));
        assert_eq!((latest.decision_reason.as_deref(), latest.decided_at), (Some("fine"), Some(7)));
        assert!(!has_pending(conn, "u1").unwrap());
        assert_eq!(queue_size(conn).unwrap(), (0, None));

        let mut p = profile(conn, "u1").unwrap();
        p.status = Status::Approved;
        p.licence_id = Some(second);
        p.enabled = true;
        p.ever_approved = true;
        save_profile(conn, &p, 6).unwrap();
        assert_eq!(profile(conn, "u1").unwrap(), p);
        assert_eq!(profile_to_change(conn, "u1").unwrap(), p);
        let drivers = approved_drivers(conn).unwrap();
        assert_eq!(drivers.len(), 1);
        assert_eq!(drivers[0].expiry, NaiveDate::from_ymd_opt(2032, 1, 2));
        assert!(record_alert(conn, second, 7, 1).unwrap());
        assert!(!record_alert(conn, second, 7, 2).unwrap());

        record_upload_attempt(conn, "u1", 10, 0).unwrap();
        record_upload_attempt(conn, "u1", 20, 0).unwrap();
        assert_eq!(upload_attempts_since(conn, "u1", 5).unwrap(), (2, Some(10), Some(20)));
        record_upload_attempt(conn, "u1", 30, 10).unwrap();
        assert_eq!(upload_attempts_since(conn, "u1", 0).unwrap(), (2, Some(20), Some(30)));
        assert_eq!(upload_attempts_since(conn, "u2", 0).unwrap(), (0, None, None));
    });
}

/// Two PostgreSQL connections run `turn` at once in their own transactions, after `setup` and
/// before `after`; the sum of what they answer.
fn race(
    setup: impl FnOnce(&Conn),
    turn: impl Fn(&Tx<'_, '_>, u8) -> usize + Sync,
    after: impl FnOnce(&Conn),
) -> Option<usize> {
    let (mut client, schema) = postgres_client()?;
    crate::db::migrate_postgres(&mut client).unwrap();
    setup(&Conn::Postgres(std::cell::RefCell::new(&mut client)));
    let start = Barrier::new(2);
    let total = std::thread::scope(|scope| {
        let racers: Vec<_> = (0..2_u8)
            .map(|i| {
                let (start, schema, turn) = (&start, &schema, &turn);
                scope.spawn(move || {
                    let mut client = postgres_client_in(schema);
                    let conn = Conn::Postgres(std::cell::RefCell::new(&mut client));
                    start.wait();
                    let tx = conn.transaction().unwrap();
                    let done = turn(&tx, i);
                    tx.commit().unwrap();
                    done
                })
            })
            .collect();
        racers.into_iter().map(|r| r.join().unwrap()).sum()
    });
    after(&Conn::Postgres(std::cell::RefCell::new(&mut client)));
    drop_schema(&mut client, &schema);
    Some(total)
}

#[test]
fn two_postgres_connections_cannot_both_count_room_for_the_last_upload() {
    let uploads = race(
        |conn| {
            add_user(conn, "u1");
            for at in 1..10 {
                record_upload_attempt(conn, "u1", at, 0).unwrap();
            }
        },
        |tx, i| {
            // The first to count keeps the account's turn until it commits; the other waits
            // at its count meanwhile, then sees ten.
            let (count, _, _) = upload_attempts_since(tx, "u1", 0).unwrap();
            if count >= 10 {
                return 0;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
            record_upload_attempt(tx, "u1", 20 + i64::from(i), 0).unwrap();
            1
        },
        |_| {},
    );
    if let Some(uploads) = uploads {
        assert_eq!(uploads, 1, "both counted room for the tenth upload");
    }
}

#[test]
fn two_postgres_reviewers_cannot_both_decide_one_licence() {
    let (_keys, pii) = crate::pii::cipher::test_cipher();
    let fields = fields();
    let decided = race(
        |conn| {
            add_user(conn, "u1");
            assert_eq!(insert_licence(conn, &pii, &new_licence("u1", &fields), 5).unwrap(), 1);
        },
        |tx, i| {
            // The first reader holds the row until it commits; the other then reads it decided.
            let licence = licence_to_decide(tx, &pii, 1).unwrap().unwrap();
            if licence.status != "pending_review" {
                return 0;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
            let status = if i == 0 { "approved" } else { "rejected" };
            decide(tx, licence.id, status, None, None, 10).unwrap();
            1
        },
        |_| {},
    );
    if let Some(decided) = decided {
        assert_eq!(decided, 1, "both reviewers found the licence pending");
    }
}

#[test]
fn two_postgres_changes_of_one_profile_both_land() {
    let changed = race(
        |conn| {
            add_user(conn, "u1");
            let mut p = profile(conn, "u1").unwrap();
            (p.status, p.enabled, p.available) = (Status::Approved, true, true);
            save_profile(conn, &p, 1).unwrap();
        },
        |tx, i| {
            // Each saves the whole profile it read: the second reads after the first commits.
            let mut p = profile_to_change(tx, "u1").unwrap();
            std::thread::sleep(std::time::Duration::from_millis(200));
            if i == 0 {
                p.status = Status::Suspended;
            } else {
                p.available = false;
            }
            save_profile(tx, &p, 2).unwrap();
            1
        },
        |conn| {
            let p = profile(conn, "u1").unwrap();
            assert_eq!((p.status, p.available), (Status::Suspended, false), "a change was lost");
        },
    );
    assert!(changed.is_none_or(|n| n == 2));
}
