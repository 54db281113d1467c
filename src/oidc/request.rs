//! The authorization request (`/oauth/authorize`), checked: the client and its redirect URI
//! first (a bad one is shown an error page and never redirected to), then everything else (a
//! bad one is sent back to the app as `error=...`).

use url::Url;

use super::client::Client;
use super::scopes::Scopes;

/// The longest `state`, `nonce` and `login_hint` accepted.
const MAX_PARAM_CHARS: usize = 2000;

/// What `prompt` asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// A checked authorization request.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub client: Client,
    pub redirect_uri: String,
    pub scopes: Scopes,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// The PKCE S256 challenge.
    pub code_challenge: String,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// Set when the request sent the student to sign in again (`prompt=login`): a sign-in
    /// older than this does not do.
    pub signed_in_after: Option<i64>,
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// The client or the redirect URI is wrong: shown on an error page, never redirected.
    Page(String),
    /// Sent back to the app's redirect URI.
    Redirect(Redirect),
}

/// An answer sent back to the app: its redirect URI with parameters added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    pub redirect_uri: String,
    pub params: Vec<(&'static str, String)>,
}

impl Redirect {
    pub fn error(req: &AuthorizationRequest, error: &'static str, description: &str) -> Self {
        error_to(&req.redirect_uri, req.state.as_deref(), error, description)
    }

    /// The URL, with `iss` (RFC 9207) added for `issuer`.
    pub fn url(&self, issuer: &str) -> String {
        let mut url = Url::parse(&self.redirect_uri).expect("redirect URIs were checked");
        {
            let mut query = url.query_pairs_mut();
            for (name, value) in &self.params {
                query.append_pair(name, value);
            }
            query.append_pair("iss", issuer);
        }
        url.to_string()
    }
}

fn error_to(
    redirect_uri: &str,
    state: Option<&str>,
    error: &'static str,
    description: &str,
) -> Redirect {
    let mut params = vec![("error", error.to_string()), ("error_description", description.into())];
    if let Some(state) = state {
        params.push(("state", state.to_string()));
    }
    Redirect { redirect_uri: redirect_uri.to_string(), params }
}

/// The one value of a parameter; `Err` when it is given twice (RFC 6749 section 3.1).
fn single<'a>(params: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, ()> {
    let mut values = params.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let first = values.next();
    if values.next().is_some() {
        return Err(());
    }
    Ok(first.filter(|v| !v.is_empty()))
}

/// Whether `asked` is one of the client's redirect URIs: exactly, or for a public client's
/// loopback URI on any port (RFC 8252 section 7.3: a native app listens on a port it gets
/// from the system).
pub fn redirect_matches(client: &Client, asked: &str) -> bool {
    if client.redirect_uris.iter().any(|r| r == asked) {
        return true;
    }
    if !client.public {
        return false;
    }
    let Ok(asked) = Url::parse(asked) else { return false };
    let loopback_ip = |url: &Url| {
        url.scheme() == "http"
            && matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
            || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
    };
    if !loopback_ip(&asked) {
        return false;
    }
    client.redirect_uris.iter().filter_map(|r| Url::parse(r).ok()).any(|mut registered| {
        if !loopback_ip(&registered) {
            return false;
        }
        let mut asked = asked.clone();
        let (_, _) = (registered.set_port(None), asked.set_port(None));
        registered == asked
    })
}

/// Checks an authorization request. `find_client` looks a client up by id.
pub fn check(
    params: &[(String, String)],
    find_client: impl FnOnce(&str) -> Option<Client>,
) -> Result<AuthorizationRequest, RequestError> {
    let page = |m: &str| RequestError::Page(m.to_string());
    let client_id = single(params, "client_id")
        .map_err(|_| page("The app sent its client_id twice."))?
        .ok_or_else(|| page("The app did not say who it is (no client_id)."))?;
    let client = find_client(client_id)
        .ok_or_else(|| page("The app is not registered with Gatehouse (unknown client_id)."))?;
    let redirect_uri = single(params, "redirect_uri")
        .map_err(|_| page("The app sent its redirect_uri twice."))?
        .ok_or_else(|| page("The app did not say where to send you back (no redirect_uri)."))?;
    if !redirect_matches(&client, redirect_uri) {
        return Err(page(
            "The app asked to send you back to an address that is not registered for it. \
             Nothing was sent to it.",
        ));
    }
    let state = single(params, "state").ok().flatten().map(str::to_string);
    let refuse = |error, description: &str| {
        RequestError::Redirect(error_to(redirect_uri, state.as_deref(), error, description))
    };
    let get = |name: &str| {
        single(params, name)
            .map_err(|_| refuse("invalid_request", &format!("The parameter {name} is repeated.")))
    };
    if state.as_ref().is_some_and(|s| s.len() > MAX_PARAM_CHARS) {
        return Err(refuse("invalid_request", "The state is too long."));
    }
    for unsupported in ["request", "request_uri"] {
        if get(unsupported)?.is_some() {
            let error = if unsupported == "request" {
                "request_not_supported"
            } else {
                "request_uri_not_supported"
            };
            return Err(refuse(error, "Request objects are not supported."));
        }
    }
    match get("response_type")? {
        Some("code") => {}
        None => return Err(refuse("invalid_request", "The response_type is missing.")),
        Some(_) => {
            return Err(refuse(
                "unsupported_response_type",
                "Only the authorization code flow (response_type=code) is supported.",
            ));
        }
    }
    if get("response_mode")?.is_some_and(|mode| mode != "query") {
        return Err(refuse("invalid_request", "Only response_mode=query is supported."));
    }
    let scopes = Scopes::parse(get("scope")?.unwrap_or(""), &client.scopes)
        .map_err(|e| refuse("invalid_scope", &e.describe()))?;
    let code_challenge = get("code_challenge")?.ok_or_else(|| {
        refuse("invalid_request", "PKCE is required: send a code_challenge (S256).")
    })?;
    if get("code_challenge_method")? != Some("S256") {
        return Err(refuse("invalid_request", "Only the S256 code_challenge_method is accepted."));
    }
    if code_challenge.len() != 43
        || !code_challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(refuse(
            "invalid_request",
            "The code_challenge must be the base64url SHA-256 of the verifier (43 characters).",
        ));
    }
    let nonce = get("nonce")?.map(str::to_string);
    let login_hint = get("login_hint")?.map(str::to_string);
    if nonce.iter().chain(&login_hint).any(|v| v.len() > MAX_PARAM_CHARS) {
        return Err(refuse("invalid_request", "The nonce or login_hint is too long."));
    }
    let mut prompt = Prompt::default();
    for value in get("prompt")?.unwrap_or("").split_ascii_whitespace() {
        match value {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            "select_account" => {}
            _ => return Err(refuse("invalid_request", "The prompt value is not supported.")),
        }
    }
    if prompt.none && (prompt.login || prompt.consent) {
        return Err(refuse("invalid_request", "prompt=none cannot be combined with others."));
    }
    let max_age = match get("max_age")? {
        None => None,
        Some(text) => Some(
            text.parse::<u32>()
                .map_err(|_| refuse("invalid_request", "max_age must be a number of seconds."))?
                as i64,
        ),
    };
    let signed_in_after = get("gatehouse_signed_in_after")?.and_then(|t| t.parse::<i64>().ok());
    Ok(AuthorizationRequest {
        redirect_uri: redirect_uri.to_string(),
        client,
        scopes,
        state,
        nonce,
        code_challenge: code_challenge.to_string(),
        prompt,
        max_age,
        login_hint,
        signed_in_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(public: bool) -> Client {
        Client {
            id: "c1".into(),
            name: "Rides".into(),
            public,
            trusted: false,
            redirect_uris: vec!["https://rides.example/cb".into(), "http://127.0.0.1/cb".into()],
            post_logout_redirect_uris: vec![],
            backchannel_logout_uri: None,
            scopes: vec!["openid".into(), "email".into()],
            created_at: 0,
            secret_rotated_at: None,
            id_token_alg: "RS256".into(),
        }
    }

    fn params(extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut all = vec![
            ("client_id", "c1"),
            ("redirect_uri", "https://rides.example/cb"),
            ("response_type", "code"),
            ("scope", "openid email"),
            ("state", "s1"),
            ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            ("code_challenge_method", "S256"),
        ];
        for (name, value) in extra {
            all.retain(|(n, _)| n != name);
            all.push((name, value));
        }
        all.into_iter().filter(|(_, v)| *v != "-").map(|(n, v)| (n.into(), v.into())).collect()
    }

    fn check_with(
        extra: &[(&str, &str)],
        public: bool,
    ) -> Result<AuthorizationRequest, RequestError> {
        check(&params(extra), |id| (id == "c1").then(|| client(public)))
    }

    fn error_of(result: Result<AuthorizationRequest, RequestError>) -> String {
        match result {
            Err(RequestError::Redirect(r)) => {
                assert!(r.params.contains(&("state", "s1".to_string())));
                r.params[0].1.clone()
            }
            other => panic!("expected a redirect, got {other:?}"),
        }
    }

    #[test]
    fn a_good_request_passes() {
        let req =
            check_with(&[("nonce", "n"), ("prompt", "login"), ("max_age", "60")], false).unwrap();
        assert_eq!(req.scopes.to_string(), "openid email");
        assert!(req.prompt.login && !req.prompt.none);
        assert_eq!((req.nonce.as_deref(), req.max_age), (Some("n"), Some(60)));
    }

    #[test]
    fn a_bad_client_or_redirect_uri_is_never_redirected_to() {
        for extra in [
            [("client_id", "nope")],
            [("client_id", "-")],
            [("redirect_uri", "https://evil.example/cb")],
            [("redirect_uri", "https://rides.example/cb/")],
            [("redirect_uri", "-")],
        ] {
            assert!(matches!(check_with(&extra, false), Err(RequestError::Page(_))), "{extra:?}");
        }
        let twice = {
            let mut p = params(&[]);
            p.push(("redirect_uri".into(), "https://evil.example/cb".into()));
            p
        };
        assert!(matches!(check(&twice, |_| Some(client(false))), Err(RequestError::Page(_))));
    }

    #[test]
    fn loopback_ports_match_only_for_public_clients() {
        let asked = [("redirect_uri", "http://127.0.0.1:49152/cb")];
        assert!(check_with(&asked, true).is_ok());
        assert!(matches!(check_with(&asked, false), Err(RequestError::Page(_))));
        let other_path = [("redirect_uri", "http://127.0.0.1:49152/other")];
        assert!(matches!(check_with(&other_path, true), Err(RequestError::Page(_))));
    }

    #[test]
    fn other_errors_go_back_to_the_app() {
        assert_eq!(
            error_of(check_with(&[("response_type", "token")], false)),
            "unsupported_response_type"
        );
        assert_eq!(
            error_of(check_with(&[("code_challenge_method", "plain")], false)),
            "invalid_request"
        );
        assert_eq!(error_of(check_with(&[("code_challenge", "-")], false)), "invalid_request");
        assert_eq!(error_of(check_with(&[("code_challenge", "short")], false)), "invalid_request");
        assert_eq!(error_of(check_with(&[("scope", "email")], false)), "invalid_scope");
        assert_eq!(error_of(check_with(&[("scope", "openid driver")], false)), "invalid_scope");
        assert_eq!(error_of(check_with(&[("prompt", "none login")], false)), "invalid_request");
        assert_eq!(error_of(check_with(&[("max_age", "-1")], false)), "invalid_request");
        assert_eq!(error_of(check_with(&[("request", "eyJ")], false)), "request_not_supported");
    }

    #[test]
    fn a_redirect_carries_the_issuer() {
        let Err(RequestError::Redirect(r)) = check_with(&[("response_type", "token")], false)
        else {
            panic!()
        };
        let url = Url::parse(&r.url("https://id.north.edu")).unwrap();
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert!(pairs.contains(&("iss".into(), "https://id.north.edu".into())));
        assert!(pairs.contains(&("state".into(), "s1".into())));
    }
}
