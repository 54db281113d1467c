//! Request bodies must match the published schema exactly: a number, boolean, array or object
//! where the schema says string, and null in any field (none is published as nullable), are
//! refused with 400 `malformed_request` before an operation sees them. poem-openapi alone would
//! read `5` as `"5"` and null as absent.

use serde_json::{Value, json};

use crate::support::harness::{PASSWORD, TestServer, problem};

/// Asserts 400 `malformed_request` and that the detail names the field at fault.
async fn refused(response: reqwest::Response, field: &str) {
    let body = problem(response, 400, "malformed_request").await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains(&format!("`{field}`")), "{detail}");
}

#[tokio::test]
async fn non_strings_in_string_fields_are_refused() {
    let server = TestServer::start().await;
    let url = "/api/v1/auth/token/refresh";
    for wrong in [json!(5), json!(1.5), json!(true), json!(["a"]), json!({"a": "b"}), Value::Null] {
        refused(server.post(url, json!({ "refresh_token": wrong })).await, "refresh_token").await;
    }
    // The same body with a string is read, and refused on its merits.
    problem(server.post(url, json!({"refresh_token": "5"})).await, 401, "invalid_refresh_token")
        .await;
}

#[tokio::test]
async fn null_is_refused_in_required_optional_and_defaulted_fields() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let login = |extra: Value| {
        let mut body = json!({"email": "ada@north.edu", "password": PASSWORD});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        server.post("/api/v1/auth/login", body)
    };
    refused(login(json!({"email": null})).await, "email").await;
    refused(login(json!({"remember_me": null})).await, "remember_me").await;
    refused(login(json!({"remember_me": "true"})).await, "remember_me").await;
    refused(login(json!({"captcha": null})).await, "captcha").await;
    refused(login(json!({"captcha": {"challenge": "c", "nonce": 7}})).await, "captcha.nonce").await;

    let register = json!({"email": "bo@north.edu", "password": PASSWORD,
        "display_name": "Bo", "legal_name": null});
    refused(server.post("/api/v1/auth/register", register).await, "legal_name").await;
    assert_eq!(server.query_i64("SELECT COUNT(*) FROM users"), 0, "nothing was registered");

    // A whole body that is not an object, or none at all.
    for body in [json!(null), json!([]), json!("ada@north.edu")] {
        let response = server.post("/api/v1/auth/login", body).await;
        problem(response, 400, "malformed_request").await;
    }
}

#[tokio::test]
async fn signed_in_operations_refuse_them_too_and_change_nothing() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let ada = server.signed_in_user("ada@north.edu").await;
    let patch =
        |body: Value| ada.send(reqwest::Method::PATCH, "/api/v1/account").json(&body).send();
    refused(patch(json!({"display_name": 42})).await.unwrap(), "display_name").await;
    refused(patch(json!({"display_name": "Ada", "legal_name": null})).await.unwrap(), "legal_name")
        .await;
    let account: Value = ada.get("/api/v1/account").await.json().await.unwrap();
    assert_eq!(account["display_name"], "Test Student", "{account}");

    // Valid bodies still work: absent optional fields, and present ones.
    let saved = patch(json!({"display_name": "Ada"})).await.unwrap();
    assert_eq!(saved.status(), 200);
    let saved = patch(json!({"legal_name": "Ada Lovelace"})).await.unwrap();
    assert_eq!(saved.status(), 200);
    let account: Value = saved.json().await.unwrap();
    assert_eq!(
        (account["display_name"].as_str(), account["legal_name"].as_str()),
        (Some("Ada"), Some("Ada Lovelace"))
    );

    let admin = server.signed_in_admin("root@north.edu").await;
    let id = server.add_campus("South", &["south.edu"]);
    let path = format!("/api/v1/admin/campuses/{id}");
    let patch = |body: Value| admin.send(reqwest::Method::PATCH, &path).json(&body).send();
    refused(patch(json!({"domains": null})).await.unwrap(), "domains").await;
    refused(patch(json!({"domains": ["south.edu", 7]})).await.unwrap(), "domains[1]").await;
    refused(patch(json!({"name": false})).await.unwrap(), "name").await;
    assert_eq!(patch(json!({"name": "South Campus"})).await.unwrap().status(), 200);
}

#[tokio::test]
async fn valid_bodies_with_optional_fields_left_out_or_given_still_work() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let ada = server.signed_in_user("ada@north.edu").await;
    // `remember_me` left out (its default) and given.
    for body in [
        json!({"email": "ada@north.edu", "password": PASSWORD}),
        json!({"email": "ada@north.edu", "password": PASSWORD, "remember_me": true}),
    ] {
        let response = ada.client.post(ada.url("/api/v1/auth/login")).json(&body).send().await;
        assert_eq!(response.unwrap().status(), 200);
    }
    let registered = server
        .post(
            "/api/v1/auth/register",
            json!({"email": "bo@north.edu", "password": PASSWORD, "display_name": "Bo",
                "legal_name": "Bo Peep"}),
        )
        .await;
    assert_eq!(registered.status(), 202);
}

/// Every operation reads its JSON body with `StrictJson`: a `name: Json<...>` parameter would
/// bring poem-openapi's lenient reading back for that operation.
#[test]
fn no_operation_reads_a_body_with_plain_json() {
    fn visit(dir: &std::path::Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                visit(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for (n, line) in text.lines().enumerate() {
                    let line = line.trim();
                    let parameter = line.split_once(": Json<").is_some_and(|(name, _)| {
                        !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_')
                    });
                    if parameter {
                        found.push(format!("{}:{}: {line}", path.display(), n + 1));
                    }
                }
            }
        }
    }
    let mut found = Vec::new();
    visit(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut found);
    assert!(found.is_empty(), "use StrictJson for request bodies:\n{}", found.join("\n"));
}
