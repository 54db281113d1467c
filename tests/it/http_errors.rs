//! Every error is problem+json with a stable code: framework errors (unknown path, wrong
//! method, unparsable JSON, wrong content type, oversized body) included.

use std::sync::Arc;
use std::time::Duration;

use gatehouse::http::{BodyLimit, Observe};
use gatehouse::metrics::Metrics;
use poem::test::TestClient;
use poem::{EndpointExt, Route};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi, OpenApiService};

use crate::support::harness::{TestServer, raw_request};

async fn assert_problem(response: reqwest::Response, status: u16, code: &str) {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    assert_eq!(body["type"], format!("urn:gatehouse:problem:{code}"));
    assert!(body["title"].is_string() && body["detail"].is_string(), "{body}");
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods() {
    let server = TestServer::start().await;
    assert_problem(server.get("/nope").await, 404, "not_found").await;
    assert_problem(server.get("/api/v1/nope").await, 404, "not_found").await;
    let post = server.client.post(server.url("/health")).send().await.unwrap();
    assert_problem(post, 405, "method_not_allowed").await;
    let delete = server.client.delete(server.url("/")).send().await.unwrap();
    assert_problem(delete, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_or_without_content_length() {
    let server = TestServer::start_with(|c| c.server.max_body_bytes = 4096).await;
    let big = vec![b'x'; 10_000];
    let response = server
        .client
        .post(server.url("/api/v1/anything"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_problem(response, 413, "payload_too_large").await;

    // Chunked, no Content-Length: read up to the limit and refused there.
    let head = format!(
        "POST /api/v1/anything HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        server.addr
    );
    let chunk = format!("{:x}\r\n{}\r\n", 3000, "y".repeat(3000));
    let parts =
        [head.into_bytes(), chunk.clone().into_bytes(), chunk.into_bytes(), b"0\r\n\r\n".to_vec()];
    let addr = server.addr;
    let response =
        tokio::task::spawn_blocking(move || raw_request(addr, &parts, Duration::from_millis(10)))
            .await
            .unwrap();
    assert_eq!(response.status, 413, "{}", response.text);
    assert!(response.text.contains("payload_too_large"), "{}", response.text);
}

/// A stand-in operation with a JSON body, behind the real middleware.
struct EchoApi;

#[derive(Object)]
struct Echo {
    name: String,
    count: u32,
}

#[OpenApi]
impl EchoApi {
    #[oai(path = "/echo", method = "post")]
    async fn echo(&self, body: Json<Echo>) -> Json<u32> {
        Json(body.0.count + body.0.name.len() as u32)
    }
}

fn echo_app() -> TestClient<impl poem::Endpoint> {
    let service = OpenApiService::new(EchoApi, "test", "1");
    let app = Route::new()
        .nest_no_strip("/echo", service)
        .with(BodyLimit::new(1024))
        .with(Observe::new(Arc::new(Metrics::new()), &[], false));
    TestClient::new(app)
}

async fn problem_code(response: poem::test::TestResponse) -> (u16, String, String) {
    let status = response.0.status().as_u16();
    let content_type = response.0.headers()["content-type"].to_str().unwrap().to_string();
    let body: serde_json::Value =
        serde_json::from_str(&response.0.into_body().into_string().await.unwrap()).unwrap();
    assert_eq!(content_type, "application/problem+json", "{body}");
    (status, body["code"].as_str().unwrap().to_string(), body["detail"].to_string())
}

#[tokio::test]
async fn malformed_json_wrong_types_and_wrong_content_types() {
    let client = echo_app();
    let ok = client
        .post("/echo")
        .content_type("application/json")
        .body(r#"{"name":"ab","count":1}"#)
        .send()
        .await;
    ok.assert_status_is_ok();

    let cases: [(&str, &str); 4] = [
        ("application/json", "{not json"),
        ("application/json", r#"{"name":"ab"}"#),
        ("application/json", r#"{"name":"ab","count":"many"}"#),
        ("application/json", "\u{0}\u{1}binary"),
    ];
    for (content_type, body) in cases {
        let response = client.post("/echo").content_type(content_type).body(body).send().await;
        let (status, code, _) = problem_code(response).await;
        assert_eq!((status, code.as_str()), (400, "malformed_request"), "body {body:?}");
    }

    let response = client.post("/echo").content_type("text/plain").body("hello").send().await;
    assert_eq!(problem_code(response).await.0, 415);
    let response = client.post("/echo").body(r#"{"name":"ab","count":1}"#).send().await;
    let (status, code, _) = problem_code(response).await;
    assert_eq!((status, code.as_str()), (415, "unsupported_media_type"));
}

#[tokio::test]
async fn real_operations_refuse_bad_bodies_with_problems() {
    let server = TestServer::start().await;
    let url = server.url("/api/v1/auth/register");
    let send = |content_type: &'static str, body: &'static str| {
        server.client.post(url.clone()).header("content-type", content_type).body(body).send()
    };
    assert_problem(
        send("application/json", "{\"email\": ").await.unwrap(),
        400,
        "malformed_request",
    )
    .await;
    assert_problem(send("application/json", "[]").await.unwrap(), 400, "malformed_request").await;
    assert_problem(
        send("application/json", r#"{"email": 5}"#).await.unwrap(),
        400,
        "malformed_request",
    )
    .await;
    assert_problem(send("text/plain", "hello").await.unwrap(), 415, "unsupported_media_type").await;
    assert_problem(
        send("application/x-www-form-urlencoded", "email=a").await.unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    let detail = server
        .client
        .post(url.clone())
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = detail.json().await.unwrap();
    let text = body.to_string();
    assert!(
        !text.contains("/root") && !text.contains(".rs") && !text.to_lowercase().contains("sqlite"),
        "{text}"
    );
}
