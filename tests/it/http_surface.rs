//! The non-API surface: probes, metrics, spec documents, UI and Swagger UI, security headers.

use std::collections::HashSet;

use crate::support::harness::TestServer;

#[tokio::test]
async fn health_answers_ok() {
    let server = TestServer::start().await;
    let response = server.get("/health").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "ok"}));
}

#[tokio::test]
async fn ready_answers_ready_and_503_when_the_database_refuses_writes() {
    let server = TestServer::start().await;
    let response = server.get("/ready").await;
    assert_eq!(response.status(), 200);
    let checked: String = server.blocking_conn(|conn| {
        conn.query_row("SELECT checked_at FROM readiness_probe", [] as [i64; 0], |r| r.get(0))
            .unwrap()
    });
    let written = chrono::DateTime::parse_from_rfc3339(&checked).unwrap();
    let age = chrono::Utc::now().signed_duration_since(written);
    assert!(checked.ends_with('Z') && age.num_seconds().abs() < 60, "{checked}");

    // Make the probe's write fail the way a read-only or broken database would.
    server.blocking_conn(|conn| {
        let trigger = if conn.is_postgres() {
            "CREATE FUNCTION refuse_probe() RETURNS trigger LANGUAGE plpgsql
               AS $$ BEGIN RAISE EXCEPTION 'disk refuses writes'; END $$;
             CREATE TRIGGER refuse_probe BEFORE INSERT OR UPDATE ON readiness_probe
               FOR EACH ROW EXECUTE FUNCTION refuse_probe();"
        } else {
            "CREATE TRIGGER refuse_probe BEFORE UPDATE ON readiness_probe
             BEGIN SELECT RAISE(ABORT, 'disk refuses writes'); END;"
        };
        conn.execute_batch(trigger).unwrap()
    });
    let response = server.get("/ready").await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "not_ready");
    assert_eq!(body["errors"][0]["field"], "database");
    assert!(!body.to_string().contains("disk refuses writes"), "internal detail leaked: {body}");
}

#[tokio::test]
async fn every_response_has_security_headers_and_a_unique_request_id() {
    let server = TestServer::start().await;
    let mut ids = HashSet::new();
    for path in ["/health", "/", "/no-such-page", "/docs", "/openapi.json", "/metrics"] {
        let response = server.get(path).await;
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-eval"), "{path}");
        assert!(!csp.split(';').any(|d| d.contains("script-src") && d.contains("unsafe-inline")));
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert!(headers.get("strict-transport-security").is_none(), "HSTS only in production");
        let id = headers["x-request-id"].to_str().unwrap().to_string();
        assert!(id.len() >= 16, "{path}: {id}");
        assert!(ids.insert(id), "request ids repeat");
    }
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let server = TestServer::start().await;
    server.get("/ready").await;
    server.get("/ready").await;
    server.get("/definitely-not-here").await;
    let text = server.get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains(
            r#"gatehouse_http_requests_total{method="GET",route="/ready",status="200"} 2"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    assert!(text.contains("gatehouse_http_request_duration_seconds_bucket"), "{text}");
    assert!(!text.contains("definitely-not-here"), "raw paths must not become labels");
}

#[tokio::test]
async fn ui_pages_are_served_with_types_caching_and_etags() {
    let server = TestServer::start().await;
    for page in ["/", "/sign-in", "/verify-email", "/reset-password", "/account"] {
        let response = server.get(page).await;
        assert_eq!(response.status(), 200, "{page}");
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        assert_eq!(response.headers()["cache-control"], "no-cache");
    }
    let script = server.get("/assets/js/app.js").await;
    assert_eq!(script.status(), 200);
    assert!(script.headers()["content-type"].to_str().unwrap().contains("javascript"));
    assert_eq!(script.headers()["cache-control"], "no-cache");
    let etag = script.headers()["etag"].to_str().unwrap().to_string();
    let again = server
        .client
        .get(server.url("/assets/js/app.js"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    let css = server.get("/assets/css/app.css").await;
    assert!(css.headers()["content-type"].to_str().unwrap().starts_with("text/css"));
    let missing = server.get("/assets/nope.js").await;
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["content-type"], "application/problem+json");
    let escape = server.get("/assets/..%2F..%2FCargo.toml").await;
    assert_eq!(escape.status(), 404);
}

#[tokio::test]
async fn html_pages_have_no_inline_script() {
    let server = TestServer::start().await;
    for page in ["/", "/docs"] {
        let html = server.get(page).await.text().await.unwrap();
        for tag in html.split("<script").skip(1) {
            let open = &tag[..tag.find('>').unwrap()];
            assert!(open.contains("src="), "{page} has an inline script: <script{open}>");
            assert!(tag[open.len() + 1..].trim_start().starts_with("</script>"), "{page}");
        }
        assert!(!html.contains("http://") && !html.contains("https://"), "{page}: external URL");
    }
}

#[tokio::test]
async fn swagger_ui_and_its_assets_load() {
    let server = TestServer::start().await;
    let docs = server.get("/docs").await.text().await.unwrap();
    for asset in [
        "/assets/vendor/swagger-ui/swagger-ui-bundle.js",
        "/assets/vendor/swagger-ui/swagger-ui.css",
        "/assets/docs/init.js",
    ] {
        assert!(docs.contains(asset), "docs page does not load {asset}");
        assert_eq!(server.get(asset).await.status(), 200, "{asset}");
    }
}

#[tokio::test]
async fn spec_documents_are_served_in_json_and_yaml() {
    let server = TestServer::start().await;
    let json: serde_json::Value = server.get("/openapi.json").await.json().await.unwrap();
    assert!(json["openapi"].as_str().unwrap().starts_with("3."));
    assert!(json["paths"]["/health"]["get"]["operationId"] == "health");
    let yaml = server.get("/openapi.yaml").await.text().await.unwrap();
    let committed = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.yaml"),
    )
    .unwrap();
    assert_eq!(yaml, committed, "the served spec differs from openapi/openapi.yaml");
}

#[tokio::test]
async fn stops_cleanly_and_checkpoints_the_wal() {
    let server = TestServer::start().await;
    server.get("/ready").await;
    let data_dir = server.data_dir();
    server.stop().await.expect("clean stop");
    if crate::support::engine::is_postgres() {
        eprintln!("PostgreSQL: no SQLite WAL to check; the clean stop is checked above");
        return;
    }
    let wal = data_dir.join("gatehouse.db-wal");
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(wal_len, 0, "the WAL was not checkpointed");
}
