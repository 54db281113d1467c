//! Passkeys over HTTP: `/api/v1/account/passkeys` (the owner's list, adding, renaming,
//! removing) and `/api/v1/auth/passkey` (signing in with no email typed, and adding one with an
//! emailed link). WebAuthn's own JSON (options and the browser's answers, binary fields in
//! base64url) passes through as free-form objects: webauthn-rs reads and checks them.

use poem_openapi::OpenApi;
use serde_json::Value;

use super::auth::signed_in_response;
use super::*;
use crate::accounts::api::AccountsState;
use crate::accounts::service::{PasskeyChallenge, PasskeyView};

/// A ceremony begun: send `challenge_id` back with the browser's answer to `public_key`.
#[derive(Object)]
pub struct PasskeyOptionsBody {
    /// Single use, for 5 minutes.
    challenge_id: String,
    /// WebAuthn's `PublicKeyCredentialCreationOptions` (adding) or
    /// `PublicKeyCredentialRequestOptions` (signing in), binary fields in base64url.
    public_key: Value,
}

impl From<PasskeyChallenge> for PasskeyOptionsBody {
    fn from(c: PasskeyChallenge) -> Self {
        Self { challenge_id: c.challenge_id, public_key: c.public_key }
    }
}

/// A passkey of the account (never its key).
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct PasskeyBody {
    id: String,
    name: String,
    created_at: String,
    last_used_at: Option<String>,
    /// The passkey may be synced between the owner's devices (a password manager, a phone
    /// maker's cloud); otherwise it stays on one device or security key.
    synced: bool,
}

impl From<PasskeyView> for PasskeyBody {
    fn from(p: PasskeyView) -> Self {
        Self {
            id: p.id,
            name: p.name,
            created_at: rfc3339(p.created_at),
            last_used_at: p.last_used_at.map(rfc3339),
            synced: p.synced,
        }
    }
}

#[derive(Object)]
pub struct PasskeyListBody {
    passkeys: Vec<PasskeyBody>,
    /// Whether the account also has a password (without one, its last passkey cannot be
    /// removed).
    has_password: bool,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AddPasskeyOptionsRequest {
    /// The account's password: needed when the session began more than 5 minutes ago.
    password: Option<String>,
}

#[derive(Object)]
pub struct AddPasskeyRequest {
    challenge_id: String,
    /// The owner's name for it, 1 to 60 characters ("Phone", "Laptop").
    name: String,
    /// The browser's answer (`PublicKeyCredential` from `navigator.credentials.create`):
    /// `{id, rawId, type, response: {attestationObject, clientDataJSON}}`, base64url.
    credential: Value,
}

#[derive(Object)]
pub struct RenamePasskeyRequest {
    name: String,
}

#[derive(Object)]
pub struct PasskeySignInRequest {
    challenge_id: String,
    /// The browser's answer (`PublicKeyCredential` from `navigator.credentials.get`):
    /// `{id, rawId, type, response: {authenticatorData, clientDataJSON, signature,
    /// userHandle}}`, base64url.
    credential: Value,
    /// Keep the session for 30 days (7 days idle) instead of 12 hours (30 minutes idle).
    #[oai(default)]
    remember_me: bool,
}

#[derive(Object)]
pub struct PasskeySetupOptionsRequest {
    /// The token of an emailed password-reset link, or the `setup_token` of a verification.
    token: String,
}

#[derive(Object)]
pub struct PasskeySetupRequest {
    token: String,
    challenge_id: String,
    name: String,
    credential: Value,
}

#[derive(ApiResponse)]
pub enum Created {
    /// Added; the owner is emailed.
    #[oai(status = 201)]
    Created(Json<PasskeyBody>),
}

pub struct PasskeysApi {
    pub state: AccountsState,
}

#[OpenApi(prefix_path = "/api/v1/account/passkeys", tag = "ApiTags::Account")]
impl PasskeysApi {
    /// The account's passkeys.
    #[oai(path = "/", method = "get", operation_id = "list_passkeys")]
    async fn list(&self, auth: Auth) -> ApiResult<Json<PasskeyListBody>> {
        let (passkeys, has_password) =
            self.state.accounts.passkeys(&auth.principal().user_id).await?;
        let passkeys = passkeys.into_iter().map(PasskeyBody::from).collect();
        Ok(Json(PasskeyListBody { passkeys, has_password }))
    }

    /// Begin adding a passkey: the options for `navigator.credentials.create`.
    ///
    /// A session older than 5 minutes must give the password again (`403
    /// reauthentication_required` without it; a wrong one is a `422` on `password` and
    /// counts in the lockout). The passkey asked for is discoverable and user-verified.
    #[oai(path = "/options", method = "post", operation_id = "add_passkey_options")]
    async fn options(
        &self,
        req: &Request,
        auth: Auth,
        body: StrictJson<AddPasskeyOptionsRequest>,
    ) -> ApiResult<Json<PasskeyOptionsBody>> {
        let challenge = self
            .state
            .accounts
            .start_passkey_enrolment(
                auth.principal(),
                body.0.password.as_deref(),
                &request_meta(req),
            )
            .await?;
        Ok(Json(challenge.into()))
    }

    /// Add the passkey the browser made for `challenge_id`.
    ///
    /// `401 passkey_not_accepted` when the answer does not check out (another origin, another
    /// challenge, no user verification); `409 passkey_already_registered`.
    #[oai(path = "/", method = "post", operation_id = "add_passkey")]
    async fn add(
        &self,
        req: &Request,
        auth: Auth,
        body: StrictJson<AddPasskeyRequest>,
    ) -> ApiResult<Created> {
        let body = body.0;
        let view = self
            .state
            .accounts
            .finish_passkey_enrolment(
                auth.principal(),
                &body.challenge_id,
                &body.name,
                body.credential,
                &request_meta(req),
            )
            .await?;
        Ok(Created::Created(Json(view.into())))
    }

    /// Rename a passkey. The owner is emailed.
    #[oai(path = "/:id", method = "patch", operation_id = "rename_passkey")]
    async fn rename(
        &self,
        req: &Request,
        auth: Auth,
        id: Path<String>,
        body: StrictJson<RenamePasskeyRequest>,
    ) -> ApiResult<Json<PasskeyBody>> {
        let view = self
            .state
            .accounts
            .rename_passkey(auth.principal(), &id.0, &body.0.name, &request_meta(req))
            .await?;
        Ok(Json(view.into()))
    }

    /// Remove a passkey. The owner is emailed.
    ///
    /// `409 last_sign_in_method` when it is the account's only way in (no password, no other
    /// passkey).
    #[oai(path = "/:id", method = "delete", operation_id = "remove_passkey")]
    async fn remove(&self, req: &Request, auth: Auth, id: Path<String>) -> ApiResult<NoContent> {
        self.state.accounts.remove_passkey(auth.principal(), &id.0, &request_meta(req)).await?;
        Ok(NoContent::NoContent)
    }
}

pub struct PasskeyAuthApi {
    pub state: AccountsState,
}

#[OpenApi(prefix_path = "/api/v1/auth/passkey", tag = "ApiTags::Auth")]
impl PasskeyAuthApi {
    /// Begin a sign-in with a passkey: options for `navigator.credentials.get` that any of
    /// this site's passkeys may answer (no email needed; also for browser autofill).
    ///
    /// `404 passkeys_unavailable` when the server's `public_url` is an IP address.
    #[oai(path = "/options", method = "post", operation_id = "passkey_sign_in_options")]
    async fn options(&self) -> ApiResult<Json<PasskeyOptionsBody>> {
        Ok(Json(self.state.accounts.start_passkey_sign_in().await?.into()))
    }

    /// Sign in with a passkey's answer: sets the session cookies, like `/login`.
    ///
    /// The passkey must have verified its user; the session's `amr` is `hwk` or `swk`,
    /// `user` and `mfa`, which satisfies two-step sign-in. `401 passkey_not_accepted` for any
    /// answer that does not check out (a signature counter that went backwards is audited);
    /// `400 passkey_challenge_invalid` for a challenge expired or used. Counted like
    /// sign-ins: per address, and per (address, passkey).
    #[oai(path = "/", method = "post", operation_id = "passkey_sign_in")]
    async fn sign_in(
        &self,
        req: &Request,
        jar: &CookieJar,
        body: StrictJson<PasskeySignInRequest>,
    ) -> ApiResult<LoginResponse> {
        let body = body.0;
        let claimed = self.state.accounts.passkey_claimed_id(&body.credential);
        let identifier = format!("passkey:{}", claimed.as_deref().unwrap_or("unreadable"));
        limit_sensitive(&self.state.limits, req, &identifier)?;
        let signed_in = self
            .state
            .accounts
            .passkey_sign_in(
                &body.challenge_id,
                body.credential,
                body.remember_me,
                &request_meta(req),
            )
            .await?;
        forgive_sensitive(&self.state.limits, req, &identifier);
        signed_in_response(&self.state, jar, signed_in).await
    }

    /// Begin adding a passkey with an emailed link's token (a password-reset link, or the
    /// `setup_token` a verification gave an account without a password).
    #[oai(path = "/setup/options", method = "post", operation_id = "passkey_setup_options")]
    async fn setup_options(
        &self,
        req: &Request,
        body: StrictJson<PasskeySetupOptionsRequest>,
    ) -> ApiResult<Json<PasskeyOptionsBody>> {
        limit_sensitive(&self.state.limits, req, &token_identifier("reset", &body.0.token))?;
        Ok(Json(self.state.accounts.start_passkey_setup(&body.0.token).await?.into()))
    }

    /// Add a passkey with an emailed link's token. Like a password reset it spends the link,
    /// ends every session of the account and emails a notice; then sign in with the passkey.
    #[oai(path = "/setup", method = "post", operation_id = "passkey_setup")]
    async fn setup(
        &self,
        req: &Request,
        body: StrictJson<PasskeySetupRequest>,
    ) -> ApiResult<Created> {
        let body = body.0;
        limit_sensitive(&self.state.limits, req, &token_identifier("reset", &body.token))?;
        let view = self
            .state
            .accounts
            .finish_passkey_setup(
                &body.token,
                &body.challenge_id,
                &body.name,
                body.credential,
                &request_meta(req),
            )
            .await?;
        Ok(Created::Created(Json(view.into())))
    }
}
