use super::*;

fn db() -> Connection {
    let mut conn = Connection::open_in_memory().unwrap();
    crate::db::migrate(&mut conn).unwrap();
    conn.execute(
        "INSERT INTO users (id, email_index, email, display_name, created_at)
         VALUES ('u1', x'01', 'a@north.edu', 'A', 0)",
        [],
    )
    .unwrap();
    conn
}

#[test]
fn licences_round_trip_with_their_fields_and_images() {
    let conn = db();
    let (_keys, pii) = crate::pii::cipher::test_cipher();
    assert_eq!(profile(&conn, "u1").unwrap().status, Status::None);
    let fields = LicenceFields {
        family_name: Some("GARCIA".into()),
        given_names: Some("MARIA".into()),
        licence_number: Some("D1".into()),
        expiry: NaiveDate::from_ymd_opt(2031, 3, 15),
        birth_date: NaiveDate::from_ymd_opt(2001, 7, 4),
        issuer: Some("NY".into()),
    };
    let new = NewLicence {
        user_id: "u1",
        status: "pending_review",
        source: "barcode",
        fields: &fields,
        name_score: Some(0.97),
        review_notes: "",
        front_check: FrontCheck::Disagrees,
        front_mismatches: &["expiry_date", "name"],
    };
    let id = insert_licence(&conn, &pii, &new, 5).unwrap();
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
    insert_upload(&conn, id, "back", &record, (800, 500)).unwrap();
    let stored = licence(&conn, &pii, id).unwrap().unwrap();
    assert_eq!(stored.fields, fields);
    assert_eq!(stored.front_check, "disagrees");
    assert_eq!(stored.front_mismatches, ["expiry_date", "name"]);
    assert_eq!(upload(&conn, id, "back").unwrap(), Some(record));
    assert_eq!(upload(&conn, id, "front").unwrap(), None);
    assert_eq!(pending(&conn, &pii, 10).unwrap().len(), 1);
    assert_eq!(licences_of(&conn, &pii, "u1").unwrap(), vec![stored]);
    let mut p = profile(&conn, "u1").unwrap();
    p.status = Status::Approved;
    p.licence_id = Some(id);
    save_profile(&conn, &p, 6).unwrap();
    assert_eq!(profile(&conn, "u1").unwrap(), p);
    assert!(record_alert(&conn, id, 7, 1).unwrap());
    assert!(!record_alert(&conn, id, 7, 2).unwrap());
}
