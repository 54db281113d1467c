//! The SQL of passkeys and their ceremonies on both engines (SQLite, and PostgreSQL when the
//! tests have a server), and a removal's turn on two PostgreSQL connections.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::*;
use crate::db::conn_tests::insert_user as user;
use crate::db::conn_tests::{drop_schema, on_both_engines, postgres_client, race_on_postgres};
use crate::pii::cipher::test_cipher;

/// A passkey with the credential id `cred_id` (a P-256 key from webauthn-rs's own tests).
fn passkey(cred_id: &[u8], counter: u32) -> Passkey {
    let xy = "\"x\":[194,126,127,109,252,23,131,21,252,6,223,99,44,254,140,27,230,17,94,5,133,\
              28,104,41,144,69,171,149,161,26,200,243],\"y\":[143,123,183,156,24,178,21,248,\
              117,159,162,69,171,52,188,252,26,59,6,47,103,92,19,58,117,103,249,0,219,8,95,196]";
    let json = format!(
        r#"{{"cred":{{"cred_id":"{}","cred":{{"type_":"ES256","key":{{"EC_EC2":{{"curve":"SECP256R1",{xy}}}}}}},"counter":{counter},"user_verified":true,"backup_eligible":false,"backup_state":false,"registration_policy":"required","extensions":{{"cred_protect":"NotRequested","hmac_create_secret":"NotRequested"}},"attestation":{{"data":"None","metadata":"None"}},"attestation_format":"None"}}}}"#,
        URL_SAFE_NO_PAD.encode(cred_id)
    );
    serde_json::from_str(&json).unwrap()
}

fn stored(id: &str, user_id: &str, cred_id: &[u8], created_at: i64) -> StoredPasskey {
    StoredPasskey {
        id: id.into(),
        user_id: user_id.into(),
        name: format!("Key {id}"),
        passkey: passkey(cred_id, 1),
        synced: false,
        created_at,
        last_used_at: None,
    }
}

#[test]
fn passkeys_are_stored_found_used_renamed_and_removed_alike_on_both_engines() {
    let (_keys, pii) = test_cipher();
    on_both_engines(|conn| {
        user(conn, "u");
        user(conn, "v");
        assert!(insert(conn, &pii, &stored("p2", "u", b"cred-2", 200)).unwrap());
        assert!(insert(conn, &pii, &stored("p1", "u", b"cred-1", 100)).unwrap());
        assert!(
            !insert(conn, &pii, &stored("p3", "v", b"cred-1", 300)).unwrap(),
            "a credential registered already, to anyone"
        );
        let ids = |list: Vec<StoredPasskey>| list.into_iter().map(|p| p.id).collect::<Vec<_>>();
        assert_eq!(ids(for_user(conn, &pii, "u").unwrap()), ["p1", "p2"]);
        assert_eq!(ids(for_user_to_change(conn, &pii, "u").unwrap()), ["p1", "p2"]);
        assert_eq!(
            (count_for_user(conn, "u").unwrap(), count_for_user(conn, "v").unwrap()),
            (2, 0)
        );

        let found = by_credential_id(conn, &pii, b"cred-1").unwrap().unwrap();
        assert_eq!((found.id.as_str(), found.name.as_str(), found.synced), ("p1", "Key p1", false));
        assert_eq!(found.passkey.cred_id().as_slice(), b"cred-1");
        assert!(by_credential_id(conn, &pii, b"cred-9").unwrap().is_none());
        let sealed: String = conn
            .query_row("SELECT name FROM passkeys WHERE id = 'p1'", [] as [i64; 0], |r| r.get(0))
            .unwrap();
        assert_ne!(sealed, "Key p1", "the name is sealed");

        record_use(conn, "p1", &passkey(b"cred-1", 7), true, 150).unwrap();
        let used = by_credential_id(conn, &pii, b"cred-1").unwrap().unwrap();
        assert_eq!((used.synced, used.last_used_at), (true, Some(150)));
        assert_eq!(
            serde_json::to_value(&used.passkey).unwrap()["cred"]["counter"],
            serde_json::json!(7)
        );

        assert!(rename(conn, &pii, "u", "p2", "Laptop").unwrap());
        assert!(!rename(conn, &pii, "v", "p2", "Theirs").unwrap(), "not v's passkey");
        assert_eq!(for_user(conn, &pii, "u").unwrap()[1].name, "Laptop");
        assert!(!delete(conn, "v", "p1").unwrap(), "not v's passkey");
        assert!(delete(conn, "u", "p1").unwrap());
        assert_eq!(ids(for_user(conn, &pii, "u").unwrap()), ["p2"]);
    });
}

#[test]
fn a_ceremony_is_taken_once_and_expired_ones_purged_alike_on_both_engines() {
    on_both_engines(|conn| {
        user(conn, "u");
        insert_challenge(conn, b"old", SIGN_IN, None, "{}", 100, 160).unwrap();
        insert_challenge(conn, b"c", REGISTER, Some("u"), "{\"s\":1}", 160, 220).unwrap();
        assert!(take_challenge(conn, b"old").unwrap().is_none(), "expired ones purged");
        let taken = take_challenge(conn, b"c").unwrap().unwrap();
        assert_eq!(
            (taken.purpose.as_str(), taken.user_id.as_deref(), taken.state.as_str()),
            (REGISTER, Some("u"), "{\"s\":1}")
        );
        assert_eq!(taken.expires_at, 220);
        assert!(take_challenge(conn, b"c").unwrap().is_none(), "single use");
    });
}

/// Two of a student's two passkeys removed at once on two nodes: the second removal must see
/// the first's (one passkey left, the last way to sign in), not two.
#[test]
fn passkeys_being_removed_on_one_postgres_connection_are_read_removed_on_another() {
    let (_keys, pii) = test_cipher();
    let Some((mut client, schema)) = postgres_client() else { return };
    crate::db::migrate_postgres(&mut client).unwrap();
    {
        let conn = Conn::Postgres(std::cell::RefCell::new(&mut client));
        user(&conn, "u");
        insert(&conn, &pii, &stored("p1", "u", b"cred-1", 100)).unwrap();
        insert(&conn, &pii, &stored("p2", "u", b"cred-2", 200)).unwrap();
    }
    let seen = race_on_postgres(
        &schema,
        |first| assert_eq!(for_user_to_change(first, &pii, "u").unwrap().len(), 2),
        |second| for_user_to_change(second, &pii, "u").unwrap().len(),
        |first| assert!(delete(first, "u", "p1").unwrap()),
    );
    assert_eq!(seen, 1, "the second removal read a passkey being removed");
    drop_schema(&mut client, &schema);
}
