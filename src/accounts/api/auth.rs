//! `/api/v1/auth/...`: sign-up, verification, sign-in and sign-out, password reset.

use poem_openapi::OpenApi;

use super::*;
use crate::accounts::api::AccountsState;
use crate::accounts::service::{LoginOutcome, SignInGate, SignedIn};

pub struct AuthApi {
    pub state: AccountsState,
}

/// Sets the session cookies and tells the client whether a privacy-policy version waits for
/// the user's acceptance.
pub(super) async fn signed_in_response(
    state: &AccountsState,
    jar: &CookieJar,
    signed_in: SignedIn,
) -> ApiResult<LoginResponse> {
    let production = state.config.is_production();
    cookies::set(jar, production, &signed_in.session, &signed_in.csrf, state.accounts.now());
    let policy = state.pending_policies.status(&signed_in.user.id).await?;
    Ok(LoginResponse::Ok(Json(LoginBody {
        user: Some(signed_in.user.into()),
        mfa_required: false,
        mfa_token: None,
        policy,
    })))
}

#[OpenApi(prefix_path = "/api/v1/auth", tag = "ApiTags::Auth")]
impl AuthApi {
    /// Sign up with a campus email.
    ///
    /// Sends a verification link by email. The answer is the same whether or not the email
    /// already has an account (its owner is told by email instead). With the captcha on, a
    /// solved `GET /api/v1/captcha` challenge is required (`428 captcha_required` without one).
    #[oai(path = "/register", method = "post", operation_id = "register")]
    async fn register(
        &self,
        req: &Request,
        body: StrictJson<RegisterRequest>,
    ) -> ApiResult<Accepted> {
        let body = body.0;
        let email = crate::contact::email::normalize(&body.email);
        guard_sensitive(
            &self.state.limits,
            &self.state.captcha,
            req,
            &email,
            body.captcha.as_ref(),
            true,
        )
        .await?;
        let input = Registration {
            email: body.email,
            password: body.password,
            display_name: body.display_name,
            legal_name: body.legal_name,
            phone: body.phone,
            accepted_policy_version: body.accepted_policy_version,
        };
        self.state.accounts.register(input, &request_meta(req)).await?;
        Ok(Accepted::Accepted(status("verification_sent")))
    }

    /// Verify an email address with the token from the emailed link.
    ///
    /// An account made without a password gets a `setup_token` to add its passkey with.
    #[oai(path = "/verify-email", method = "post", operation_id = "verify_email")]
    async fn verify_email(
        &self,
        req: &Request,
        body: StrictJson<LinkTokenRequest>,
    ) -> ApiResult<Json<VerifiedBody>> {
        limit_sensitive(&self.state.limits, req, &token_identifier("verify", &body.0.token))?;
        let setup_token =
            self.state.accounts.verify_email(&body.0.token, &request_meta(req)).await?;
        Ok(Json(VerifiedBody { status: "verified".into(), setup_token }))
    }

    /// Send a new verification link.
    ///
    /// Always 202. At most one link a minute and five a day are sent per account. Past the
    /// per-address allowance a solved captcha is required (`428 captcha_required`).
    #[oai(path = "/verify-email/resend", method = "post", operation_id = "resend_verification")]
    async fn resend(&self, req: &Request, body: StrictJson<EmailRequest>) -> ApiResult<Accepted> {
        let email = crate::contact::email::normalize(&body.0.email);
        guard_sensitive(
            &self.state.limits,
            &self.state.captcha,
            req,
            &email,
            body.0.captcha.as_ref(),
            false,
        )
        .await?;
        self.state.accounts.resend_verification(&body.0.email, &request_meta(req)).await?;
        Ok(Accepted::Accepted(status("accepted")))
    }

    /// Sign in with email and password.
    ///
    /// Sets the session cookie (HttpOnly) and the CSRF cookie. A wrong password and an unknown
    /// email get the same answer, lockout included. With two-step sign-in on, no session is
    /// made yet: the answer is `mfa_required: true` with an `mfa_token` for
    /// `POST /api/v1/auth/login/mfa`. Past the per-address allowance, and for an account locked
    /// since its last sign-in, a solved captcha is required (`428 captcha_required`). While the
    /// account is paused by the lockout the answer is `429 account_throttled` whatever the
    /// password, unless the request brings a solved captcha: then the password is checked
    /// (a wrong one counts), up to 100 failures an hour.
    #[oai(path = "/login", method = "post", operation_id = "login")]
    async fn login(
        &self,
        req: &Request,
        jar: &CookieJar,
        body: StrictJson<LoginRequest>,
    ) -> ApiResult<LoginResponse> {
        let body = body.0;
        let email = crate::contact::email::normalize(&body.email);
        let solved = guard_sensitive(
            &self.state.limits,
            &self.state.captcha,
            req,
            &email,
            body.captcha.as_ref(),
            false,
        )
        .await?;
        let gate = SignInGate {
            captcha_missing: self.state.captcha.enabled() && !solved,
            through_pause: self.state.captcha.enabled() && solved,
        };
        let outcome = self
            .state
            .accounts
            .login(&body.email, &body.password, body.remember_me, gate, &request_meta(req))
            .await?;
        // The password was right: only failures use up the (address, account) allowance.
        forgive_sensitive(&self.state.limits, req, &email);
        match outcome {
            LoginOutcome::SignedIn(signed_in) => {
                signed_in_response(&self.state, jar, *signed_in).await
            }
            LoginOutcome::SecondFactor { mfa_token } => Ok(LoginResponse::Ok(Json(LoginBody {
                user: None,
                mfa_required: true,
                mfa_token: Some(mfa_token),
                policy: PendingPolicy::default(),
            }))),
        }
    }

    /// Finish a sign-in with a second factor: a TOTP code or an unused recovery code.
    ///
    /// The pending sign-in (`mfa_token` from `/login`) lasts 5 minutes and ends after 5 wrong
    /// codes. Each TOTP code works once; a replayed one is refused and audited. Wrong codes
    /// also count per account, over every pending sign-in and token request: 10 in an hour
    /// pause the account's second factors (`429 mfa_throttled`, whatever the code, from 1 hour
    /// doubling up to a day), and the owner is emailed.
    #[oai(path = "/login/mfa", method = "post", operation_id = "login_mfa")]
    async fn login_mfa(
        &self,
        req: &Request,
        jar: &CookieJar,
        body: StrictJson<MfaLoginRequest>,
    ) -> ApiResult<LoginResponse> {
        let body = body.0;
        // Per pending sign-in, not per address: students behind one NAT address each have
        // their own (and a pending sign-in ends after 5 wrong codes anyway).
        limit_sensitive(&self.state.limits, req, &token_identifier("mfa", &body.mfa_token))?;
        let signed_in = self
            .state
            .accounts
            .complete_login(&body.mfa_token, &body.code, &request_meta(req))
            .await?;
        signed_in_response(&self.state, jar, signed_in).await
    }

    /// Sign out: ends the current session and clears its cookies.
    #[oai(path = "/logout", method = "post", operation_id = "logout")]
    async fn logout(&self, req: &Request, jar: &CookieJar, auth: Auth) -> ApiResult<NoContent> {
        self.state.accounts.logout(auth.principal(), &request_meta(req)).await?;
        cookies::clear(jar, self.state.config.is_production());
        Ok(NoContent::NoContent)
    }

    /// Who am I: the signed-in user and the current session.
    #[oai(path = "/session", method = "get", operation_id = "get_session")]
    async fn session(&self, auth: Auth) -> ApiResult<DirectJson<WhoAmI>> {
        let principal = auth.principal();
        let user = self
            .state
            .accounts
            .user(&principal.user_id)
            .await?
            .ok_or_else(|| ApiError::unauthorized("unauthenticated", "Sign in first."))?;
        let policy = self.state.pending_policies.status(&principal.user_id).await?;
        Ok(DirectJson::new(&WhoAmIBody::new(&user, principal, &policy)))
    }

    /// Ask for a password-reset link by email.
    ///
    /// Always 202, whether or not the email has an account. Past the per-address allowance a
    /// solved captcha is required (`428 captcha_required`).
    #[oai(path = "/password/forgot", method = "post", operation_id = "forgot_password")]
    async fn forgot(&self, req: &Request, body: StrictJson<EmailRequest>) -> ApiResult<Accepted> {
        let email = crate::contact::email::normalize(&body.0.email);
        guard_sensitive(
            &self.state.limits,
            &self.state.captcha,
            req,
            &email,
            body.0.captcha.as_ref(),
            false,
        )
        .await?;
        self.state.accounts.forgot_password(&body.0.email, &request_meta(req)).await?;
        Ok(Accepted::Accepted(status("accepted")))
    }

    /// Set a new password with the token from the reset link.
    ///
    /// Ends every session of the account and emails a notice.
    #[oai(path = "/password/reset", method = "post", operation_id = "reset_password")]
    async fn reset(&self, req: &Request, body: StrictJson<ResetRequest>) -> ApiResult<Done> {
        let body = body.0;
        limit_sensitive(&self.state.limits, req, &token_identifier("reset", &body.token))?;
        self.state
            .accounts
            .reset_password(&body.token, &body.new_password, &request_meta(req))
            .await?;
        Ok(Done::Ok(status("password_reset")))
    }

    /// Rate a password against the policy and zxcvbn, for a live strength meter.
    #[oai(path = "/password/strength", method = "post", operation_id = "password_strength")]
    async fn strength(
        &self,
        req: &Request,
        body: StrictJson<StrengthRequest>,
    ) -> ApiResult<Json<StrengthBody>> {
        self.state
            .limits
            .strength(req.data::<ClientIp>().map(|ip| ip.0))
            .map_err(ApiError::from)?;
        let email = crate::contact::email::normalize(&body.0.email);
        let problem = password::policy_violation(&body.0.password, &email);
        let score = self
            .state
            .accounts
            .hasher()
            .strength(&body.0.password, &email)
            .await
            .map_err(ApiError::internal)?;
        Ok(Json(StrengthBody { score, acceptable: problem.is_none(), problem }))
    }
}
