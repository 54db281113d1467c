//! Sign-in, the session cookie, timeouts, the session list and revocation, sign-out, CSRF.

use serde_json::json;

use crate::support::engine::with_database;
use crate::support::harness::{PASSWORD, TestServer, problem};

fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_answer() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    server.signed_in_user("ada@north.edu").await;
    let wrong = server.new_user("ada@north.edu").login("Wrong-Pass-99", false).await;
    let unknown = server.new_user("nobody@north.edu").login("Wrong-Pass-99", false).await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    assert!(set_cookies(&wrong).is_empty() && set_cookies(&unknown).is_empty());
    assert_eq!(wrong.text().await.unwrap(), unknown.text().await.unwrap());
    let failures = server
        .query_i64("SELECT count(*) FROM audit_log WHERE action = 'login' AND outcome = 'failure'");
    assert_eq!(failures, 2);
}

#[tokio::test]
async fn the_session_cookie_is_httponly_lax_and_lives_as_remember_me_says() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let user = server.signed_in_user("ada@north.edu").await;
    let browser = user.login(PASSWORD, false).await;
    let cookies = set_cookies(&browser);
    let session =
        cookies.iter().find(|c| c.starts_with("gatehouse_session=")).expect("session cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(session.contains(attribute), "{session}");
    }
    assert!(!session.contains("Max-Age") && !session.contains("Secure"), "{session}");
    let csrf = cookies.iter().find(|c| c.starts_with("gatehouse_csrf=")).expect("csrf cookie");
    assert!(!csrf.contains("HttpOnly"), "scripts must read it: {csrf}");
    let body: serde_json::Value = browser.json().await.unwrap();
    assert_eq!(body["mfa_required"], false);
    assert_eq!(body["user"]["email"], "ada@north.edu");
    assert!(
        !body.to_string().contains(&user.cookie("gatehouse_session").unwrap()),
        "token in body"
    );

    let remembered = user.login(PASSWORD, true).await;
    let session =
        set_cookies(&remembered).into_iter().find(|c| c.starts_with("gatehouse_session=")).unwrap();
    assert!(session.contains(&format!("Max-Age={}", 30 * 86400)), "{session}");
}

#[tokio::test]
async fn production_cookies_are_host_prefixed_and_secure() {
    let server = TestServer::start_with(|c| {
        c.server.mode = gatehouse::config::Mode::Production;
        c.server.public_url = "https://id.north.edu".into();
        c.rate_limit.enabled = true;
    })
    .await;
    server.add_campus("North", &["north.edu"]);
    assert_eq!(server.register("ada@north.edu").await.status(), 202);
    let token = server.mail_to("ada@north.edu", "Confirm").await.link_token("/verify-email");
    assert!(server.mails()[0].text.contains("https://id.north.edu/verify-email?token="));
    server.post("/api/v1/auth/verify-email", json!({"token": token})).await;
    let response = server.new_user("ada@north.edu").login(PASSWORD, false).await;
    assert_eq!(response.status(), 200);
    let cookies = set_cookies(&response);
    assert!(
        cookies.iter().any(|c| c.starts_with("__Host-gatehouse_session=") && c.contains("Secure")),
        "{cookies:?}"
    );
    assert!(
        cookies.iter().any(|c| c.starts_with("__Host-gatehouse_csrf=") && c.contains("Secure")),
        "{cookies:?}"
    );
    assert!(response.headers()["strict-transport-security"].to_str().unwrap().contains("max-age="));
}

#[tokio::test]
async fn who_am_i_and_idle_and_absolute_timeouts() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let user = server.signed_in_user("ada@north.edu").await;
    let me: serde_json::Value = user.get("/api/v1/auth/session").await.json().await.unwrap();
    assert_eq!(me["user"]["email"], "ada@north.edu");
    assert_eq!(me["user"]["roles"], json!(["user"]));
    assert_eq!(me["user"]["email_verified"], true);
    assert_eq!(me["session"]["idle_timeout_seconds"], 1800);

    // Idle: 29 minutes is fine, then 31 more minutes of silence ends it.
    server.clock.advance(chrono::Duration::minutes(29));
    assert_eq!(user.get("/api/v1/auth/session").await.status(), 200);
    server.clock.advance(chrono::Duration::minutes(31));
    problem(user.get("/api/v1/auth/session").await, 401, "unauthenticated").await;

    // Absolute: active every 20 minutes, still ended after 12 hours.
    user.login(PASSWORD, false).await;
    for _ in 0..35 {
        server.clock.advance(chrono::Duration::minutes(20));
        assert_eq!(user.get("/api/v1/auth/session").await.status(), 200);
    }
    server.clock.advance(chrono::Duration::minutes(20));
    assert_eq!(user.get("/api/v1/auth/session").await.status(), 401);

    // Remember me: a day of silence is fine.
    user.login(PASSWORD, true).await;
    server.clock.advance(chrono::Duration::days(1));
    assert_eq!(user.get("/api/v1/auth/session").await.status(), 200);
}

#[tokio::test]
async fn remembered_sessions_end_after_seven_days_idle_or_thirty_days_in_all() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let user = server.signed_in_user("ada@north.edu").await;

    // Idle: seven days of silence are fine, a second more ends it.
    user.login(PASSWORD, true).await;
    server.clock.advance(chrono::Duration::days(7));
    assert_eq!(user.get("/api/v1/auth/session").await.status(), 200);
    server.clock.advance(chrono::Duration::days(7) + chrono::Duration::seconds(1));
    problem(user.get("/api/v1/auth/session").await, 401, "unauthenticated").await;

    // Absolute: active every six days, still ended 30 days after sign-in.
    user.login(PASSWORD, true).await;
    for _ in 0..4 {
        server.clock.advance(chrono::Duration::days(6));
        assert_eq!(user.get("/api/v1/auth/session").await.status(), 200);
    }
    server.clock.advance(chrono::Duration::days(6) - chrono::Duration::seconds(1));
    assert_eq!(user.get("/api/v1/auth/session").await.status(), 200);
    server.clock.advance(chrono::Duration::seconds(1));
    problem(user.get("/api/v1/auth/session").await, 401, "unauthenticated").await;
}

#[tokio::test]
async fn a_remembered_session_idles_from_its_last_activity_across_a_restart() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let user = server.signed_in_user("ada@north.edu").await;
    user.login(PASSWORD, true).await;
    let cookie = user.cookie("gatehouse_session").unwrap();
    let signed_in = server.query_i64("SELECT max(created_at) FROM sessions");
    server.clock.advance(chrono::Duration::days(6));
    assert_eq!(user.get("/api/v1/auth/session").await.status(), 200);
    // The activity is written in the background: wait for it before stopping.
    let active = signed_in + 6 * 86400;
    for _ in 0..200 {
        if server.query_i64("SELECT max(last_seen_at) FROM sessions") >= active {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(server.query_i64("SELECT max(last_seen_at) FROM sessions") >= active);

    // A restarted server (its clock moved to where the old one was) counts the idle time
    // from that activity: six more days are fine, where twelve since sign-in would not be.
    let dir = server.stop_keep_dir().await;
    let server = TestServer::start_in(dir, |_| {}).await;
    {
        use gatehouse::clock::Clock;
        let behind = active - server.clock.unix();
        server.clock.advance(chrono::Duration::seconds(behind + 6 * 86400));
    }
    let check = || {
        server
            .client
            .get(server.url("/api/v1/auth/session"))
            .header("cookie", format!("gatehouse_session={cookie}"))
            .send()
    };
    assert_eq!(check().await.unwrap().status(), 200);
    server.clock.advance(chrono::Duration::days(7) + chrono::Duration::seconds(1));
    problem(check().await.unwrap(), 401, "unauthenticated").await;
}

#[tokio::test]
async fn session_checks_within_a_minute_write_nothing_to_the_database() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let user = server.signed_in_user("ada@north.edu").await;
    let access = server
        .post("/api/v1/auth/token", json!({"email": "ada@north.edu", "password": PASSWORD}))
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    server.flush_outbox().await;

    // Shown here with one write of the test's.
    let watcher = WriteWatcher::new(&server);
    let version = || watcher.version();
    let before = version();
    server.blocking_conn(|conn| {
        conn.execute("UPDATE campuses SET name = 'North campus'", [] as [i64; 0]).unwrap()
    });
    assert_ne!(version(), before, "the watcher does not see a write");

    let before = version();
    for _ in 0..59 {
        server.clock.advance(chrono::Duration::seconds(1));
        assert_eq!(user.get("/api/v1/auth/session").await.status(), 200);
        let bearer = server.client.get(server.url("/api/v1/auth/session")).bearer_auth(&access);
        assert_eq!(bearer.send().await.unwrap().status(), 200);
    }
    // Last activity is written in the background: give a write the time to land.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(version(), before, "a session check wrote to the database");

    // A minute after sign-in, the next check records the activity (once).
    server.clock.advance(chrono::Duration::seconds(1));
    assert_eq!(user.get("/api/v1/auth/session").await.status(), 200);
    for _ in 0..200 {
        if version() != before {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the activity a minute later was never written");
}

#[tokio::test]
async fn sessions_are_listed_and_revocation_takes_effect_at_once() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let laptop = server.signed_in_user("ada@north.edu").await;
    let phone = server.new_user("ada@north.edu");
    phone.login(PASSWORD, true).await;
    let tablet = server.new_user("ada@north.edu");
    tablet.login(PASSWORD, false).await;
    // Warm the cache: revocation must beat it.
    assert_eq!(phone.get("/api/v1/auth/session").await.status(), 200);
    assert_eq!(tablet.get("/api/v1/auth/session").await.status(), 200);

    let list: Vec<serde_json::Value> =
        laptop.get("/api/v1/account/sessions").await.json().await.unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
    assert!(list.iter().all(|s| s["ip"] == "127.0.0.1" && s["last_seen_at"].is_string()));
    let phone_id = phone
        .get("/api/v1/auth/session")
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap()["session"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    assert_eq!(laptop.delete(&format!("/api/v1/account/sessions/{phone_id}")).await.status(), 204);
    problem(phone.get("/api/v1/auth/session").await, 401, "unauthenticated").await;
    problem(
        laptop.delete(&format!("/api/v1/account/sessions/{phone_id}")).await,
        404,
        "session_not_found",
    )
    .await;

    // Another user cannot end Ada's sessions.
    let bob = server.signed_in_user("bob@north.edu").await;
    let laptop_id = laptop
        .get("/api/v1/auth/session")
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap()["session"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    problem(
        bob.delete(&format!("/api/v1/account/sessions/{laptop_id}")).await,
        404,
        "session_not_found",
    )
    .await;

    let revoked: serde_json::Value =
        laptop.delete("/api/v1/account/sessions").await.json().await.unwrap();
    assert_eq!(revoked["revoked"], 1);
    assert_eq!(tablet.get("/api/v1/auth/session").await.status(), 401);
    assert_eq!(laptop.get("/api/v1/auth/session").await.status(), 200);

    let logout = laptop.send(reqwest::Method::POST, "/api/v1/auth/logout").send().await.unwrap();
    assert_eq!(logout.status(), 204);
    assert!(
        set_cookies(&logout)
            .iter()
            .any(|c| c.starts_with("gatehouse_session=;") && c.contains("Max-Age=0"))
    );
    assert_eq!(laptop.get("/api/v1/account/sessions").await.status(), 401);
    for action in ["session.revoked", "sessions.revoked", "logout"] {
        assert_eq!(
            server.query_i64(&format!("SELECT count(*) FROM audit_log WHERE action = '{action}'")),
            1,
            "{action}"
        );
    }
}

#[tokio::test]
async fn a_session_of_a_user_deleted_while_the_server_was_down_is_refused() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let user = server.signed_in_user("ada@north.edu").await;
    let cookie = user.cookie("gatehouse_session").unwrap();
    let dir = server.stop_keep_dir().await;
    with_database(&dir.path().join("data"), |conn| {
        if !conn.is_postgres() {
            conn.execute("PRAGMA foreign_keys = ON", [] as [i64; 0]).unwrap();
        }
        conn.execute("DELETE FROM users", [] as [i64; 0]).unwrap();
    });
    let server = TestServer::start_in(dir, |_| {}).await;
    let response = server
        .client
        .get(server.url("/api/v1/auth/session"))
        .header("cookie", format!("gatehouse_session={cookie}"))
        .send()
        .await
        .unwrap();
    problem(response, 401, "unauthenticated").await;
}

#[tokio::test]
async fn cookie_authenticated_changes_need_the_csrf_token_and_an_allowed_origin() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let user = server.signed_in_user("ada@north.edu").await;
    let csrf = user.cookie("gatehouse_csrf").unwrap();
    let logout = || user.client.post(user.url("/api/v1/auth/logout"));

    problem(logout().send().await.unwrap(), 403, "csrf_failed").await;
    problem(logout().header("origin", &user.base).send().await.unwrap(), 403, "csrf_failed").await;
    problem(logout().header("x-csrf-token", &csrf).send().await.unwrap(), 403, "csrf_failed").await;
    let wrong = logout().header("origin", &user.base).header("x-csrf-token", "x".repeat(43));
    problem(wrong.send().await.unwrap(), 403, "csrf_failed").await;
    let cross_site =
        logout().header("origin", "https://evil.example").header("x-csrf-token", &csrf);
    problem(cross_site.send().await.unwrap(), 403, "origin_not_allowed").await;
    // A cross-site form post to sign in is refused too.
    let evil_login = server
        .client
        .post(server.url("/api/v1/auth/login"))
        .header("origin", "https://evil.example")
        .json(&json!({"email": "ada@north.edu", "password": PASSWORD}));
    problem(evil_login.send().await.unwrap(), 403, "origin_not_allowed").await;
    // Still signed in after all of that.
    assert_eq!(user.get("/api/v1/auth/session").await.status(), 200);
    let referer =
        logout().header("referer", format!("{}/account", user.base)).header("x-csrf-token", &csrf);
    assert_eq!(referer.send().await.unwrap().status(), 204);
}

#[tokio::test]
async fn allowed_origins_are_accepted() {
    let server = TestServer::start_with(|c| {
        c.server.allowed_origins = vec!["https://rides.north.edu".into()]
    })
    .await;
    server.add_campus("North", &["north.edu"]);
    let user = server.signed_in_user("ada@north.edu").await;
    let csrf = user.cookie("gatehouse_csrf").unwrap();
    let response = user
        .client
        .post(user.url("/api/v1/auth/logout"))
        .header("origin", "https://rides.north.edu")
        .header("x-csrf-token", csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
}

#[tokio::test]
async fn cors_answers_only_configured_origins() {
    let server = TestServer::start_with(|c| {
        c.server.allowed_origins = vec!["https://rides.north.edu".into()]
    })
    .await;
    let preflight = |origin: &'static str| {
        server
            .client
            .request(reqwest::Method::OPTIONS, server.url("/api/v1/auth/login"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type, x-csrf-token")
            .send()
    };
    let ok = preflight("https://rides.north.edu").await.unwrap();
    assert_eq!(ok.status(), 204);
    assert_eq!(ok.headers()["access-control-allow-origin"], "https://rides.north.edu");
    assert_eq!(ok.headers()["access-control-allow-credentials"], "true");
    assert!(
        ok.headers()["access-control-allow-headers"].to_str().unwrap().contains("x-csrf-token")
    );
    problem(preflight("https://evil.example").await.unwrap(), 403, "origin_not_allowed").await;

    let read = |origin: &'static str| {
        server.client.get(server.url("/api/v1/auth/session")).header("origin", origin).send()
    };
    let allowed = read("https://rides.north.edu").await.unwrap();
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://rides.north.edu");
    let other = read("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

/// Sees whether a change to the server's database committed between two looks. On SQLite,
/// `data_version` read on a connection of the test's own changes whenever another connection
/// commits a change to the file. PostgreSQL has no such counter per database (transaction ids
/// are the whole cluster's, and other tests share it): there a look is each table's row count
/// and newest row version (`xmin`), which every insert, update and delete changes.
struct WriteWatcher {
    sqlite: Option<rusqlite::Connection>,
    data: std::path::PathBuf,
}

impl WriteWatcher {
    fn new(server: &TestServer) -> Self {
        let data = server.data_dir();
        let sqlite = (!crate::support::engine::is_postgres())
            .then(|| rusqlite::Connection::open(data.join("gatehouse.db")).unwrap());
        Self { sqlite, data }
    }

    fn version(&self) -> String {
        if let Some(watcher) = &self.sqlite {
            let version: i64 = watcher.query_row("PRAGMA data_version", [], |r| r.get(0)).unwrap();
            return version.to_string();
        }
        with_database(&self.data, |conn| {
            let tables: Vec<String> = conn
                .query_map(
                    "SELECT table_name::text FROM information_schema.tables
                     WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
                     ORDER BY table_name",
                    [] as [i64; 0],
                    |r| r.get(0),
                )
                .unwrap();
            let mut version = String::new();
            for table in tables {
                let sql =
                    format!("SELECT coalesce(max(xmin::text::bigint), 0), count(*) FROM {table}");
                let (newest, rows): (i64, i64) =
                    conn.query_row(&sql, [] as [i64; 0], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
                version.push_str(&format!("{table}:{newest}:{rows} "));
            }
            version
        })
    }
}
