//! Second factors: TOTP per RFC 6238 (SHA-1, 6 digits, 30 s steps, one step
//! of tolerance either way) and single-use recovery codes. Each TOTP code is accepted once:
//! the last accepted time step is stored and a code of that step or an earlier one is refused.
//! Recovery codes are 10 random base32 characters (50 bits), stored as keyed hashes.
//!
//! The pure checks live here with the SQL for `totp_credentials`, `recovery_codes` and
//! `mfa_challenges`; the rules that tie them to sign-in are in `service/mfa.rs`.

use rusqlite::params;
use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::crypto;
use crate::db::conn::{AsConn, Optional, SqlError, SqlResult};
use crate::identity::Amr;
use crate::pii::FieldCipher;

pub const ISSUER: &str = "Gatehouse";
pub const STEP_SECONDS: u64 = 30;
pub const RECOVERY_CODE_COUNT: usize = 10;
/// How long a pending sign-in waits for its second factor.
pub const CHALLENGE_SECONDS: i64 = 300;
/// Wrong codes a pending sign-in survives; the next wrong one ends it.
pub const CHALLENGE_ATTEMPTS: i64 = 5;

const RECOVERY_ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// The TOTP generator for a secret. `account` only labels the otpauth URI.
pub fn totp(secret: &[u8], account: &str) -> Totp {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(STEP_SECONDS)
        .with_secret(Secret::new(secret.to_vec().into_boxed_slice()))
        .with_account_name(account.replace(':', " "))
        .with_issuer(Some(ISSUER))
        .build_noncompliant()
}

pub fn new_secret() -> [u8; 20] {
    rand::random()
}

/// What a TOTP code check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// Right, for this time step (not used before).
    Accepted(i64),
    /// Right, but its time step (or a later one) was already used.
    Replayed,
    /// Not a code of the current step or its neighbours.
    Wrong,
}

/// Checks a 6-digit code at `now` against the secret, refusing steps at or before `last_step`.
pub fn check_code(secret: &[u8], code: &str, now: i64, last_step: Option<i64>) -> CodeCheck {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return CodeCheck::Wrong;
    }
    match totp(secret, "x").check(code, now.max(0) as u64) {
        Some(step) if last_step.is_some_and(|last| step as i64 <= last) => CodeCheck::Replayed,
        Some(step) => CodeCheck::Accepted(step as i64),
        None => CodeCheck::Wrong,
    }
}

/// Ten fresh recovery codes, shown as `xxxxx-xxxxx`.
pub fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODE_COUNT)
        .map(|_| {
            let chars: Vec<char> = (0..10)
                .map(|_| {
                    let i = rand::random::<u32>() as usize % RECOVERY_ALPHABET.len();
                    RECOVERY_ALPHABET[i] as char
                })
                .collect();
            format!(
                "{}-{}",
                chars[..5].iter().collect::<String>(),
                chars[5..].iter().collect::<String>()
            )
        })
        .collect()
}

/// The stored form of a recovery code: case, spaces and dashes do not matter.
pub fn recovery_code_hash(key: &[u8; 32], code: &str) -> Vec<u8> {
    let normal: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    crypto::keyed_hash(key, &[b"recovery-code", normal.as_bytes()])
}

/// Whether a code is shaped like a recovery code rather than a TOTP code.
pub fn looks_like_recovery_code(code: &str) -> bool {
    let code = code.trim();
    !(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()))
}

/// An account's TOTP credential.
#[derive(Debug, Clone)]
pub struct Credential {
    pub secret: Vec<u8>,
    pub confirmed: bool,
    pub last_step: Option<i64>,
}

/// The context the secret is sealed under (see `mfa::personal_data::SEALED`).
pub const SECRET: &str = "totp_credentials.secret";

// The SQL below runs on either engine ([`crate::db::conn`]); every function takes the
// connection or transaction its caller holds ([`AsConn`]).

/// The credential, for a transaction that checks a code against it and then records the step
/// or confirms the enrolment. On PostgreSQL the row stays locked until that transaction ends,
/// so that an enrolment restarted on another node (a new secret) waits: without the lock, a
/// confirmation could check the code against the old secret and then turn TOTP on with the
/// new one, which the student never proved they hold.
pub fn credential(
    conn: &impl AsConn,
    pii: &FieldCipher,
    user_id: &str,
) -> SqlResult<Option<Credential>> {
    conn.with_conn(|conn| {
        let lock = conn.for_update();
        conn.query_row(
            &format!(
                "SELECT secret, confirmed_at, last_step FROM totp_credentials
                 WHERE user_id = ?1{lock}"
            ),
            [user_id],
            |r| {
                let sealed: Vec<u8> = r.get(0)?;
                let secret = pii
                    .open(SECRET, &sealed)
                    .map_err(|e| SqlError::Conversion { column: 0, message: e.to_string() })?;
                Ok(Credential {
                    secret,
                    confirmed: r.get::<Option<i64>>(1)?.is_some(),
                    last_step: r.get(2)?,
                })
            },
        )
        .optional()
    })
}

/// Whether the account has TOTP turned on.
pub fn enabled(conn: &impl AsConn, user_id: &str) -> SqlResult<bool> {
    let confirmed: Option<Option<i64>> = conn.with_conn(|conn| {
        conn.query_row(
            "SELECT confirmed_at FROM totp_credentials WHERE user_id = ?1",
            [user_id],
            |r| r.get(0),
        )
        .optional()
    })?;
    Ok(confirmed.flatten().is_some())
}

/// Starts (or restarts) an enrolment with a new secret; TOTP stays off until confirmed.
pub fn start_enrolment(
    conn: &impl AsConn,
    pii: &FieldCipher,
    user_id: &str,
    secret: &[u8],
    now: i64,
) -> SqlResult<()> {
    conn.with_conn(|conn| {
        conn.execute(
            "INSERT INTO totp_credentials (user_id, secret, created_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (user_id) DO UPDATE
             SET secret = excluded.secret, created_at = excluded.created_at, confirmed_at = NULL,
                 last_step = NULL",
            params![user_id, pii.seal(SECRET, secret), now],
        )
    })?;
    Ok(())
}

/// Records an accepted step; false if a concurrent request used this step first.
pub fn use_step(conn: &impl AsConn, user_id: &str, step: i64) -> SqlResult<bool> {
    let changed = conn.with_conn(|conn| {
        conn.execute(
            "UPDATE totp_credentials SET last_step = ?2
             WHERE user_id = ?1 AND (last_step IS NULL OR last_step < ?2)",
            params![user_id, step],
        )
    })?;
    Ok(changed == 1)
}

pub fn confirm(conn: &impl AsConn, user_id: &str, now: i64) -> SqlResult<()> {
    conn.with_conn(|conn| {
        conn.execute(
            "UPDATE totp_credentials SET confirmed_at = ?2 WHERE user_id = ?1",
            params![user_id, now],
        )
    })?;
    Ok(())
}

/// Turns TOTP off: the credential, recovery codes and pending sign-ins go.
pub fn remove(conn: &impl AsConn, user_id: &str) -> SqlResult<()> {
    conn.with_conn(|conn| -> SqlResult<()> {
        conn.execute("DELETE FROM totp_credentials WHERE user_id = ?1", [user_id])?;
        conn.execute("DELETE FROM recovery_codes WHERE user_id = ?1", [user_id])?;
        conn.execute("DELETE FROM mfa_challenges WHERE user_id = ?1", [user_id])?;
        Ok(())
    })?;
    Ok(())
}

/// Replaces every recovery code of the account. On PostgreSQL it first takes its turn on the
/// account's codes: two replacements at once would otherwise each delete the codes before
/// them and both insert, leaving twenty valid codes, ten of them from a set the student was
/// told had been replaced.
pub fn replace_recovery_codes(
    conn: &impl AsConn,
    user_id: &str,
    hashes: &[Vec<u8>],
    now: i64,
) -> SqlResult<()> {
    conn.with_conn(|conn| -> SqlResult<()> {
        conn.serialize_on(&format!("recovery_codes:{user_id}"))?;
        conn.execute("DELETE FROM recovery_codes WHERE user_id = ?1", [user_id])?;
        for hash in hashes {
            conn.execute(
                "INSERT INTO recovery_codes (user_id, code_hash, created_at)
                 VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![user_id, hash, now],
            )?;
        }
        Ok(())
    })?;
    Ok(())
}

/// Spends a recovery code; false if it is not one of the account's unused codes.
pub fn use_recovery_code(
    conn: &impl AsConn,
    user_id: &str,
    hash: &[u8],
    now: i64,
) -> SqlResult<bool> {
    let changed = conn.with_conn(|conn| {
        conn.execute(
            "UPDATE recovery_codes SET used_at = ?3
             WHERE user_id = ?1 AND code_hash = ?2 AND used_at IS NULL",
            params![user_id, hash, now],
        )
    })?;
    Ok(changed == 1)
}

pub fn unused_recovery_codes(conn: &impl AsConn, user_id: &str) -> SqlResult<i64> {
    conn.with_conn(|conn| {
        conn.query_row(
            "SELECT count(*) FROM recovery_codes WHERE user_id = ?1 AND used_at IS NULL",
            [user_id],
            |r| r.get(0),
        )
    })
}

/// A pending sign-in waiting for its second factor.
#[derive(Debug, Clone)]
pub struct Challenge {
    pub user_id: String,
    pub remember_me: bool,
    /// What the first step proved: a password, or a phone code.
    pub first_factor: Amr,
    pub created_at: i64,
    pub expires_at: i64,
    pub attempts: i64,
}

pub fn create_challenge(
    conn: &impl AsConn,
    token_hash: &[u8],
    user_id: &str,
    remember_me: bool,
    first_factor: Amr,
    now: i64,
) -> SqlResult<()> {
    conn.with_conn(|conn| -> SqlResult<()> {
        conn.execute("DELETE FROM mfa_challenges WHERE expires_at <= ?1", [now])?;
        conn.execute(
            "INSERT INTO mfa_challenges (token_hash, user_id, remember_me, created_at,
                                         expires_at, first_factor)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                token_hash,
                user_id,
                remember_me,
                now,
                now + CHALLENGE_SECONDS,
                first_factor.to_db()
            ],
        )?;
        Ok(())
    })?;
    Ok(())
}

/// A pending sign-in, for the transaction that answers it (and then ends it or counts a wrong
/// code). On PostgreSQL the row stays locked until that transaction ends, so that two answers
/// at once on two nodes take turns and the second finds it ended, as under SQLite's single
/// writer; without the lock both could pass with two different recovery codes.
pub fn find_challenge(conn: &impl AsConn, token_hash: &[u8]) -> SqlResult<Option<Challenge>> {
    conn.with_conn(|conn| {
        let lock = conn.for_update();
        conn.query_row(
            &format!(
                "SELECT user_id, remember_me, created_at, expires_at, attempts, first_factor
                 FROM mfa_challenges WHERE token_hash = ?1{lock}"
            ),
            [token_hash],
            |r| {
                Ok(Challenge {
                    user_id: r.get(0)?,
                    remember_me: r.get(1)?,
                    created_at: r.get(2)?,
                    expires_at: r.get(3)?,
                    attempts: r.get(4)?,
                    first_factor: Amr::from_db(&r.get::<String>(5)?),
                })
            },
        )
        .optional()
    })
}

/// Counts a wrong code; the challenge ends once it has had its attempts.
pub fn fail_challenge(conn: &impl AsConn, token_hash: &[u8]) -> SqlResult<()> {
    conn.with_conn(|conn| -> SqlResult<()> {
        conn.execute(
            "UPDATE mfa_challenges SET attempts = attempts + 1 WHERE token_hash = ?1",
            [token_hash],
        )?;
        conn.execute(
            "DELETE FROM mfa_challenges WHERE token_hash = ?1 AND attempts >= ?2",
            params![token_hash, CHALLENGE_ATTEMPTS],
        )?;
        Ok(())
    })?;
    Ok(())
}

pub fn delete_challenge(conn: &impl AsConn, token_hash: &[u8]) -> SqlResult<()> {
    conn.with_conn(|conn| {
        conn.execute("DELETE FROM mfa_challenges WHERE token_hash = ?1", [token_hash])
    })?;
    Ok(())
}

#[cfg(test)]
#[path = "totp_store_tests.rs"]
mod store_tests;

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"12345678901234567890";

    fn code_at(t: i64) -> String {
        totp(SECRET, "a@b.edu").generate(t as u64).to_string()
    }

    #[test]
    fn rfc_6238_test_vector() {
        // RFC 6238 appendix B, SHA-1, T = 59: 94287082 (8 digits); 6 digits: 287082.
        assert_eq!(code_at(59), "287082");
    }

    #[test]
    fn one_step_either_way_is_accepted_two_are_not() {
        let now = 1_000_020; // inside step 33334
        let step = now / 30;
        assert_eq!(check_code(SECRET, &code_at(now), now, None), CodeCheck::Accepted(step));
        assert_eq!(
            check_code(SECRET, &code_at(now - 30), now, None),
            CodeCheck::Accepted(step - 1)
        );
        assert_eq!(
            check_code(SECRET, &code_at(now + 30), now, None),
            CodeCheck::Accepted(step + 1)
        );
        assert_eq!(check_code(SECRET, &code_at(now - 60), now, None), CodeCheck::Wrong);
        assert_eq!(check_code(SECRET, &code_at(now + 60), now, None), CodeCheck::Wrong);
    }

    #[test]
    fn a_used_step_and_earlier_ones_are_replays() {
        let now = 1_000_020;
        let step = now / 30;
        assert_eq!(check_code(SECRET, &code_at(now), now, Some(step)), CodeCheck::Replayed);
        assert_eq!(check_code(SECRET, &code_at(now - 30), now, Some(step)), CodeCheck::Replayed);
        assert_eq!(
            check_code(SECRET, &code_at(now + 30), now, Some(step)),
            CodeCheck::Accepted(step + 1)
        );
    }

    #[test]
    fn non_numeric_and_misshapen_codes_are_wrong() {
        let now = 1_000_020;
        let good = code_at(now);
        for bad in ["", "abcdef", "12345", "1234567", "+12345", "12 345", "１２３４５６"] {
            assert_eq!(check_code(SECRET, bad, now, None), CodeCheck::Wrong, "{bad:?}");
        }
        assert_eq!(
            check_code(SECRET, &format!(" {good} "), now, None),
            CodeCheck::Accepted(now / 30)
        );
    }

    #[test]
    fn recovery_codes_are_distinct_and_hash_the_same_however_typed() {
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), 10);
        let unique: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), 10);
        let key = [7u8; 32];
        let code = &codes[0];
        assert_eq!(code.len(), 11);
        assert_eq!(
            recovery_code_hash(&key, code),
            recovery_code_hash(&key, &format!(" {} ", code.to_uppercase().replace('-', " ")))
        );
        assert!(looks_like_recovery_code(code));
        assert!(!looks_like_recovery_code("123456"));
    }
}
