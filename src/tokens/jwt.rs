//! JWT access tokens: EdDSA (Ed25519) signatures with the key derived from the configured
//! seed, `kid` in the header, issuer `server.public_url`, a configurable audience, 15 minutes.
//! The public keys are published as a JWK set at `/.well-known/jwks.json`.
//!
//! A key set is one signing key and every public key that verifies: the signing key's own and
//! those of retired keys until the tokens they signed have expired (see `super::key_files`).
//! Each public key carries its own algorithm and JWK, so the OpenID Connect provider's RS256
//! key (`super::rsa_key`), which signs ID tokens, sits beside the Ed25519 ones.

use ed25519_dalek::SigningKey;
use serde::Serialize as SerializeClaims;

use super::rsa_key::RsaKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::crypto::base64url;

pub const ACCESS_TOKEN_SECONDS: i64 = 15 * 60;

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    /// A unique id for this token.
    pub jti: String,
    /// The token family (one API sign-in).
    pub fam: String,
    pub role: String,
    /// How the grant was proved (RFC 8176 values; RFC 9068 section 2.2.1). Absent in tokens
    /// from before it was recorded, which prove no second factor.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
}

/// A public key that verifies tokens, and its JWK form.
struct VerifyingKey {
    kid: String,
    alg: Algorithm,
    decoding: DecodingKey,
    jwk: serde_json::Value,
    /// A retired key verifies (and is published) only before this time; `None`: always.
    until: Option<i64>,
}

impl VerifyingKey {
    fn ed25519(seed: &[u8; 32], until: Option<i64>) -> Self {
        let public = SigningKey::from_bytes(seed).verifying_key().to_bytes();
        let kid = ed25519_kid(&public);
        let jwk = serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": base64url(&public),
            "kid": kid,
            "alg": "EdDSA",
            "use": "sig",
        });
        Self { kid, alg: Algorithm::EdDSA, decoding: DecodingKey::from_ed_der(&public), jwk, until }
    }

    fn rsa(key: &RsaKey, until: Option<i64>) -> Self {
        Self {
            kid: key.kid.clone(),
            alg: Algorithm::RS256,
            decoding: key.decoding.clone(),
            jwk: key.jwk.clone(),
            until,
        }
    }

    fn in_use(&self, now: i64) -> bool {
        self.until.is_none_or(|until| now < until)
    }
}

fn ed25519_kid(public: &[u8; 32]) -> String {
    hex::encode(&Sha256::digest(public)[..8])
}

/// The `kid` of the Ed25519 key with this seed (the first 8 bytes of the SHA-256 of its
/// public key, in hex).
pub fn kid_of(seed: &[u8; 32]) -> String {
    ed25519_kid(&SigningKey::from_bytes(seed).verifying_key().to_bytes())
}

/// A former signing key: it verifies the tokens it signed until `until` (unix seconds; `None`
/// when its retirement time is unknown: until someone deletes it).
pub struct RetiredKey {
    pub seed: [u8; 32],
    pub until: Option<i64>,
}

/// The current signing key and the retired ones that still verify (a rotation keeps a former
/// key here until the last token it signed has expired, 15 minutes later).
pub struct JwtKeys {
    kid: String,
    encoding: EncodingKey,
    /// The RSA key that signs ID tokens (RS256), when the provider's key is loaded.
    rsa: Option<(String, EncodingKey)>,
    verifying: Vec<VerifyingKey>,
    issuer: String,
    audience: String,
}

/// PKCS#8 v1 wrapping of an Ed25519 seed (RFC 8410): a fixed prefix and the 32 bytes.
fn pkcs8_der(seed: &[u8; 32]) -> Vec<u8> {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(seed);
    der
}

#[derive(Debug, thiserror::Error)]
#[error("access token refused: {0}")]
pub struct JwtError(String);

impl JwtKeys {
    pub fn new(seed: &[u8; 32], issuer: &str, audience: &str) -> Self {
        Self::with_retired(seed, &[], issuer, audience)
    }

    /// The key set signing with `seed`, whose tokens and those of the `retired` keys verify.
    /// A retired key equal to the signing key (a rotation stopped half way) is left out.
    pub fn with_retired(
        seed: &[u8; 32],
        retired: &[RetiredKey],
        issuer: &str,
        audience: &str,
    ) -> Self {
        let current = VerifyingKey::ed25519(seed, None);
        let mut verifying = vec![current];
        for key in retired {
            let key = VerifyingKey::ed25519(&key.seed, key.until);
            if verifying.iter().all(|k| k.kid != key.kid) {
                verifying.push(key);
            }
        }
        Self {
            kid: verifying[0].kid.clone(),
            encoding: EncodingKey::from_ed_der(&pkcs8_der(seed)),
            rsa: None,
            verifying,
            issuer: issuer.into(),
            audience: audience.into(),
        }
    }

    /// Adds the RSA key that signs with RS256, and the retired RSA keys that still verify
    /// (each until its time), after the Ed25519 signing key in the JWK set.
    pub fn with_rsa(mut self, current: RsaKey, retired: Vec<(RsaKey, Option<i64>)>) -> Self {
        let at = 1.min(self.verifying.len());
        let mut keys = vec![VerifyingKey::rsa(&current, None)];
        for (key, until) in &retired {
            if keys.iter().all(|k| k.kid != key.kid) {
                keys.push(VerifyingKey::rsa(key, *until));
            }
        }
        self.verifying.splice(at..at, keys);
        self.rsa = Some((current.kid.clone(), current.encoding));
        self
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The `kid` of the RSA signing key, when there is one.
    pub fn rsa_kid(&self) -> Option<&str> {
        self.rsa.as_ref().map(|(kid, _)| kid.as_str())
    }

    /// Signs any claims (an ID token, a logout token) with the current key of `alg`: RS256
    /// (the RSA key) or EdDSA (the Ed25519 key).
    pub fn sign_as<T: SerializeClaims>(
        &self,
        alg: Algorithm,
        typ: &str,
        claims: &T,
    ) -> Result<String, JwtError> {
        let (kid, key) = match alg {
            Algorithm::EdDSA => (self.kid.as_str(), &self.encoding),
            Algorithm::RS256 => {
                let (kid, key) =
                    self.rsa.as_ref().ok_or_else(|| JwtError("no RSA signing key".into()))?;
                (kid.as_str(), key)
            }
            other => return Err(JwtError(format!("{other:?} is not a signing algorithm here"))),
        };
        let mut header = Header::new(alg);
        header.kid = Some(kid.to_string());
        header.typ = Some(typ.to_string());
        jsonwebtoken::encode(&header, claims, key).map_err(|e| JwtError(e.to_string()))
    }

    /// Verifies a token of ours of type `typ` (`at+jwt`: an OpenID Connect access token) for
    /// `audience`: EdDSA only, the header's `typ` exactly, issuer, expiry against `now`.
    pub fn verify_typed<T: DeserializeOwned>(
        &self,
        token: &str,
        typ: &str,
        audience: &str,
        now: i64,
    ) -> Result<T, JwtError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| JwtError(e.to_string()))?;
        if header.typ.as_deref() != Some(typ) {
            return Err(JwtError("wrong token type".into()));
        }
        let key = self.key_for(&header, now, &[Algorithm::EdDSA])?;
        let mut validation = Validation::new(key.alg);
        validation.leeway = 0;
        validation.set_audience(&[audience]);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<serde_json::Value>(token, &key.decoding, &validation)
            .map_err(|e| JwtError(e.to_string()))?;
        let exp = data.claims.get("exp").and_then(|e| e.as_i64()).unwrap_or(0);
        if now >= exp {
            return Err(JwtError("expired".into()));
        }
        serde_json::from_value(data.claims).map_err(|e| JwtError(e.to_string()))
    }

    /// Reads an ID token we signed (an `id_token_hint`): signature by one of our keys and
    /// issuer. Its expiry and audience are the caller's to judge (a hint may have expired).
    pub fn verify_id_token_hint<T: DeserializeOwned>(
        &self,
        token: &str,
        now: i64,
    ) -> Result<T, JwtError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| JwtError(e.to_string()))?;
        let key = self.key_for(&header, now, &[Algorithm::RS256, Algorithm::EdDSA])?;
        let mut validation = Validation::new(key.alg);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["iss", "sub", "aud"]);
        jsonwebtoken::decode::<T>(token, &key.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| JwtError(e.to_string()))
    }

    /// The verifying key a header names, if it is in use and of one of `algs`.
    fn key_for(
        &self,
        header: &Header,
        now: i64,
        algs: &[Algorithm],
    ) -> Result<&VerifyingKey, JwtError> {
        self.verifying
            .iter()
            .find(|k| header.kid.as_deref() == Some(k.kid.as_str()) && k.in_use(now))
            .filter(|k| header.alg == k.alg && algs.contains(&k.alg))
            .ok_or_else(|| JwtError("unknown algorithm or key".into()))
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, JwtError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|e| JwtError(e.to_string()))
    }

    /// Verifies an access token: signature, algorithm (EdDSA, the key's own: `none`, HMAC and
    /// RS256 are refused), `kid`,
    /// issuer, audience, and expiry against `now` (the app's clock, no leeway). A retired key
    /// past its time verifies nothing.
    pub fn verify(&self, token: &str, now: i64) -> Result<Claims, JwtError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| JwtError(e.to_string()))?;
        // An app's access token (`at+jwt`), an ID token or a logout token is never a
        // first-party credential, whatever its audience says.
        if header.typ.as_deref().is_some_and(|typ| typ != "JWT") {
            return Err(JwtError("wrong token type".into()));
        }
        // Access tokens are EdDSA only: an RS256 token is an ID token, never a credential.
        let key = self.key_for(&header, now, &[Algorithm::EdDSA])?;
        let mut validation = Validation::new(key.alg);
        validation.leeway = 0;
        validation.set_audience(&[&self.audience]);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Expiry is checked here, against the injected clock, rather than the system's.
        validation.validate_exp = false;
        let claims = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| JwtError(e.to_string()))?;
        if now >= claims.exp {
            return Err(JwtError("expired".into()));
        }
        Ok(claims)
    }

    /// The JWK set published at `/.well-known/jwks.json` at `now`: the current key first, then
    /// the retired keys whose tokens may still be alive.
    pub fn jwks(&self, now: i64) -> serde_json::Value {
        let keys: Vec<&serde_json::Value> =
            self.verifying.iter().filter(|k| k.in_use(now)).map(|k| &k.jwk).collect();
        serde_json::json!({ "keys": keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            iss: "https://id.north.edu".into(),
            aud: "gatehouse".into(),
            sub: "user-1".into(),
            iat: 0,
            exp,
            jti: "j".into(),
            fam: "f".into(),
            role: "user".into(),
            amr: vec!["pwd".into()],
        }
    }

    fn future() -> i64 {
        chrono::Utc::now().timestamp() + 600
    }

    #[test]
    fn signs_and_verifies_with_kid() {
        let keys = JwtKeys::new(&[3; 32], "https://id.north.edu", "gatehouse");
        let token = keys.sign(&claims(future())).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(keys.kid()));
        assert_eq!(keys.verify(&token, 0).unwrap().sub, "user-1");
        assert_eq!(keys.jwks(0)["keys"][0]["kid"], keys.kid());
        assert_eq!(kid_of(&[3; 32]), keys.kid());
    }

    #[test]
    fn a_retired_key_still_verifies_and_is_published() {
        let old = JwtKeys::new(&[5; 32], "https://id.north.edu", "gatehouse");
        let token = old.sign(&claims(future())).unwrap();
        let retired = [RetiredKey { seed: [5; 32], until: Some(1_000) }];
        let rotated =
            JwtKeys::with_retired(&[6; 32], &retired, "https://id.north.edu", "gatehouse");
        assert_ne!(rotated.kid(), old.kid());
        assert!(rotated.verify(&token, 0).is_ok());
        let kids = |now| -> Vec<_> {
            let jwks = rotated.jwks(now);
            jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].clone()).collect()
        };
        assert_eq!(kids(999), vec![serde_json::json!(rotated.kid()), serde_json::json!(old.kid())]);
        // Past its time the retired key verifies nothing and is no longer published.
        assert!(rotated.verify(&token, 1_000).is_err());
        assert_eq!(kids(1_000), vec![serde_json::json!(rotated.kid())]);
        let fresh = rotated.sign(&claims(future())).unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&fresh).unwrap().kid.as_deref(),
            Some(rotated.kid())
        );
        assert!(old.verify(&fresh, 0).is_err(), "the old key set does not know the new key");
    }

    #[test]
    fn a_retired_key_without_a_time_verifies_and_one_equal_to_the_signing_key_is_left_out() {
        let old = JwtKeys::new(&[5; 32], "https://id.north.edu", "gatehouse");
        let token = old.sign(&claims(future())).unwrap();
        let retired =
            [RetiredKey { seed: [5; 32], until: None }, RetiredKey { seed: [6; 32], until: None }];
        let keys = JwtKeys::with_retired(&[6; 32], &retired, "https://id.north.edu", "gatehouse");
        assert!(keys.verify(&token, 0).is_ok());
        assert_eq!(keys.jwks(0)["keys"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn the_rsa_key_signs_rs256_and_is_published_after_the_ed25519_key() {
        let rsa = RsaKey::generate().unwrap();
        let rsa_kid = rsa.kid.clone();
        let keys =
            JwtKeys::new(&[3; 32], "https://id.north.edu", "gatehouse").with_rsa(rsa, vec![]);
        assert_eq!(keys.rsa_kid(), Some(rsa_kid.as_str()));
        let token = keys.sign_as(Algorithm::RS256, "JWT", &claims(future())).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!((header.alg, header.kid.as_deref()), (Algorithm::RS256, Some(rsa_kid.as_str())));
        let jwks = keys.jwks(0);
        let published: Vec<&str> =
            jwks["keys"].as_array().unwrap().iter().map(|k| k["alg"].as_str().unwrap()).collect();
        assert_eq!(published, vec!["EdDSA", "RS256"]);
        // The RS256 signature checks against the published key (as a relying party would).
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwks["keys"][1].clone()).unwrap();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&["gatehouse"]);
        let decoded = jsonwebtoken::decode::<Claims>(
            &token,
            &DecodingKey::from_jwk(&jwk).unwrap(),
            &validation,
        );
        assert_eq!(decoded.unwrap().claims.sub, "user-1");
        // An access token is still EdDSA, and an RS256 token is not an access token.
        assert!(keys.verify(&keys.sign(&claims(future())).unwrap(), 0).is_ok());
        assert!(keys.verify(&token, 0).is_err());
    }

    #[test]
    fn refuses_expired_wrong_key_wrong_audience_tampered_and_alg_none() {
        let keys = JwtKeys::new(&[3; 32], "https://id.north.edu", "gatehouse");
        let now = chrono::Utc::now().timestamp();
        let at_100 = keys.sign(&claims(100)).unwrap();
        assert!(keys.verify(&at_100, 99).is_ok());
        assert!(keys.verify(&at_100, 100).is_err());
        let expired = keys.sign(&claims(chrono::Utc::now().timestamp() - 1)).unwrap();
        assert!(keys.verify(&expired, now).is_err());

        let other = JwtKeys::new(&[4; 32], "https://id.north.edu", "gatehouse");
        let mut forged = other.sign(&claims(future())).unwrap();
        assert!(keys.verify(&forged, now).is_err());
        // Same kid as ours but signed with another key.
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(keys.kid().into());
        forged = jsonwebtoken::encode(&header, &claims(future()), &other.encoding).unwrap();
        assert!(keys.verify(&forged, now).is_err());

        let other_audience = Claims { aud: "other-app".into(), ..claims(future()) };
        assert!(keys.verify(&keys.sign(&other_audience).unwrap(), now).is_err());
        let other_issuer = Claims { iss: "https://evil.example".into(), ..claims(future()) };
        assert!(keys.verify(&keys.sign(&other_issuer).unwrap(), now).is_err());

        let token = keys.sign(&claims(future())).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let mut payload = claims(future());
        payload.role = "admin".into();
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            base64url(&serde_json::to_vec(&payload).unwrap()),
            parts[2]
        );
        assert!(keys.verify(&tampered, now).is_err());

        let none_header =
            base64url(format!(r#"{{"alg":"none","typ":"JWT","kid":"{}"}}"#, keys.kid()).as_bytes());
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert!(keys.verify(&unsigned, now).is_err());
        let hs_header = base64url(
            format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{}"}}"#, keys.kid()).as_bytes(),
        );
        assert!(keys.verify(&format!("{hs_header}.{}.{}", parts[1], parts[2]), now).is_err());
    }
}
