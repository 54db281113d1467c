//! The session and CSRF cookies. In production both carry the `__Host-` prefix and `Secure`;
//! the session cookie is HttpOnly, the CSRF cookie is readable by the page's scripts (it is
//! echoed in the `X-CSRF-Token` header). A remembered session's cookie lives as long as the
//! session; otherwise it is a browser-session cookie.

use std::time::Duration;

use poem::web::cookie::{Cookie, CookieJar, SameSite};

use super::IssuedSession;

pub const SESSION_COOKIE: &str = "gatehouse_session";
pub const CSRF_COOKIE: &str = "gatehouse_csrf";
pub const HOST_SESSION_COOKIE: &str = "__Host-gatehouse_session";
pub const HOST_CSRF_COOKIE: &str = "__Host-gatehouse_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

pub fn session_cookie_name(production: bool) -> &'static str {
    if production { HOST_SESSION_COOKIE } else { SESSION_COOKIE }
}

pub fn csrf_cookie_name(production: bool) -> &'static str {
    if production { HOST_CSRF_COOKIE } else { CSRF_COOKIE }
}

fn cookie(name: &str, value: &str, production: bool, http_only: bool) -> Cookie {
    let mut cookie = Cookie::new_with_str(name, value);
    cookie.set_path("/");
    cookie.set_http_only(http_only);
    cookie.set_same_site(SameSite::Lax);
    cookie.set_secure(production);
    cookie
}

pub fn set(jar: &CookieJar, production: bool, session: &IssuedSession, csrf: &str, now: i64) {
    let mut session_cookie =
        cookie(session_cookie_name(production), &session.token, production, true);
    let mut csrf_cookie = cookie(csrf_cookie_name(production), csrf, production, false);
    if session.remember_me {
        let max_age = Duration::from_secs((session.expires_at - now).max(0) as u64);
        session_cookie.set_max_age(max_age);
        csrf_cookie.set_max_age(max_age);
    }
    jar.add(session_cookie);
    jar.add(csrf_cookie);
}

pub fn clear(jar: &CookieJar, production: bool) {
    for (name, http_only) in
        [(session_cookie_name(production), true), (csrf_cookie_name(production), false)]
    {
        let mut gone = cookie(name, "", production, http_only);
        gone.set_max_age(Duration::ZERO);
        jar.add(gone);
    }
}
