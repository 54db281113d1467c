//! Licences at rest: the fields that identify a driver and both images are sealed under the
//! PII key (the database file and the uploads directory show neither), served plain to
//! reviewers, sealed at start-up when an earlier version stored them plain, and re-sealed by
//! `gatehouse keys rotate`.

use chrono::Duration;
use gatehouse::clock::Clock;
use serde_json::Value;

use crate::support::drivers::{WIDTH, json_of, part, server, student, upload_parts};
use crate::support::engine::{is_postgres, with_database};
use crate::support::harness::{TestServer, User};
use crate::support::licence_images::{self as images, Distortion, Person};

const FAMILY: &str = "Quintanilla";

struct Uploaded {
    person: Person,
    front: Vec<u8>,
    back: Vec<u8>,
}

/// A student's licence waiting for review, and the reviewer.
async fn pending_licence(server: &TestServer) -> (Uploaded, User) {
    let student = student(server, "maria@north.edu", "Maria Quintanilla", None).await;
    let reviewer = student_reviewer(server).await;
    let expiry = server.clock.now().date_naive() + Duration::days(400);
    let person = Person::new("Maria", FAMILY, expiry);
    let back =
        images::png(&images::back_image(&images::aamva_payload(&person), WIDTH, Distortion::Clean));
    let front = images::jpeg(&images::blank_front(WIDTH), 85);
    let uploaded = upload_parts(
        &student,
        part(front.clone(), "front.jpg", "image/jpeg"),
        part(back.clone(), "back.png", "image/png"),
    )
    .await;
    json_of(uploaded, 201).await;
    (Uploaded { person, front, back }, reviewer)
}

async fn student_reviewer(server: &TestServer) -> User {
    student(server, "rev@north.edu", "Rita Reviewer", Some("reviewer")).await
}

/// The only review in the queue.
async fn review(reviewer: &User) -> Value {
    let queue = json_of(reviewer.get("/api/v1/admin/driver-reviews").await, 200).await;
    assert_eq!(queue.as_array().unwrap().len(), 1, "{queue}");
    queue[0].clone()
}

async fn image(reviewer: &User, review: &Value, side: &str) -> Vec<u8> {
    let url = review[format!("{side}_image_url")].as_str().unwrap();
    let response = reviewer.get(url).await;
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap().to_vec()
}

fn stored_files(server: &TestServer) -> Vec<Vec<u8>> {
    crate::support::drivers::stored_images(&server.data_dir())
}

fn database_bytes(server: &TestServer) -> Vec<u8> {
    ["gatehouse.db", "gatehouse.db-wal"]
        .iter()
        .filter_map(|name| std::fs::read(server.data_dir().join(name)).ok())
        .flatten()
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

fn is_image(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xD8, 0xFF]) || bytes.starts_with(b"\x89PNG")
}

/// The key ids `driver_uploads` records, one per file.
fn file_key_ids(server: &TestServer) -> Vec<i64> {
    server.blocking_conn(|conn| {
        conn.query_map(
            "SELECT coalesce(key_id, 0) FROM driver_uploads ORDER BY side",
            [] as [i64; 0],
            |r| r.get(0),
        )
        .unwrap()
    })
}

#[tokio::test]
async fn licence_fields_and_images_are_sealed_at_rest_and_served_plain() {
    let server = server(false).await;
    let (uploaded, reviewer) = pending_licence(&server).await;
    let review = review(&reviewer).await;
    assert_eq!(review["licence"]["family_name"], FAMILY.to_uppercase(), "{review}");
    assert_eq!(review["licence"]["licence_number"], uploaded.person.number.as_str());

    // The database's own bytes: SQLite's file and its WAL. PostgreSQL's files belong to its
    // server, not to the data directory; there the columns are seen sealed by
    // plain_licences_from_an_earlier_version_are_sealed_at_start_up.
    if is_postgres() {
        eprintln!("PostgreSQL: no database file of ours to scan for plain text; skipped");
    } else {
        let bytes = database_bytes(&server);
        let birth = uploaded.person.birth.format("%Y-%m-%d").to_string();
        for needle in [FAMILY, uploaded.person.number.as_str(), birth.as_str()] {
            assert!(!contains(&bytes, needle), "{needle:?} is stored in plain text");
        }
    }

    let files = stored_files(&server);
    assert_eq!(files.len(), 2, "front and back");
    for file in &files {
        assert!(!is_image(file), "an image is stored unsealed");
        assert!(*file != uploaded.front && *file != uploaded.back);
        assert_eq!(file[0], 1, "sealed-value format version");
    }
    assert_eq!(file_key_ids(&server), vec![1, 1]);
    assert_eq!(image(&reviewer, &review, "back").await, uploaded.back);
    assert_eq!(image(&reviewer, &review, "front").await, uploaded.front);
}

#[tokio::test]
async fn plain_licences_from_an_earlier_version_are_sealed_at_start_up() {
    let server = server(false).await;
    let (uploaded, _) = pending_licence(&server).await;
    let back_file: String = server.blocking_conn(|conn| {
        conn.query_row("SELECT path FROM driver_uploads WHERE side = 'back'", [] as [i64; 0], |r| {
            r.get(0)
        })
        .unwrap()
    });
    let dir = server.stop_keep_dir().await;
    // As an earlier version stored them: plain columns, a plain file, no key id.
    let data = dir.path().join("data");
    with_database(&data, |conn| {
        conn.execute(
            "UPDATE driver_licences SET family_name = ?1, licence_number = ?2",
            [FAMILY.to_uppercase(), uploaded.person.number.clone()],
        )
        .unwrap();
        conn.execute("UPDATE driver_uploads SET key_id = NULL WHERE side = 'back'", [] as [i64; 0])
            .unwrap();
        // A record of the pass naming fewer columns: a release that seals a new column.
        conn.execute(
            "UPDATE instance SET value = 'users.email' WHERE key = 'plain_text_sealed_columns'",
            [] as [i64; 0],
        )
        .unwrap();
    });
    crate::support::drivers::store_image_as_is(&data, &back_file, &uploaded.back);
    let server = TestServer::start_in(dir, |c| c.driver.tesseract = String::new()).await;
    // A sealed text value starts with the character 1.
    let sealed: i64 = server.blocking_conn(|conn| {
        conn.query_row(
            "SELECT count(*) FROM driver_licences
             WHERE substr(family_name, 1, 1) = ?1 AND substr(licence_number, 1, 1) = ?1",
            [gatehouse::pii::cipher::TEXT_MARK.to_string()],
            |r| r.get(0),
        )
        .unwrap()
    });
    assert_eq!(sealed, 1);
    assert_eq!(file_key_ids(&server), vec![1, 1]);
    assert!(stored_files(&server).iter().all(|f| !is_image(f)), "the plain file is sealed");

    let reviewer = server.new_user("rev@north.edu");
    assert_eq!(reviewer.login(crate::support::harness::PASSWORD, false).await.status(), 200);
    let review = review(&reviewer).await;
    assert_eq!(review["licence"]["family_name"], FAMILY.to_uppercase());
    assert_eq!(image(&reviewer, &review, "back").await, uploaded.back);
}

#[tokio::test]
async fn key_rotation_reseals_licence_fields_and_images() {
    let server = server(false).await;
    let (uploaded, reviewer) = pending_licence(&server).await;
    let before = stored_files(&server);

    let output = tokio::task::spawn_blocking({
        let data = server.data_dir();
        move || {
            let output = std::process::Command::new(crate::support::process::BIN)
                .args(["keys", "rotate"])
                .env_clear()
                .env("GATEHOUSE_STORAGE__DATA_DIR", &data)
                .envs(crate::support::engine::process_env(&data))
                .output()
                .unwrap();
            assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
            String::from_utf8_lossy(&output.stdout).to_string()
        }
    })
    .await
    .unwrap();
    assert!(output.contains("and 2 licence image(s) re-sealed"), "{output}");
    assert_eq!(file_key_ids(&server), vec![2, 2]);
    let after = stored_files(&server);
    for (old, new) in before.iter().zip(&after) {
        assert_eq!(new[1..5], 2u32.to_be_bytes(), "the file names key 2");
        assert_ne!(old, new);
    }
    let per_key = server.blocking_conn(|conn| {
        gatehouse::pii::sealed::values_per_key(conn, gatehouse::startup::SEALED)
    });
    assert_eq!(per_key.unwrap().keys().copied().collect::<Vec<_>>(), vec![2]);

    // The server, still running, reads them under the new key.
    let review = review(&reviewer).await;
    assert_eq!(review["licence"]["family_name"], FAMILY.to_uppercase());
    assert_eq!(image(&reviewer, &review, "back").await, uploaded.back);
    assert_eq!(image(&reviewer, &review, "front").await, uploaded.front);

    // Key 2 goes only once the next rotation has moved the images off it too.
    let output = crate::support::process::rotate(&server);
    assert!(output.contains("key 2: nothing is sealed under it"), "{output}");
    assert_eq!(file_key_ids(&server), vec![3, 3]);
    assert_eq!(image(&reviewer, &review, "back").await, uploaded.back);
}

/// A phone photo's EXIF block (APP1) with a position in it, put after the JPEG's SOI marker.
fn with_exif(jpeg: &[u8], secret: &[u8]) -> Vec<u8> {
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend(secret);
    let mut out = jpeg[..2].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend(((payload.len() + 2) as u16).to_be_bytes());
    out.extend(payload);
    out.extend(&jpeg[2..]);
    out
}

#[tokio::test]
async fn uploaded_images_lose_their_metadata_before_they_are_stored() {
    let server = server(false).await;
    let student = student(&server, "gps@north.edu", "Maria Quintanilla", None).await;
    let reviewer = student_reviewer(&server).await;
    let person =
        Person::new("Maria", FAMILY, server.clock.now().date_naive() + Duration::days(400));
    let secret = b"GPSLatitude 51.5072 N GPSLongitude 0.1276 W";
    let clean_front = images::jpeg(&images::blank_front(WIDTH), 85);
    let front = with_exif(&clean_front, secret);
    let back =
        images::png(&images::back_image(&images::aamva_payload(&person), WIDTH, Distortion::Clean));
    let uploaded = upload_parts(
        &student,
        part(front, "front.jpg", "image/jpeg"),
        part(back, "back.png", "image/png"),
    )
    .await;
    json_of(uploaded, 201).await;
    let review = review(&reviewer).await;
    let stored = image(&reviewer, &review, "front").await;
    assert_eq!(stored, clean_front, "the image as uploaded, without its EXIF block");
    assert!(!stored.windows(secret.len()).any(|w| w == secret));
}
