//! Helpers for the driver-verification tests: students with a legal name, licences uploaded
//! and approved, the audit rows they leave, and the OCR skip rule.

use chrono::NaiveDate;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::support::harness::{PASSWORD, TestServer, User};
use crate::support::licence_images::{self as images, Distortion, Person};

/// The width in pixels of a generated licence card.
pub const WIDTH: u32 = 1400;

/// A verified, signed-in student with `legal_name` on the profile (and `role`, if any).
pub async fn student(
    server: &TestServer,
    email: &str,
    legal_name: &str,
    role: Option<&str>,
) -> User {
    if server.query_i64("SELECT count(*) FROM campuses") == 0 {
        server.add_campus("North", &["north.edu"]);
    }
    let registered = server
        .post(
            "/api/v1/auth/register",
            json!({"email": email, "password": PASSWORD, "display_name": "Driver", "legal_name": legal_name}),
        )
        .await;
    assert_eq!(registered.status(), 202);
    let token = server.mail_to(email, "Confirm your email").await.link_token("/verify-email");
    assert_eq!(
        server.post("/api/v1/auth/verify-email", json!({"token": token})).await.status(),
        200
    );
    if let Some(role) = role {
        let index = server.state.accounts.email_index(email);
        server.blocking_conn(|conn| {
            conn.execute(
                "UPDATE users SET role = ?1 WHERE email_index = ?2",
                rusqlite::params![role, index],
            )
            .unwrap()
        });
    }
    let user = server.new_user(email);
    assert_eq!(user.login(PASSWORD, false).await.status(), 200);
    user
}

pub fn today(server: &TestServer) -> NaiveDate {
    use gatehouse::clock::Clock;
    server.clock.now().date_naive()
}

pub fn part(bytes: Vec<u8>, name: &str, mime: &str) -> Part {
    Part::bytes(bytes).file_name(name.to_string()).mime_str(mime).unwrap()
}

pub async fn upload_parts(user: &User, front: Part, back: Part) -> reqwest::Response {
    let form = Form::new().part("front", front).part("back", back);
    user.send(reqwest::Method::POST, "/api/v1/driver/license").multipart(form).send().await.unwrap()
}

/// Uploads a clean licence for `person`: PNG back with the barcode, JPEG front.
pub async fn upload(user: &User, person: &Person) -> reqwest::Response {
    let back =
        images::png(&images::back_image(&images::aamva_payload(person), WIDTH, Distortion::Clean));
    let front = images::jpeg(&images::blank_front(WIDTH), 85);
    upload_parts(user, part(front, "front.jpg", "image/jpeg"), part(back, "back.png", "image/png"))
        .await
}

pub async fn json_of(response: reqwest::Response, status: u16) -> Value {
    let got = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(got, status, "{body}");
    body
}

pub async fn driver(user: &User) -> Value {
    json_of(user.get("/api/v1/driver").await, 200).await
}

/// Who did `action` (`None`: the system) and why, for each audit row of it, oldest first.
pub fn audited(server: &TestServer, action: &str) -> Vec<(Option<String>, String)> {
    let rows: Vec<(Option<String>, String)> = server.blocking_conn(|conn| {
        conn.query_map(
            "SELECT actor_id, details FROM audit_log WHERE action = ?1 ORDER BY id",
            [action],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    });
    rows.into_iter()
        .map(|(actor, details)| {
            let details: Value = serde_json::from_str(&details).unwrap();
            (actor, details["reason"].as_str().unwrap_or_else(|| panic!("{details}")).to_string())
        })
        .collect()
}

/// Starts a server with OCR off (so results do not depend on the machine) unless `ocr`.
pub async fn server(ocr: bool) -> TestServer {
    TestServer::start_with(|c| {
        if !ocr {
            c.driver.tesseract = String::new();
        }
    })
    .await
}

/// A new session (the manual clock outruns sessions).
pub async fn sign_in(server: &TestServer, email: &str) -> User {
    let user = server.new_user(email);
    assert_eq!(user.login(PASSWORD, false).await.status(), 200);
    user
}

/// A student named Ana Cruz whose licence (`person`'s, a blank front) an admin approved, with
/// driving and availability switched on.
pub async fn approved_driver_as(server: &TestServer, email: &str, person: &Person) -> User {
    let user = student(server, email, "Ana Cruz", None).await;
    json_of(upload(&user, person).await, 201).await;
    let id = server.query_i64("SELECT max(id) FROM driver_licences");
    let admin = server.blocking_conn(|conn| {
        conn.query_row("SELECT id FROM users WHERE role = 'admin' LIMIT 1", [] as [i64; 0], |r| {
            r.get::<String>(0)
        })
        .ok()
    });
    if admin.is_none() {
        student(server, "admin@north.edu", "Ada Admin", Some("admin")).await;
    }
    let admin = server.new_user("admin@north.edu");
    assert_eq!(admin.login(PASSWORD, false).await.status(), 200);
    assert_eq!(
        admin.post(&format!("/api/v1/admin/driver-reviews/{id}/approve"), json!({})).await.status(),
        204
    );
    json_of(user.post("/api/v1/driver/enable", json!({})).await, 200).await;
    json_of(user.post("/api/v1/driver/availability", json!({"available": true})).await, 200).await;
    user
}

/// The OCR test needs tesseract and a font; without them it is skipped, and says so, unless
/// `GATEHOUSE_REQUIRE_OCR=1` (set by scripts/test.sh where tesseract is installed) says the
/// machine has them: then a skip would hide a broken setup, so it fails.
pub fn skip_ocr(why: &str) {
    assert!(
        std::env::var("GATEHOUSE_REQUIRE_OCR").as_deref() != Ok("1"),
        "GATEHOUSE_REQUIRE_OCR=1 but the OCR test cannot run: {why}"
    );
    eprintln!("skipped: {why}");
}

/// The licence images as stored, ordered by name: sealed files in `uploads/` on SQLite, rows
/// of `licence_images` on PostgreSQL.
pub fn stored_images(data_dir: &std::path::Path) -> Vec<Vec<u8>> {
    if crate::support::engine::is_postgres() {
        return crate::support::engine::with_database(data_dir, |conn| {
            conn.query_map("SELECT sealed FROM licence_images ORDER BY name", [] as [i64; 0], |r| {
                r.get(0)
            })
            .unwrap()
        });
    }
    let mut files: Vec<_> =
        std::fs::read_dir(data_dir.join("uploads")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files.iter().filter(|p| p.is_file()).map(|p| std::fs::read(p).unwrap()).collect()
}

/// How many licence images are stored (see [`stored_images`]).
pub fn stored_image_count(server: &TestServer) -> usize {
    stored_images(&server.data_dir()).len()
}

/// Replaces the stored bytes of image `name` as they are (a file, or a row on PostgreSQL).
pub fn store_image_as_is(data_dir: &std::path::Path, name: &str, bytes: &[u8]) {
    if crate::support::engine::is_postgres() {
        crate::support::engine::with_database(data_dir, |conn| {
            let changed = conn
                .execute(
                    "UPDATE licence_images SET sealed = ?2 WHERE name = ?1",
                    rusqlite::params![name, bytes],
                )
                .unwrap();
            assert_eq!(changed, 1, "no stored image {name}");
        });
    } else {
        std::fs::write(data_dir.join("uploads").join(name), bytes).unwrap();
    }
}

/// The image `name` opened by the server's store, on a thread of its own (the store may use
/// PostgreSQL's synchronous client, which must not run on the test's runtime).
pub fn uploaded_image(server: &TestServer, name: &str) -> Vec<u8> {
    let store = server.state.drivers.uploads.clone();
    let name = name.to_string();
    std::thread::spawn(move || store.get(&name).unwrap()).join().unwrap()
}
