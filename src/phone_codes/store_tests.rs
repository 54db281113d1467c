//! The phone-codes store and its limits on both engines (SQLite, and PostgreSQL when the
//! tests have a server), and the limits holding when two PostgreSQL connections race.

use std::sync::Barrier;
use std::time::Duration;

use rusqlite::params;

use super::caps::{self, CHECKS_PER_WINDOW, COOLDOWN, LINK_CODES_PER_DAY, WINDOW};
use super::error::PhoneCodeError;
use super::personal_data::export_phone_codes;
use super::store::{self, CapKey, NewCode};
use crate::db::conn::Conn;
use crate::db::conn_tests::{drop_schema, on_both_engines, postgres_client, postgres_client_in};

const NOW: i64 = 1_000_000;
const DAY: i64 = 86_400;

fn user(conn: &Conn, id: &str) {
    conn.execute(
        "INSERT INTO users (id, email_index, email, display_name, role, created_at,
                            email_verified_at)
         VALUES (?1, ?2, ?3, 'Ada', 'user', 0, 5)",
        params![id, id.as_bytes(), format!("{id}@north.edu")],
    )
    .unwrap();
}

fn code(conn: &Conn, phone: &[u8], hash: &[u8], by: Option<&str>, at: i64) {
    let new = NewCode { phone_index: phone, code_hash: hash, requested_by: by };
    store::insert_code(conn, &new, at, at + 600).unwrap();
}

fn rate_limited<T>(result: Result<T, PhoneCodeError>) -> u64 {
    match result {
        Err(PhoneCodeError::RateLimited { retry_after }) => retry_after,
        Err(other) => panic!("not rate limited: {other}"),
        Ok(_) => panic!("not rate limited: admitted"),
    }
}

#[test]
fn codes_are_counted_killed_tried_and_spent_alike_on_both_engines() {
    on_both_engines(|conn| {
        user(conn, "u1");
        let nothing = store::codes_since(conn, b"p1", 0).unwrap();
        assert_eq!((nothing.count, nothing.oldest, nothing.newest), (0, None, None));
        assert!(store::live_code(conn, b"p1").unwrap().is_none(), "no code yet");

        code(conn, b"p1", b"h1", None, 100);
        code(conn, b"p1", b"h2", Some("u1"), 200);
        code(conn, b"p2", b"h3", Some("u1"), 300);
        let recent = store::codes_since(conn, b"p1", 100).unwrap();
        assert_eq!((recent.count, recent.oldest, recent.newest), (1, Some(200), Some(200)));
        let all = store::codes_since(conn, b"p1", 99).unwrap();
        assert_eq!((all.count, all.oldest, all.newest), (2, Some(100), Some(200)));
        let linked = store::link_codes_since(conn, "u1", 0).unwrap();
        assert_eq!((linked.count, linked.oldest, linked.newest), (2, Some(200), Some(300)));
        assert_eq!(store::link_codes_since(conn, "u2", 0).unwrap().count, 0);

        // The newest live code is the one checked; killing leaves the phone none.
        let live = store::live_code(conn, b"p1").unwrap().unwrap();
        assert_eq!((live.code_hash.as_slice(), live.expires_at), (b"h2".as_slice(), 800));
        store::kill_live_codes(conn, b"p1", 250).unwrap();
        assert!(store::live_code(conn, b"p1").unwrap().is_none());
        assert!(!store::consume_code(conn, live.id, 260).unwrap(), "a dead code is not spent");
        assert!(store::live_code(conn, b"p2").unwrap().is_some(), "another phone's code lives");

        // Wrong attempts die at the fourth of four; a dead code stays dead.
        code(conn, b"p1", b"h4", None, 400);
        let live = store::live_code(conn, b"p1").unwrap().unwrap();
        for _ in 0..3 {
            store::wrong_attempt(conn, live.id, 4, 410).unwrap();
        }
        assert_eq!(store::live_code(conn, b"p1").unwrap().unwrap().id, live.id);
        store::wrong_attempt(conn, live.id, 4, 420).unwrap();
        assert!(store::live_code(conn, b"p1").unwrap().is_none(), "dead after 4");
        store::wrong_attempt(conn, live.id, 9, 430).unwrap();
        let (attempts, dead_at): (i64, Option<i64>) = conn
            .query_row("SELECT attempts, dead_at FROM phone_codes WHERE id = ?1", [live.id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((attempts, dead_at), (5, Some(420)));

        // An expired code is still the live one (the service answers "expired"); spent once.
        code(conn, b"p1", b"h5", None, 500);
        let expired = store::live_code(conn, b"p1").unwrap().unwrap();
        assert!(expired.expires_at < 2_000);
        assert!(store::consume_code(conn, expired.id, 2_000).unwrap());
        assert!(!store::consume_code(conn, expired.id, 2_001).unwrap(), "single use");
        assert!(!store::consume_code(conn, 999_999, 2_001).unwrap(), "no such code");

        let export = export_phone_codes(conn, Some(b"p1".as_slice())).unwrap();
        let states: Vec<(i64, Option<&str>)> =
            export.iter().map(|c| (c.attempts, c.used_at.as_deref())).collect();
        assert_eq!(states.len(), 4);
        assert_eq!(states[2].0, 5);
        assert!(states[3].1.is_some() && states[..3].iter().all(|s| s.1.is_none()));
        assert_eq!(export[0].created_at, crate::clock::rfc3339(100));
        assert!(export_phone_codes(conn, None).unwrap().is_empty());
        assert!(export_phone_codes(conn, Some(b"p9".as_slice())).unwrap().is_empty());
    });
}

#[test]
fn checks_are_counted_by_phone_and_address_and_purged_alike_on_both_engines() {
    on_both_engines(|conn| {
        store::insert_check(conn, b"p1", Some("10.0.0.1"), 100).unwrap();
        store::insert_check(conn, b"p1", None, 200).unwrap();
        store::insert_check(conn, b"p2", Some("10.0.0.1"), 300).unwrap();
        let by_phone = store::checks_by_phone(conn, b"p1", 0).unwrap();
        assert_eq!((by_phone.count, by_phone.oldest, by_phone.newest), (2, Some(100), Some(200)));
        assert_eq!(store::checks_by_phone(conn, b"p1", 100).unwrap().count, 1, "strictly after");
        let by_ip = store::checks_by_ip(conn, "10.0.0.1", 0).unwrap();
        assert_eq!((by_ip.count, by_ip.oldest, by_ip.newest), (2, Some(100), Some(300)));
        let none = store::checks_by_ip(conn, "10.0.0.2", 0).unwrap();
        assert_eq!((none.count, none.oldest, none.newest), (0, None, None));

        code(conn, b"p1", b"h1", None, 100); // expires at 700
        code(conn, b"p1", b"h2", None, 1_000);
        code(conn, b"p2", b"h3", None, 1_000);
        assert_eq!(store::purge(conn, 700).unwrap(), (1, 3));
        assert_eq!(store::purge(conn, 700).unwrap(), (0, 0));
        assert_eq!(store::codes_since(conn, b"p1", 0).unwrap().count, 1);

        store::insert_check(conn, b"p1", None, 800).unwrap();
        store::delete_for_phone(conn, b"p1").unwrap();
        assert_eq!(store::codes_since(conn, b"p1", 0).unwrap().count, 0);
        assert_eq!(store::checks_by_phone(conn, b"p1", 0).unwrap().count, 0);
        assert_eq!(store::codes_since(conn, b"p2", 0).unwrap().count, 1, "other phones stay");
    });
}

#[test]
fn request_and_check_limits_refuse_alike_on_both_engines() {
    on_both_engines(|conn| {
        user(conn, "u1");
        store::take_turn(conn, CapKey::Account("u1")).unwrap();

        // Cooldown, then 3 codes a window for one phone.
        caps::admit_request(conn, b"p1", None, NOW).unwrap();
        code(conn, b"p1", b"h", None, NOW);
        assert_eq!(rate_limited(caps::admit_request(conn, b"p1", None, NOW + 10)), 50);
        code(conn, b"p1", b"h", None, NOW + COOLDOWN);
        code(conn, b"p1", b"h", None, NOW + 2 * COOLDOWN);
        let later = NOW + 3 * COOLDOWN;
        assert_eq!(rate_limited(caps::admit_request(conn, b"p1", None, later)), 720);
        caps::admit_request(conn, b"p1", None, NOW + WINDOW).unwrap();

        // 5 link codes a day per account, whatever the phones.
        for i in 0..LINK_CODES_PER_DAY {
            let phone = format!("link{i}");
            caps::admit_request(conn, phone.as_bytes(), Some("u1"), NOW + i).unwrap();
            code(conn, phone.as_bytes(), b"h", Some("u1"), NOW + i);
        }
        let refused = caps::admit_request(conn, b"fresh", Some("u1"), NOW + 100);
        assert_eq!(rate_limited(refused), (DAY - 100) as u64);
        caps::admit_request(conn, b"fresh", None, NOW + 100).unwrap();

        // 10 checks a window per phone and per address; each admitted one is counted.
        for i in 0..CHECKS_PER_WINDOW {
            caps::admit_check(conn, b"c1", Some("10.0.0.1"), NOW + i).unwrap();
        }
        assert_eq!(store::checks_by_phone(conn, b"c1", 0).unwrap().count, CHECKS_PER_WINDOW);
        let by_phone = caps::admit_check(conn, b"c1", Some("10.0.0.2"), NOW + 20);
        assert_eq!(rate_limited(by_phone), (WINDOW - 20) as u64);
        let by_ip = caps::admit_check(conn, b"c2", Some("10.0.0.1"), NOW + 20);
        assert_eq!(rate_limited(by_ip), (WINDOW - 20) as u64);
        caps::admit_check(conn, b"c2", None, NOW + 20).unwrap();
        assert_eq!(store::checks_by_phone(conn, b"c2", 0).unwrap().count, 1);
        assert_eq!(store::checks_by_ip(conn, "10.0.0.2", 0).unwrap().count, 0, "refused: none");
    });
}

/// Runs `attempt` on both connections at once, each in a transaction held open a while
/// after it: without turns, each would count before the other's row is committed. How many
/// were admitted (a refusal is a rate limit; any other error fails the test).
fn race(
    clients: [&mut postgres::Client; 2],
    attempt: impl Fn(&Conn, usize) -> Result<(), PhoneCodeError> + Sync,
) -> usize {
    let start = Barrier::new(2);
    std::thread::scope(|s| {
        let runs: Vec<_> = clients
            .into_iter()
            .enumerate()
            .map(|(i, client)| {
                let (start, attempt) = (&start, &attempt);
                s.spawn(move || {
                    let conn = Conn::Postgres(std::cell::RefCell::new(client));
                    let tx = conn.transaction().unwrap();
                    start.wait();
                    let admitted = match attempt(&tx, i) {
                        Ok(()) => true,
                        Err(PhoneCodeError::RateLimited { .. }) => false,
                        Err(other) => panic!("{other:?}"),
                    };
                    std::thread::sleep(Duration::from_millis(300));
                    tx.commit().unwrap();
                    admitted
                })
            })
            .collect();
        runs.into_iter().map(|run| run.join().unwrap()).filter(|admitted| *admitted).count()
    })
}

#[test]
fn limits_hold_when_two_postgres_connections_race() {
    let Some((mut first, schema)) = postgres_client() else { return };
    crate::db::migrate_postgres(&mut first).unwrap();
    let mut second = postgres_client_in(&schema);
    {
        let conn = Conn::Postgres(std::cell::RefCell::new(&mut first));
        user(&conn, "u1");
        for i in 0..LINK_CODES_PER_DAY - 1 {
            code(&conn, format!("link{i}").as_bytes(), b"h", Some("u1"), NOW - 100 + i);
        }
        for i in 0..CHECKS_PER_WINDOW - 1 {
            store::insert_check(&conn, format!("c{i}").as_bytes(), Some("10.0.0.1"), NOW).unwrap();
        }
    }
    let count = |client: &mut postgres::Client, sql: &str| -> i64 {
        client.query_one(sql, &[]).unwrap().get(0)
    };

    // One link code left today: two new phones asked for at once get one.
    let admitted = race([&mut first, &mut second], |tx, i| {
        let phone = format!("new{i}");
        caps::admit_request(tx, phone.as_bytes(), Some("u1"), NOW)?;
        code(tx, phone.as_bytes(), b"h", Some("u1"), NOW);
        Ok(())
    });
    assert_eq!(admitted, 1);
    let linked = count(&mut first, "SELECT count(*) FROM phone_codes WHERE requested_by = 'u1'");
    assert_eq!(linked, LINK_CODES_PER_DAY);

    // Two codes for one phone at once: the second is within the cooldown.
    let admitted = race([&mut first, &mut second], |tx, _| {
        caps::admit_request(tx, b"p1", None, NOW)?;
        code(tx, b"p1", b"h", None, NOW);
        Ok(())
    });
    assert_eq!(admitted, 1);
    let sent = count(&mut first, "SELECT count(*) FROM phone_codes WHERE phone_index = 'p1'");
    assert_eq!(sent, 1);

    // One check left for the address, from two phones; and one left for a phone, from two
    // addresses.
    let admitted = race([&mut first, &mut second], |tx, i| {
        caps::admit_check(tx, format!("q{i}").as_bytes(), Some("10.0.0.1"), NOW)
    });
    assert_eq!(admitted, 1);
    let from_ip = count(&mut first, "SELECT count(*) FROM phone_code_checks WHERE ip = '10.0.0.1'");
    assert_eq!(from_ip, CHECKS_PER_WINDOW);
    {
        let conn = Conn::Postgres(std::cell::RefCell::new(&mut first));
        for _ in 0..CHECKS_PER_WINDOW - 1 {
            store::insert_check(&conn, b"p2", None, NOW).unwrap();
        }
    }
    let admitted = race([&mut first, &mut second], |tx, i| {
        let address = format!("10.1.0.{i}");
        caps::admit_check(tx, b"p2", Some(address.as_str()), NOW)
    });
    assert_eq!(admitted, 1);
    let checked =
        count(&mut first, "SELECT count(*) FROM phone_code_checks WHERE phone_index = 'p2'");
    assert_eq!(checked, CHECKS_PER_WINDOW);
    drop(second);
    drop_schema(&mut first, &schema);
}
