//! The built-in proof-of-work captcha: no third-party service, so it works on
//! a campus that is offline.
//!
//! A challenge is `<id>.<expires_at>.<difficulty>.<mac>`: a random id, when it stops being
//! accepted (Unix seconds, [`CHALLENGE_SECONDS`] after issue), the number of leading zero bits
//! asked for, and an HMAC-SHA256 over the three under a key derived from the session secret
//! (every node holds the same key files, so a challenge from one node is good on another). A solution is a
//! `nonce` (1 to 32 ASCII letters or digits; the web UI counts up in decimal) such that
//! `SHA-256("<challenge>:<nonce>")` starts with `difficulty` zero bits (hashcash style). It
//! takes the client about 2^difficulty hashes and the server one.
//!
//! Each challenge is accepted once: its id goes into the database's `captcha_spends` until it
//! would have expired anyway ([`spends`]), which every node shares and a restart keeps.

pub mod api;
mod guard;
mod solution;
pub mod spends;

pub use guard::guard_sensitive;
pub use solution::CaptchaSolution;

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::clock::Clock;
use crate::config::CaptchaConfig;
use crate::crypto;
use crate::db::{Db, DbError};

/// How long a challenge is accepted after it is issued.
pub const CHALLENGE_SECONDS: i64 = 300;
const MAX_NONCE_LEN: usize = 32;

/// What is wrong with a captcha solution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CaptchaError {
    /// Malformed, forged (the signature does not match), too easy, or the work is not done.
    #[error("the captcha solution is not valid")]
    Invalid,
    #[error("the captcha challenge has expired")]
    Expired,
    #[error("the captcha challenge was already used")]
    Used,
    /// The spend could not be recorded (the database is unreachable).
    #[error("the captcha solution cannot be checked now")]
    Unavailable,
}

/// A fresh challenge for a client to solve.
pub struct Challenge {
    pub challenge: String,
    pub difficulty: u8,
    pub expires_at: i64,
}

pub struct Captcha {
    enabled: bool,
    difficulty: u8,
    key: Vec<u8>,
    clock: Arc<dyn Clock>,
    db: Db,
}

/// A solution whose signature, expiry and work are good, not yet spent.
struct Checked<'c> {
    id: &'c str,
    expires_at: i64,
}

impl Captcha {
    /// `session_secret` is the key file every node shares; the captcha's key is derived from
    /// it, so no node's challenge is another's forgery.
    pub fn new(
        config: &CaptchaConfig,
        clock: Arc<dyn Clock>,
        session_secret: &[u8; 32],
        db: Db,
    ) -> Self {
        Self {
            enabled: config.enabled,
            difficulty: config.difficulty,
            key: crypto::keyed_hash(session_secret, &[b"gatehouse captcha key"]),
            clock,
            db,
        }
    }

    /// Whether registration and throttled sign-ins ask for a solution.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    fn mac(&self, id: &str, expires_at: i64, difficulty: u8) -> String {
        crypto::base64url(&crypto::keyed_hash(
            &self.key,
            &[b"captcha", id.as_bytes(), &expires_at.to_be_bytes(), &[difficulty]],
        ))
    }

    pub fn challenge(&self) -> Challenge {
        let id = crypto::base64url(&rand::random::<[u8; 16]>());
        let expires_at = self.clock.unix() + CHALLENGE_SECONDS;
        let mac = self.mac(&id, expires_at, self.difficulty);
        Challenge {
            challenge: format!("{id}.{expires_at}.{}.{mac}", self.difficulty),
            difficulty: self.difficulty,
            expires_at,
        }
    }

    /// Checks a solution and spends its challenge.
    pub async fn verify(&self, challenge: &str, nonce: &str) -> Result<(), CaptchaError> {
        let Checked { id, expires_at } = self.check(challenge, nonce)?;
        let (id, now) = (id.to_string(), self.clock.unix());
        let first = self
            .db
            .run_conn(move |conn| spends::spend(conn, &id, expires_at, now).map_err(DbError::from))
            .await
            .map_err(|error| {
                tracing::error!(%error, "cannot record a captcha spend");
                CaptchaError::Unavailable
            })?;
        if first { Ok(()) } else { Err(CaptchaError::Used) }
    }

    /// Checks a solution without spending it.
    fn check<'c>(&self, challenge: &'c str, nonce: &str) -> Result<Checked<'c>, CaptchaError> {
        if challenge.len() > 200
            || nonce.is_empty()
            || nonce.len() > MAX_NONCE_LEN
            || !nonce.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(CaptchaError::Invalid);
        }
        let mut parts = challenge.split('.');
        let (Some(id), Some(expires), Some(difficulty), Some(mac), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(CaptchaError::Invalid);
        };
        let (Ok(expires_at), Ok(difficulty)) = (expires.parse::<i64>(), difficulty.parse::<u8>())
        else {
            return Err(CaptchaError::Invalid);
        };
        let expected = self.mac(id, expires_at, difficulty);
        if !crypto::constant_time_eq(expected.as_bytes(), mac.as_bytes()) {
            return Err(CaptchaError::Invalid);
        }
        // Signed by us, but perhaps before the difficulty was raised.
        if difficulty < self.difficulty {
            return Err(CaptchaError::Invalid);
        }
        if self.clock.unix() >= expires_at {
            return Err(CaptchaError::Expired);
        }
        if leading_zero_bits(&Sha256::digest(format!("{challenge}:{nonce}")))
            < u32::from(difficulty)
        {
            return Err(CaptchaError::Invalid);
        }
        Ok(Checked { id, expires_at })
    }
}

pub fn leading_zero_bits(hash: &[u8]) -> u32 {
    let mut bits = 0;
    for byte in hash {
        if *byte == 0 {
            bits += 8;
        } else {
            return bits + byte.leading_zeros();
        }
    }
    bits
}

/// Solves a challenge the way the web UI's worker does (for tests and benchmarks).
pub fn solve(challenge: &str, difficulty: u8) -> String {
    (0u64..)
        .map(|n| n.to_string())
        .find(|nonce| {
            leading_zero_bits(&Sha256::digest(format!("{challenge}:{nonce}")))
                >= u32::from(difficulty)
        })
        .expect("some nonce works")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    /// A captcha on a fresh SQLite database (its spends run on both engines in
    /// [`spends`]' tests), and its clock.
    fn captcha_with(difficulty: u8, secret: [u8; 32], clock: &ManualClock) -> Captcha {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::open(&dir.keep().join("captcha.db")).unwrap();
        crate::db::migrate(&mut db.get().unwrap()).unwrap();
        let config = CaptchaConfig { enabled: true, difficulty };
        Captcha::new(&config, Arc::new(clock.clone()), &secret, db)
    }

    fn captcha(difficulty: u8) -> (Captcha, ManualClock) {
        let clock = ManualClock::new(chrono::Utc::now());
        (captcha_with(difficulty, rand::random(), &clock), clock)
    }

    #[test]
    fn leading_zero_bits_counts_bits_across_bytes() {
        assert_eq!(leading_zero_bits(&[0x80]), 0);
        assert_eq!(leading_zero_bits(&[0x00, 0x10]), 11);
        assert_eq!(leading_zero_bits(&[0x00, 0x00]), 16);
    }

    #[tokio::test]
    async fn a_solution_is_accepted_once_on_every_node() {
        let clock = ManualClock::new(chrono::Utc::now());
        let secret = rand::random();
        let node_a = captcha_with(8, secret, &clock);
        let mut node_b = captcha_with(8, secret, &clock);
        node_b.db = node_a.db.clone();
        let c = node_a.challenge();
        let nonce = solve(&c.challenge, c.difficulty);
        assert_eq!(node_b.verify(&c.challenge, &nonce).await, Ok(()), "another node's challenge");
        assert_eq!(node_a.verify(&c.challenge, &nonce).await, Err(CaptchaError::Used));
        assert_eq!(node_b.verify(&c.challenge, &nonce).await, Err(CaptchaError::Used));
    }

    #[tokio::test]
    async fn forged_expired_unsolved_and_malformed_solutions_are_refused() {
        let (captcha, clock) = captcha(8);
        let c = captcha.challenge();
        let nonce = solve(&c.challenge, c.difficulty);
        // Forged: a lower difficulty with the old signature, another id, another key.
        let easier = c.challenge.replacen(".8.", ".0.", 1);
        assert_eq!(captcha.verify(&easier, "0").await, Err(CaptchaError::Invalid));
        let (other, _) = self::captcha(8);
        let theirs = other.challenge();
        let their_nonce = solve(&theirs.challenge, 8);
        assert_eq!(
            captcha.verify(&theirs.challenge, &their_nonce).await,
            Err(CaptchaError::Invalid)
        );
        // Not solved: find a nonce whose hash has too few zero bits.
        let lazy = (0..)
            .map(|n: u32| n.to_string())
            .find(|n| leading_zero_bits(&Sha256::digest(format!("{}:{n}", c.challenge))) < 8)
            .unwrap();
        assert_eq!(captcha.verify(&c.challenge, &lazy).await, Err(CaptchaError::Invalid));
        for (challenge, nonce) in [
            ("", "1"),
            ("a.b.c", "1"),
            ("a.b.c.d.e", "1"),
            (c.challenge.as_str(), ""),
            (c.challenge.as_str(), "1 2"),
            (c.challenge.as_str(), "ü"),
            (c.challenge.as_str(), &"1".repeat(33)),
        ] {
            assert_eq!(
                captcha.verify(challenge, nonce).await,
                Err(CaptchaError::Invalid),
                "{challenge:?} {nonce:?}"
            );
        }
        clock.advance(chrono::Duration::seconds(CHALLENGE_SECONDS));
        assert_eq!(captcha.verify(&c.challenge, &nonce).await, Err(CaptchaError::Expired));
    }

    #[tokio::test]
    async fn raising_the_difficulty_voids_easier_challenges() {
        let clock = ManualClock::new(chrono::Utc::now());
        let secret = rand::random();
        let easy = captcha_with(4, secret, &clock);
        let hard = captcha_with(8, secret, &clock);
        let c = easy.challenge();
        let nonce = solve(&c.challenge, 4);
        assert_eq!(hard.verify(&c.challenge, &nonce).await, Err(CaptchaError::Invalid));
        assert_eq!(easy.verify(&c.challenge, &nonce).await, Ok(()));
    }
}
