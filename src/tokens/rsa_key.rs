//! The OpenID Connect provider's RSA key (RS256, 2048 bits): ID tokens are signed with it by
//! default, since every relying-party library verifies RS256 and not all verify EdDSA. It
//! lives in `<data_dir>/keys/oidc_rsa.pem` (PKCS#8, mode 0600), made at the first start, and
//! rotates with the Ed25519 key (`gatehouse keys rotate --jwt`, see `super::key_files`).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use jsonwebtoken::{DecodingKey, EncodingKey};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256};

use crate::crypto::base64url;
use crate::keys::KeyError;

pub const RSA_BITS: usize = 2048;

/// An RSA private key as the JWT library wants it, with its `kid` and public JWK.
pub struct RsaKey {
    pub kid: String,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    pub jwk: serde_json::Value,
    pem: String,
}

impl RsaKey {
    pub fn generate() -> Result<Self, rsa::Error> {
        let key = rsa::RsaPrivateKey::new(&mut rand_core_06::OsRng, RSA_BITS)?;
        Ok(Self::from_key(&key))
    }

    fn from_key(key: &rsa::RsaPrivateKey) -> Self {
        let (n, e) = (key.n().to_bytes_be(), key.e().to_bytes_be());
        let kid = {
            let mut hash = Sha256::new();
            hash.update(&n);
            hash.update(&e);
            hex::encode(&hash.finalize()[..8])
        };
        let jwk = serde_json::json!({
            "kty": "RSA",
            "n": base64url(&n),
            "e": base64url(&e),
            "kid": kid,
            "alg": "RS256",
            "use": "sig",
        });
        let der = key.to_pkcs1_der().expect("an RSA key encodes as PKCS#1");
        let pem = key.to_pkcs8_pem(LineEnding::LF).expect("an RSA key encodes as PKCS#8");
        Self {
            kid,
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            decoding: DecodingKey::from_rsa_raw_components(&n, &e),
            jwk,
            pem: pem.to_string(),
        }
    }

    pub fn read(path: &Path) -> Result<Self, KeyError> {
        let pem = std::fs::read_to_string(path)
            .map_err(|source| KeyError::Read { path: path.into(), source })?;
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(&pem)
            .map_err(|_| KeyError::MalformedRsa { path: path.into() })?;
        Ok(Self::from_key(&key))
    }

    /// Writes the key to `path` (mode 0600, in `dir` created with mode 0700) and syncs it;
    /// fails if the file exists. The key is written whole to a temporary name first and
    /// linked into place, so a crash or a second process never sees half a key.
    pub fn write(&self, dir: &Path, path: &Path) -> Result<(), KeyError> {
        std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)))
            .map_err(|source| KeyError::CreateDir { path: dir.into(), source })?;
        let write_err = |source| KeyError::Write { path: path.into(), source };
        let temp = path.with_extension(format!("tmp-{}", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temp)
            .map_err(write_err)?;
        file.write_all(self.pem.as_bytes()).and_then(|()| file.sync_all()).map_err(write_err)?;
        // A hard link fails when `path` exists (as `create_new` would), unlike a rename.
        let linked = std::fs::hard_link(&temp, path);
        let _ = std::fs::remove_file(&temp);
        linked.map_err(write_err)
    }
}

/// Reads the key at `path`, or makes and writes one when there is none (the first start, or a
/// data directory from before the provider). Two processes starting at once: the second reads
/// the first one's key.
pub fn read_or_create(dir: &Path, path: &Path) -> Result<RsaKey, KeyError> {
    if path.exists() {
        return RsaKey::read(path);
    }
    let key = RsaKey::generate()
        .map_err(|e| KeyError::Write { path: path.into(), source: std::io::Error::other(e) })?;
    match key.write(dir, path) {
        Ok(()) => Ok(key),
        Err(KeyError::Write { source, .. })
            if source.kind() == std::io::ErrorKind::AlreadyExists =>
        {
            RsaKey::read(path)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_survives_its_file_and_keeps_its_kid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join("oidc_rsa.pem");
        let made = read_or_create(&dir.path().join("keys"), &path).unwrap();
        let read = read_or_create(&dir.path().join("keys"), &path).unwrap();
        assert_eq!(made.kid, read.kid);
        assert_eq!(made.jwk, read.jwk);
        assert_eq!(made.jwk["kty"], "RSA");
        assert_eq!(made.jwk["e"], "AQAB");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(dir.path().join("bad.pem"), "not a key").unwrap();
        let err = RsaKey::read(&dir.path().join("bad.pem")).err().unwrap();
        assert!(err.to_string().contains("bad.pem"), "{err}");
    }
}
