//! The OpenID Connect provider through the real server: authorization code + PKCE, consent,
//! the token endpoint's refusals, refresh rotation and reuse, userinfo, revocation,
//! introspection and RP-initiated logout. (The same flows driven by a relying-party library
//! this project did not write, through a real browser, are in `tests/e2e/oidc.test.js`.)

use serde_json::{Value, json};

use crate::support::harness::TestServer;
use crate::support::oidc::*;

#[tokio::test]
async fn discovery_names_every_endpoint_and_only_what_is_supported() {
    let server = TestServer::start().await;
    let doc: Value = server.get("/.well-known/openid-configuration").await.json().await.unwrap();
    assert_eq!(doc["issuer"], server.base.as_str());
    for endpoint in ["authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"] {
        assert!(doc[endpoint].as_str().unwrap().starts_with(&server.base), "{endpoint}");
    }
    assert_eq!(doc["response_types_supported"], json!(["code"]));
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(doc["id_token_signing_alg_values_supported"], json!(["RS256", "EdDSA"]));
    let jwks: Value = server.get("/.well-known/jwks.json").await.json().await.unwrap();
    let algs: Vec<&str> =
        jwks["keys"].as_array().unwrap().iter().map(|k| k["alg"].as_str().unwrap()).collect();
    assert!(algs.contains(&"RS256") && algs.contains(&"EdDSA"), "{algs:?}");
}

#[tokio::test]
async fn code_flow_gives_tokens_whose_claims_userinfo_and_refresh_work() {
    let server = TestServer::start().await;
    let ada = student(&server).await;
    let app = register(&server, true, false, &["email", "profile", "campus"]);
    let (verifier, challenge) = pkce();
    let code = code_for(&server, &ada, &app, &challenge).await;
    let response = exchange(&server, &app, &code, &verifier).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    assert_eq!(tokens["scope"], "openid email profile");
    let id_token = tokens["id_token"].as_str().unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(header_of(id_token)["alg"], "RS256");
    assert_eq!(header_of(access)["typ"], "at+jwt");
    let id = claims_of(id_token);
    assert_eq!(id["iss"], server.base.as_str());
    assert_eq!(id["aud"], app.id.as_str());
    assert_eq!(id["nonce"], "n-1");
    assert_eq!(id["email"], "ada@north.edu");
    assert_eq!(id["amr"], json!(["pwd"]));
    assert!(id["sid"].is_string() && id["auth_time"].is_i64() && id["at_hash"].is_string());
    assert!(id.get("campus").is_none(), "campus was not asked for");
    let access_claims = claims_of(access);
    assert_eq!(access_claims["client_id"], app.id.as_str());
    assert_eq!(access_claims["sub"], id["sub"]);

    // Userinfo answers the token's scopes; the first-party API does not take the app's token,
    // nor userinfo the first-party API's.
    let info: Value = userinfo(&server, access).await.json().await.unwrap();
    assert_eq!(info["sub"], id["sub"]);
    assert_eq!(info["name"], "Test Student");
    assert_eq!(info["preferred_username"], "ada");
    let session_check = server
        .client
        .get(server.url("/api/v1/auth/session"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(session_check.status(), 401);
    assert_eq!(userinfo(&server, "not.a.token").await.status(), 401);
    let missing = server.client.get(server.url("/oauth/userinfo")).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    assert!(missing.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));

    // Refresh rotates; the spent token used again revokes the whole grant.
    let first = tokens["refresh_token"].as_str().unwrap();
    let form = [("grant_type", "refresh_token"), ("refresh_token", first)];
    let rotated: Value = token(&server, &app, &form).await.json().await.unwrap();
    let second = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(first, second);
    assert_eq!(claims_of(rotated["id_token"].as_str().unwrap())["sid"], id["sid"]);
    oauth_error(token(&server, &app, &form).await, 400, "invalid_grant").await;
    let after_reuse = [("grant_type", "refresh_token"), ("refresh_token", second)];
    oauth_error(token(&server, &app, &after_reuse).await, 400, "invalid_grant").await;
    assert_eq!(userinfo(&server, rotated["access_token"].as_str().unwrap()).await.status(), 401);
}

#[tokio::test]
async fn the_token_endpoint_refuses_every_bad_exchange() {
    let server = TestServer::start().await;
    let ada = student(&server).await;
    let app = register(&server, true, false, &[]);
    let other = register(&server, true, false, &[]);
    let (verifier, challenge) = pkce();

    // A wrong verifier: refused, and the code is spent.
    let code = code_for(&server, &ada, &app, &challenge).await;
    let wrong = "b-verifier-of-forty-three-characters-or-more-0123456789";
    oauth_error(exchange(&server, &app, &code, wrong).await, 400, "invalid_grant").await;
    oauth_error(exchange(&server, &app, &code, &verifier).await, 400, "invalid_grant").await;

    // Another client's code: refused (and still good for its own client).
    let code = code_for(&server, &ada, &app, &challenge).await;
    oauth_error(exchange(&server, &other, &code, &verifier).await, 400, "invalid_grant").await;
    // A wrong redirect_uri.
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "https://rides.north.edu/other"),
        ("code_verifier", verifier.as_str()),
    ];
    oauth_error(token(&server, &app, &form).await, 400, "invalid_grant").await;

    // A code used twice: the second use is refused and revokes what the first gave.
    let code = code_for(&server, &ada, &app, &challenge).await;
    let tokens: Value = exchange(&server, &app, &code, &verifier).await.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&server, access).await.status(), 200);
    oauth_error(exchange(&server, &app, &code, &verifier).await, 400, "invalid_grant").await;
    assert_eq!(userinfo(&server, access).await.status(), 401);
    // Both second uses are audited: this one and the wrong-verifier code's above.
    assert_eq!(
        server.query_i64("SELECT count(*) FROM audit_log WHERE action = 'oidc.code_reused'"),
        2
    );

    // An expired code (60 seconds).
    let code = code_for(&server, &ada, &app, &challenge).await;
    server.clock.advance(chrono::Duration::seconds(61));
    oauth_error(exchange(&server, &app, &code, &verifier).await, 400, "invalid_grant").await;

    // A wrong secret, an unknown client, no credentials; a grant type not offered.
    let bad = App { id: app.id.clone(), secret: Some("wrong".into()) };
    oauth_error(exchange(&server, &bad, "x", &verifier).await, 401, "invalid_client").await;
    let unknown = App { id: "nobody".into(), secret: Some("x".into()) };
    oauth_error(exchange(&server, &unknown, "x", &verifier).await, 401, "invalid_client").await;
    let bare = server
        .client
        .post(server.url("/oauth/token"))
        .form_body(&[("grant_type", "authorization_code")])
        .send()
        .await
        .unwrap();
    oauth_error(bare, 401, "invalid_client").await;
    let password = [("grant_type", "password"), ("username", "ada@north.edu")];
    oauth_error(token(&server, &app, &password).await, 400, "unsupported_grant_type").await;
    let json_body =
        server.client.post(server.url("/oauth/token")).json(&json!({})).send().await.unwrap();
    oauth_error(json_body, 400, "invalid_request").await;
}

#[tokio::test]
async fn bad_authorization_requests_get_an_error_page_or_an_error_at_the_app() {
    let server = TestServer::start().await;
    let ada = student(&server).await;
    let app = register(&server, true, false, &[]);
    let public = register(&server, true, true, &[]);
    let (_, challenge) = pkce();

    // A wrong or unregistered redirect URI, an unknown client: a page, never a redirect.
    for extra in [
        vec![("redirect_uri", "https://evil.example/callback")],
        vec![("redirect_uri", "https://rides.north.edu/callback/")],
        vec![("client_id", "nobody")],
        vec![("redirect_uri", "")],
    ] {
        let response = ada.get(&authorize_url(&app, &challenge, &extra)).await;
        assert_eq!(response.status(), 400, "{extra:?}");
        assert!(response.headers().get("location").is_none());
        let page = response.text().await.unwrap();
        assert!(page.contains("This sign-in cannot go on"), "{page}");
        assert!(!page.contains("evil.example"));
    }

    // Everything else goes back to the app as an error, with state and iss.
    let refused = |extra: Vec<(&'static str, &'static str)>, error: &'static str| {
        let (ada, app, public, challenge) = (&ada, &app, &public, challenge.clone());
        async move {
            let client = if extra.iter().any(|(n, v)| *n == "client_id" && *v == "public") {
                public
            } else {
                app
            };
            let extra: Vec<_> = extra.into_iter().filter(|(n, _)| *n != "client_id").collect();
            let to = location(&ada.get(&authorize_url(client, &challenge, &extra)).await);
            assert!(to.starts_with(CALLBACK), "{to}");
            assert_eq!(param(&to, "error").as_deref(), Some(error), "{extra:?}: {to}");
            assert_eq!(param(&to, "state").as_deref(), Some("st-1"));
            assert!(param(&to, "iss").is_some());
        }
    };
    refused(vec![("code_challenge_method", "plain")], "invalid_request").await;
    refused(vec![("code_challenge", ""), ("code_challenge_method", "")], "invalid_request").await;
    refused(
        vec![("client_id", "public"), ("code_challenge", ""), ("code_challenge_method", "")],
        "invalid_request",
    )
    .await;
    refused(vec![("response_type", "token")], "unsupported_response_type").await;
    refused(vec![("scope", "email")], "invalid_scope").await;
    refused(vec![("scope", "openid driver")], "invalid_scope").await;
    refused(vec![("scope", "openid admin")], "invalid_scope").await;
    refused(vec![("prompt", "none login")], "invalid_request").await;

    // Not signed in: the sign-in page, which comes back here; prompt=none says so instead.
    let stranger = server.new_user("nobody@north.edu");
    let to = location(
        &stranger.get(&authorize_url(&app, &challenge, &[("login_hint", "bo@north.edu")])).await,
    );
    assert!(to.starts_with("/sign-in?"), "{to}");
    let next = param(&format!("http://x{to}"), "next").unwrap();
    assert!(next.starts_with("/oauth/authorize?"), "{next}");
    assert_eq!(param(&format!("http://x{to}"), "email").as_deref(), Some("bo@north.edu"));
    let to = location(&stranger.get(&authorize_url(&app, &challenge, &[("prompt", "none")])).await);
    assert_eq!(param(&to, "error").as_deref(), Some("login_required"));

    // prompt=login and max_age=0 ask for a fresh sign-in, which then comes back without them.
    for extra in [("prompt", "login"), ("max_age", "0")] {
        // Times are in whole seconds: the last sign-in must be at least one second old.
        server.clock.advance(chrono::Duration::seconds(1));
        let to = location(&ada.get(&authorize_url(&app, &challenge, &[extra])).await);
        let to = format!("http://x{to}");
        assert_eq!(param(&to, "reauth").as_deref(), Some("1"), "{extra:?}");
        let next = param(&to, "next").unwrap();
        assert!(!next.contains("prompt=login") && !next.contains("max_age"), "{next}");
        // The old session does not do; a new sign-in does.
        let again = location(&ada.get(&next).await);
        assert!(again.starts_with("/sign-in?"), "{again}");
        server.clock.advance(chrono::Duration::seconds(1));
        assert_eq!(ada.login(crate::support::harness::PASSWORD, false).await.status(), 200);
        let back = location(&ada.get(&next).await);
        assert!(param(&back, "code").is_some(), "{back}");
    }
}

#[tokio::test]
async fn an_untrusted_app_asks_for_consent_once_and_remove_access_ends_its_tokens() {
    let server = TestServer::start().await;
    let ada = student(&server).await;
    let app = register(&server, false, false, &["email", "profile", "driver"]);
    let (verifier, challenge) = pkce();
    let url = authorize_url(&app, &challenge, &[("scope", "openid email driver")]);
    let to = location(&ada.get(&url).await);
    assert!(to.starts_with("/consent?"), "{to}");
    let request = to.trim_start_matches("/consent?").to_string();
    let none = location(&ada.get(&authorize_url(&app, &challenge, &[("prompt", "none")])).await);
    assert_eq!(param(&none, "error").as_deref(), Some("consent_required"));

    let view: Value = ada
        .get(&format!("/api/v1/oauth/consent?request={}", urlencode(&request)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["client_name"], "North Rides");
    assert_eq!(view["redirect_host"], "rides.north.edu");
    assert_eq!(view["scopes"].as_array().unwrap().len(), 3);
    let bad = ada.get("/api/v1/oauth/consent?request=client_id%3Dnobody").await;
    assert_eq!(bad.status(), 400);

    // Refused: the app hears access_denied.
    let denied: Value = ada
        .post("/api/v1/oauth/consent", json!({"request": request, "approve": false}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        param(denied["redirect_to"].as_str().unwrap(), "error").as_deref(),
        Some("access_denied")
    );

    // Allowed: a code; the next request within the same scopes needs no consent.
    let allowed: Value = ada
        .post("/api/v1/oauth/consent", json!({"request": request, "approve": true}))
        .await
        .json()
        .await
        .unwrap();
    let code = param(allowed["redirect_to"].as_str().unwrap(), "code").unwrap();
    let tokens: Value = exchange(&server, &app, &code, &verifier).await.json().await.unwrap();
    let id = claims_of(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["driver_verified"], false);
    let again =
        location(&ada.get(&authorize_url(&app, &challenge, &[("scope", "openid email")])).await);
    assert!(param(&again, "code").is_some(), "{again}");

    let apps: Value = ada.get("/api/v1/account/apps").await.json().await.unwrap();
    assert_eq!(apps[0]["client_id"], app.id.as_str());
    // The export holds the consent and the grant (never a token).
    let export: Value = ada.get("/api/v1/account/export").await.json().await.unwrap();
    assert_eq!(export["app_consents"][0]["client_id"], app.id.as_str());
    assert_eq!(export["app_consents"][0]["app"], "North Rides");
    assert_eq!(export["app_consents"][0]["scope"], "openid email driver");
    let grants: Vec<&Value> = export["api_tokens"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["client_id"] == app.id.as_str())
        .collect();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0]["scope"], "openid email driver");
    let text = export.to_string();
    assert!(!text.contains(tokens["refresh_token"].as_str().unwrap()));
    assert!(!text.contains(tokens["access_token"].as_str().unwrap()));
    assert_eq!(ada.delete(&format!("/api/v1/account/apps/{}", app.id)).await.status(), 204);
    assert_eq!(userinfo(&server, tokens["access_token"].as_str().unwrap()).await.status(), 401);
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
    ];
    oauth_error(token(&server, &app, &form).await, 400, "invalid_grant").await;
    assert_eq!(ada.delete(&format!("/api/v1/account/apps/{}", app.id)).await.status(), 404);
    let to = location(&ada.get(&url).await);
    assert!(to.starts_with("/consent?"), "consent is asked again: {to}");
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn revocation_and_introspection_see_only_the_client_s_own_tokens() {
    let server = TestServer::start().await;
    let ada = student(&server).await;
    let app = register(&server, true, false, &[]);
    let other = register(&server, true, false, &[]);
    let public = register(&server, true, true, &[]);
    let (verifier, challenge) = pkce();
    let code = code_for(&server, &ada, &app, &challenge).await;
    let tokens: Value = exchange(&server, &app, &code, &verifier).await.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();

    let introspect = |client: &App, token: &str| {
        let request = server.client.post(server.url("/oauth/introspect"));
        let request = match &client.secret {
            Some(secret) => {
                request.basic_auth(&client.id, Some(secret)).form_body(&[("token", token)])
            }
            None => request.form_body(&[("token", token), ("client_id", client.id.as_str())]),
        };
        async move { request.send().await.unwrap() }
    };
    let seen: Value = introspect(&app, access).await.json().await.unwrap();
    assert_eq!(seen["active"], true);
    assert_eq!(seen["client_id"], app.id.as_str());
    let seen: Value = introspect(&app, refresh).await.json().await.unwrap();
    assert_eq!(seen["active"], true);
    let foreign: Value = introspect(&other, access).await.json().await.unwrap();
    assert_eq!(foreign, json!({"active": false}));
    oauth_error(introspect(&public, access).await, 401, "invalid_client").await;

    // Another client cannot revoke it; its own client can.
    let revoke = |client: &App, token: &str| {
        let request = server.client.post(server.url("/oauth/revoke"));
        let request =
            request.basic_auth(&client.id, client.secret.as_ref()).form_body(&[("token", token)]);
        async move { request.send().await.unwrap() }
    };
    assert_eq!(revoke(&other, refresh).await.status(), 200);
    assert_eq!(userinfo(&server, access).await.status(), 200);
    assert_eq!(revoke(&app, access).await.status(), 200);
    assert_eq!(userinfo(&server, access).await.status(), 401);
    let seen: Value = introspect(&app, refresh).await.json().await.unwrap();
    assert_eq!(seen["active"], false);
}

#[tokio::test]
async fn rp_initiated_logout_ends_the_session_with_a_hint_and_asks_without_one() {
    let server = TestServer::start().await;
    let ada = student(&server).await;
    let app = register(&server, true, false, &[]);
    let (verifier, challenge) = pkce();
    let code = code_for(&server, &ada, &app, &challenge).await;
    let tokens: Value = exchange(&server, &app, &code, &verifier).await.json().await.unwrap();
    let hint = tokens["id_token"].as_str().unwrap();
    let logout = |params: Vec<(&str, &str)>| {
        let query =
            url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
        let ada = &ada;
        async move { ada.get(&format!("/oauth/logout?{query}")).await }
    };

    // An unregistered post_logout_redirect_uri, or a hint that is not ours: a page.
    let page = logout(vec![
        ("id_token_hint", hint),
        ("post_logout_redirect_uri", "https://evil.example/"),
    ])
    .await;
    assert_eq!(page.status(), 400);
    assert!(page.headers().get("location").is_none());
    let forged = logout(vec![("id_token_hint", "e30.e30.c2ln")]).await;
    assert_eq!(forged.status(), 400);
    // Without a hint the student is asked first, and stays signed in.
    let ask = location(&logout(vec![("client_id", &app.id)]).await);
    assert!(ask.starts_with("/sign-out?"), "{ask}");
    assert_eq!(ada.get("/api/v1/account").await.status(), 200);

    // With the hint: signed out at once, the app's tokens end, back to the app with state.
    let to = location(
        &logout(vec![
            ("id_token_hint", hint),
            ("post_logout_redirect_uri", AFTER_LOGOUT),
            ("state", "bye-1"),
        ])
        .await,
    );
    assert!(to.starts_with(AFTER_LOGOUT), "{to}");
    assert_eq!(param(&to, "state").as_deref(), Some("bye-1"));
    assert_eq!(ada.get("/api/v1/account").await.status(), 401);
    assert_eq!(userinfo(&server, tokens["access_token"].as_str().unwrap()).await.status(), 401);
    // Signed out already: straight on.
    let to = location(&logout(vec![("id_token_hint", hint)]).await);
    assert_eq!(to, "/sign-in?signed_out=1");
}

#[tokio::test]
async fn the_token_endpoint_takes_120_requests_a_minute_from_one_address() {
    let server = TestServer::start_with(|c| c.rate_limit.enabled = true).await;
    let app = register(&server, true, false, &[]);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", "not-a-code"),
        ("redirect_uri", CALLBACK),
        ("code_verifier", "a-verifier-of-forty-three-characters-or-more-0123456789"),
    ];
    let limited = first_limited(|_| token(&server, &app, &form)).await;
    assert!(limited.headers().contains_key("retry-after"));
    oauth_error(limited, 429, "slow_down").await;
}

/// Sends requests until one is limited and returns it, checking that the allowance was 120
/// a minute: every answer before it is a 400, at least 120 of them, and no more than 120 plus
/// what refilled meanwhile (two a second), so a slow machine cannot make the test fail and a
/// missing limit still does.
async fn first_limited<F>(send: impl Fn(u32) -> F) -> reqwest::Response
where
    F: std::future::Future<Output = reqwest::Response>,
{
    let started = std::time::Instant::now();
    for n in 0.. {
        let answer = send(n).await;
        if answer.status() == 429 {
            assert!(n >= 120, "limited after {n} requests");
            return answer;
        }
        assert_eq!(answer.status(), 400, "request {n}");
        let refilled = (started.elapsed().as_secs_f64() * 2.0).ceil() as u32;
        assert!(n < 120 + refilled + 1, "no 429 after {n} requests");
    }
    unreachable!()
}

#[tokio::test]
async fn addresses_rotating_inside_one_ipv6_64_share_one_token_allowance() {
    let server = TestServer::start_with(|c| {
        c.rate_limit.enabled = true;
        c.server.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let app = register(&server, true, false, &[]);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", "not-a-code"),
        ("redirect_uri", CALLBACK),
        ("code_verifier", "a-verifier-of-forty-three-characters-or-more-0123456789"),
    ];
    let from = |n: u32| {
        let body =
            url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&form).finish();
        server
            .client
            .post(server.url("/oauth/token"))
            .basic_auth(&app.id, app.secret.as_deref())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-forwarded-for", format!("2001:db8:1:2::{n:x}"))
            .body(body)
            .send()
    };
    let from = &from;
    first_limited(|n| async move { from(n).await.unwrap() }).await;
}
