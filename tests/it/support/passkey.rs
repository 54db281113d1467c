//! A software passkey for the tests: 1Password's passkey-rs authenticator and WebAuthn client
//! (code this project did not write), holding one discoverable credential with a signature
//! counter, whose user verification can be switched off. `forged_sign_in` signs what a
//! phishing page would get: the server's challenge with another origin, or for another RP id.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use passkey_authenticator::{Authenticator, UiHint, UserCheck, UserValidationMethod};
use passkey_client::{Client, DefaultClientData, DefaultClientDataWithCustomHash};
use passkey_crypto::AvailableBackend;
use passkey_types::ctap2::{Aaguid, Ctap2Error};
use passkey_types::{Passkey, webauthn};
use serde_json::{Value, json};
use sha2::Digest;
use url::Url;

/// Says the user is present, and verified while `verified` holds.
struct Verifier {
    verified: Arc<AtomicBool>,
}

#[async_trait::async_trait]
impl UserValidationMethod for Verifier {
    type PasskeyItem = Passkey;

    async fn check_user<'a>(
        &self,
        _hint: UiHint<'a, Passkey>,
        presence: bool,
        verification: bool,
    ) -> Result<UserCheck, Ctap2Error> {
        let verified = verification && self.verified.load(Ordering::SeqCst);
        Ok(UserCheck { presence, verification: verified })
    }

    fn is_presence_enabled(&self) -> bool {
        true
    }

    fn is_verification_enabled(&self) -> Option<bool> {
        Some(self.verified.load(Ordering::SeqCst))
    }
}

type SoftClient =
    Client<Option<Passkey>, Verifier, AvailableBackend, public_suffix::PublicSuffixList, ()>;

pub struct SoftPasskey {
    client: SoftClient,
    origin: Url,
    verified: Arc<AtomicBool>,
}

impl SoftPasskey {
    /// An authenticator with no passkey yet, in a browser at `origin` (`http://localhost:PORT`).
    pub fn new(origin: &str) -> Self {
        let verified = Arc::new(AtomicBool::new(true));
        let user = Verifier { verified: verified.clone() };
        let mut authenticator =
            Authenticator::new(Aaguid::new_empty(), None, user, AvailableBackend);
        authenticator.set_make_credentials_with_signature_counter(true);
        let client = Client::new(authenticator).allows_insecure_localhost(true);
        Self { client, origin: Url::parse(origin).expect("origin"), verified }
    }

    /// Whether the authenticator verifies its user (a fingerprint) from now on.
    pub fn set_user_verified(&mut self, verified: bool) {
        self.verified.store(verified, Ordering::SeqCst);
    }

    /// A copy of the passkey as it is now (its counter included).
    pub fn saved(&self) -> Passkey {
        self.client.authenticator().store().clone().expect("a passkey was made")
    }

    /// Puts back an earlier copy: its counter is behind the server's.
    pub fn restore(&mut self, passkey: Passkey) {
        *self.client.authenticator_mut().store_mut() = Some(passkey);
    }

    /// Answers `navigator.credentials.create({publicKey})` as a browser would.
    pub async fn register(&mut self, public_key: &Value) -> Value {
        let request: webauthn::CredentialCreationOptions =
            serde_json::from_value(json!({ "publicKey": public_key })).expect("creation options");
        let created = self
            .client
            .register(&self.origin, request, DefaultClientData)
            .await
            .expect("the authenticator makes a passkey");
        browser_json(serde_json::to_value(created).expect("JSON"))
    }

    /// Answers `navigator.credentials.get({publicKey})` as a browser would.
    pub async fn sign_in(&mut self, public_key: &Value) -> Value {
        let request: webauthn::CredentialRequestOptions =
            serde_json::from_value(json!({ "publicKey": public_key })).expect("request options");
        let asserted = self
            .client
            .authenticate(&self.origin, request, DefaultClientData)
            .await
            .expect("the authenticator signs");
        browser_json(serde_json::to_value(asserted).expect("JSON"))
    }

    /// Signs the server's challenge with client data naming `claimed_origin`, for the RP id
    /// `rp_id`: what a page on another site would obtain.
    pub async fn forged_sign_in(
        &mut self,
        public_key: &Value,
        claimed_origin: &str,
        rp_id: &str,
    ) -> Value {
        let client_data = json!({
            "type": "webauthn.get",
            "challenge": public_key["challenge"],
            "origin": claimed_origin,
            "crossOrigin": false,
        })
        .to_string();
        let hash = sha2::Sha256::digest(client_data.as_bytes()).to_vec();
        let mut options = public_key.clone();
        options["rpId"] = rp_id.into();
        let request: webauthn::CredentialRequestOptions =
            serde_json::from_value(json!({ "publicKey": options })).expect("request options");
        let signing_origin = if rp_id == "localhost" {
            self.origin.clone()
        } else {
            Url::parse(&format!("https://{rp_id}")).expect("origin")
        };
        let asserted = self
            .client
            .authenticate(&signing_origin, request, DefaultClientDataWithCustomHash(hash))
            .await
            .expect("the authenticator signs");
        let mut answer = browser_json(serde_json::to_value(asserted).expect("JSON"));
        answer["response"]["clientDataJSON"] = URL_SAFE_NO_PAD.encode(client_data).into();
        answer
    }
}

/// passkey-rs writes binary fields as arrays of numbers; a browser's `PublicKeyCredential`
/// (`toJSON()`, and what the web UI sends) writes them in base64url.
fn browser_json(value: Value) -> Value {
    match value {
        Value::Array(items)
            if !items.is_empty() && items.iter().all(|i| i.as_u64().is_some_and(|n| n < 256)) =>
        {
            let bytes: Vec<u8> = items.iter().map(|i| i.as_u64().unwrap() as u8).collect();
            URL_SAFE_NO_PAD.encode(bytes).into()
        }
        Value::Array(items) => Value::Array(items.into_iter().map(browser_json).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, browser_json(v))).collect())
        }
        other => other,
    }
}
