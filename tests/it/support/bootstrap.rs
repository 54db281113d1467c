//! The first admin, made through the bootstrap link the way a new install makes it.

use serde_json::json;

use crate::support::harness::{PASSWORD, TestServer, User};

/// The bootstrap admin (it@north.edu), signed in.
pub async fn admin(server: &TestServer) -> User {
    let token = server.bootstrap_link.clone().unwrap().split("token=").nth(1).unwrap().to_string();
    let created = server
        .post(
            "/api/v1/bootstrap",
            json!({"token": token, "email": "it@north.edu", "password": PASSWORD}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let admin = server.new_user("it@north.edu");
    assert_eq!(admin.login(PASSWORD, false).await.status(), 200);
    admin
}
