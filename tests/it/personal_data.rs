//! Every feature's personal data is reached by deletion and retention: each table that can
//! name a person belongs to some feature's `PersonalData`, and a deleted account leaves no row
//! that names it in any of them.

use gatehouse::db::conn::Conn;
use rusqlite::ToSql;
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

fn tables(conn: &Conn) -> Vec<String> {
    let sql = if conn.is_postgres() {
        "SELECT table_name::text FROM information_schema.tables
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
    } else {
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    };
    conn.query_map(sql, [] as [i64; 0], |r| r.get(0)).unwrap()
}

/// (name, declared type, not null, has a default) of each column; on PostgreSQL the type is
/// named as SQLite's schema names it (BIGINT holds what INTEGER does, BYTEA is BLOB) and an
/// identity column counts as having a default.
fn columns(conn: &Conn, table: &str) -> Vec<(String, String, bool, bool)> {
    if conn.is_postgres() {
        return conn
            .query_map(
                "SELECT column_name::text, upper(data_type::text), is_nullable::text = 'NO',
                        column_default IS NOT NULL OR is_identity::text = 'YES'
                 FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = ?1
                 ORDER BY ordinal_position",
                [table],
                |r| {
                    let ty: String = r.get(1)?;
                    let ty = if ty == "BYTEA" { "BLOB".to_string() } else { ty };
                    Ok((r.get(0)?, ty, r.get(2)?, r.get(3)?))
                },
            )
            .unwrap();
    }
    conn.query_map(&format!("SELECT * FROM pragma_table_info('{table}')"), [] as [i64; 0], |r| {
        let default: Option<String> = r.get(4)?;
        Ok((r.get(1)?, r.get(2)?, r.get::<bool>(3)?, default.is_some()))
    })
    .unwrap()
}

#[tokio::test]
async fn every_table_that_can_name_a_person_belongs_to_a_feature() {
    let server = TestServer::start().await;
    let claimed: Vec<&str> = server.state.erasure.tables().into_iter().map(|(_, t)| t).collect();
    let (existing, personal) = server.blocking_conn(|conn| {
        let existing = tables(conn);
        let mut personal = Vec::new();
        for table in &existing {
            let names: Vec<String> = columns(conn, table).into_iter().map(|c| c.0).collect();
            if names.iter().any(|c| PERSON_COLUMNS.contains(&c.as_str())) {
                personal.push(table.clone());
            }
        }
        (existing, personal)
    });
    for table in &claimed {
        assert!(existing.iter().any(|t| t == table), "{table} is claimed but does not exist");
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
fn seed(conn: &Conn, table: &str, user_id: &str, phone_index: &[u8]) {
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
    let marks: Vec<String> = (1..=names.len()).map(|n| format!("?{n}")).collect();
    let sql = format!("INSERT INTO {table} ({}) VALUES ({})", names.join(", "), marks.join(", "));
    let values: Vec<&dyn ToSql> = values.iter().map(|v| v as &dyn ToSql).collect();
    conn.execute(&sql, values.as_slice()).unwrap_or_else(|e| panic!("{sql}: {e}"));
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
    // Rows the API would take long to reach (a licence, TOTP, codes sent to a phone),
    // written straight into each feature's tables.
    server.blocking_conn(|conn| {
        conn.execute(
            "UPDATE users SET phone_index = ?2 WHERE id = ?1",
            rusqlite::params![id, phone_index],
        )
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
            seed(conn, table, &id, &phone_index);
        }
    });
    let email_index: Vec<u8> = server.blocking_conn(|conn| {
        conn.query_row("SELECT email_index FROM users WHERE id = ?1", [&id], |r| r.get(0)).unwrap()
    });
    // Every table, not only the claimed ones: a part missing from the list shows here too.
    let naming = |conn: &Conn| {
        let mut found = Vec::new();
        for table in tables(conn) {
            for (column, ty, ..) in columns(conn, &table) {
                let n = count_naming(conn, (&table, &column, &ty), &id, &email_index, &phone_index);
                if n > 0 {
                    found.push(format!("{table}.{column}: {n}"));
                }
            }
        }
        found.sort();
        found
    };
    let before = server.blocking_conn(|conn| naming(conn));
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
    let after = server.blocking_conn(|conn| naming(conn));
    assert_eq!(after, vec!["deleted_accounts.id: 1".to_string()], "only the deleted id stays");
}

/// The rows of `table` whose `column` holds the person's id, email index or phone index. On
/// PostgreSQL a column is compared only with values of its own type (it refuses to compare a
/// BIGINT with text); on SQLite, whose columns may hold any type, with all three.
fn count_naming(
    conn: &Conn,
    (table, column, ty): (&str, &str, &str),
    id: &str,
    email_index: &[u8],
    phone_index: &[u8],
) -> i64 {
    let count = |condition: &str, values: &[&dyn ToSql]| -> i64 {
        let sql = format!("SELECT count(*) FROM {table} WHERE {column} {condition}");
        conn.query_row(&sql, values, |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
    };
    if !conn.is_postgres() {
        return count("IN (?1, ?2, ?3)", &[&id, &email_index, &phone_index]);
    }
    match ty {
        "TEXT" => count("= ?1", &[&id]),
        "BLOB" => count("IN (?1, ?2)", &[&email_index, &phone_index]),
        _ => 0,
    }
}
