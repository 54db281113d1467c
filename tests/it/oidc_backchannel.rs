//! Back-channel logout through the real server to a local app: ending a Gatehouse session
//! posts each app a logout token it can verify against the JWK set; an app that answers 500 is
//! tried again with backoff, and one that never answers is given up on after a day, audited.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use crate::support::bootstrap::admin;
use crate::support::harness::{TestServer, User};
use crate::support::http_sink::{Received, http_sink, wait_for};
use crate::support::oidc::*;

/// An app whose back-channel logout URI is a local sink failing `failures` times first.
async fn app_with_back_channel(
    server: &TestServer,
    failures: usize,
) -> (App, std::sync::Arc<std::sync::Mutex<Vec<Received>>>) {
    let (base, received) = http_sink(failures, 200).await;
    let mut new = new_client(true, false, &[]);
    new.backchannel_logout_uri = Some(format!("{base}/backchannel-logout"));
    (register_client(server, new), received)
}

/// Signs `user` in to `app`; returns the ID token's claims.
async fn signed_in_to(server: &TestServer, user: &User, app: &App) -> Value {
    let (verifier, challenge) = pkce();
    let code = code_for(server, user, app, &challenge).await;
    let tokens: Value = exchange(server, app, &code, &verifier).await.json().await.unwrap();
    claims_of(tokens["id_token"].as_str().unwrap())
}

/// The logout token in a request, verified as an app would: signature against the JWK set,
/// issuer, audience, expiry; returns its header and claims.
async fn verified_logout_token(
    server: &TestServer,
    app: &App,
    request: &Received,
) -> (Value, Value) {
    assert_eq!(
        request.header("content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert!(request.head.starts_with("POST /backchannel-logout "), "{}", request.head);
    let form: Vec<(String, String)> =
        url::form_urlencoded::parse(request.body.as_bytes()).into_owned().collect();
    let [(name, token)] = form.as_slice() else { panic!("one field: {form:?}") };
    assert_eq!(name, "logout_token");
    let header = header_of(token);
    let jwks: Value = server.get("/.well-known/jwks.json").await.json().await.unwrap();
    let key = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == header["kid"]).unwrap();
    let key =
        DecodingKey::from_rsa_components(key["n"].as_str().unwrap(), key["e"].as_str().unwrap())
            .unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[&app.id]);
    validation.set_issuer(&[&server.base]);
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation).unwrap().claims;
    (header, claims)
}

/// Waits until `sql` counts `n`.
async fn eventually(server: &TestServer, sql: &str, n: i64) {
    for _ in 0..400 {
        server.state.oidc.logout_wake.notify_one();
        if server.query_i64(sql) == n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("{sql} is {}, not {n}", server.query_i64(sql));
}

#[tokio::test]
async fn signing_out_sends_each_app_a_signed_logout_token_until_it_is_taken() {
    let server = TestServer::start().await;
    let ada = student(&server).await;
    let (app, received) = app_with_back_channel(&server, 2).await;
    let quiet = register(&server, true, false, &[]);
    let id = signed_in_to(&server, &ada, &app).await;
    signed_in_to(&server, &ada, &quiet).await;

    assert!(ada.post("/api/v1/auth/logout", json!({})).await.status().is_success());
    // The first try fails (500), and so does the second, 10 s later on the app's clock; the
    // third, 20 s after that, is taken.
    let attempts = "SELECT coalesce(max(attempts), 0) FROM oidc_logouts";
    eventually(&server, attempts, 1).await;
    server.clock.advance(chrono::Duration::seconds(11));
    eventually(&server, attempts, 2).await;
    server.clock.advance(chrono::Duration::seconds(21));
    eventually(&server, "SELECT count(*) FROM oidc_logouts WHERE sent_at IS NOT NULL", 1).await;
    let got = wait_for(&received, 3).await;

    let mut jtis = Vec::new();
    for request in &got {
        let (header, claims) = verified_logout_token(&server, &app, request).await;
        assert_eq!(header["typ"], "logout+jwt");
        assert_eq!(claims["sub"], id["sub"]);
        assert_eq!(claims["sid"], id["sid"]);
        assert_eq!(
            claims["events"],
            json!({"http://schemas.openid.net/event/backchannel-logout": {}})
        );
        assert!(claims.get("nonce").is_none());
        assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 120);
        jtis.push(claims["jti"].as_str().unwrap().to_string());
    }
    jtis.dedup();
    assert_eq!(jtis.len(), 3, "every token has its own jti");
    // Only the app with a back-channel URI is told, once; the audit log says so.
    assert_eq!(server.query_i64("SELECT count(*) FROM oidc_logouts"), 1);
    assert_eq!(
        server.query_i64(
            "SELECT count(*) FROM audit_log WHERE action = 'oidc.backchannel_logout' AND outcome = 'success'"
        ),
        1
    );
    server.clock.advance(chrono::Duration::hours(2));
    server.state.oidc.logout_wake.notify_one();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(received.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn remove_access_tells_the_app_and_an_app_that_never_answers_is_given_up_after_a_day() {
    let server = TestServer::start().await;
    let ada = student(&server).await;
    let (app, received) = app_with_back_channel(&server, usize::MAX).await;
    let id = signed_in_to(&server, &ada, &app).await;

    let removed = ada.delete(&format!("/api/v1/account/apps/{}", app.id)).await;
    assert!(removed.status().is_success(), "{}", removed.status());
    let got = wait_for(&received, 1).await;
    let (_, claims) = verified_logout_token(&server, &app, &got[0]).await;
    assert_eq!(claims["sid"], id["sid"]);
    // Still signed in to Gatehouse: only the app's session ends.
    assert_eq!(ada.get("/api/v1/auth/session").await.status(), 200);

    eventually(&server, "SELECT coalesce(max(attempts), 0) FROM oidc_logouts", 1).await;
    server.clock.advance(chrono::Duration::hours(24));
    eventually(&server, "SELECT count(*) FROM oidc_logouts WHERE failed_at IS NOT NULL", 1).await;
    let error: String = server.blocking_conn(|conn| {
        conn.query_row("SELECT last_error FROM oidc_logouts", [] as [i64; 0], |r| r.get(0)).unwrap()
    });
    assert_eq!(error, "the app answered 500");
    assert_eq!(
        server.query_i64(
            "SELECT count(*) FROM audit_log WHERE action = 'oidc.backchannel_logout' AND outcome = 'failure'"
        ),
        1
    );
}

#[tokio::test]
async fn an_admin_disabling_the_account_tells_its_apps() {
    let server = TestServer::start().await;
    let ada = student(&server).await;
    let (app, received) = app_with_back_channel(&server, 0).await;
    let id = signed_in_to(&server, &ada, &app).await;
    let root = admin(&server).await;
    let user_id = id["sub"].as_str().unwrap();
    let disabled = root.post(&format!("/api/v1/admin/users/{user_id}/disable"), json!({})).await;
    assert_eq!(disabled.status(), 200);
    let got = wait_for(&received, 1).await;
    let (_, claims) = verified_logout_token(&server, &app, &got[0]).await;
    assert_eq!((&claims["sub"], &claims["sid"]), (&id["sub"], &id["sid"]));
}
