//! A submission recorded alike on both engines, and two at once on PostgreSQL.

use chrono::NaiveDate;

use super::*;
use crate::accounts;
use crate::db::conn_tests::{drop_schema, on_both_engines, postgres_client, race_on_postgres};
use crate::drivers::licence::aamva::LicenceFields;
use crate::drivers::licence::front_check::{FrontCheck, FrontComparison};

fn add_user(conn: &Conn, pii: &FieldCipher) {
    let user =
        accounts::NewUser { legal_name: Some("Maria Garcia"), ..accounts::NewUser::ada("u1") };
    assert!(accounts::insert(conn, pii, &user).unwrap());
}

/// An upload of `u1` whose image files are called `<name>-front` and `<name>-back`.
fn submission(name: &str, automatic: bool) -> Submission {
    let record = |side: &str| UploadRecord {
        path: format!("{name}-{side}"),
        size: 10,
        sha256: "00".repeat(32),
        content_type: "image/png".into(),
        key_id: Some(1),
    };
    let fields = LicenceFields {
        family_name: Some("GARCIA".into()),
        expiry: NaiveDate::from_ymd_opt(2031, 3, 15),
        ..LicenceFields::default()
    };
    let front = FrontComparison { outcome: FrontCheck::Agrees, ..FrontComparison::no_barcode() };
    Submission {
        user_id: "u1".into(),
        ip: None,
        extraction: Extraction { source: "barcode", fields, front, notes: Vec::new() },
        notes: Vec::new(),
        score: Some(0.97),
        renewal: automatic,
        automatic,
        records: vec![record("front"), record("back")],
        dims: [(800, 500), (800, 500)],
    }
}

fn statuses(conn: &Conn) -> Vec<String> {
    conn.query_map("SELECT status FROM driver_licences ORDER BY id", [] as [i64; 0], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_new_upload_supersedes_the_pending_one_and_a_renewal_may_pass_on_both_engines() {
    let (_keys, pii) = crate::pii::cipher::test_cipher();
    on_both_engines(|conn| {
        add_user(conn, &pii);
        let url = "https://id.north.edu";
        assert!(record(conn, &pii, &submission("a", false), 10, url).unwrap().is_empty());
        let mut superseded = record(conn, &pii, &submission("b", false), 11, url).unwrap();
        superseded.sort();
        assert_eq!(superseded, ["a-back", "a-front"], "the first upload's files go");
        assert_eq!(statuses(conn), ["superseded", "pending_review"]);
        assert_eq!(store::profile(conn, "u1").unwrap().status, Status::PendingReview);

        let mut replaced = record(conn, &pii, &submission("c", true), 12, url).unwrap();
        replaced.sort();
        assert_eq!(replaced, ["b-back", "b-front"]);
        assert_eq!(statuses(conn), ["superseded", "superseded", "approved"]);
        let profile = store::profile(conn, "u1").unwrap();
        assert_eq!((profile.status, profile.licence_id), (Status::Approved, Some(3)));
        let actions: Vec<String> = conn
            .query_map("SELECT action FROM audit_log ORDER BY id", [] as [i64; 0], |r| r.get(0))
            .unwrap();
        let requested = actions::DRIVER_REQUESTED;
        assert_eq!(actions, [requested, requested, actions::DRIVER_APPROVED]);
        let emails: i64 =
            conn.query_row("SELECT count(*) FROM outbox", [] as [i64; 0], |r| r.get(0)).unwrap();
        assert_eq!(emails, 1, "the automatic approval is emailed");
    });
}

#[test]
fn two_uploads_at_once_on_postgres_leave_one_pending() {
    let (_keys, pii) = crate::pii::cipher::test_cipher();
    let Some((mut client, schema)) = postgres_client() else { return };
    crate::db::migrate_postgres(&mut client).unwrap();
    add_user(&Conn::Postgres(std::cell::RefCell::new(&mut client)), &pii);
    let url = "https://id.north.edu";
    race_on_postgres(
        &schema,
        |tx| {
            record(tx, &pii, &submission("a", false), 10, url).unwrap();
        },
        // Without the account's turn this one would not see the first's licence to supersede.
        |tx| record(tx, &pii, &submission("b", false), 11, url).unwrap(),
        |_| {},
    );
    {
        let conn = Conn::Postgres(std::cell::RefCell::new(&mut client));
        assert_eq!(statuses(&conn), ["superseded", "pending_review"], "both stayed pending");
    }
    drop_schema(&mut client, &schema);
}
