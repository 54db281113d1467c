//! ID tokens: who signed in, for which app, when and how. RS256 unless the client asked for
//! EdDSA.

use jsonwebtoken::Algorithm;
use serde::{Deserialize, Serialize};
use sha2::Digest;

/// How long an ID token is valid (it is read once, at sign-in).
pub const ID_TOKEN_SECONDS: i64 = 10 * 60;

#[derive(Debug, Serialize, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub sid: String,
    pub amr: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// The claims of the granted scopes (email, name, ...).
    #[serde(flatten)]
    pub claims: serde_json::Map<String, serde_json::Value>,
}

/// The signing algorithm of a client's ID tokens.
pub fn algorithm(id_token_alg: &str) -> Algorithm {
    if id_token_alg == "EdDSA" { Algorithm::EdDSA } else { Algorithm::RS256 }
}

/// `at_hash` (OpenID Connect Core 3.1.3.6): the left half of the access token's hash, with
/// the hash of the signing algorithm (SHA-256 for RS256, SHA-512 for Ed25519).
pub fn at_hash(alg: Algorithm, access_token: &str) -> String {
    let digest: Vec<u8> = match alg {
        Algorithm::EdDSA => sha2::Sha512::digest(access_token.as_bytes()).to_vec(),
        _ => sha2::Sha256::digest(access_token.as_bytes()).to_vec(),
    };
    crate::crypto::base64url(&digest[..digest.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_the_worked_example_of_the_spec() {
        // OpenID Connect Core, appendix A.3: at_hash of this token is 77QmUPtjPfzWtF2AnpK9RQ.
        let token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        assert_eq!(at_hash(Algorithm::RS256, token), "77QmUPtjPfzWtF2AnpK9RQ");
        assert_eq!(at_hash(Algorithm::EdDSA, token).len(), 43);
    }
}
