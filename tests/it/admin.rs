//! The first admin (bootstrap link) and the campuses admin API.

use serde_json::json;

use crate::support::harness::{PASSWORD, TestServer, User, problem};

async fn bootstrap_admin(server: &TestServer) -> User {
    crate::support::bootstrap::admin(server).await
}

#[tokio::test]
async fn the_bootstrap_link_creates_one_admin_once() {
    let server = TestServer::start().await;
    let link = server.bootstrap_link.clone().unwrap();
    assert!(link.starts_with(&format!("{}/bootstrap?token=", server.base)));
    let token = link.split("token=").nth(1).unwrap().to_string();
    problem(
        server
            .post(
                "/api/v1/bootstrap",
                json!({"token": "forged", "email": "x@north.edu", "password": PASSWORD}),
            )
            .await,
        400,
        "invalid_token",
    )
    .await;
    let admin = bootstrap_admin(&server).await;
    let me: serde_json::Value = admin.get("/api/v1/auth/session").await.json().await.unwrap();
    assert_eq!(me["user"]["roles"], json!(["user", "admin"]));
    problem(
        server
            .post(
                "/api/v1/bootstrap",
                json!({"token": token, "email": "y@north.edu", "password": PASSWORD}),
            )
            .await,
        400,
        "invalid_token",
    )
    .await;
    assert_eq!(server.query_i64("SELECT count(*) FROM users WHERE role = 'admin'"), 1);
}

#[tokio::test]
async fn the_bootstrap_link_expires_after_an_hour() {
    let server = TestServer::start().await;
    let token = server.bootstrap_link.clone().unwrap().split("token=").nth(1).unwrap().to_string();
    server.clock.advance(chrono::Duration::minutes(61));
    let late = server.post(
        "/api/v1/bootstrap",
        json!({"token": token, "email": "it@north.edu", "password": PASSWORD}),
    );
    problem(late.await, 400, "invalid_token").await;
}

#[tokio::test]
async fn campuses_are_managed_by_admins_only() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    problem(server.get("/api/v1/admin/campuses").await, 401, "unauthenticated").await;
    let student = server.signed_in_user("ada@north.edu").await;
    problem(student.get("/api/v1/admin/campuses").await, 403, "forbidden").await;
    problem(
        student.post("/api/v1/admin/campuses", json!({"name": "X", "domains": ["x.edu"]})).await,
        403,
        "forbidden",
    )
    .await;

    let admin = bootstrap_admin(&server).await;
    let created = admin
        .post("/api/v1/admin/campuses", json!({"name": "South", "domains": ["South.edu"]}))
        .await;
    assert_eq!(created.status(), 201);
    let south: serde_json::Value = created.json().await.unwrap();
    assert_eq!(south["domains"], json!(["south.edu"]));
    let id = south["id"].as_i64().unwrap();

    problem(
        admin.post("/api/v1/admin/campuses", json!({"name": "south", "domains": ["s2.edu"]})).await,
        409,
        "campus_name_taken",
    )
    .await;
    problem(
        admin
            .post("/api/v1/admin/campuses", json!({"name": "East", "domains": ["north.edu"]}))
            .await,
        409,
        "campus_domain_taken",
    )
    .await;
    let bad = problem(
        admin
            .post("/api/v1/admin/campuses", json!({"name": "East", "domains": ["not a domain"]}))
            .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(bad["errors"][0]["field"], "domains");
    problem(
        admin.post("/api/v1/admin/campuses", json!({"name": "East"})).await,
        400,
        "malformed_request",
    )
    .await;

    let patched = admin
        .send(reqwest::Method::PATCH, &format!("/api/v1/admin/campuses/{id}"))
        .json(&json!({"domains": ["south.edu", "mail.south.edu"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    assert_eq!(
        patched.json::<serde_json::Value>().await.unwrap()["domains"],
        json!(["mail.south.edu", "south.edu"])
    );
    assert_eq!(server.register("sam@mail.south.edu").await.status(), 202);

    let list: Vec<serde_json::Value> =
        admin.get("/api/v1/admin/campuses").await.json().await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(admin.delete(&format!("/api/v1/admin/campuses/{id}")).await.status(), 204);
    problem(admin.delete(&format!("/api/v1/admin/campuses/{id}")).await, 404, "campus_not_found")
        .await;
    problem(server.register("tom@south.edu").await, 422, "campus_domain_not_allowed").await;
    let audited = server.query_i64(
        "SELECT count(*) FROM audit_log WHERE action LIKE 'campus.%' AND actor_id IS NOT NULL",
    );
    assert_eq!(audited, 3);
}
