//! Helpers for the OpenID Connect tests: a registered app, PKCE, authorization URLs, the token
//! endpoint, and reading what comes back.

use base64::Engine as _;
use serde_json::Value;
use sha2::Digest;

use super::harness::{TestServer, User};

pub const CALLBACK: &str = "https://rides.north.edu/callback";
pub const AFTER_LOGOUT: &str = "https://rides.north.edu/bye";

pub struct App {
    pub id: String,
    pub secret: Option<String>,
}

pub fn register(server: &TestServer, trusted: bool, public: bool, scopes: &[&str]) -> App {
    register_client(server, new_client(trusted, public, scopes))
}

/// North Rides, redirecting to [`CALLBACK`].
pub fn new_client(trusted: bool, public: bool, scopes: &[&str]) -> gatehouse::oidc::NewClient {
    gatehouse::oidc::NewClient {
        name: "North Rides".into(),
        redirect_uris: vec![CALLBACK.into()],
        public,
        trusted,
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        post_logout_redirect_uris: vec![AFTER_LOGOUT.into()],
        backchannel_logout_uri: None,
        id_token_alg: None,
    }
}

pub fn register_client(server: &TestServer, new: gatehouse::oidc::NewClient) -> App {
    let actor = gatehouse::audit::Actor { user_id: None, ip: None };
    let registered =
        server.blocking_conn(|conn| gatehouse::oidc::clients::add(conn, &new, &actor, 0).unwrap());
    App { id: registered.client.id, secret: registered.secret }
}

/// A form body (the test client is built without reqwest's `form` feature).
pub trait FormBody {
    fn form_body(self, pairs: &[(&str, &str)]) -> Self;
}

impl FormBody for reqwest::RequestBuilder {
    fn form_body(self, pairs: &[(&str, &str)]) -> Self {
        let body =
            url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        self.header("content-type", "application/x-www-form-urlencoded").body(body)
    }
}

pub fn pkce() -> (String, String) {
    let verifier = "a-verifier-of-forty-three-characters-or-more-0123456789".to_string();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

pub fn authorize_url(app: &App, challenge: &str, extra: &[(&str, &str)]) -> String {
    let mut params = vec![
        ("client_id", app.id.as_str()),
        ("redirect_uri", CALLBACK),
        ("response_type", "code"),
        ("scope", "openid email profile"),
        ("state", "st-1"),
        ("nonce", "n-1"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    for (name, value) in extra {
        params.retain(|(n, _)| n != name);
        if !value.is_empty() {
            params.push((name, value));
        }
    }
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    format!("/oauth/authorize?{query}")
}

pub fn location(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), 303, "a redirect");
    response.headers()["location"].to_str().unwrap().to_string()
}

pub fn query_of(url: &str) -> Vec<(String, String)> {
    let url = url::Url::parse(url).unwrap();
    url.query_pairs().into_owned().collect()
}

pub fn param(url: &str, name: &str) -> Option<String> {
    query_of(url).into_iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

/// Authorizes as `user` and returns the code, checking `state` and `iss` came back.
pub async fn code_for(server: &TestServer, user: &User, app: &App, challenge: &str) -> String {
    let to = location(&user.get(&authorize_url(app, challenge, &[])).await);
    assert!(to.starts_with(CALLBACK), "{to}");
    assert_eq!(param(&to, "state").as_deref(), Some("st-1"));
    assert_eq!(param(&to, "iss").as_deref(), Some(server.base.as_str()));
    param(&to, "code").expect("a code")
}

pub async fn token(server: &TestServer, app: &App, form: &[(&str, &str)]) -> reqwest::Response {
    let mut request = server.client.post(server.url("/oauth/token"));
    let mut form: Vec<(&str, &str)> = form.to_vec();
    match &app.secret {
        Some(secret) => request = request.basic_auth(&app.id, Some(secret)),
        None => form.push(("client_id", &app.id)),
    }
    request.form_body(&form).send().await.unwrap()
}

pub async fn exchange(
    server: &TestServer,
    app: &App,
    code: &str,
    verifier: &str,
) -> reqwest::Response {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", CALLBACK),
        ("code_verifier", verifier),
    ];
    token(server, app, &form).await
}

pub async fn oauth_error(response: reqwest::Response, status: u16, error: &str) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    body
}

pub fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap(),
    )
    .unwrap()
}

pub fn header_of(jwt: &str) -> Value {
    let header = jwt.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap(),
    )
    .unwrap()
}

pub async fn userinfo(server: &TestServer, access: &str) -> reqwest::Response {
    server.client.get(server.url("/oauth/userinfo")).bearer_auth(access).send().await.unwrap()
}

pub async fn student(server: &TestServer) -> User {
    server.add_campus("North", &["north.edu"]);
    server.signed_in_user("ada@north.edu").await
}
