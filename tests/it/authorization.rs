//! Who may call what, read from the API document rather than listed by hand: every operation
//! under `/api/v1/admin/` answers an anonymous caller 401, a student 403, a reviewer 403 (but
//! for the driver reviews), and in production an admin whose session or token was not proved
//! with a second factor `admin_mfa_required`, even with TOTP enrolled. A new admin operation
//! is in the matrix the moment it is in the document.
//!
//! Also here: a phone code is one factor for an account with TOTP on.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::harness::{PASSWORD, TestServer, problem};

/// The code an authenticator app shows now for a base32 secret.
fn totp_code(server: &TestServer, secret: &str) -> String {
    use gatehouse::clock::Clock;
    let bytes = totp_rs::Secret::try_from_base32(secret).unwrap().as_bytes().to_vec();
    gatehouse::mfa::totp::totp(&bytes, "x").generate(server.clock.unix() as u64).to_string()
}

/// One operation of the document: its method and a path with its parameters filled in.
struct Operation {
    method: Method,
    path: String,
    id: String,
}

/// Every operation under `prefix` in the served document. Path parameters get a plausible
/// value (an unknown id, the `front` side), so the authorisation check is what answers.
async fn operations(server: &TestServer, prefix: &str) -> Vec<Operation> {
    let document: Value = server.get("/openapi.json").await.json().await.unwrap();
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        if !path.starts_with(prefix) {
            continue;
        }
        for (method, operation) in item.as_object().unwrap() {
            let Ok(method) = method.to_uppercase().parse::<Method>() else { continue };
            let filled = path.replace("{side}", "front");
            let filled = fill_parameters(&filled);
            let id = operation["operationId"].as_str().unwrap_or(path).to_string();
            found.push(Operation { method, path: filled, id });
        }
    }
    assert!(found.len() >= 20, "the document lists only {} admin operations", found.len());
    found
}

/// Replaces every `{param}` with `1`: a number for numeric ids, an unknown id for others.
fn fill_parameters(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').map_or(rest.len(), |e| start + e + 1);
        out.push('1');
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

async fn call(server: &TestServer, op: &Operation, bearer: Option<&str>) -> reqwest::Response {
    let mut request = server.client.request(op.method.clone(), server.url(&op.path));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    if op.method != Method::GET && op.method != Method::DELETE {
        request = request.json(&json!({}));
    }
    request.send().await.unwrap()
}

async fn code_of(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["code"].as_str().unwrap_or_default().to_string())
}

/// A verified account with `role`, and an API token granted by its password.
async fn account(server: &TestServer, email: &str, role: &str) -> String {
    assert_eq!(server.register(email).await.status(), 202);
    let token = server.mail_to(email, "Confirm").await.link_token("/verify-email");
    assert_eq!(
        server.post("/api/v1/auth/verify-email", json!({"token": token})).await.status(),
        200
    );
    let access = grant(server, email, None).await;
    let me: Value = server
        .client
        .get(server.url("/api/v1/account"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = me["id"].as_str().expect("the account's id").to_string();
    server.blocking_conn(|conn| {
        conn.execute("UPDATE users SET role = ?1 WHERE id = ?2", [role, &id]).unwrap()
    });
    // The role is in the token: a new one carries the new role.
    grant(server, email, None).await
}

async fn grant(server: &TestServer, email: &str, totp: Option<String>) -> String {
    let body = match totp {
        Some(code) => json!({"email": email, "password": PASSWORD, "totp_code": code}),
        None => json!({"email": email, "password": PASSWORD}),
    };
    let granted = server.post("/api/v1/auth/token", body).await;
    assert_eq!(granted.status(), 200, "{}", granted.text().await.unwrap());
    let granted: Value = granted.json().await.unwrap();
    granted["access_token"].as_str().unwrap().to_string()
}

/// Turns TOTP on with an API token; returns the secret.
async fn enrol(server: &TestServer, access: &str) -> String {
    let started: Value = server
        .client
        .post(server.url("/api/v1/account/mfa/totp"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = started["secret"].as_str().unwrap_or_else(|| panic!("{started}")).to_string();
    let confirmed = server
        .client
        .post(server.url("/api/v1/account/mfa/totp/confirm"))
        .bearer_auth(access)
        .json(&json!({"code": totp_code(server, &secret)}))
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 200);
    secret
}

/// A production server (rate limits on, as production requires) with the North campus.
async fn production_server() -> TestServer {
    let server = TestServer::start_with(|c| {
        c.server.mode = gatehouse::config::Mode::Production;
        c.server.public_url = "https://id.north.edu".into();
        c.rate_limit.enabled = true;
    })
    .await;
    server.add_campus("North", &["north.edu"]);
    server
}

#[tokio::test]
async fn every_admin_operation_refuses_whoever_may_not_call_it() {
    let server = production_server().await;
    let student = account(&server, "student@north.edu", "user").await;
    let reviewer = account(&server, "reviewer@north.edu", "reviewer").await;
    let admin = account(&server, "admin@north.edu", "admin").await;
    // TOTP on, but this token was granted by the password alone.
    let secret = enrol(&server, &admin).await;
    server.clock.advance(chrono::Duration::seconds(30));
    let admin_two_step = grant(&server, "admin@north.edu", Some(totp_code(&server, &secret))).await;

    let mut failures = Vec::new();
    let mut admitted = 0;
    for op in operations(&server, "/api/v1/admin/").await {
        let reviewers_may = op.path.starts_with("/api/v1/admin/driver-reviews");
        let mut expect = |who: &str, got: (u16, String), status: u16, code: &str| {
            if got != (status, code.to_string()) {
                failures.push(format!(
                    "{} {} as {who}: {got:?}, not {status} {code}",
                    op.method, op.id
                ));
            }
        };
        expect("anonymous", code_of(call(&server, &op, None).await).await, 401, "unauthenticated");
        expect(
            "student",
            code_of(call(&server, &op, Some(&student)).await).await,
            403,
            "forbidden",
        );
        let as_reviewer = code_of(call(&server, &op, Some(&reviewer)).await).await;
        if reviewers_may {
            // A reviewer without a second factor is an admin without one.
            expect("reviewer", as_reviewer, 403, "admin_mfa_required");
        } else {
            expect("reviewer", as_reviewer, 403, "forbidden");
        }
        let one_factor = code_of(call(&server, &op, Some(&admin)).await).await;
        expect("admin (one factor)", one_factor, 403, "admin_mfa_required");
        let (status, code) = code_of(call(&server, &op, Some(&admin_two_step)).await).await;
        if status == 401 || code == "forbidden" || code == "admin_mfa_required" {
            failures.push(format!("{} {} as a two-step admin: {status} {code}", op.method, op.id));
        } else {
            admitted += 1;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(admitted >= 20, "only {admitted} operations let the two-step admin in");
}

/// The session cookie a production sign-in set, as a `Cookie` header value (the test client
/// speaks plain HTTP, so a `Secure` cookie is sent by hand).
fn production_session(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("__Host-gatehouse_session="))
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_string()
}

#[tokio::test]
async fn in_production_an_admin_session_must_itself_have_used_the_second_factor() {
    let server = production_server().await;
    let access = account(&server, "it@north.edu", "admin").await;
    // A client that keeps no cookies: each session is sent by hand.
    let browser = reqwest::Client::new();
    let login = |body: Value| {
        browser
            .post(server.url("/api/v1/auth/login"))
            .header("origin", "https://id.north.edu")
            .json(&body)
            .send()
    };
    let by_password = login(json!({"email": "it@north.edu", "password": PASSWORD})).await.unwrap();
    assert_eq!(by_password.status(), 200);
    let password_session = production_session(&by_password);
    let campuses = |cookie: String| {
        browser.get(server.url("/api/v1/admin/campuses")).header("cookie", cookie).send()
    };
    problem(campuses(password_session.clone()).await.unwrap(), 403, "admin_mfa_required").await;

    // TOTP turned on during that session: enrolled, but the session was proved by one factor.
    let secret = enrol(&server, &access).await;
    problem(campuses(password_session).await.unwrap(), 403, "admin_mfa_required").await;

    server.clock.advance(chrono::Duration::seconds(30));
    let pending: Value = login(json!({"email": "it@north.edu", "password": PASSWORD}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pending["mfa_required"], true);
    let second = browser
        .post(server.url("/api/v1/auth/login/mfa"))
        .header("origin", "https://id.north.edu")
        .json(&json!({"mfa_token": pending["mfa_token"], "code": totp_code(&server, &secret)}))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 200);
    let two_step = production_session(&second);
    assert_eq!(campuses(two_step).await.unwrap().status(), 200);
    let amr = server.query_i64("SELECT count(*) FROM sessions WHERE amr = 'pwd otp mfa'");
    assert_eq!(amr, 1, "the two-step session records its methods");
}

#[tokio::test]
async fn a_phone_code_is_one_factor_for_an_account_with_totp() {
    use crate::support::phones::{PHONE, code as sms_code, phone_owner};
    let server = TestServer::start().await;
    let ada = phone_owner(&server).await;
    let started: Value =
        ada.post("/api/v1/account/mfa/totp", json!({})).await.json().await.unwrap();
    let secret = started["secret"].as_str().unwrap().to_string();
    let confirm = json!({"code": totp_code(&server, &secret)});
    assert_eq!(ada.post("/api/v1/account/mfa/totp/confirm", confirm).await.status(), 200);

    server.clock.advance(crate::support::phones::minutes(1));
    assert_eq!(crate::support::phones::request(&server, PHONE).await.status(), 202);
    let sms = sms_code(&server, 2).await;
    let phone = server.new_user("ada@north.edu");
    let answer = phone
        .client
        .post(server.url("/api/v1/auth/otp/verify"))
        .json(&json!({"phone": PHONE, "code": sms}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert!(answer.headers().get("set-cookie").is_none(), "no session on a phone code alone");
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["outcome"], "mfa_required", "{body}");
    assert_eq!(body["mfa_required"], true);
    assert!(body.get("user").is_none(), "{body}");
    problem(phone.get("/api/v1/auth/session").await, 401, "unauthenticated").await;

    // A wrong TOTP code is refused; the right one finishes the sign-in.
    let mfa_token = body["mfa_token"].as_str().unwrap();
    let finish = |code: String| {
        phone
            .client
            .post(server.url("/api/v1/auth/login/mfa"))
            .json(&json!({"mfa_token": mfa_token, "code": code}))
            .send()
    };
    let right = totp_code(&server, &secret);
    let wrong = if right == "000000" { "111111" } else { "000000" };
    problem(finish(wrong.into()).await.unwrap(), 401, "invalid_mfa_code").await;
    assert_eq!(finish(right).await.unwrap().status(), 200);
    let me: Value = phone.get("/api/v1/auth/session").await.json().await.unwrap();
    assert_eq!(me["user"]["email"], "ada@north.edu");
    let recorded = server.query_i64("SELECT count(*) FROM sessions WHERE amr = 'otp sms mfa'");
    assert_eq!(recorded, 1, "the session records the phone code and the TOTP code");
    let audited = server.query_i64(
        "SELECT count(*) FROM audit_log WHERE action = 'login' AND details LIKE '%phone_code+totp%'",
    );
    assert_eq!(audited, 1);
}
