//! `gatehouse keys rotate` through the real binary while the server keeps serving.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use gatehouse::accounts::store::{self, NewUser};
use gatehouse::privacy::sealed;

use crate::binary::BIN;
use crate::harness::{PASSWORD, TestServer};

pub(crate) fn rotate(server: &TestServer) -> String {
    let output = Command::new(BIN)
        .args(["keys", "rotate"])
        .env_clear()
        .env("GATEHOUSE_STORAGE__DATA_DIR", server.data_dir())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{text}");
    text
}

fn keys_in_use(server: &TestServer) -> BTreeMap<u32, u64> {
    sealed::values_per_key(&server.state.db.get().unwrap()).unwrap()
}

/// Users made straight through the store (one shared password hash), so a rotation has rows
/// enough to take a while.
fn seed(server: &TestServer, count: usize) {
    let hash = "$argon2id$v=19$m=19456,t=2,p=1$c2VlZHNlZWRzZWVk$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let pii = server.state.pii.clone();
    let mut conn = server.state.db.get().unwrap();
    let tx = conn.transaction().unwrap();
    for i in 0..count {
        let email = format!("seed{i}@north.edu");
        let id = uuid::Uuid::new_v4().to_string();
        let index = server.state.accounts.email_index(&email);
        store::insert(
            &tx,
            &pii,
            &NewUser {
                id: &id,
                email_index: &index,
                email: &email,
                display_name: "Seeded Student",
                legal_name: Some("Seeded Legal Name"),
                phone: None,
                phone_index: None,
                password_hash: hash,
                campus_id: None,
                role: "user",
                email_verified_at: Some(0),
                now: 0,
            },
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_reseals_everything_while_reads_keep_working_and_retires_old_keys() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    let user = server.signed_in_user("ada@north.edu").await;
    seed(&server, 3000);
    assert_eq!(keys_in_use(&server).keys().copied().collect::<Vec<_>>(), vec![1]);
    let user_id: String =
        user.get("/api/v1/account").await.json::<serde_json::Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();

    // A reader that bypasses the user cache, all through the rotation.
    let done = Arc::new(AtomicBool::new(false));
    let (reads, failures) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let reader = {
        let (done, reads, failures) = (done.clone(), reads.clone(), failures.clone());
        let accounts = server.state.accounts.clone();
        let client = user.client.clone();
        let url = user.url("/api/v1/account");
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                accounts.forget_user(&user_id).await;
                let response = client.get(&url).send().await.unwrap();
                let ok = response.status() == 200
                    && response.json::<serde_json::Value>().await.unwrap()["email"]
                        == "ada@north.edu";
                reads.fetch_add(1, Ordering::Relaxed);
                if !ok {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let output = tokio::task::spawn_blocking({
        let dir = server.data_dir();
        move || {
            let output = Command::new(BIN)
                .args(["keys", "rotate"])
                .env_clear()
                .env("GATEHOUSE_STORAGE__DATA_DIR", dir)
                .output()
                .unwrap();
            assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
            String::from_utf8_lossy(&output.stdout).to_string()
        }
    })
    .await
    .unwrap();
    done.store(true, Ordering::Relaxed);
    reader.await.unwrap();
    assert!(output.contains("Rotated to PII key 2"), "{output}");
    assert!(reads.load(Ordering::Relaxed) > 3, "the reader ran during the rotation");
    assert_eq!(failures.load(Ordering::Relaxed), 0, "every read during the rotation worked");
    assert_eq!(keys_in_use(&server).keys().copied().collect::<Vec<_>>(), vec![2]);
    let data = server.data_dir();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(data.join("keys/pii/2.key")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(data.join("keys/pii.key").exists(), "pii.key stays: it keys the blind indexes");

    // The running server seals new data under the new key, and sign-in by email still works.
    assert_eq!(server.register("bob@north.edu").await.status(), 202);
    assert_eq!(keys_in_use(&server).keys().copied().collect::<Vec<_>>(), vec![2]);
    assert_eq!(server.new_user("ada@north.edu").login(PASSWORD, false).await.status(), 200);

    // The next rotation deletes key 2's file once nothing is sealed under it.
    let output = rotate(&server);
    assert!(output.contains("Rotated to PII key 3"), "{output}");
    assert!(output.contains("key 2: nothing is sealed under it"), "{output}");
    assert!(!data.join("keys/pii/2.key").exists());
    let key3 = std::fs::read_to_string(data.join("keys/pii/3.key")).unwrap();
    assert!(!output.contains(key3.trim()), "the key is never printed");
    let logs = crate::harness::read_all_files(&data.join("logs"));
    assert!(!logs.contains(key3.trim()), "the key is never logged");
}

#[tokio::test]
async fn an_interrupted_rotation_is_finished_by_the_next_run() {
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    server.signed_in_user("ada@north.edu").await;
    seed(&server, 50);
    // As if the command died right after switching keys: key 2 active, nothing re-sealed yet.
    let ring = server.state.pii.ring();
    let id = ring.add_key(1).unwrap();
    ring.set_active(id).unwrap();
    gatehouse::privacy::startup::record_keys(&server.state.db.get().unwrap(), &server.state.pii, 0)
        .unwrap();
    let mut conn = server.state.db.get().unwrap();
    // ... and after one batch of the users table.
    sealed::batch(
        &mut conn,
        &server.state.pii,
        &sealed::SEALED[0],
        None,
        10,
        sealed::Pass::Reseal { target: id },
    )
    .unwrap();
    drop(conn);
    let in_use = keys_in_use(&server);
    assert!(in_use.contains_key(&1) && in_use.contains_key(&2), "{in_use:?}");

    let output = rotate(&server);
    assert!(output.contains("Finished the interrupted rotation to PII key 2"), "{output}");
    assert_eq!(keys_in_use(&server).keys().copied().collect::<Vec<_>>(), vec![2]);
    assert!(!server.data_dir().join("keys/pii/3.key").exists(), "no third key was made");
    assert_eq!(server.new_user("ada@north.edu").login(PASSWORD, false).await.status(), 200);
}
