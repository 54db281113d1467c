//! Session fixation: every sign-in, by password, by second factor or by phone code, sets a
//! session token the browser never had. A cookie in the browser before sign-in (one an attacker
//! planted, or one left from an earlier session) is never the one after, and never becomes
//! the signed-in user's.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::support::harness::{PASSWORD, TestServer, User};
use crate::support::{phones, totp};

/// Writes a session cookie, with the CSRF cookie that goes with it, into `browser`'s jar: what
/// an attacker able to set cookies for the site, or an earlier visit, leaves there.
fn plant(server: &TestServer, browser: &User, token: &str) {
    let url = browser.base.parse().unwrap();
    let csrf = server.state.accounts.sessions().csrf_token(token);
    browser.jar.add_cookie_str(&format!("gatehouse_session={token}; Path=/"), &url);
    browser.jar.add_cookie_str(&format!("gatehouse_csrf={csrf}; Path=/"), &url);
}

/// The session token a sign-in just set in `browser`: one never issued nor sent before. Its
/// CSRF cookie is the new session's.
fn fresh_token(server: &TestServer, browser: &User, seen: &mut HashSet<String>) -> String {
    let token = browser.cookie("gatehouse_session").expect("a session cookie");
    assert!(seen.insert(token.clone()), "a sign-in kept a session token the browser had");
    let csrf = browser.cookie("gatehouse_csrf").expect("a CSRF cookie");
    assert_eq!(csrf, server.state.accounts.sessions().csrf_token(&token));
    token
}

/// Whose session `token` is, if it is one.
async fn owner(server: &TestServer, token: &str) -> Option<String> {
    let response = server
        .client
        .get(server.url("/api/v1/auth/session"))
        .header("cookie", format!("gatehouse_session={token}"))
        .send()
        .await
        .unwrap();
    if response.status() != 200 {
        return None;
    }
    let body: Value = response.json().await.unwrap();
    body["user"]["email"].as_str().map(str::to_string)
}

#[tokio::test]
async fn every_sign_in_sets_a_new_session_token_whatever_cookie_the_browser_sent() {
    let server = TestServer::start().await;
    // Ada signed in once, to link her phone.
    let ada = phones::phone_owner(&server).await;
    let mut seen = HashSet::new();
    fresh_token(&server, &ada, &mut seen);

    // Password, while signed in already.
    assert_eq!(ada.login(PASSWORD, false).await.status(), 200);
    let again = fresh_token(&server, &ada, &mut seen);
    assert_eq!(owner(&server, &again).await.as_deref(), Some("ada@north.edu"));

    // Password, with a token an attacker chose planted before: it stays nobody's.
    let browser = server.new_user("ada@north.edu");
    let chosen = "fixated-by-an-attacker-0123456789abcdefghij".to_string();
    plant(&server, &browser, &chosen);
    seen.insert(chosen.clone());
    assert_eq!(browser.login(PASSWORD, false).await.status(), 200);
    fresh_token(&server, &browser, &mut seen);
    assert_eq!(owner(&server, &chosen).await, None);

    // Password, with the attacker's own live session planted: Ada gets her own, and the
    // attacker's token never becomes hers.
    let mallory = server.signed_in_user("mallory@north.edu").await;
    let mallorys = fresh_token(&server, &mallory, &mut seen);
    let browser = server.new_user("ada@north.edu");
    plant(&server, &browser, &mallorys);
    assert_eq!(browser.login(PASSWORD, true).await.status(), 200);
    let adas = fresh_token(&server, &browser, &mut seen);
    assert_eq!(owner(&server, &adas).await.as_deref(), Some("ada@north.edu"));
    assert_eq!(owner(&server, &mallorys).await.as_deref(), Some("mallory@north.edu"));

    // Phone code, from the first browser after its session ended (idle), its cookie still
    // there.
    server.clock.advance(chrono::Duration::minutes(31));
    assert_eq!(owner(&server, &again).await, None);
    assert_eq!(ada.cookie("gatehouse_session").as_deref(), Some(again.as_str()));
    let requested = ada.post("/api/v1/auth/otp/request", json!({"phone": phones::PHONE})).await;
    assert_eq!(requested.status(), 202);
    let code = phones::code(&server, 2).await;
    let verified =
        ada.post("/api/v1/auth/otp/verify", json!({"phone": phones::PHONE, "code": code})).await;
    assert_eq!(verified.status(), 200);
    assert_eq!(verified.json::<Value>().await.unwrap()["outcome"], "signed_in");
    let by_phone = fresh_token(&server, &ada, &mut seen);
    assert_eq!(owner(&server, &by_phone).await.as_deref(), Some("ada@north.edu"));

    // Second factor, in a browser holding another live session of Ada's: no cookie after the
    // password step, a new one after the code.
    let (secret, _) = totp::enrol(&server, &ada).await;
    totp::next_step(&server);
    let browser = server.new_user("ada@north.edu");
    plant(&server, &browser, &by_phone);
    let pending = totp::pending_login(&browser).await;
    assert_eq!(browser.cookie("gatehouse_session").as_deref(), Some(by_phone.as_str()));
    let second = totp::second_step(&browser, &pending, &totp::code(&server, &secret, 0)).await;
    assert_eq!(second.status(), 200);
    let by_totp = fresh_token(&server, &browser, &mut seen);
    assert_eq!(owner(&server, &by_totp).await.as_deref(), Some("ada@north.edu"));
}
