//! Passkeys (WebAuthn, SPEC section 12): the relying party's two ceremonies, registration and
//! sign-in, with webauthn-rs. The RP id is the host of `server.public_url` and the only origin
//! accepted is `public_url` itself; browsers refuse an IP address as an RP id, so with a
//! `public_url` like `http://127.0.0.1:8080` passkeys are off ([`PasskeyRp::new`] says why).
//!
//! Every passkey is a discoverable credential with user verification: the browser is asked
//! for a resident key, and sign-in asks for no email (the authenticator offers the student's
//! passkeys, and its answer names the account by the user handle, the account's id). A
//! ceremony's state (which holds its challenge) is kept in `passkey_challenges` between its
//! two requests, for 5 minutes and one use ([`super::passkey_store`]).

use serde_json::Value;
use url::Url;
use webauthn_rs::prelude::{
    AuthenticationResult, CreationChallengeResponse, CredentialID, DiscoverableAuthentication,
    Passkey, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Uuid, Webauthn,
    WebauthnBuilder, WebauthnError,
};

/// How long a ceremony's challenge may be answered.
pub const CHALLENGE_SECONDS: i64 = 300;

/// Why a ceremony's answer was refused.
#[derive(Debug, thiserror::Error)]
pub enum CeremonyError {
    /// Not a WebAuthn answer at all (missing fields, bad base64).
    #[error("malformed WebAuthn response: {0}")]
    Malformed(String),
    /// The authenticator said the credential is not discoverable (`credProps.rk` false): it
    /// could never sign in without an email.
    #[error("the credential is not discoverable")]
    NotDiscoverable,
    /// The signature counter did not go up: the passkey may have been copied.
    #[error("the signature counter went backwards")]
    CounterWentBackwards,
    /// Anything else the checks refused: another origin or RP id, another challenge, no user
    /// verification, a bad signature.
    #[error("the WebAuthn response was refused: {0}")]
    Refused(WebauthnError),
}

/// The relying party: builds the options a browser needs and checks its answers.
pub struct PasskeyRp {
    webauthn: Webauthn,
}

/// A ceremony begun: the options for the browser, and the state to keep until it answers.
pub struct Started {
    /// `PublicKeyCredentialCreationOptions` or `...RequestOptions`, binary fields in base64url.
    pub public_key: Value,
    pub state: String,
}

/// What a sign-in's answer says before it is checked: whose passkey it claims to be.
pub struct Claimed {
    pub credential: PublicKeyCredential,
    pub credential_id: Vec<u8>,
    pub user_id: String,
}

impl PasskeyRp {
    /// The relying party of `public_url`, or why passkeys cannot be offered there.
    pub fn new(public_url: &str) -> Result<Self, String> {
        let origin = Url::parse(public_url).map_err(|e| format!("server.public_url: {e}"))?;
        let Some(url::Host::Domain(host)) = origin.host() else {
            return Err(format!(
                "server.public_url ({public_url}) is not a domain name: browsers refuse an IP \
                 address as a passkey's site (use http://localhost:PORT in development)"
            ));
        };
        let webauthn = WebauthnBuilder::new(host, &origin)
            .and_then(|b| b.rp_name("Gatehouse").build())
            .map_err(|e| format!("passkeys for {public_url}: {e}"))?;
        Ok(Self { webauthn })
    }

    /// Begins a registration for `user_id` (a UUID), excluding the passkeys it already has.
    pub fn start_registration(
        &self,
        user_id: &str,
        user_name: &str,
        display_name: &str,
        existing: Vec<Vec<u8>>,
    ) -> anyhow::Result<Started> {
        let handle = Uuid::parse_str(user_id)?;
        let exclude: Vec<CredentialID> = existing;
        let exclude = (!exclude.is_empty()).then_some(exclude);
        let (options, state): (CreationChallengeResponse, PasskeyRegistration) =
            self.webauthn.start_passkey_registration(handle, user_name, display_name, exclude)?;
        let mut public_key = serde_json::to_value(&options.public_key)?;
        // webauthn-rs leaves residence to the authenticator; a sign-in with no email needs
        // the credential stored on it (a discoverable credential). Verification is required
        // either way.
        let selection = &mut public_key["authenticatorSelection"];
        selection["residentKey"] = "required".into();
        selection["requireResidentKey"] = true.into();
        Ok(Started { public_key, state: to_json(&state)? })
    }

    /// Checks a registration's answer against its state: the passkey to keep.
    pub fn finish_registration(
        &self,
        answer: &Value,
        state: &str,
    ) -> Result<Passkey, CeremonyError> {
        // Residence cannot be checked cryptographically; browsers report it (credProps), and
        // a credential reported as not stored on the authenticator is refused.
        let rk = answer
            .pointer("/clientExtensionResults/credProps/rk")
            .or_else(|| answer.pointer("/extensions/credProps/rk"));
        if rk == Some(&Value::Bool(false)) {
            return Err(CeremonyError::NotDiscoverable);
        }
        let answer: RegisterPublicKeyCredential = serde_json::from_value(answer.clone())
            .map_err(|e| CeremonyError::Malformed(e.to_string()))?;
        let state: PasskeyRegistration = serde_json::from_str(state)
            .map_err(|e| CeremonyError::Malformed(format!("stored state: {e}")))?;
        self.webauthn.finish_passkey_registration(&answer, &state).map_err(refusal)
    }

    /// Begins a sign-in with no account named: any of the site's passkeys may answer.
    pub fn start_sign_in(&self) -> anyhow::Result<Started> {
        let (options, state): (_, DiscoverableAuthentication) =
            self.webauthn.start_discoverable_authentication()?;
        Ok(Started {
            public_key: serde_json::to_value(&options.public_key)?,
            state: to_json(&state)?,
        })
    }

    /// Reads whose passkey a sign-in's answer claims to be (nothing is checked yet).
    pub fn claimed(&self, answer: &Value) -> Result<Claimed, CeremonyError> {
        let credential: PublicKeyCredential = serde_json::from_value(answer.clone())
            .map_err(|e| CeremonyError::Malformed(e.to_string()))?;
        let (user, id) =
            self.webauthn.identify_discoverable_authentication(&credential).map_err(refusal)?;
        let (user_id, credential_id) = (user.to_string(), id.to_vec());
        Ok(Claimed { credential, credential_id, user_id })
    }

    /// Checks a sign-in's answer against its state and the stored passkey (signature, origin,
    /// RP id, challenge, user verification, counter).
    pub fn finish_sign_in(
        &self,
        claimed: &Claimed,
        state: &str,
        passkey: &Passkey,
    ) -> Result<AuthenticationResult, CeremonyError> {
        let state: DiscoverableAuthentication = serde_json::from_str(state)
            .map_err(|e| CeremonyError::Malformed(format!("stored state: {e}")))?;
        self.webauthn
            .finish_discoverable_authentication_v2(&claimed.credential, state, passkey)
            .map_err(refusal)
    }
}

fn to_json(state: &impl serde::Serialize) -> anyhow::Result<String> {
    Ok(serde_json::to_string(state)?)
}

fn refusal(e: WebauthnError) -> CeremonyError {
    match e {
        WebauthnError::CredentialPossibleCompromise => CeremonyError::CounterWentBackwards,
        other => CeremonyError::Refused(other),
    }
}

/// Whether a passkey may be synced between devices (backup eligible): `swk` rather than `hwk`.
pub fn synced(passkey: &Passkey) -> bool {
    webauthn_rs::prelude::Credential::from(passkey.clone()).backup_eligible
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ip_address_cannot_be_the_site_of_a_passkey() {
        let refused = PasskeyRp::new("http://127.0.0.1:8080").err().unwrap();
        assert!(refused.contains("localhost"), "{refused}");
        assert!(PasskeyRp::new("http://localhost:8080").is_ok());
        assert!(PasskeyRp::new("https://id.campus.example").is_ok());
    }

    #[test]
    fn registration_asks_for_a_discoverable_user_verified_credential() {
        let rp = PasskeyRp::new("https://id.campus.example").unwrap();
        let started = rp
            .start_registration("6f1c2a4e-0d1b-4a8e-9a39-1f0e4a2b7c11", "ada", "Ada", vec![])
            .unwrap();
        let selection = &started.public_key["authenticatorSelection"];
        assert_eq!(selection["residentKey"], "required", "{selection}");
        assert_eq!(selection["requireResidentKey"], true);
        assert_eq!(selection["userVerification"], "required");
        assert_eq!(started.public_key["rp"]["id"], "id.campus.example");
        assert!(started.state.contains("challenge"), "the state keeps the challenge");
        assert!(rp.start_registration("not-a-uuid", "ada", "Ada", vec![]).is_err());
    }
}
