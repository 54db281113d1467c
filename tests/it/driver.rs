//! Driver verification end to end: generated licence images uploaded over real HTTP, read by
//! the real barcode reader (and OCR when tesseract is installed), reviewed, switched on, and
//! taken through expiry with the manual clock.

use chrono::Duration;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::support::drivers::{
    WIDTH, approved_driver_as, audited, driver, json_of, part, server, sign_in, skip_ocr,
    stored_image_count, student, today, upload, upload_parts, uploaded_image,
};
use crate::support::harness::{PASSWORD, TestServer, User, problem};
use crate::support::licence_images::{self as images, Distortion, Person};

/// The reviewer's note on a licence uploaded where OCR is off.
const NO_OCR: &str = "The front was not compared with the barcode: OCR is not installed.";

/// The id of the user with `email`.
fn user_id(server: &TestServer, email: &str) -> String {
    let index = server.state.accounts.email_index(email);
    server.blocking_conn(|conn| {
        conn.query_row("SELECT id FROM users WHERE email_index = ?1", [index], |r| r.get(0))
            .unwrap()
    })
}

#[tokio::test]
async fn a_first_licence_waits_for_a_reviewer_then_the_driver_can_switch_on() {
    let server = server(false).await;
    let maria = student(&server, "maria@north.edu", "María José García", None).await;
    let reviewer = student(&server, "rev@north.edu", "Rita Reviewer", Some("reviewer")).await;
    assert_eq!(driver(&maria).await["status"], "none");

    let mut person = Person::new("Maria", "Garcia", today(&server) + Duration::days(400));
    person.middle = "Jose".into();
    let state = json_of(upload(&maria, &person).await, 201).await;
    assert_eq!(state["status"], "pending_review");
    let pending = &state["pending_licence"];
    assert_eq!(pending["source"], "barcode");
    assert_eq!(pending["family_name"], "GARCIA");
    assert_eq!(pending["given_names"], "MARIA JOSE");
    assert_eq!(pending["licence_number"], "D12345678");
    assert_eq!(pending["expiry_date"], person.expiry.to_string());
    assert_eq!(pending["birth_date"], "1999-01-02");
    assert_eq!(pending["issuer"], "NY");
    assert_eq!(pending["name_score"], 1.0);
    assert_eq!(pending["review_notes"], json!([NO_OCR]), "every check passed; a person decides");
    assert_eq!(pending["front_check"], json!({"result": "not_available", "mismatched": []}));
    let maria_id = user_id(&server, "maria@north.edu");
    assert_eq!(
        audited(&server, "driver.requested"),
        [(Some(maria_id.clone()), NO_OCR.to_string())]
    );

    // The database keeps where the images are, never their bytes; the files are sealed
    // (tests/it/driver_at_rest.rs), and open to what was uploaded.
    let rows: Vec<(String, i64, String, String)> = server.blocking_conn(|conn| {
        conn.query_map(
            "SELECT path, size, sha256, content_type FROM driver_uploads ORDER BY side",
            [] as [i64; 0],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap()
    });
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].3.as_str(), rows[1].3.as_str()), ("image/png", "image/jpeg"));
    for (path, size, sha, _) in &rows {
        let bytes = uploaded_image(&server, path);
        assert_eq!(bytes.len() as i64, *size);
        use sha2::Digest;
        assert_eq!(&hex::encode(sha2::Sha256::digest(&bytes)), sha);
    }

    // Not approved yet: no driving, no availability.
    problem(maria.post("/api/v1/driver/enable", json!({})).await, 409, "driver_not_approved").await;
    problem(
        maria.post("/api/v1/driver/availability", json!({"available": true})).await,
        409,
        "driver_not_approved",
    )
    .await;

    // Students cannot see the queue or the images; reviewers can.
    problem(maria.get("/api/v1/admin/driver-reviews").await, 403, "forbidden").await;
    let queue = json_of(reviewer.get("/api/v1/admin/driver-reviews").await, 200).await;
    assert_eq!(queue.as_array().unwrap().len(), 1);
    let review = &queue[0];
    assert_eq!(review["legal_name"], "María José García");
    assert_eq!(review["renewal"], false);
    let id = review["id"].as_i64().unwrap();
    let back_url = review["back_image_url"].as_str().unwrap();
    problem(maria.get(back_url).await, 403, "forbidden").await;
    let image = reviewer.get(back_url).await;
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/png");
    assert_eq!(image.headers()["cache-control"], "private, no-store");
    assert_eq!(image.bytes().await.unwrap().len() as i64, rows[0].1);
    problem(
        reviewer.get(&format!("/api/v1/admin/driver-reviews/{id}/images/side")).await,
        404,
        "image_not_found",
    )
    .await;

    let approved =
        reviewer.post(&format!("/api/v1/admin/driver-reviews/{id}/approve"), json!({})).await;
    assert_eq!(approved.status(), 204);
    problem(
        reviewer.post(&format!("/api/v1/admin/driver-reviews/{id}/approve"), json!({})).await,
        409,
        "review_already_decided",
    )
    .await;
    let state = driver(&maria).await;
    assert_eq!(state["status"], "approved");
    assert_eq!(state["can_drive"], true);
    assert_eq!(state["expiry_date"], person.expiry.to_string());
    assert_eq!(state["upload_from"], (person.expiry - Duration::days(7)).to_string());

    // Availability needs driving switched on first.
    problem(
        maria.post("/api/v1/driver/availability", json!({"available": true})).await,
        409,
        "driver_not_approved",
    )
    .await;
    let state = json_of(maria.post("/api/v1/driver/enable", json!({})).await, 200).await;
    assert_eq!(state["enabled"], true);
    let state =
        json_of(maria.post("/api/v1/driver/availability", json!({"available": true})).await, 200)
            .await;
    assert_eq!(state["available"], true);
    let state =
        json_of(maria.post("/api/v1/driver/availability", json!({"available": false})).await, 200)
            .await;
    assert_eq!(state["available"], false);

    // Every capability change is audited with its actor and a reason.
    let reviewer_index = server.state.accounts.email_index("rev@north.edu");
    let (approvals, reviewer_id): ((String, String), String) = server.blocking_conn(|conn| {
        let approvals = conn
            .query_row(
                "SELECT a.actor_id, a.details FROM audit_log a WHERE action = 'driver.approved'",
                [] as [i64; 0],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let reviewer_id = conn
            .query_row("SELECT id FROM users WHERE email_index = ?1", [reviewer_index], |r| {
                r.get(0)
            })
            .unwrap();
        (approvals, reviewer_id)
    });
    assert_eq!(approvals.0, reviewer_id);
    assert!(approvals.1.contains("reason"));
    // The driver's own switches: the driver is the actor.
    let by_maria = |reason: &str| vec![(Some(maria_id.clone()), reason.to_string())];
    assert_eq!(audited(&server, "driver.enabled"), by_maria("requested by the driver"));
    for action in ["driver.availability_on", "driver.availability_off"] {
        assert_eq!(audited(&server, action), by_maria("switched by the driver"), "{action}");
    }
}

#[tokio::test]
async fn rejections_carry_a_reason_and_reviewers_cannot_decide_their_own() {
    let server = server(false).await;
    let reviewer = student(&server, "rev@north.edu", "Rita Reviewer", Some("reviewer")).await;
    let expiry = today(&server) + Duration::days(300);
    json_of(upload(&reviewer, &Person::new("Rita", "Reviewer", expiry)).await, 201).await;
    let own = json_of(reviewer.get("/api/v1/admin/driver-reviews").await, 200).await[0]["id"]
        .as_i64()
        .unwrap();
    problem(
        reviewer.post(&format!("/api/v1/admin/driver-reviews/{own}/approve"), json!({})).await,
        403,
        "own_review",
    )
    .await;

    let sam = student(&server, "sam@north.edu", "Sam Lee", None).await;
    json_of(upload(&sam, &Person::new("Sam", "Lee", expiry)).await, 201).await;
    let queue = json_of(reviewer.get("/api/v1/admin/driver-reviews").await, 200).await;
    let id = queue
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["user_id"] != queue[0]["user_id"] || r["id"] != own)
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/v1/admin/driver-reviews/{id}/reject");
    problem(reviewer.post(&path, json!({"reason": "  "})).await, 422, "validation_failed").await;
    assert_eq!(
        reviewer.post(&path, json!({"reason": "The photo is of another card."})).await.status(),
        204
    );
    let state = driver(&sam).await;
    assert_eq!(state["status"], "rejected");
    assert_eq!(state["reason"], "The photo is of another card.");
    assert_eq!(state["rejected_licence"]["decision_reason"], "The photo is of another card.");
    assert_eq!(
        audited(&server, "driver.rejected"),
        [(Some(user_id(&server, "rev@north.edu")), "The photo is of another card.".to_string())]
    );
    problem(
        reviewer.post("/api/v1/admin/driver-reviews/999/approve", json!({})).await,
        404,
        "review_not_found",
    )
    .await;
}

#[tokio::test]
async fn bad_images_are_refused_with_a_clear_code() {
    let server = TestServer::start_with(|c| {
        c.driver.tesseract = String::new();
        c.driver.max_image_bytes = 2 * 1024 * 1024;
    })
    .await;
    let user = student(&server, "ana@north.edu", "Ana Cruz", None).await;
    let good = || part(images::png(&images::blank_front(WIDTH)), "f.png", "image/png");

    // A ZIP named and labelled as a PNG.
    let zip = b"PK\x03\x04\x14\x00\x00\x00\x08\x00rest-of-a-zip-archive".to_vec();
    let body = problem(
        upload_parts(&user, good(), part(zip, "back.png", "image/png")).await,
        422,
        "unsupported_image_type",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("back"));
    // 1x1.
    let tiny = images::png(&image::GrayImage::new(1, 1));
    problem(
        upload_parts(&user, part(tiny, "f.png", "image/png"), good()).await,
        422,
        "image_too_small",
    )
    .await;
    // A 30000 x 30000 header: refused from the header, before any decoding.
    let bomb = png_header(30_000, 30_000);
    let body = problem(
        upload_parts(&user, good(), part(bomb, "b.png", "image/png")).await,
        422,
        "image_too_many_pixels",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("30000x30000"));
    // A JPEG cut in half.
    let mut truncated = images::jpeg(&images::blank_front(WIDTH), 90);
    truncated.truncate(truncated.len() / 2);
    problem(
        upload_parts(&user, part(truncated, "f.jpg", "image/jpeg"), good()).await,
        422,
        "image_unreadable",
    )
    .await;
    // Over the per-file limit (noise does not compress).
    let noisy =
        images::png(&imageproc::noise::gaussian_noise(&images::blank_front(2000), 0.0, 80.0, 1));
    assert!(noisy.len() > 2 * 1024 * 1024);
    problem(
        upload_parts(&user, good(), part(noisy, "b.png", "image/png")).await,
        422,
        "image_too_large",
    )
    .await;
    // A side missing.
    let form = Form::new().part("front", good());
    let missing = user
        .send(reqwest::Method::POST, "/api/v1/driver/license")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);
    assert_eq!(missing.headers()["content-type"], "application/problem+json");

    assert_eq!(server.query_i64("SELECT count(*) FROM driver_licences"), 0);
    let stored = stored_image_count(&server);
    assert_eq!(stored, 0, "nothing stored for refused uploads");
    assert_eq!(driver(&user).await["status"], "none");
}

/// A PNG signature and header claiming `width` x `height`, with no pixels.
fn png_header(width: u32, height: u32) -> Vec<u8> {
    fn crc(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(13u32.to_be_bytes());
    out.extend(&ihdr);
    out.extend(crc(&ihdr).to_be_bytes());
    out.extend(0u32.to_be_bytes());
    out.extend(b"IDAT");
    out.extend(crc(b"IDAT").to_be_bytes());
    out
}

#[tokio::test]
async fn unreadable_or_odd_licences_go_to_review_with_the_reason() {
    let server = server(false).await;
    let user = student(&server, "ana@north.edu", "Ana Cruz", None).await;
    let front = || part(images::png(&images::blank_front(WIDTH)), "f.png", "image/png");
    let back = |payload: &str| {
        part(
            images::png(&images::back_image(payload, WIDTH, Distortion::Clean)),
            "b.png",
            "image/png",
        )
    };

    // A barcode with a garbage payload.
    let state =
        json_of(upload_parts(&user, front(), back("garbage \u{7} payload 12345")).await, 201).await;
    let notes = state["pending_licence"]["review_notes"].to_string();
    assert!(notes.contains("does not hold AAMVA"), "{notes}");
    assert!(notes.contains("OCR is not available"), "{notes}");
    assert_eq!(state["pending_licence"]["source"], "none");

    // A wrong header.
    let person = Person::new("Ana", "Cruz", today(&server) + Duration::days(100));
    let wrong = images::aamva_payload(&person).replace("ANSI ", "HELLO");
    let state = json_of(upload_parts(&user, front(), back(&wrong)).await, 201).await;
    assert!(state["pending_licence"]["review_notes"].to_string().contains("does not hold AAMVA"));
    assert_eq!(
        server.query_i64("SELECT count(*) FROM driver_licences WHERE status = 'pending_review'"),
        1,
        "the new upload replaced the one waiting"
    );

    // No barcode at all.
    let blank = part(images::png(&images::blank_front(WIDTH)), "b.png", "image/png");
    let state = json_of(upload_parts(&user, front(), blank).await, 201).await;
    assert!(
        state["pending_licence"]["review_notes"].to_string().contains("No barcode could be read")
    );

    // An impossible expiry (February 30th).
    let feb30 = images::aamva_payload(&person)
        .replace(&person.expiry.format("%m%d%Y").to_string(), "02302030");
    let state = json_of(upload_parts(&user, front(), back(&feb30)).await, 201).await;
    let pending = &state["pending_licence"];
    assert_eq!(pending["expiry_date"], Value::Null);
    assert!(pending["review_notes"].to_string().contains("02302030"), "{pending}");

    // Without a date the reviewer must give one, and it must be in the future.
    let reviewer = student(&server, "rev@north.edu", "Rita Reviewer", Some("admin")).await;
    let id = pending["id"].as_i64().unwrap();
    let approve = format!("/api/v1/admin/driver-reviews/{id}/approve");
    problem(reviewer.post(&approve, json!({})).await, 422, "expiry_unknown").await;
    problem(
        reviewer.post(&approve, json!({"expiry_date": "2030-02-30"})).await,
        422,
        "validation_failed",
    )
    .await;
    let yesterday = (today(&server) - Duration::days(1)).to_string();
    problem(
        reviewer.post(&approve, json!({"expiry_date": yesterday})).await,
        422,
        "licence_expired",
    )
    .await;
    let later = (today(&server) + Duration::days(90)).to_string();
    assert_eq!(reviewer.post(&approve, json!({"expiry_date": later})).await.status(), 204);
    assert_eq!(driver(&user).await["expiry_date"], later);
    // Superseded uploads' files are gone: only the approved licence's two remain.
    assert_eq!(stored_image_count(&server), 2);
}

#[tokio::test]
async fn expired_licences_names_and_preconditions() {
    let server = server(false).await;
    // No legal name on the profile.
    let nameless = student(&server, "n@north.edu", "", None).await;
    let person = Person::new("Ana", "Cruz", today(&server) + Duration::days(100));
    problem(upload(&nameless, &person).await, 409, "legal_name_required").await;

    // Expired yesterday.
    let ana = student(&server, "ana@north.edu", "Ana Cruz", None).await;
    let expired = Person::new("Ana", "Cruz", today(&server) - Duration::days(1));
    let body = problem(upload(&ana, &expired).await, 422, "licence_expired").await;
    assert!(body["detail"].as_str().unwrap().contains(&expired.expiry.to_string()));

    // A name that matches only after normalisation.
    let zoe = student(&server, "zoe@north.edu", "Zoë O'Brien-Smith", None).await;
    let state =
        json_of(upload(&zoe, &Person::new("Zoe", "OBrien Smith", person.expiry)).await, 201).await;
    assert_eq!(state["pending_licence"]["name_score"], 1.0);
    assert_eq!(state["pending_licence"]["review_notes"], json!([NO_OCR]));

    // Someone else's licence.
    let state =
        json_of(upload(&ana, &Person::new("John", "Smith", person.expiry)).await, 201).await;
    let pending = &state["pending_licence"];
    assert!(pending["name_score"].as_f64().unwrap() < 0.9);
    assert!(
        pending["review_notes"].to_string().contains("does not match the legal name"),
        "{pending}"
    );
    // The request's audit row gives what the reviewer must look at as its reason.
    let (actor, reason) = audited(&server, "driver.requested").pop().unwrap();
    assert_eq!(actor, Some(user_id(&server, "ana@north.edu")));
    assert!(reason.contains("does not match the legal name"), "{reason}");

    // Unauthenticated.
    problem(server.get("/api/v1/driver").await, 401, "unauthenticated").await;
}

/// An approved driver whose licence expires in `days` days.
async fn approved_driver(server: &TestServer, email: &str, days: i64) -> (User, Person) {
    let person = Person::new("Ana", "Cruz", today(server) + Duration::days(days));
    (approved_driver_as(server, email, &person).await, person)
}

#[tokio::test]
async fn the_expiry_job_alerts_once_each_then_suspends_and_a_reviewer_approves_the_renewal() {
    let server = server(false).await;
    let (ana, person) = approved_driver(&server, "ana@north.edu", 10).await;
    let run = || server.state.drivers.run_expiry_job();

    assert_eq!(run().await.unwrap().alerts_sent, 0, "10 days left: nothing yet");
    // Too early for a new licence: refused with the date it will be accepted.
    let renewal = Person { expiry: person.expiry + Duration::days(1800), ..person.clone() };
    let body = problem(upload(&ana, &renewal).await, 409, "renewal_too_early").await;
    assert!(
        body["detail"].as_str().unwrap().contains(&(person.expiry - Duration::days(7)).to_string())
    );

    server.clock.advance(Duration::days(3));
    assert_eq!(run().await.unwrap().alerts_sent, 1, "7 days left");
    assert_eq!(run().await.unwrap().alerts_sent, 0, "sent once");
    let mail = server.mail_to("ana@north.edu", "expires in 7 day").await;
    assert!(mail.text.contains(&person.expiry.to_string()));
    let ana = sign_in(&server, "ana@north.edu").await;
    assert!(driver(&ana).await["alerts"][0].as_str().unwrap().contains("7 day"));

    // Across a restart too: the sends are in the database.
    use gatehouse::clock::Clock;
    let stopped_at = server.clock.now();
    let dir = server.stop_keep_dir().await;
    let server = TestServer::start_in(dir, |c| c.driver.tesseract = String::new()).await;
    server.clock.advance(stopped_at - server.clock.now());
    let run = || server.state.drivers.run_expiry_job();
    assert_eq!(run().await.unwrap().alerts_sent, 0, "already sent before the restart");

    for (days_left, expected) in [(6, 0), (5, 0), (4, 0), (3, 1), (2, 0), (1, 1)] {
        server.clock.advance(Duration::days(1));
        assert_eq!(run().await.unwrap().alerts_sent, expected, "{days_left} days left");
    }
    assert_eq!(server.query_i64("SELECT count(*) FROM driver_expiry_alerts"), 3);
    server.flush_outbox().await;
    assert_eq!(server.mails().iter().filter(|m| m.subject.contains("expires in")).count(), 3);

    // Expiry day: suspended, unavailable.
    server.clock.advance(Duration::days(1));
    let report = run().await.unwrap();
    assert_eq!(report.suspended, 1);
    assert_eq!(run().await.unwrap().suspended, 0, "once");
    let ana = sign_in(&server, "ana@north.edu").await;
    let state = driver(&ana).await;
    assert_eq!(state["status"], "suspended");
    assert_eq!(state["available"], false);
    assert_eq!(state["can_drive"], false);
    assert!(state["reason"].as_str().unwrap().contains(&person.expiry.to_string()));
    problem(
        ana.post("/api/v1/driver/availability", json!({"available": true})).await,
        409,
        "driver_not_approved",
    )
    .await;
    // The system did it (no actor), and says why.
    let by_system = vec![(None, "licence expired".to_string())];
    assert_eq!(audited(&server, "driver.suspended"), by_system);
    assert_eq!(audited(&server, "driver.availability_off"), by_system);
    server.mail_to("ana@north.edu", "Driving is suspended").await;

    // A renewal waits for a reviewer, and says so; the reviewer's approval is emailed.
    let state = json_of(upload(&ana, &renewal).await, 201).await;
    assert_eq!(state["status"], "pending_review", "{state}");
    let admin = sign_in(&server, "admin@north.edu").await;
    let id = state["pending_licence"]["id"].as_i64().unwrap();
    let path = format!("/api/v1/admin/driver-reviews/{id}/approve");
    assert_eq!(admin.post(&path, json!({})).await.status(), 204);
    let state = driver(&ana).await;
    assert_eq!(state["status"], "approved", "{state}");
    assert_eq!(state["expiry_date"], renewal.expiry.to_string());
    assert_eq!(state["can_drive"], true);
    assert_eq!(state["enabled"], true);
    // The newest of two approvals (the first licence's was emailed too).
    server.flush_outbox().await;
    let approved = server.mail_to("ana@north.edu", "Your driving licence was approved").await;
    assert!(approved.text.contains("A reviewer approved"), "{}", approved.text);
    assert!(approved.text.contains(&renewal.expiry.to_string()), "{}", approved.text);

    // A renewal with another person's licence number and name is not.
    server.clock.advance(Duration::days(1800 - 3));
    let ana = sign_in(&server, "ana@north.edu").await;
    let other = Person {
        number: "X999".into(),
        ..Person::new("John", "Smith", renewal.expiry + Duration::days(900))
    };
    let state = json_of(upload(&ana, &other).await, 201).await;
    assert_eq!(state["status"], "approved", "the current licence still holds");
    let notes = state["pending_licence"]["review_notes"].to_string();
    assert!(notes.contains("previous licence"), "{notes}");

    // Rejected: the driver keeps driving on the current licence and reads the reason, in the
    // app and by email.
    let admin = sign_in(&server, "admin@north.edu").await;
    let id = state["pending_licence"]["id"].as_i64().unwrap();
    let path = format!("/api/v1/admin/driver-reviews/{id}/reject");
    assert_eq!(admin.post(&path, json!({"reason": "Not your licence."})).await.status(), 204);
    let state = driver(&ana).await;
    assert_eq!(state["status"], "approved");
    assert_eq!(state["can_drive"], true);
    assert_eq!(state["reason"], Value::Null);
    assert_eq!(state["rejected_licence"]["decision_reason"], "Not your licence.");
    let rejected = server.mail_to("ana@north.edu", "was not approved").await;
    assert!(rejected.text.contains("Not your licence."), "{}", rejected.text);
    let until = format!("current licence until {}", renewal.expiry);
    assert!(rejected.text.contains(&until), "{}", rejected.text);
}

/// The forged renewal: a driver whose licence expires soon prints a barcode with the same name
/// and number and an expiry years later. It waits for a reviewer; meanwhile the driver drives
/// on the old licence until its own expiry, and not a day longer.
#[tokio::test]
async fn a_renewal_with_a_later_barcode_expiry_waits_for_a_reviewer_and_the_old_expiry_holds() {
    let server = server(false).await;
    let (ana, person) = approved_driver(&server, "ana@north.edu", 8).await;
    let forged = Person { expiry: person.expiry + Duration::days(1460), ..person.clone() };
    let window_opens = person.expiry - Duration::days(7);

    // 8 days before: one day early, refused with the day it opens.
    let body = problem(upload(&ana, &forged).await, 409, "renewal_too_early").await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains(&window_opens.to_string()), "{detail}");
    assert_eq!(driver(&ana).await["upload_from"], window_opens.to_string());
    assert_eq!(server.query_i64("SELECT count(*) FROM driver_licences"), 1, "nothing stored");

    // Exactly 7 days before: accepted, and waiting for a reviewer.
    server.clock.advance(Duration::days(1));
    let ana = sign_in(&server, "ana@north.edu").await;
    let state = json_of(upload(&ana, &forged).await, 201).await;
    assert_eq!(state["status"], "approved", "the current licence still holds: {state}");
    assert_eq!(state["expiry_date"], person.expiry.to_string(), "not the barcode's expiry");
    assert_eq!(state["pending_licence"]["expiry_date"], forged.expiry.to_string());
    assert_eq!(state["can_drive"], true);
    assert_eq!(state["available"], true, "nothing stopped while the renewal waits");
    let alert = state["alerts"][0].as_str().unwrap();
    assert!(alert.contains(&format!("until {}", person.expiry)), "{alert}");
    assert_eq!(audited(&server, "driver.approved").len(), 1, "only the first licence's approval");
    let requested = audited(&server, "driver.requested");
    assert!(requested.last().unwrap().1.contains("OCR is not installed"), "{requested:?}");

    // The alerts say the renewal is waiting.
    let run = || server.state.drivers.run_expiry_job();
    assert_eq!(run().await.unwrap().alerts_sent, 1, "7 days before the old expiry");
    let mail = server.mail_to("ana@north.edu", "expires in 7 day").await;
    assert!(mail.text.contains(&person.expiry.to_string()), "{}", mail.text);
    assert!(mail.text.contains("waiting for a reviewer"), "{}", mail.text);

    // The day before the old expiry the driver still drives; on the day, not any more.
    server.clock.advance(Duration::days(6));
    let ana = sign_in(&server, "ana@north.edu").await;
    assert_eq!(driver(&ana).await["can_drive"], true);
    server.clock.advance(Duration::days(1));
    assert_eq!(run().await.unwrap().suspended, 1, "on the old licence's expiry day");
    let ana = sign_in(&server, "ana@north.edu").await;
    let state = driver(&ana).await;
    assert_eq!(state["status"], "suspended");
    assert_eq!(state["can_drive"], false);
    assert!(state["alerts"][0].as_str().unwrap().contains("waiting for a reviewer"), "{state}");
    let suspended = server.mail_to("ana@north.edu", "Driving is suspended").await;
    assert!(suspended.text.contains("waiting for a reviewer"), "{}", suspended.text);

    // The reviewer's queue shows the renewal beside the licence it would replace.
    let admin = sign_in(&server, "admin@north.edu").await;
    let queue = json_of(admin.get("/api/v1/admin/driver-reviews").await, 200).await;
    let review = &queue[0];
    assert_eq!(review["renewal"], true);
    assert_eq!(review["changes"], json!(["expiry_date"]));
    assert_eq!(review["previous"]["licence"]["expiry_date"], person.expiry.to_string());
    assert_eq!(review["waiting_seconds"], 7 * 86_400);
    let old_front = review["previous"]["front_image_url"].as_str().unwrap();
    assert_eq!(admin.get(old_front).await.status(), 200, "the old images are kept meanwhile");

    // Approved by a person: the new expiry holds from now on, and the old images are gone.
    let id = review["id"].as_i64().unwrap();
    let path = format!("/api/v1/admin/driver-reviews/{id}/approve");
    assert_eq!(admin.post(&path, json!({})).await.status(), 204);
    let state = driver(&ana).await;
    assert_eq!(state["status"], "approved");
    assert_eq!(state["expiry_date"], forged.expiry.to_string());
    assert_eq!(state["can_drive"], true);
    let statuses: Vec<String> = server.blocking_conn(|conn| {
        conn.query_map("SELECT status FROM driver_licences ORDER BY id", [] as [i64; 0], |r| {
            r.get(0)
        })
        .unwrap()
    });
    assert_eq!(statuses, ["superseded", "approved"]);
    assert_eq!(stored_image_count(&server), 2);
}

#[tokio::test]
async fn enable_and_availability_are_limited_to_10_an_hour() {
    let server = TestServer::start_with(|c| {
        c.driver.tesseract = String::new();
        c.rate_limit.enabled = true;
    })
    .await;
    let (ana, _) = approved_driver(&server, "ana@north.edu", 100).await;
    // approved_driver used 2 of the 10 (enable, availability on).
    for i in 0..8 {
        let available = i % 2 == 0;
        let r = ana.post("/api/v1/driver/availability", json!({"available": !available})).await;
        assert_eq!(r.status(), 200, "request {}", i + 3);
    }
    let limited = ana.post("/api/v1/driver/availability", json!({"available": true})).await;
    assert!(limited.headers().contains_key("retry-after"));
    problem(limited, 429, "rate_limited").await;

    // Per user, not per address: another driver at the same address has their own 10.
    let (bob, _) = approved_driver(&server, "bob@north.edu", 100).await;
    for i in 0..8 {
        let r = bob.post("/api/v1/driver/availability", json!({"available": i % 2 == 1})).await;
        assert_eq!(r.status(), 200, "bob's request {}", i + 3);
    }
    let limited = bob.post("/api/v1/driver/availability", json!({"available": true})).await;
    problem(limited, 429, "rate_limited").await;
}

#[tokio::test]
async fn ocr_reads_the_front_when_no_barcode_can_be_read() {
    let Some(font) = images::font() else {
        return skip_ocr("no DejaVu Sans font to print a licence front (fonts-dejavu-core)");
    };
    if gatehouse::drivers::licence::ocr::find_program("tesseract").is_none() {
        return skip_ocr("tesseract is not installed (scripts/test.sh installs tesseract-ocr)");
    }
    let server = server(true).await;
    let user = student(&server, "ana@north.edu", "Ana Maria Cruz", None).await;
    let mut person = Person::new("Ana", "Cruz", today(&server) + Duration::days(500));
    person.middle = "Maria".into();
    person.number = "123456789".into();
    let front = images::png(&images::front_image(&person, &font, 1600));
    let back = images::png(&images::blank_front(WIDTH));
    let state = json_of(
        upload_parts(&user, part(front, "f.png", "image/png"), part(back, "b.png", "image/png"))
            .await,
        201,
    )
    .await;
    let pending = &state["pending_licence"];
    assert_eq!(pending["source"], "ocr", "{pending}");
    assert_eq!(pending["family_name"], "CRUZ");
    assert_eq!(pending["given_names"], "ANA MARIA");
    assert_eq!(pending["licence_number"], "123456789");
    assert_eq!(pending["expiry_date"], person.expiry.to_string());
    assert_eq!(pending["birth_date"], "1999-01-02");
    assert_eq!(pending["name_score"], 1.0);
}

#[tokio::test]
async fn the_export_holds_the_licence_fields_and_deleting_the_account_removes_the_images() {
    let server = server(false).await;
    let (user, person) = approved_driver(&server, "leaving@north.edu", 100).await;
    let export = json_of(user.get("/api/v1/account/export").await, 200).await;
    assert_eq!(export["driver"]["status"], "approved", "{export}");
    assert_eq!(export["driver"]["licences"][0]["licence_number"], person.number.as_str());

    let images = || stored_image_count(&server);
    assert_eq!(images(), 2, "front and back are stored");
    let deleted = user
        .send(reqwest::Method::DELETE, "/api/v1/account")
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(images(), 0, "the licence images are deleted with the account");
    assert_eq!(server.query_i64("SELECT count(*) FROM driver_licences"), 0);
}

/// A small blank image, both sides: nothing to read, quick to decode.
fn blank_side() -> Part {
    part(images::png(&images::blank_front(500)), "side.png", "image/png")
}

#[tokio::test]
async fn licence_uploads_are_limited_to_10_an_hour_before_the_images_are_read() {
    let server = server(false).await;
    let ana = student(&server, "ana@north.edu", "Ana Cruz", None).await;
    for i in 1..=10 {
        json_of(upload_parts(&ana, blank_side(), blank_side()).await, 201).await;
        assert_eq!(server.query_i64("SELECT count(*) FROM driver_licences"), i);
        server.clock.advance(Duration::minutes(5));
    }
    let stored = || stored_image_count(&server);
    let before = stored();

    // The 11th within the hour is refused, even one whose images are not images at all: the
    // limit is checked before they are read.
    let zip = || part(b"PK\x03\x04 not an image".to_vec(), "back.png", "image/png");
    for (front, back) in [(blank_side(), blank_side()), (blank_side(), zip())] {
        let refused = upload_parts(&ana, front, back).await;
        let wait: i64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert_eq!(wait, 3600 - 50 * 60, "until the first upload is an hour old");
        problem(refused, 429, "rate_limited").await;
    }
    assert_eq!(server.query_i64("SELECT count(*) FROM driver_licences"), 10, "nothing stored");
    assert_eq!(stored(), before, "no file stored");
    assert_eq!(server.query_i64("SELECT count(*) FROM driver_upload_attempts"), 10);

    // Per account: another student uploads.
    let bob = student(&server, "bob@north.edu", "Bob Ray", None).await;
    json_of(upload_parts(&bob, blank_side(), blank_side()).await, 201).await;

    // Once the first upload is an hour old, one more is accepted; refused ones were not counted.
    server.clock.advance(Duration::minutes(10));
    json_of(upload_parts(&ana, blank_side(), blank_side()).await, 201).await;
    problem(upload_parts(&ana, blank_side(), blank_side()).await, 429, "rate_limited").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn at_most_two_ocr_runs_at_once_and_the_others_wait_their_turn() {
    // A stand-in for tesseract that notes how many copies of it are running when it starts.
    let fake = tempfile::tempdir().unwrap();
    let runs = fake.path().join("runs");
    std::fs::create_dir(&runs).unwrap();
    let program = fake.path().join("tesseract");
    let script = format!(
        "#!/bin/sh\nruns='{}'\ntouch \"$runs/running.$$\"\n\
         ls \"$runs\" | grep -c '^running' >> \"$runs/../counts\"\n\
         sleep 2\nrm \"$runs/running.$$\"\necho 'nothing to read'\n",
        runs.display()
    );
    std::fs::write(&program, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let configured = program.display().to_string();
    let server = TestServer::start_with(move |c| c.driver.tesseract = configured).await;

    let mut students = Vec::new();
    for i in 0..5 {
        students.push(student(&server, &format!("s{i}@north.edu"), "Ana Cruz", None).await);
    }
    let mut uploads = tokio::task::JoinSet::new();
    for student in students {
        uploads.spawn(async move { upload_parts(&student, blank_side(), blank_side()).await });
    }
    for response in uploads.join_all().await {
        // Waiting for a run is not a failure: every upload is read and stored.
        let state = json_of(response, 201).await;
        let notes = state["pending_licence"]["review_notes"].to_string();
        assert!(notes.contains("OCR found no licence fields"), "{notes}");
    }
    let counts = std::fs::read_to_string(fake.path().join("counts")).unwrap();
    let counts: Vec<usize> = counts.lines().map(|l| l.trim().parse().unwrap()).collect();
    assert_eq!(counts.len(), 5, "one run per upload: {counts:?}");
    assert_eq!(counts.iter().max(), Some(&2), "two at once, never more: {counts:?}");
}
