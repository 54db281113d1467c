//! Passwords: the policy (length, character classes, the embedded list of common and breached
//! passwords, not containing the email's local part), the zxcvbn strength score, and argon2id
//! hashing with the pepper on the bounded hashing pool.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock, Mutex};

use argon2::password_hash::PasswordVerifier;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;

use crate::db::BlockingPool;

pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 128;

/// OWASP's argon2id recommendation: 19 MiB, 2 passes, 1 lane.
pub const MEMORY_KIB: u32 = 19_456;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common_passwords.txt").lines().filter(|l| !l.starts_with('#')).collect()
});

/// Why a password was refused, in words for the person choosing it.
pub fn policy_violation(password: &str, email: &str) -> Option<String> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Some(format!("Use at least {MIN_CHARS} characters."));
    }
    if chars > MAX_CHARS {
        return Some(format!("Use at most {MAX_CHARS} characters."));
    }
    if password.chars().any(char::is_control) {
        return Some("Control characters (such as NUL or line breaks) cannot be used.".into());
    }
    if !password.chars().any(char::is_uppercase) {
        return Some("Include an upper-case letter.".into());
    }
    if !password.chars().any(char::is_lowercase) {
        return Some("Include a lower-case letter.".into());
    }
    if !password.chars().any(|c| c.is_ascii_digit()) {
        return Some("Include a digit.".into());
    }
    let lower = password.to_lowercase();
    if COMMON.contains(lower.as_str()) {
        return Some("This password is on a list of common or breached passwords.".into());
    }
    let local = email.split('@').next().unwrap_or("").to_lowercase();
    if local.chars().count() >= 3 && lower.contains(&local) {
        return Some("Do not include your email address in your password.".into());
    }
    None
}

/// Characters zxcvbn looks at: its matching grows fast with length (upstream advises
/// truncating), and a password this long is strong whatever follows.
const STRENGTH_CHARS: usize = 64;

/// zxcvbn's score, 0 (weakest) to 4, with the email as a user input to penalise. CPU-bound:
/// call it through [`PasswordHasherPool::strength`] from async code.
pub fn strength(password: &str, email: &str) -> u8 {
    let password: String = password.chars().take(STRENGTH_CHARS).collect();
    if password.is_empty() {
        return 0;
    }
    let local = email.split('@').next().unwrap_or("");
    zxcvbn::zxcvbn(&password, &[local, email]).score().into()
}

/// Hashes and verifies passwords on a bounded pool, so that a burst of sign-ins queues there
/// instead of stalling the async workers.
#[derive(Clone)]
pub struct PasswordHasherPool {
    pool: BlockingPool,
    pepper: Arc<[u8; 32]>,
    scratch: Arc<Scratch>,
    /// A hash of a random password, verified when an account does not exist, so that an
    /// unknown email costs the same time as a wrong password.
    dummy_hash: Arc<str>,
}

/// The result of checking a password against a stored hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, and the stored hash uses older parameters: store this new hash.
    YesRehashed(String),
}

fn argon2(pepper: &[u8]) -> Argon2<'_> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).expect("valid parameters");
    Argon2::new_with_secret(pepper, Algorithm::Argon2id, Version::V0x13, params)
        .expect("a 32-byte secret is accepted")
}

/// Argon2's working memory (19 MiB a hash), kept between hashes. Allocating and freeing it
/// for every hash made glibc keep the freed blocks (its mmap threshold adapts upwards to the
/// block size): the process grew by gigabytes under a sign-in load. At most one buffer per
/// hashing thread exists, because the pool runs at most that many hashes at once: after the
/// first sign-ins the process holds 19 MiB per hashing thread, and no more.
#[derive(Default)]
struct Scratch(Mutex<Vec<Vec<Block>>>);

impl Scratch {
    fn with<R>(&self, work: impl FnOnce(&mut [Block]) -> R) -> R {
        let spare = self.0.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut blocks =
            spare.unwrap_or_else(|| vec![Block::default(); current_params().block_count()]);
        let result = work(&mut blocks);
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(blocks);
        result
    }
}

fn current_params() -> Params {
    Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).expect("valid parameters")
}

fn hash_sync(pepper: &[u8], password: &str, memory: &mut [Block]) -> String {
    let salt: [u8; 16] = rand::random();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2(pepper)
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, memory)
        .expect("argon2 accepts any password up to 128 characters");
    phc_string(&salt, &out)
}

/// The PHC string of an argon2id output under the current parameters.
fn phc_string(salt: &[u8; 16], output: &[u8; Params::DEFAULT_OUTPUT_LEN]) -> String {
    PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&current_params()).expect("valid parameters"),
        salt: Some(Salt::new(salt).expect("16 bytes is a valid salt")),
        hash: Some(Output::new(output).expect("32 bytes is a valid output")),
    }
    .to_string()
}

fn verify_sync(pepper: &[u8], password: &str, stored: &str, memory: &mut [Block]) -> Verified {
    let Ok(parsed) = PasswordHash::new(stored) else { return Verified::No };
    let current = current_params();
    let outdated = parsed.algorithm.as_str() != "argon2id"
        || parsed.version != Some(Version::V0x13.into())
        || Params::try_from(&parsed).map_or(true, |p| {
            (p.m_cost(), p.t_cost(), p.p_cost())
                != (current.m_cost(), current.t_cost(), current.p_cost())
        });
    if outdated {
        // Older parameters: argon2's own verification (it allocates what they need), then
        // a new hash with the current ones.
        if argon2(pepper).verify_password(password.as_bytes(), &parsed).is_err() {
            return Verified::No;
        }
        return Verified::YesRehashed(hash_sync(pepper, password, memory));
    }
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else { return Verified::No };
    let expected = expected.as_bytes();
    let mut out = [0u8; Output::MAX_LENGTH];
    let Some(out) = out.get_mut(..expected.len()) else { return Verified::No };
    let params = argon2::ParamsBuilder::new()
        .m_cost(MEMORY_KIB)
        .t_cost(ITERATIONS)
        .p_cost(PARALLELISM)
        .output_len(expected.len())
        .build();
    let Ok(params) = params else { return Verified::No };
    let Ok(hasher) = Argon2::new_with_secret(pepper, Algorithm::Argon2id, Version::V0x13, params)
    else {
        return Verified::No;
    };
    if hasher
        .hash_password_into_with_memory(password.as_bytes(), salt.as_ref(), out, memory)
        .is_err()
    {
        return Verified::No;
    }
    if bool::from(out.ct_eq(expected)) { Verified::Yes } else { Verified::No }
}

/// A hash of no password, for unknown accounts: a random salt and a random output under the
/// current parameters. Verifying a password against it runs one full argon2id computation,
/// as against a real hash, and never matches (the chance is 2^-256). Nothing is computed for
/// it, so start-up neither spends a hash's time nor touches 19 MiB of memory.
fn dummy_hash() -> Arc<str> {
    phc_string(&rand::random(), &rand::random()).into()
}

impl PasswordHasherPool {
    pub fn new(pool: BlockingPool, pepper: [u8; 32]) -> Self {
        Self { pool, pepper: Arc::new(pepper), scratch: Arc::default(), dummy_hash: dummy_hash() }
    }

    /// [`strength`] on the bounded pool, off the async workers.
    pub async fn strength(
        &self,
        password: &str,
        email: &str,
    ) -> Result<u8, crate::db::BlockingError> {
        let (password, email) = (password.to_string(), email.to_string());
        self.pool.run(move || strength(&password, &email)).await
    }

    pub async fn hash(&self, password: &str) -> Result<String, crate::db::BlockingError> {
        let (pepper, password, scratch) =
            (self.pepper.clone(), password.to_string(), self.scratch.clone());
        self.pool
            .run(move || scratch.with(|memory| hash_sync(pepper.as_ref(), &password, memory)))
            .await
    }

    /// Verifies against `stored`, or against the dummy hash when there is no account.
    pub async fn verify(
        &self,
        password: &str,
        stored: Option<&str>,
    ) -> Result<Verified, crate::db::BlockingError> {
        let exists = stored.is_some();
        let stored = stored.map(Arc::<str>::from).unwrap_or_else(|| self.dummy_hash.clone());
        let (pepper, password, scratch) =
            (self.pepper.clone(), password.to_string(), self.scratch.clone());
        let result = self
            .pool
            .run(move || {
                scratch.with(|memory| verify_sync(pepper.as_ref(), &password, &stored, memory))
            })
            .await?;
        Ok(if exists { result } else { Verified::No })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordHasher;

    #[test]
    fn policy_explains_each_refusal() {
        let email = "ada.lovelace@campus.edu";
        assert!(policy_violation("", email).unwrap().contains("at least 8"));
        assert!(policy_violation("Abc1234", email).unwrap().contains("at least 8"));
        assert_eq!(policy_violation("Qmzvtr8k", email), None);
        assert_eq!(policy_violation(&format!("Ab1{}", "x".repeat(125)), email), None);
        assert!(
            policy_violation(&format!("Ab1{}", "x".repeat(126)), email)
                .unwrap()
                .contains("at most 128")
        );
        assert!(policy_violation(&"Ab1x".repeat(2500), email).unwrap().contains("at most"));
        assert!(policy_violation("abcdefg1", email).unwrap().contains("upper-case"));
        assert!(policy_violation("ABCDEFG1", email).unwrap().contains("lower-case"));
        assert!(policy_violation("Abcdefgh", email).unwrap().contains("digit"));
        assert!(policy_violation("Password1", email).unwrap().contains("common"));
        assert!(policy_violation("Ada.Lovelace99", email).unwrap().contains("email"));
        assert!(policy_violation("Abc\u{0}defg1", email).unwrap().contains("Control"));
        // Any Unicode, counted in characters, never truncated.
        assert_eq!(policy_violation("Ünïcödé1🔒🔒", email), None);
        assert!(policy_violation("Ü1🔒🔒🔒🔒🔒", email).is_some());
    }

    #[test]
    fn the_embedded_list_is_loaded() {
        assert!(COMMON.len() > 10_000);
        assert!(COMMON.contains("password1"));
    }

    #[test]
    fn strength_grows_with_entropy() {
        assert!(strength("Password1", "x@y.edu") <= 1);
        assert_eq!(strength("correct-Horse-battery-staple-42", "x@y.edu"), 4);
    }

    #[tokio::test]
    async fn hashes_verify_and_old_parameters_are_upgraded() {
        let pool = PasswordHasherPool::new(BlockingPool::new("test", 2), [7; 32]);
        let hash = pool.hash("Tr0ub4dor&3x").await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_eq!(pool.verify("Tr0ub4dor&3x", Some(&hash)).await.unwrap(), Verified::Yes);
        assert_eq!(pool.verify("wrong", Some(&hash)).await.unwrap(), Verified::No);
        assert_eq!(pool.verify("Tr0ub4dor&3x", None).await.unwrap(), Verified::No);

        let other_pepper = PasswordHasherPool::new(BlockingPool::new("test", 1), [8; 32]);
        assert_eq!(other_pepper.verify("Tr0ub4dor&3x", Some(&hash)).await.unwrap(), Verified::No);

        let old_params = Params::new(8192, 1, 1, None).unwrap();
        let old =
            Argon2::new_with_secret(&[7; 32], Algorithm::Argon2id, Version::V0x13, old_params)
                .unwrap()
                .hash_password_with_salt(b"Tr0ub4dor&3x", b"saltsaltsaltsalt")
                .unwrap()
                .to_string();
        match pool.verify("Tr0ub4dor&3x", Some(&old)).await.unwrap() {
            Verified::YesRehashed(new) => assert!(new.contains("m=19456,t=2,p=1")),
            other => panic!("expected a rehash, got {other:?}"),
        }
    }

    /// The dummy hash takes the path of a real one (current parameters, no rehash), so an
    /// unknown account costs one full verification, and it matches nothing.
    #[test]
    fn the_dummy_hash_costs_a_real_verification_and_matches_nothing() {
        let dummy = dummy_hash();
        assert!(dummy.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{dummy}");
        let params = Params::try_from(&PasswordHash::new(&dummy).unwrap()).unwrap();
        assert_eq!((params.m_cost(), params.t_cost(), params.p_cost()), (19456, 2, 1));
        assert_ne!(dummy, dummy_hash(), "a new salt and output each time");
        let mut memory = vec![Block::default(); current_params().block_count()];
        assert_eq!(verify_sync(&[7; 32], "", &dummy, &mut memory), Verified::No);
        assert_eq!(verify_sync(&[7; 32], "Tr0ub4dor&3x", &dummy, &mut memory), Verified::No);
    }

    /// Hashes stored before the working memory was reused (argon2's own hasher) verify, and
    /// argon2's own verifier accepts the hashes made now: the format is the same.
    #[test]
    fn reused_memory_hashes_match_argon2s_own() {
        let pepper = [7; 32];
        let mut memory = vec![Block::default(); current_params().block_count()];
        let theirs = argon2(&pepper)
            .hash_password_with_salt(b"Tr0ub4dor&3x", b"saltsaltsaltsalt")
            .unwrap()
            .to_string();
        assert_eq!(verify_sync(&pepper, "Tr0ub4dor&3x", &theirs, &mut memory), Verified::Yes);
        assert_eq!(verify_sync(&pepper, "Tr0ub4dor&3y", &theirs, &mut memory), Verified::No);
        let ours = hash_sync(&pepper, "Tr0ub4dor&3x", &mut memory);
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(argon2(&pepper).verify_password(b"Tr0ub4dor&3x", &parsed).is_ok());
        assert!(argon2(&pepper).verify_password(b"Tr0ub4dor&3y", &parsed).is_err());
        assert_eq!(
            verify_sync(&pepper, "Tr0ub4dor&3x", "$argon2id$junk", &mut memory),
            Verified::No
        );
    }
}
