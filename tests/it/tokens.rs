//! API tokens: JWT access tokens on every protected operation, rotating refresh tokens with
//! reuse detection, revocation, the JWK set.

use serde_json::{Value, json};

use crate::support::harness::{PASSWORD, TestServer, problem};

async fn tokens(server: &TestServer, email: &str, password: &str) -> reqwest::Response {
    server.post("/api/v1/auth/token", json!({"email": email, "password": password})).await
}

async fn refresh(server: &TestServer, token: &str) -> reqwest::Response {
    server.post("/api/v1/auth/token/refresh", json!({"refresh_token": token})).await
}

async fn whoami(server: &TestServer, access: &str) -> reqwest::Response {
    server.client.get(server.url("/api/v1/auth/session")).bearer_auth(access).send().await.unwrap()
}

async fn ready_student(server: &TestServer) -> Value {
    server.add_campus("North", &["north.edu"]);
    server.signed_in_user("ada@north.edu").await;
    let response = tokens(server, "ada@north.edu", PASSWORD).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn email_and_password_give_a_bearer_token_that_works_everywhere() {
    let server = TestServer::start().await;
    let pair = ready_student(&server).await;
    assert_eq!(pair["token_type"], "Bearer");
    assert_eq!(pair["expires_in"], 900);
    let access = pair["access_token"].as_str().unwrap();
    let me: Value = whoami(&server, access).await.json().await.unwrap();
    assert_eq!(me["user"]["email"], "ada@north.edu");
    let sessions = server
        .client
        .get(server.url("/api/v1/account/sessions"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(sessions.status(), 200);
    // Bearer requests need no CSRF token: they carry no cookie.
    let patch = server
        .client
        .patch(server.url("/api/v1/account"))
        .bearer_auth(access)
        .json(&json!({"display_name": "Ada L."}))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 200);

    problem(tokens(&server, "ada@north.edu", "Wrong-Pass-99").await, 401, "invalid_credentials")
        .await;
    problem(tokens(&server, "nobody@north.edu", "Wrong-Pass-99").await, 401, "invalid_credentials")
        .await;
    for garbage in ["not-a-jwt", "a.b.c", ""] {
        let response = server
            .client
            .get(server.url("/api/v1/auth/session"))
            .header("authorization", format!("Bearer {garbage}"))
            .send()
            .await
            .unwrap();
        problem(response, 401, "unauthenticated").await;
    }
}

#[tokio::test]
async fn access_tokens_expire_after_fifteen_minutes_and_name_their_key() {
    let server = TestServer::start().await;
    let pair = ready_student(&server).await;
    let access = pair["access_token"].as_str().unwrap();
    let jwks: Value = server.get("/.well-known/jwks.json").await.json().await.unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str(), key["alg"].as_str()),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );
    let header: Value =
        serde_json::from_slice(&base64url_decode(access.split('.').next().unwrap())).unwrap();
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["kid"], key["kid"]);
    let claims: Value =
        serde_json::from_slice(&base64url_decode(access.split('.').nth(1).unwrap())).unwrap();
    assert_eq!(claims["iss"], server.base);
    assert_eq!(claims["aud"], "gatehouse");

    server.clock.advance(chrono::Duration::minutes(14));
    assert_eq!(whoami(&server, access).await.status(), 200);
    server.clock.advance(chrono::Duration::minutes(1));
    problem(whoami(&server, access).await, 401, "unauthenticated").await;
    // The refresh token still gives a fresh pair.
    assert_eq!(refresh(&server, pair["refresh_token"].as_str().unwrap()).await.status(), 200);
}

fn base64url_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).unwrap()
}

#[tokio::test]
async fn refreshing_rotates_and_a_reused_token_revokes_the_family() {
    let server = TestServer::start().await;
    let first = ready_student(&server).await;
    let old_refresh = first["refresh_token"].as_str().unwrap().to_string();
    let second: Value = refresh(&server, &old_refresh).await.json().await.unwrap();
    let new_refresh = second["refresh_token"].as_str().unwrap().to_string();
    let new_access = second["access_token"].as_str().unwrap().to_string();
    assert_ne!(new_refresh, old_refresh);
    assert_eq!(whoami(&server, &new_access).await.status(), 200);

    // The old one again: theft detected, the whole family dies, new tokens included.
    problem(refresh(&server, &old_refresh).await, 401, "refresh_token_reused").await;
    problem(refresh(&server, &new_refresh).await, 401, "invalid_refresh_token").await;
    problem(whoami(&server, &new_access).await, 401, "unauthenticated").await;
    assert_eq!(
        server.query_i64("SELECT count(*) FROM audit_log WHERE action = 'token.reuse_detected'"),
        1
    );
    problem(refresh(&server, "forged").await, 401, "invalid_refresh_token").await;
}

#[tokio::test]
async fn concurrent_refreshes_with_one_token_let_exactly_one_win() {
    let server = TestServer::start().await;
    let pair = ready_student(&server).await;
    let token = pair["refresh_token"].as_str().unwrap().to_string();
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let (client, url) = (server.client.clone(), server.url("/api/v1/auth/token/refresh"));
            let body = json!({"refresh_token": token});
            tokio::spawn(async move {
                client.post(url).json(&body).send().await.unwrap().status().as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 401), "{statuses:?}");
}

#[tokio::test]
async fn refresh_tokens_expire_after_seven_days() {
    let server = TestServer::start().await;
    let pair = ready_student(&server).await;
    server.clock.advance(chrono::Duration::days(7) + chrono::Duration::seconds(1));
    problem(
        refresh(&server, pair["refresh_token"].as_str().unwrap()).await,
        401,
        "invalid_refresh_token",
    )
    .await;
}

#[tokio::test]
async fn revoking_and_password_changes_end_token_families() {
    let server = TestServer::start().await;
    let pair = ready_student(&server).await;
    let revoked = server
        .post("/api/v1/auth/token/revoke", json!({"refresh_token": pair["refresh_token"]}))
        .await;
    assert_eq!(revoked.status(), 200);
    problem(whoami(&server, pair["access_token"].as_str().unwrap()).await, 401, "unauthenticated")
        .await;
    problem(
        refresh(&server, pair["refresh_token"].as_str().unwrap()).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    let unknown =
        server.post("/api/v1/auth/token/revoke", json!({"refresh_token": "unknown"})).await;
    assert_eq!(unknown.status(), 200, "unknown tokens are ignored");

    let other: Value = tokens(&server, "ada@north.edu", PASSWORD).await.json().await.unwrap();
    let access = other["access_token"].as_str().unwrap();
    assert_eq!(whoami(&server, access).await.status(), 200);
    let change = server
        .client
        .post(server.url("/api/v1/account/password"))
        .bearer_auth(access)
        .json(&json!({"current_password": PASSWORD, "new_password": "Brand-New-Pass-2026"}))
        .send()
        .await
        .unwrap();
    assert_eq!(change.status(), 200);
    // Changing the password keeps the caller going but ends its token family: sign in again.
    problem(
        refresh(&server, other["refresh_token"].as_str().unwrap()).await,
        401,
        "invalid_refresh_token",
    )
    .await;
}

#[tokio::test]
async fn logout_with_a_bearer_token_ends_its_family() {
    let server = TestServer::start().await;
    let pair = ready_student(&server).await;
    let access = pair["access_token"].as_str().unwrap();
    let logout = server
        .client
        .post(server.url("/api/v1/auth/logout"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    problem(whoami(&server, access).await, 401, "unauthenticated").await;
    problem(
        refresh(&server, pair["refresh_token"].as_str().unwrap()).await,
        401,
        "invalid_refresh_token",
    )
    .await;
}

#[tokio::test]
async fn a_password_reset_ends_refresh_and_access_tokens_at_once() {
    let server = TestServer::start().await;
    let pair = ready_student(&server).await;
    let access = pair["access_token"].as_str().unwrap();
    // Warm the cached state of the token family: the reset must beat it.
    assert_eq!(whoami(&server, access).await.status(), 200);

    server.post("/api/v1/auth/password/forgot", json!({"email": "ada@north.edu"})).await;
    let token =
        server.mail_to("ada@north.edu", "Reset your password").await.link_token("/reset-password");
    let reset = server
        .post(
            "/api/v1/auth/password/reset",
            json!({"token": token, "new_password": "Brand-New-Pass-2026"}),
        )
        .await;
    assert_eq!(reset.status(), 200);

    problem(
        refresh(&server, pair["refresh_token"].as_str().unwrap()).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    // At once: the clock has not moved, the access token has 15 minutes to go.
    problem(whoami(&server, access).await, 401, "unauthenticated").await;
    let change = server
        .client
        .patch(server.url("/api/v1/account"))
        .bearer_auth(access)
        .json(&json!({"display_name": "Not Ada"}))
        .send()
        .await
        .unwrap();
    problem(change, 401, "unauthenticated").await;
    let me = tokens(&server, "ada@north.edu", "Brand-New-Pass-2026").await;
    let me: Value = me.json().await.unwrap();
    let me: Value =
        whoami(&server, me["access_token"].as_str().unwrap()).await.json().await.unwrap();
    assert_eq!(me["user"]["display_name"], "Test Student", "the refused change did nothing");
}

fn kid_of(token: &str) -> Value {
    let header: Value =
        serde_json::from_slice(&base64url_decode(token.split('.').next().unwrap())).unwrap();
    header["kid"].clone()
}

/// The `kid`s of the published keys of one algorithm (`EdDSA`: access tokens; `RS256`: the
/// OpenID Connect provider's ID tokens), in the set's order.
async fn published(server: &TestServer, alg: &str) -> Vec<Value> {
    let jwks: Value = server.get("/.well-known/jwks.json").await.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap().iter();
    keys.filter(|k| k["alg"] == alg).map(|k| k["kid"].clone()).collect()
}

async fn published_kids(server: &TestServer) -> Vec<Value> {
    published(server, "EdDSA").await
}

/// `gatehouse keys rotate --jwt`, the real command, against the running server's data.
fn rotate_jwt(server: &TestServer) -> String {
    crate::support::process::keys(server, &["keys", "rotate", "--jwt"])
}

#[tokio::test]
async fn rotating_the_signing_key_breaks_no_token_and_retires_the_old_key_once_they_expired() {
    let server = TestServer::start().await;
    let pair = ready_student(&server).await;
    // Not used before the rotation, so it is first verified by the rotated key set (and not
    // answered from the cache of verified tokens).
    let old_access = pair["access_token"].as_str().unwrap();
    let old_kid = kid_of(old_access);
    assert_eq!(published_kids(&server).await, vec![old_kid.clone()]);
    let old_rsa = published(&server, "RS256").await;
    assert_eq!(old_rsa.len(), 1, "the ID-token key is published beside it");

    let key_file = server.data_dir().join("keys/jwt_signing.key");
    let rsa_file = server.data_dir().join("keys/oidc_rsa.pem");
    let old_key = std::fs::read_to_string(&key_file).unwrap();
    let old_rsa_key = std::fs::read_to_string(&rsa_file).unwrap();
    let said = rotate_jwt(&server);
    assert!(said.contains("Rotated the JWT signing key"), "{said}");
    let new_key = std::fs::read_to_string(&key_file).unwrap();
    let new_rsa_key = std::fs::read_to_string(&rsa_file).unwrap();
    assert_ne!(new_key, old_key);
    assert_ne!(new_rsa_key, old_rsa_key, "the RSA key rotates with it");
    for key in [&old_key, &new_key] {
        assert!(!said.contains(key.trim()), "a key was printed: {said}");
    }
    for pem in [&old_rsa_key, &new_rsa_key] {
        let body = pem.lines().nth(1).unwrap();
        assert!(!said.contains(body), "an RSA key was printed: {said}");
    }
    let new_kid: Value = said
        .split("signed with key ")
        .nth(1)
        .and_then(|rest| rest.split('.').next())
        .map(|kid| json!(kid))
        .expect("the new kid is named");
    assert_ne!(new_kid, old_kid);

    // The running server signs with the new key at once and publishes both.
    assert_eq!(published_kids(&server).await, vec![new_kid.clone(), old_kid.clone()]);
    let rsa = published(&server, "RS256").await;
    assert_eq!(rsa.len(), 2, "{rsa:?}");
    assert_eq!(rsa[1], old_rsa[0], "the new RSA key first, the old one still published");
    assert_eq!(whoami(&server, old_access).await.status(), 200, "a live token still works");
    let fresh: Value =
        refresh(&server, pair["refresh_token"].as_str().unwrap()).await.json().await.unwrap();
    let new_access = fresh["access_token"].as_str().unwrap();
    assert_eq!(kid_of(new_access), new_kid);
    assert_eq!(whoami(&server, new_access).await.status(), 200);

    // Audited, with the key ids and nothing secret.
    let (actor, details): (Option<String>, String) = server.blocking_conn(|conn| {
        conn.query_row(
            "SELECT actor_id, details FROM audit_log WHERE action = 'keys.jwt_rotated'",
            [] as [i64; 0],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    });
    assert_eq!(actor, None, "the command line");
    let details: Value = serde_json::from_str(&details).unwrap();
    assert_eq!((&details["old_kid"], &details["new_kid"]), (&old_kid, &new_kid));

    // Until the old key's tokens have expired it stays published; then it goes.
    server.clock.advance(chrono::Duration::minutes(14));
    assert_eq!(published_kids(&server).await, vec![new_kid.clone(), old_kid.clone()]);
    server.clock.advance(chrono::Duration::minutes(3));
    assert_eq!(published_kids(&server).await, vec![new_kid.clone()]);
    assert_eq!(published(&server, "RS256").await, vec![rsa[0].clone()]);
    let retired = std::fs::read_dir(server.data_dir().join("keys/jwt_retired")).unwrap().count();
    assert_eq!(retired, 2, "the files (Ed25519 and RSA) stay until the next rotation deletes them");
}
