//! Renewals a campus can defend: the front, read by the real tesseract, compared with the
//! barcode read from the back; a forged back on a real front flagged first for the reviewer;
//! automatic renewal only where a campus opts in and both sides agree; the review queue's
//! metrics and common rejection reasons.

use chrono::Duration;
use serde_json::{Value, json};

use crate::support::drivers::{
    WIDTH, approved_driver_as, audited, driver, json_of, part, sign_in, skip_ocr, today,
    upload_parts,
};
use crate::support::harness::{TestServer, User, problem};
use crate::support::licence_images::{self as images, Distortion, Person};
use ab_glyph::FontVec;

/// The font to print fronts with, where tesseract is installed too (else the test is skipped).
fn ocr_ready() -> Option<FontVec> {
    let Some(font) = images::font() else {
        skip_ocr("no DejaVu Sans font to print a licence front (fonts-dejavu-core)");
        return None;
    };
    if gatehouse::drivers::licence::ocr::find_program("tesseract").is_none() {
        skip_ocr("tesseract is not installed (scripts/test.sh installs tesseract-ocr)");
        return None;
    }
    Some(font)
}

/// Ana Cruz's licence, with a number tesseract reads without confusing letters and digits.
fn ana(expiry: chrono::NaiveDate) -> Person {
    Person { number: "123456789".into(), ..Person::new("Ana", "Cruz", expiry) }
}

/// Uploads a front printed with `front`'s details and a back whose barcode holds `back`'s.
async fn upload_sides(user: &User, font: &FontVec, front: &Person, back: &Person) -> Value {
    let front = images::png(&images::front_image(front, font, 1600));
    let back =
        images::png(&images::back_image(&images::aamva_payload(back), WIDTH, Distortion::Clean));
    let response =
        upload_parts(user, part(front, "f.png", "image/png"), part(back, "b.png", "image/png"))
            .await;
    json_of(response, 201).await
}

/// Uploads `person`'s barcode with a front that has nothing printed on it.
async fn upload_blank_front(user: &User, person: &Person) -> reqwest::Response {
    let back =
        images::png(&images::back_image(&images::aamva_payload(person), WIDTH, Distortion::Clean));
    let front = images::png(&images::blank_front(WIDTH));
    upload_parts(user, part(front, "f.png", "image/png"), part(back, "b.png", "image/png")).await
}

/// An approved driver whose licence expires in 5 days, and their next licence, 4 years on.
async fn renewing_driver(server: &TestServer) -> (User, Person, Person) {
    let old = ana(today(server) + Duration::days(5));
    let user = approved_driver_as(server, "ana@north.edu", &old).await;
    let renewal = ana(old.expiry + Duration::days(1460));
    (user, old, renewal)
}

async fn server_with(auto_approve_renewals: bool, ocr: bool) -> TestServer {
    TestServer::start_with(move |c| {
        c.driver.auto_approve_renewals = auto_approve_renewals;
        if !ocr {
            c.driver.tesseract = String::new();
        }
    })
    .await
}

#[tokio::test]
async fn a_forged_back_on_a_real_front_is_flagged_first_even_where_renewals_are_automatic() {
    let Some(font) = ocr_ready() else { return };
    let server = server_with(true, true).await;
    let real = ana(today(&server) + Duration::days(5));
    let user = approved_driver_as(&server, "ana@north.edu", &real).await;

    // The real card's front, and a back printed with an expiry four years later.
    let forged = Person { expiry: real.expiry + Duration::days(1460), ..ana(real.expiry) };
    let state = upload_sides(&user, &font, &real, &forged).await;
    assert_eq!(state["status"], "approved", "the current licence holds: {state}");
    assert_eq!(state["expiry_date"], real.expiry.to_string());
    let pending = &state["pending_licence"];
    assert_eq!(pending["source"], "barcode");
    assert_eq!(pending["expiry_date"], forged.expiry.to_string(), "what the barcode says");
    assert_eq!(
        pending["front_check"],
        json!({"result": "disagrees", "mismatched": ["expiry_date"]}),
        "{pending}"
    );
    let first_note = pending["review_notes"][0].as_str().unwrap();
    assert!(first_note.contains("printed expiry date differs"), "{pending}");
    assert!(
        !first_note.contains(&forged.expiry.format("%Y").to_string()),
        "no values: {first_note}"
    );

    // The reviewer sees the disagreement first, beside the licence it would replace.
    let admin = sign_in(&server, "admin@north.edu").await;
    let queue = json_of(admin.get("/api/v1/admin/driver-reviews").await, 200).await;
    assert_eq!(queue[0]["licence"]["front_check"]["result"], "disagrees");
    assert_eq!(queue[0]["changes"], json!(["expiry_date"]));
    assert_eq!(audited(&server, "driver.approved").len(), 1, "only the first licence");
}

#[tokio::test]
async fn a_campus_that_opts_in_approves_a_renewal_at_once_when_front_and_back_agree() {
    let Some(font) = ocr_ready() else { return };
    let server = server_with(true, true).await;
    let (user, _, renewal) = renewing_driver(&server).await;
    let state = upload_sides(&user, &font, &renewal, &renewal).await;
    assert_eq!(state["status"], "approved", "{state}");
    assert_eq!(state["expiry_date"], renewal.expiry.to_string());
    assert_eq!(state["pending_licence"], Value::Null);
    assert_eq!(state["licence"]["front_check"], json!({"result": "agrees", "mismatched": []}));
    assert_eq!(state["can_drive"], true);
    let (actor, reason) = audited(&server, "driver.approved").pop().unwrap();
    assert_eq!((actor, reason.as_str()), (None, "renewal passed every check"));
    // Two approvals emailed: the first licence's by the admin, then this one.
    server.flush_outbox().await;
    let approvals: Vec<_> =
        server.mails().into_iter().filter(|m| m.subject.contains("was approved")).collect();
    assert_eq!(approvals.len(), 2);
    let automatic = approvals.iter().find(|m| m.text.contains("passed every check")).unwrap();
    assert!(automatic.text.contains(&renewal.expiry.to_string()), "{}", automatic.text);
}

#[tokio::test]
async fn by_default_even_a_renewal_whose_front_agrees_waits_for_a_reviewer() {
    let Some(font) = ocr_ready() else { return };
    let server = server_with(false, true).await;
    let (user, old, renewal) = renewing_driver(&server).await;
    let state = upload_sides(&user, &font, &renewal, &renewal).await;
    assert_eq!(state["pending_licence"]["front_check"]["result"], "agrees", "{state}");
    assert_eq!(state["expiry_date"], old.expiry.to_string(), "still the old licence");
    let requested = audited(&server, "driver.requested").pop().unwrap();
    assert!(requested.1.contains("auto_approve_renewals is off"), "{requested:?}");
}

#[tokio::test]
async fn an_opted_in_campus_without_ocr_sends_every_renewal_to_a_reviewer() {
    let server = server_with(true, false).await;
    let (user, old, renewal) = renewing_driver(&server).await;
    let state = json_of(upload_blank_front(&user, &renewal).await, 201).await;
    assert_eq!(state["pending_licence"]["front_check"]["result"], "not_available", "{state}");
    assert_eq!(state["expiry_date"], old.expiry.to_string());
}

#[tokio::test]
async fn the_queue_is_measured_and_reviewers_pick_from_common_rejection_reasons() {
    let server = TestServer::start_with(|c| {
        c.driver.tesseract = String::new();
        c.driver.rejection_reasons = vec!["Too blurred.".into(), "Cut off.".into()];
    })
    .await;
    let metric = |text: &str, name: &str| -> i64 {
        let line = text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let scrape = || async { server.get("/metrics").await.text().await.unwrap() };
    let text = scrape().await;
    assert_eq!(metric(&text, "gatehouse_driver_review_queue_size "), 0);
    assert_eq!(metric(&text, "gatehouse_driver_review_oldest_age_seconds "), 0);

    let first = crate::support::drivers::student(&server, "a@north.edu", "Ana Cruz", None).await;
    let person = ana(today(&server) + Duration::days(300));
    json_of(upload_blank_front(&first, &person).await, 201).await;
    server.clock.advance(Duration::hours(30));
    let second = crate::support::drivers::student(&server, "b@north.edu", "Ana Cruz", None).await;
    json_of(upload_blank_front(&second, &person).await, 201).await;
    server.clock.advance(Duration::hours(1));

    let text = scrape().await;
    assert_eq!(metric(&text, "gatehouse_driver_review_queue_size "), 2);
    assert_eq!(metric(&text, "gatehouse_driver_review_oldest_age_seconds "), 31 * 3600);

    let reviewer =
        crate::support::drivers::student(&server, "r@north.edu", "Rita", Some("reviewer")).await;
    let queue = json_of(reviewer.get("/api/v1/admin/driver-reviews").await, 200).await;
    let waits: Vec<i64> =
        queue.as_array().unwrap().iter().map(|r| r["waiting_seconds"].as_i64().unwrap()).collect();
    assert_eq!(waits, [31 * 3600, 3600], "oldest first");
    assert_eq!(queue[0]["previous"], Value::Null, "a first licence replaces nothing");

    let reasons = json_of(reviewer.get("/api/v1/admin/driver-reviews/reasons").await, 200).await;
    assert_eq!(reasons, json!({"reasons": ["Too blurred.", "Cut off."]}));
    let first = sign_in(&server, "a@north.edu").await;
    problem(first.get("/api/v1/admin/driver-reviews/reasons").await, 403, "forbidden").await;

    let id = queue[0]["id"].as_i64().unwrap();
    let path = format!("/api/v1/admin/driver-reviews/{id}/reject");
    assert_eq!(reviewer.post(&path, json!({"reason": "Too blurred."})).await.status(), 204);
    assert_eq!(driver(&first).await["rejected_licence"]["decision_reason"], "Too blurred.");
    let mail = server.mail_to("a@north.edu", "was not approved").await;
    assert!(mail.text.contains("Too blurred."), "{}", mail.text);
    assert!(mail.text.contains("Upload your licence again"), "{}", mail.text);
    let text = scrape().await;
    assert_eq!(metric(&text, "gatehouse_driver_review_queue_size "), 1);
    assert_eq!(metric(&text, "gatehouse_driver_review_oldest_age_seconds "), 3600);
}
