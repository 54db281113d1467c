//! `gatehouse keys rotate` through the real binary while the server keeps serving.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use gatehouse::accounts::{self as store, NewUser};
use gatehouse::drivers::sealed_files::LicenceImages;
use gatehouse::pii::sealed;
use gatehouse::startup::SEALED;

use crate::support::harness::{PASSWORD, TestServer};
use crate::support::process::BIN;
use crate::support::process::rotate;

fn keys_in_use(server: &TestServer) -> BTreeMap<u32, u64> {
    server.blocking_conn(|conn| sealed::values_per_key(conn, SEALED).unwrap())
}

/// Users made straight through the store (one shared password hash), so a rotation has rows
/// enough to take a while.
fn seed(server: &TestServer, count: usize) {
    let hash = "$argon2id$v=19$m=19456,t=2,p=1$c2VlZHNlZWRzZWVk$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let pii = server.state.pii.clone();
    let accounts = &server.state.accounts;
    server.blocking_conn(|conn| {
        let tx = conn.transaction().unwrap();
        for i in 0..count {
            let email = format!("seed{i}@north.edu");
            let id = uuid::Uuid::new_v4().to_string();
            let index = accounts.email_index(&email);
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
                    password_hash: Some(hash),
                    campus_id: None,
                    role: "user",
                    email_verified_at: Some(0),
                    now: 0,
                },
            )
            .unwrap();
        }
        tx.commit().unwrap();
    });
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
                accounts.forget_user(&user_id);
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
                .env("GATEHOUSE_STORAGE__DATA_DIR", &dir)
                .envs(crate::support::engine::process_env(&dir))
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
    server.blocking_conn(|conn| {
        gatehouse::pii::start_checks::record_keys(conn, &server.state.pii, 0).unwrap();
        // ... and after one batch of the users table.
        sealed::batch(
            conn,
            &server.state.pii,
            &SEALED[0],
            None,
            10,
            sealed::Pass::Reseal { target: id },
        )
        .unwrap();
    });
    let in_use = keys_in_use(&server);
    assert!(in_use.contains_key(&1) && in_use.contains_key(&2), "{in_use:?}");

    let output = rotate(&server);
    assert!(output.contains("Finished the interrupted rotation to PII key 2"), "{output}");
    assert_eq!(keys_in_use(&server).keys().copied().collect::<Vec<_>>(), vec![2]);
    assert!(!server.data_dir().join("keys/pii/3.key").exists(), "no third key was made");
    assert_eq!(server.new_user("ada@north.edu").login(PASSWORD, false).await.status(), 200);
}

#[tokio::test]
async fn an_old_key_still_in_use_is_kept_and_removed_by_the_run_that_finishes() {
    use gatehouse::pii::cipher;
    use gatehouse::pii::rotate;
    let server = TestServer::start().await;
    server.add_campus("North", &["north.edu"]);
    server.signed_in_user("ada@north.edu").await;
    seed(&server, 50);
    assert!(rotate(&server).contains("Rotated to PII key 2"));
    let data = server.data_dir();
    // A rotation from 2 to 3, interrupted after one batch of the users table.
    let pii = server.state.pii.clone();
    let id = pii.ring().add_key(2).unwrap();
    assert_eq!(id, 3);
    server.blocking_conn(|conn| gatehouse::pii::start_checks::record_keys(conn, &pii, 0).unwrap());
    pii.ring().set_active(id).unwrap();
    server.blocking_conn(|conn| {
        sealed::batch(conn, &pii, &SEALED[0], None, 10, sealed::Pass::Reseal { target: id })
            .unwrap()
    });
    let in_use = keys_in_use(&server);
    assert_eq!(in_use.keys().copied().collect::<Vec<_>>(), vec![2, 3], "{in_use:?}");

    // The last step of a rotation, at this point, keeps key 2 and reports it in use.
    let uploads = &*server.state.drivers.uploads;
    let (removed, kept) = server.blocking_conn(|conn| {
        rotate::retire_unused(conn, &pii, (SEALED, &LicenceImages(uploads)), id, 0).unwrap()
    });
    assert!(removed.is_empty(), "{removed:?}");
    assert_eq!(kept, vec![2]);
    assert!(data.join("keys/pii/2.key").exists(), "a key still in use keeps its file");
    // Values still sealed under key 2 open, through the store and through the API.
    let emails: Vec<String> = server.blocking_conn(|conn| {
        conn.query_map("SELECT email FROM users", [] as [i64; 0], |r| r.get(0)).unwrap()
    });
    let under_2: Vec<&String> = emails
        .iter()
        .filter(|e| cipher::key_id(&cipher::from_text(e).unwrap()).unwrap() == 2)
        .collect();
    assert!(under_2.len() >= 30, "most rows are still under key 2: {}", under_2.len());
    for sealed_email in under_2 {
        let email = pii.open_text(store::EMAIL, sealed_email).unwrap();
        assert!(email.ends_with("@north.edu"), "{email}");
    }
    assert_eq!(server.new_user("ada@north.edu").login(PASSWORD, false).await.status(), 200);

    // The next run finishes the rotation to 3, and only then does key 2's file go.
    let output = rotate(&server);
    assert!(output.contains("Finished the interrupted rotation to PII key 3"), "{output}");
    assert!(output.contains("key 2: nothing is sealed under it"), "{output}");
    assert!(!data.join("keys/pii/2.key").exists());
    assert_eq!(keys_in_use(&server).keys().copied().collect::<Vec<_>>(), vec![3]);
    assert_eq!(server.new_user("ada@north.edu").login(PASSWORD, false).await.status(), 200);
}

/// Every way a key file's 32 bytes could be written out: hex (both cases) and base64 (every
/// alphabet, with and without padding), for every `*.key` under `keys/`.
fn key_forms(keys: &std::path::Path, forms: &mut Vec<String>) {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    for entry in std::fs::read_dir(keys).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            key_forms(&path, forms);
        } else if path.extension().is_some_and(|e| e == "key") {
            let bytes = hex::decode(std::fs::read_to_string(&path).unwrap().trim()).unwrap();
            forms.push(hex::encode(&bytes));
            forms.push(hex::encode_upper(&bytes));
            for engine in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
                forms.push(engine.encode(&bytes));
            }
        }
    }
}

/// Runs the binary with debug logs on `data` until `stop` says so (or it exits); returns the
/// exit status and everything it wrote to stdout and stderr.
fn run_binary(
    data: &std::path::Path,
    args: &[&str],
    stop: impl FnOnce(&std::process::Child),
) -> (std::process::ExitStatus, String) {
    use std::io::Read;
    let mut child = Command::new(BIN)
        .args(args)
        .env_clear()
        .env("GATEHOUSE_STORAGE__DATA_DIR", data)
        .envs(crate::support::engine::process_env(data))
        .env("GATEHOUSE_SERVER__LISTEN", "127.0.0.1:0")
        .env("GATEHOUSE_CAPTCHA__ENABLED", "false")
        .env("GATEHOUSE_LOG__LEVEL", "debug")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Both pipes are drained all along: a full pipe would block the server's logging.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            pipe.read_to_end(&mut bytes).unwrap();
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    stop(&child);
    let status = child.wait().unwrap();
    (status, format!("{}{}", stdout.join().unwrap(), stderr.join().unwrap()))
}

#[test]
fn no_key_is_ever_printed_or_logged_by_serve_rotate_or_a_failed_start() {
    use crate::support::harness::raw_request;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let campus = Command::new(BIN)
        .args(["campus", "add", "--name", "North", "--domain", "north.edu"])
        .env_clear()
        .env("GATEHOUSE_STORAGE__DATA_DIR", &data)
        .envs(crate::support::engine::process_env(&data))
        .output()
        .unwrap();
    assert!(campus.status.success(), "{}", String::from_utf8_lossy(&campus.stderr));
    let mut outputs = Vec::new();
    // A server with debug logs that signs a student up (hashing with the pepper, sealing with
    // the PII key, signing a JWT set), then stops.
    let (status, output) = run_binary(&data, &["serve"], |child| {
        let addr = wait_for_address(&data, child);
        let body =
            format!(r#"{{"email":"ada@north.edu","password":"{PASSWORD}","display_name":"Ada"}}"#);
        let request = format!(
            "POST /api/v1/auth/register HTTP/1.1\r\nHost: {addr}\r\nContent-Type: \
             application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let response = raw_request(addr, &[request.into_bytes()], std::time::Duration::ZERO);
        assert_eq!(response.status, 202, "{}", response.text);
        for path in ["/.well-known/jwks.json", "/health"] {
            let get = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
            assert_eq!(
                raw_request(addr, &[get.into_bytes()], std::time::Duration::ZERO).status,
                200
            );
        }
        let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        assert!(kill.unwrap().success());
    });
    assert!(status.success(), "{output}");
    assert!(output.contains("\"level\":\"DEBUG\""), "debug lines were written: {output}");
    outputs.push(output);
    let (status, output) = run_binary(&data, &["keys", "rotate"], |_| {});
    assert!(status.success(), "{output}");
    outputs.push(output);

    // A failed start: pii.key replaced by another key.
    let mut forms = Vec::new();
    key_forms(&data.join("keys"), &mut forms);
    std::fs::write(data.join("keys/pii.key"), format!("{}\n", "5e".repeat(32))).unwrap();
    let (status, output) = run_binary(&data, &["serve"], |_| {});
    assert!(!status.success(), "{output}");
    assert!(output.contains("not the key the data was sealed with"), "{output}");
    outputs.push(output);
    key_forms(&data.join("keys"), &mut forms);
    // Five key files (session secret, JWT, pii.key, pepper, pii/2.key) in six forms, twice:
    // before and after pii.key was replaced.
    assert_eq!(forms.len(), 2 * 5 * 6);
    assert!(forms.contains(&"5e".repeat(32)));

    let logs = crate::support::harness::read_all_files(&data.join("logs"));
    assert!(logs.len() > 1000, "the server logged");
    // (The messages say which form, not the key: a failing test must not print it either.)
    for (i, form) in forms.iter().enumerate() {
        assert!(!logs.contains(form.as_str()), "key form {i} is in the log files");
        for (run, output) in outputs.iter().enumerate() {
            assert!(!output.contains(form.as_str()), "key form {i} was printed by run {run}");
        }
    }
    crate::support::engine::drop_database(&data);
}

/// The address a starting `serve` is listening on, read from its log files (its stdout is
/// being collected by [`run_binary`]).
fn wait_for_address(data: &std::path::Path, child: &std::process::Child) -> std::net::SocketAddr {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let logs = crate::support::harness::read_all_files(&data.join("logs"));
        let listen = logs
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| if v["fields"].is_object() { v["fields"].clone() } else { v })
            .find(|v| v["message"] == "serving")
            .and_then(|v| v["listen"].as_str().map(str::to_string));
        if let Some(listen) = listen {
            return listen.parse().unwrap();
        }
        assert!(std::time::Instant::now() < deadline, "gatehouse {} did not start", child.id());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
