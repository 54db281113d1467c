//! Passkeys through the HTTP API with a software authenticator this project did not write
//! (passkey-rs, `support::passkey`): adding one (recently signed in, or with the password
//! again), signing in with no email, and the refusals — a replayed challenge, an assertion
//! for another origin or another RP id, a counter going backwards, no user verification —
//! plus passkey-only accounts (verification's setup token, the reset link), rename, removal,
//! export and deletion.

use serde_json::{Value, json};

use crate::support::harness::{PASSWORD, TestServer, User, problem};
use crate::support::passkey::SoftPasskey;

/// A server whose `public_url` is `http://localhost:PORT` (browsers refuse an IP address as a
/// passkey's site), and whose clients browse it there.
async fn start() -> TestServer {
    let mut server = TestServer::start_with(|c| {
        c.server.public_url = c.server.public_url.replace("127.0.0.1", "localhost");
    })
    .await;
    server.base = server.base.replace("127.0.0.1", "localhost");
    server.add_campus("North", &["north.edu"]);
    server
}

async fn json_of(response: reqwest::Response, status: u16) -> Value {
    let got = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{body}");
    body
}

/// Adds a passkey to a signed-in user's account; returns its id.
async fn add_passkey(user: &User, soft: &mut SoftPasskey, name: &str) -> String {
    let options =
        json_of(user.post("/api/v1/account/passkeys/options", json!({})).await, 200).await;
    let credential = soft.register(&options["public_key"]).await;
    let added = user
        .post(
            "/api/v1/account/passkeys",
            json!({"challenge_id": options["challenge_id"], "name": name, "credential": credential}),
        )
        .await;
    let added = json_of(added, 201).await;
    assert_eq!(added["name"], name);
    added["id"].as_str().unwrap().to_string()
}

/// Options for a sign-in with no email, from a client with no cookies.
async fn sign_in_options(server: &TestServer) -> Value {
    json_of(server.post("/api/v1/auth/passkey/options", json!({})).await, 200).await
}

async fn sign_in_with(
    server: &TestServer,
    challenge_id: &Value,
    credential: Value,
) -> reqwest::Response {
    post_sign_in(&server.new_user(""), challenge_id, credential).await
}

/// The sign-in request a browser's page sends (no session yet, so no CSRF header).
async fn post_sign_in(
    browser: &User,
    challenge_id: &Value,
    credential: Value,
) -> reqwest::Response {
    browser
        .client
        .post(browser.url("/api/v1/auth/passkey"))
        .json(&json!({"challenge_id": challenge_id, "credential": credential}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_passkey_added_on_the_account_signs_in_with_no_email_as_two_factors() {
    let server = start().await;
    let user = server.signed_in_user("ada@north.edu").await;
    let mut soft = SoftPasskey::new(&server.base);
    let id = add_passkey(&user, &mut soft, "Phone").await;
    server.mail_to("ada@north.edu", "A passkey was added").await;
    assert_eq!(
        server.query_i64("SELECT count(*) FROM audit_log WHERE action = 'passkey.added'"),
        1
    );
    let listed = json_of(user.get("/api/v1/account/passkeys").await, 200).await;
    assert_eq!(listed["has_password"], true);
    assert_eq!(listed["passkeys"][0]["id"], id.as_str());
    assert!(listed["passkeys"][0].get("last_used_at").is_none(), "{listed}");
    // The name is sealed at rest.
    let stored: String = server.blocking_conn(|conn| {
        conn.query_row("SELECT name FROM passkeys", [] as [i64; 0], |r| r.get(0)).unwrap()
    });
    assert_ne!(stored, "Phone");

    let options = sign_in_options(&server).await;
    assert_eq!(options["public_key"]["userVerification"], "required");
    assert!(
        options["public_key"]
            .get("allowCredentials")
            .is_none_or(|a| a.as_array().unwrap().is_empty())
    );
    let credential = soft.sign_in(&options["public_key"]).await;
    let browser = server.new_user("ada@north.edu");
    let signed_in = post_sign_in(&browser, &options["challenge_id"], credential).await;
    let body = json_of(signed_in, 200).await;
    assert_eq!(body["mfa_required"], false);
    assert_eq!(body["user"]["email"], "ada@north.edu");
    let who = json_of(browser.get("/api/v1/auth/session").await, 200).await;
    assert_eq!(who["user"]["email"], "ada@north.edu");
    // The passkey's session (the manual clock gives sessions one created_at: sessions are
    // told apart by their amr, the others being a password's).
    let amrs: Vec<String> = server.blocking_conn(|conn| {
        conn.query_map("SELECT amr FROM sessions", [] as [i64; 0], |r| r.get(0)).unwrap()
    });
    let by_passkey: Vec<&String> =
        amrs.iter().filter(|a| *a == "hwk user mfa" || *a == "swk user mfa").collect();
    assert_eq!(by_passkey.len(), 1, "{amrs:?}");
    let listed = json_of(user.get("/api/v1/account/passkeys").await, 200).await;
    assert!(listed["passkeys"][0]["last_used_at"].is_string(), "{listed}");
}

#[tokio::test]
async fn a_passkey_sign_in_skips_the_totp_step() {
    let server = start().await;
    let user = server.signed_in_user("ada@north.edu").await;
    crate::support::totp::enrol(&server, &user).await;
    let mut soft = SoftPasskey::new(&server.base);
    add_passkey(&user, &mut soft, "Laptop").await;
    let options = sign_in_options(&server).await;
    let credential = soft.sign_in(&options["public_key"]).await;
    let body =
        json_of(sign_in_with(&server, &options["challenge_id"], credential).await, 200).await;
    assert_eq!(body["mfa_required"], false, "a user-verified passkey is two factors");
}

#[tokio::test]
async fn a_challenge_answers_once_and_only_its_own_answer() {
    let server = start().await;
    let user = server.signed_in_user("ada@north.edu").await;
    let mut soft = SoftPasskey::new(&server.base);
    add_passkey(&user, &mut soft, "Phone").await;

    let options = sign_in_options(&server).await;
    let credential = soft.sign_in(&options["public_key"]).await;
    json_of(sign_in_with(&server, &options["challenge_id"], credential.clone()).await, 200).await;
    let replayed = sign_in_with(&server, &options["challenge_id"], credential.clone()).await;
    problem(replayed, 400, "passkey_challenge_invalid").await;
    // The same answer under a new challenge: its signature is over the old one.
    let fresh = sign_in_options(&server).await;
    let replayed = sign_in_with(&server, &fresh["challenge_id"], credential).await;
    problem(replayed, 401, "passkey_not_accepted").await;
    // A challenge older than five minutes.
    let old = sign_in_options(&server).await;
    let credential = soft.sign_in(&old["public_key"]).await;
    server.clock.advance(chrono::Duration::seconds(301));
    problem(
        sign_in_with(&server, &old["challenge_id"], credential).await,
        400,
        "passkey_challenge_invalid",
    )
    .await;
}

#[tokio::test]
async fn assertions_for_another_origin_or_rp_id_are_refused() {
    let server = start().await;
    let user = server.signed_in_user("ada@north.edu").await;
    let mut soft = SoftPasskey::new(&server.base);
    add_passkey(&user, &mut soft, "Phone").await;

    // The forging itself works: the right origin and RP id sign in.
    let options = sign_in_options(&server).await;
    let honest = soft.forged_sign_in(&options["public_key"], &server.base, "localhost").await;
    json_of(sign_in_with(&server, &options["challenge_id"], honest).await, 200).await;

    let options = sign_in_options(&server).await;
    let phished =
        soft.forged_sign_in(&options["public_key"], "https://north-edu.example", "localhost").await;
    problem(
        sign_in_with(&server, &options["challenge_id"], phished).await,
        401,
        "passkey_not_accepted",
    )
    .await;

    let options = sign_in_options(&server).await;
    let other_rp =
        soft.forged_sign_in(&options["public_key"], &server.base, "north-edu.example").await;
    problem(
        sign_in_with(&server, &options["challenge_id"], other_rp).await,
        401,
        "passkey_not_accepted",
    )
    .await;
    let details: Vec<Option<String>> = server.blocking_conn(|conn| {
        conn.query_map(
            "SELECT details FROM audit_log WHERE action = 'login' AND outcome = 'failure'",
            [] as [i64; 0],
            |r| r.get(0),
        )
        .unwrap()
    });
    let refused = details
        .iter()
        .flatten()
        .filter(|d| serde_json::from_str::<serde_json::Value>(d).unwrap()["method"] == "passkey")
        .count();
    assert_eq!(refused, 2);
}

#[tokio::test]
async fn a_counter_going_backwards_is_refused_and_audited() {
    let server = start().await;
    let user = server.signed_in_user("ada@north.edu").await;
    let mut soft = SoftPasskey::new(&server.base);
    add_passkey(&user, &mut soft, "Security key").await;
    let copy = soft.saved();
    for _ in 0..2 {
        let options = sign_in_options(&server).await;
        let credential = soft.sign_in(&options["public_key"]).await;
        json_of(sign_in_with(&server, &options["challenge_id"], credential).await, 200).await;
    }
    soft.restore(copy);
    let options = sign_in_options(&server).await;
    let credential = soft.sign_in(&options["public_key"]).await;
    problem(
        sign_in_with(&server, &options["challenge_id"], credential).await,
        401,
        "passkey_not_accepted",
    )
    .await;
    let audited = server.query_i64(
        "SELECT count(*) FROM audit_log WHERE action = 'passkey.counter_went_backwards'",
    );
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn an_assertion_without_user_verification_is_refused() {
    let server = start().await;
    let user = server.signed_in_user("ada@north.edu").await;
    let mut soft = SoftPasskey::new(&server.base);
    add_passkey(&user, &mut soft, "Phone").await;
    let options = sign_in_options(&server).await;
    // An authenticator that only tests presence (its page asked it not to verify).
    let mut public_key = options["public_key"].clone();
    public_key["userVerification"] = "discouraged".into();
    soft.set_user_verified(false);
    let credential = soft.sign_in(&public_key).await;
    problem(
        sign_in_with(&server, &options["challenge_id"], credential).await,
        401,
        "passkey_not_accepted",
    )
    .await;
}

#[tokio::test]
async fn adding_a_passkey_needs_a_recent_sign_in_or_the_password_again() {
    let server = start().await;
    let user = server.signed_in_user("ada@north.edu").await;
    server.clock.advance(chrono::Duration::minutes(6));
    let stale = user.post("/api/v1/account/passkeys/options", json!({})).await;
    problem(stale, 403, "reauthentication_required").await;
    let wrong =
        user.post("/api/v1/account/passkeys/options", json!({"password": "Wrong-Horse-1"})).await;
    let body = problem(wrong, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "password");
    let right = user.post("/api/v1/account/passkeys/options", json!({"password": PASSWORD})).await;
    json_of(right, 200).await;
    problem(
        server.post("/api/v1/account/passkeys/options", json!({})).await,
        401,
        "unauthenticated",
    )
    .await;
}

#[tokio::test]
async fn bad_answers_names_and_ids_get_clear_problems() {
    let server = start().await;
    let user = server.signed_in_user("ada@north.edu").await;
    let mut soft = SoftPasskey::new(&server.base);
    let options =
        json_of(user.post("/api/v1/account/passkeys/options", json!({})).await, 200).await;
    let credential = soft.register(&options["public_key"]).await;
    let add = |name: &str, challenge: Value, credential: Value| {
        let body = json!({"challenge_id": challenge, "name": name, "credential": credential});
        user.post("/api/v1/account/passkeys", body)
    };
    problem(
        add("", options["challenge_id"].clone(), credential.clone()).await,
        422,
        "validation_failed",
    )
    .await;
    problem(
        add("Phone", json!("nope"), credential.clone()).await,
        400,
        "passkey_challenge_invalid",
    )
    .await;
    let malformed = add("Phone", options["challenge_id"].clone(), json!({"id": "x"})).await;
    problem(malformed, 400, "invalid_passkey_response").await;
    // The malformed answer used the challenge up.
    let again = add("Phone", options["challenge_id"].clone(), credential).await;
    problem(again, 400, "passkey_challenge_invalid").await;

    let id = add_passkey(&user, &mut soft, "Phone").await;
    let other = server.signed_in_user("grace@north.edu").await;
    let rename = other.send(reqwest::Method::PATCH, &format!("/api/v1/account/passkeys/{id}"));
    problem(rename.json(&json!({"name": "Mine"})).send().await.unwrap(), 404, "passkey_not_found")
        .await;
    problem(
        other.delete(&format!("/api/v1/account/passkeys/{id}")).await,
        404,
        "passkey_not_found",
    )
    .await;
    let garbage = sign_in_with(&server, &json!("x"), json!({"id": "x", "response": {}})).await;
    problem(garbage, 400, "invalid_passkey_response").await;
    for body in
        [json!({}), json!({"challenge_id": "x"}), json!({"challenge_id": 5, "credential": {}})]
    {
        let answer = server.post("/api/v1/auth/passkey", body).await;
        assert_eq!(answer.status(), 400, "a malformed body is refused");
    }
}

#[tokio::test]
async fn a_passkey_only_student_signs_up_verifies_adds_a_passkey_and_cannot_remove_the_last() {
    let server = start().await;
    let registered = server
        .post("/api/v1/auth/register", json!({"email": "ada@north.edu", "display_name": "Ada"}))
        .await;
    assert_eq!(registered.status(), 202);
    let mail = server.mail_to("ada@north.edu", "Confirm your email").await;
    let verified = server
        .post("/api/v1/auth/verify-email", json!({"token": mail.link_token("/verify-email")}))
        .await;
    let verified = json_of(verified, 200).await;
    let setup = verified["setup_token"].as_str().expect("a setup token").to_string();

    let mut soft = SoftPasskey::new(&server.base);
    let bad = server.post("/api/v1/auth/passkey/setup/options", json!({"token": "nope"})).await;
    problem(bad, 400, "invalid_token").await;
    let options = json_of(
        server.post("/api/v1/auth/passkey/setup/options", json!({"token": setup})).await,
        200,
    )
    .await;
    let credential = soft.register(&options["public_key"]).await;
    let added = server
        .post(
            "/api/v1/auth/passkey/setup",
            json!({"token": setup, "challenge_id": options["challenge_id"], "name": "Phone", "credential": credential}),
        )
        .await;
    let added = json_of(added, 201).await;
    let setup_again =
        server.post("/api/v1/auth/passkey/setup/options", json!({"token": setup})).await;
    problem(setup_again, 400, "token_already_used").await;

    problem(
        server.new_user("ada@north.edu").login(PASSWORD, false).await,
        401,
        "invalid_credentials",
    )
    .await;
    let options = sign_in_options(&server).await;
    let credential = soft.sign_in(&options["public_key"]).await;
    let browser = server.new_user("ada@north.edu");
    let signed_in = post_sign_in(&browser, &options["challenge_id"], credential).await;
    json_of(signed_in, 200).await;
    let listed = json_of(browser.get("/api/v1/account/passkeys").await, 200).await;
    assert_eq!(listed["has_password"], false);
    // With no password to give, a recent sign-in stands in for it before second-factor changes.
    let (secret, _) = crate::support::totp::enrol(&server, &browser).await;
    crate::support::totp::next_step(&server);
    let code = crate::support::totp::code(&server, &secret, 0);
    let codes = browser.post("/api/v1/account/mfa/recovery-codes", json!({"code": code})).await;
    json_of(codes, 200).await;
    server.clock.advance(chrono::Duration::minutes(6));
    let code = crate::support::totp::code(&server, &secret, 0);
    let stale = browser.post("/api/v1/account/mfa/recovery-codes", json!({"code": code})).await;
    problem(stale, 403, "reauthentication_required").await;
    // Signed in again with the passkey: two-step sign-in goes off with a code alone.
    let options = sign_in_options(&server).await;
    let credential = soft.sign_in(&options["public_key"]).await;
    let again = server.new_user("ada@north.edu");
    json_of(post_sign_in(&again, &options["challenge_id"], credential).await, 200).await;
    crate::support::totp::next_step(&server);
    let code = crate::support::totp::code(&server, &secret, 0);
    let off = again.send(reqwest::Method::DELETE, "/api/v1/account/mfa/totp");
    assert_eq!(off.json(&json!({"code": code})).send().await.unwrap().status(), 204);

    let id = added["id"].as_str().unwrap();
    let renamed = browser.send(reqwest::Method::PATCH, &format!("/api/v1/account/passkeys/{id}"));
    let renamed =
        json_of(renamed.json(&json!({"name": "Old phone"})).send().await.unwrap(), 200).await;
    assert_eq!(renamed["name"], "Old phone");
    server.mail_to("ada@north.edu", "A passkey was renamed").await;
    let removed = browser.delete(&format!("/api/v1/account/passkeys/{id}")).await;
    problem(removed, 409, "last_sign_in_method").await;

    let export = json_of(browser.get("/api/v1/account/export").await, 200).await;
    assert_eq!(export["mfa"]["passkeys"][0]["name"], "Old phone", "{}", export["mfa"]);
    assert!(!export.to_string().contains("credential_id"), "no key material in the export");

    // A second passkey, from the emailed reset link; then the first one may go. (The setup
    // token was a reset link too: the next is sent a minute after it at the earliest.)
    server.clock.advance(chrono::Duration::minutes(2));
    let forgot =
        server.post("/api/v1/auth/password/forgot", json!({"email": "ada@north.edu"})).await;
    assert_eq!(forgot.status(), 202);
    let reset = server.mail_to("ada@north.edu", "Reset your password").await;
    let token = reset.link_token("/reset-password");
    let mut second = SoftPasskey::new(&server.base);
    let options = json_of(
        server.post("/api/v1/auth/passkey/setup/options", json!({"token": token})).await,
        200,
    )
    .await;
    let excluded = options["public_key"]["excludeCredentials"].as_array().map(Vec::len);
    assert_eq!(excluded, Some(1), "the passkey it has is excluded");
    let credential = second.register(&options["public_key"]).await;
    let body = json!({"token": token, "challenge_id": options["challenge_id"], "name": "Laptop", "credential": credential});
    json_of(server.post("/api/v1/auth/passkey/setup", body).await, 201).await;
    // Like a reset, the link ended every session.
    problem(browser.get("/api/v1/account/passkeys").await, 401, "unauthenticated").await;

    let options = sign_in_options(&server).await;
    let credential = second.sign_in(&options["public_key"]).await;
    let browser = server.new_user("ada@north.edu");
    let signed_in = post_sign_in(&browser, &options["challenge_id"], credential).await;
    json_of(signed_in, 200).await;
    assert_eq!(browser.delete(&format!("/api/v1/account/passkeys/{id}")).await.status(), 204);
    server.mail_to("ada@north.edu", "A passkey was removed").await;

    let deleted = browser
        .send(reqwest::Method::DELETE, "/api/v1/account")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204, "{}", deleted.text().await.unwrap());
    assert_eq!(server.query_i64("SELECT count(*) FROM passkeys"), 0);
}

#[tokio::test]
async fn passkeys_are_off_where_public_url_is_an_ip_address() {
    let server = TestServer::start().await;
    problem(
        server.post("/api/v1/auth/passkey/options", json!({})).await,
        404,
        "passkeys_unavailable",
    )
    .await;
}

#[tokio::test]
async fn a_reset_link_alone_cannot_add_a_passkey_to_an_account_with_two_step_sign_in() {
    let server = start().await;
    let user = server.signed_in_user("ada@north.edu").await;
    crate::support::totp::enrol(&server, &user).await;
    let forgot =
        server.post("/api/v1/auth/password/forgot", json!({"email": "ada@north.edu"})).await;
    assert_eq!(forgot.status(), 202);
    let token =
        server.mail_to("ada@north.edu", "Reset your password").await.link_token("/reset-password");
    let options = server.post("/api/v1/auth/passkey/setup/options", json!({"token": token})).await;
    problem(options, 409, "second_factor_required").await;
    assert_eq!(server.query_i64("SELECT count(*) FROM passkey_challenges"), 0);
}

#[tokio::test]
async fn an_api_token_is_never_a_recent_sign_in() {
    let server = start().await;
    server.signed_in_user("ada@north.edu").await;
    let grant = server
        .post("/api/v1/auth/token", json!({"email": "ada@north.edu", "password": PASSWORD}))
        .await;
    let access = json_of(grant, 200).await["access_token"].as_str().unwrap().to_string();
    // Issued a second ago, yet it proves nothing about when its holder last signed in.
    let options = server
        .client
        .post(server.url("/api/v1/account/passkeys/options"))
        .bearer_auth(&access)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    problem(options, 403, "reauthentication_required").await;
}

#[tokio::test]
async fn a_credential_reported_as_not_discoverable_is_refused() {
    let server = start().await;
    let user = server.signed_in_user("ada@north.edu").await;
    let mut soft = SoftPasskey::new(&server.base);
    let options =
        json_of(user.post("/api/v1/account/passkeys/options", json!({})).await, 200).await;
    let mut credential = soft.register(&options["public_key"]).await;
    credential["clientExtensionResults"] = json!({"credProps": {"rk": false}});
    let body =
        json!({"challenge_id": options["challenge_id"], "name": "Key", "credential": credential});
    problem(user.post("/api/v1/account/passkeys", body).await, 401, "passkey_not_accepted").await;
    assert_eq!(server.query_i64("SELECT count(*) FROM passkeys"), 0);
}
