//! Every feature's personal data is reached by deletion and retention: each table that can
//! name a person belongs to some feature's `PersonalData`, and a deleted account leaves no row
//! that names it in any of them.

use rusqlite::Connection;
use rusqlite::types::Value as Sql;
use serde_json::{Value, json};

use crate::support::harness::{PASSWORD, TestServer};

/// Columns that hold or point at a person.
const PERSON_COLUMNS: &[&str] = &[
    "user_id",
    "email",
    "email_index",
    "phone",
    "phone_index",
    "legal_name",
    "ip",
    "user_agent",
    "recipient",
    "actor_id",
    "subject_id",
    "published_by",
    "decided_by",
    "requested_by",
    "created_by",
];

fn tables(conn: &Connection) -> Vec<String> {
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
}

/// (name, declared type, not null, has a default) of each column.
fn columns(conn: &Connection, table: &str) -> Vec<(String, String, bool, bool)> {
    let mut stmt = conn.prepare(&format!("SELECT * FROM pragma_table_info('{table}')")).unwrap();
    stmt.query_map([], |r| {
        let default: Option<String> = r.get(4)?;
        Ok((r.get(1)?, r.get(2)?, r.get::<_, bool>(3)?, default.is_some()))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

#[tokio::test]
async fn every_table_that_can_name_a_person_belongs_to_a_feature() {
    let server = TestServer::start().await;
    let claimed: Vec<&str> = server.state.erasure.tables().into_iter().map(|(_, t)| t).collect();
    let conn = server.state.db.get().unwrap();
    let existing = tables(&conn);
    for table in &claimed {
        assert!(existing.iter().any(|t| t == table), "{table} is claimed but does not exist");
    }
    let mut personal = Vec::new();
    for table in &existing {
        let names: Vec<String> = columns(&conn, table).into_iter().map(|c| c.0).collect();
        if names.iter().any(|c| PERSON_COLUMNS.contains(&c.as_str())) {
            personal.push(table.clone());
        }
    }
    assert!(personal.iter().any(|t| t == "users") && personal.len() > 10, "{personal:?}");
    let unclaimed: Vec<&String> =
        personal.iter().filter(|t| !claimed.contains(&t.as_str())).collect();
    assert!(
        unclaimed.is_empty(),
        "tables holding personal data that no feature's PersonalData lists: {unclaimed:?}"
    );
}

/// Inserts a row naming the person into `table`, filling the other required columns.
fn seed(conn: &Connection, table: &str, user_id: &str, phone_index: &[u8]) {
    let mut names = Vec::new();
    let mut values = Vec::new();
    for (n, (name, ty, not_null, default)) in columns(conn, table).into_iter().enumerate() {
        let value = match name.as_str() {
            "user_id" => Sql::Text(user_id.into()),
            "phone_index" => Sql::Blob(phone_index.to_vec()),
            // Values the tables' CHECK constraints allow.
            "status" => Sql::Text("pending_review".into()),
            "source" => Sql::Text("barcode".into()),
            "id" if ty == "INTEGER" => continue,
            _ if !not_null || default => continue,
            _ if ty.contains("INT") || ty.is_empty() => Sql::Integer(1_000 + n as i64),
            _ if ty.contains("BLOB") => Sql::Blob(vec![n as u8; 8]),
            _ => Sql::Text(format!("seeded-{n}")),
        };
        names.push(name);
        values.push(value);
    }
    let marks = vec!["?"; names.len()].join(", ");
    let sql = format!("INSERT INTO {table} ({}) VALUES ({marks})", names.join(", "));
    conn.execute(&sql, rusqlite::params_from_iter(values)).unwrap_or_else(|e| panic!("{sql}: {e}"));
}

#[tokio::test]
async fn a_deleted_account_leaves_no_row_that_names_it() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let ada = server.signed_in_user("ada@north.edu").await;
    let me: Value = ada.get("/api/v1/auth/session").await.json().await.unwrap();
    let id = me["user"]["id"].as_str().unwrap().to_string();
    let grant = json!({"email": "ada@north.edu", "password": PASSWORD});
    assert_eq!(server.post("/api/v1/auth/token", grant).await.status(), 200);
    let phone_index = b"ada's phone index".to_vec();
    {
        // Rows the API would take long to reach (a licence, TOTP, codes sent to a phone),
        // written straight into each feature's tables.
        let conn = server.state.db.get().unwrap();
        conn.execute("UPDATE users SET phone_index = ?2 WHERE id = ?1", (&id, &phone_index))
            .unwrap();
        for table in [
            "totp_credentials",
            "recovery_codes",
            "mfa_challenges",
            "driver_profiles",
            "driver_licences",
            "driver_upload_attempts",
            "phone_codes",
            "phone_code_checks",
        ] {
            seed(&conn, table, &id, &phone_index);
        }
    }
    let email_index: Vec<u8> = server
        .state
        .db
        .get()
        .unwrap()
        .query_row("SELECT email_index FROM users WHERE id = ?1", [&id], |r| r.get(0))
        .unwrap();
    // Every table, not only the claimed ones: a part missing from the list shows here too.
    let naming = |conn: &Connection| {
        let mut found = Vec::new();
        for table in tables(conn) {
            for (column, ..) in columns(conn, &table) {
                let sql = format!("SELECT count(*) FROM {table} WHERE {column} IN (?1, ?2, ?3)");
                let values = (
                    Sql::Text(id.clone()),
                    Sql::Blob(email_index.clone()),
                    Sql::Blob(phone_index.clone()),
                );
                let n: i64 = conn.query_row(&sql, values, |r| r.get(0)).unwrap();
                if n > 0 {
                    found.push(format!("{table}.{column}: {n}"));
                }
            }
        }
        found
    };
    let before = naming(&server.state.db.get().unwrap());
    for expected in ["users.id", "sessions.user_id", "token_families.user_id", "audit_log.actor_id"]
    {
        assert!(before.iter().any(|f| f.starts_with(expected)), "{expected} in {before:?}");
    }
    assert!(before.len() >= 12, "{before:?}");

    let deleted = ada
        .send(reqwest::Method::DELETE, "/api/v1/account")
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let after = naming(&server.state.db.get().unwrap());
    assert_eq!(after, vec!["deleted_accounts.id: 1".to_string()], "only the deleted id stays");
}
