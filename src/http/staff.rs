//! The one check every admin and reviewer operation goes through ([`Staff`]): signed in
//! ([`Auth`]), the role, and in production a second factor proved by the session itself.

use std::marker::PhantomData;

use poem::{IntoResponse, Request, RequestBody};
use poem_openapi::registry::Registry;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

use super::HttpContext;
use super::auth::Auth;
use crate::db::DbError;
use crate::error::ApiError;
use crate::identity::{Principal, Role};
use crate::mfa::totp;

/// Which staff an operation is for: admins only, or reviewers too.
pub trait StaffRole: Send + Sync {
    const ROLE: Role;
}

/// Admins only.
pub struct AdminRole;
impl StaffRole for AdminRole {
    const ROLE: Role = Role::Admin;
}

/// Reviewers and admins (the driver reviews).
pub struct ReviewerRole;
impl StaffRole for ReviewerRole {
    const ROLE: Role = Role::Reviewer;
}

/// The caller of an admin or reviewer operation: [`Auth`], then the staff rule
/// ([`require_staff`]), both before the request body is read, so that no one else's body is
/// even parsed. Every admin and reviewer operation takes one of these (`AdminAuth` or
/// `ReviewerAuth`) instead of `Auth`: the type in the signature is the check.
pub struct Staff<R: StaffRole>(Auth, PhantomData<R>);

pub type AdminAuth = Staff<AdminRole>;
pub type ReviewerAuth = Staff<ReviewerRole>;

impl<R: StaffRole> Staff<R> {
    pub fn principal(&self) -> &Principal {
        self.0.principal()
    }
}

impl<'a, R: StaffRole> ApiExtractor<'a> for Staff<R> {
    const TYPES: &'static [ApiExtractorType] = <Auth as ApiExtractor<'a>>::TYPES;

    type ParamType = <Auth as ApiExtractor<'a>>::ParamType;
    type ParamRawType = <Auth as ApiExtractor<'a>>::ParamRawType;

    fn register(registry: &mut Registry) {
        Auth::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        Auth::security_schemes()
    }

    fn has_security_fallback() -> bool {
        Auth::has_security_fallback()
    }

    async fn from_request(
        req: &'a Request,
        body: &mut RequestBody,
        param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let auth = Auth::from_request(req, body, param_opts).await?;
        let context = req.data::<HttpContext>().ok_or_else(|| {
            poem::Error::from_response(ApiError::internal("no HTTP context").into_response())
        })?;
        require_staff(context, auth.principal(), R::ROLE)
            .await
            .map_err(|e| poem::Error::from_response(e.into_response()))?;
        Ok(Self(auth, PhantomData))
    }
}

/// The staff rule: the `admin` role (or `role`, for operations that also accept reviewers).
/// In production mode the account must have TOTP on and the session (or API token) must itself
/// have been proved with a second factor: a session opened by a password
/// alone, or by a phone code, before TOTP was turned on is one factor; otherwise
/// `admin_mfa_required`. Reviewers, who read every licence image, are held to the same rule.
/// Development mode asks for neither, so that a new install can be tried at once.
/// (`tests/it/authorization.rs` walks the API document to prove every admin operation
/// applies it.)
async fn require_staff(
    context: &HttpContext,
    principal: &Principal,
    role: Role,
) -> Result<(), ApiError> {
    // Admins hold every role.
    if principal.role != role && principal.role != Role::Admin {
        return Err(ApiError::forbidden("forbidden", "Your account may not do this."));
    }
    if !context.config.is_production() {
        return Ok(());
    }
    let user_id = principal.user_id.clone();
    let enabled =
        context.db.run_conn(move |c| totp::enabled(c, &user_id).map_err(DbError::from)).await?;
    if !enabled {
        return Err(ApiError::forbidden(
            "admin_mfa_required",
            "Admin operations need two-step sign-in: turn on an authenticator app on your account \
             page first.",
        ));
    }
    if !principal.amr.second_factor() {
        return Err(ApiError::forbidden(
            "admin_mfa_required",
            "Admin operations need a session signed in with two steps: sign out, then sign in \
             again with your password and a code from your authenticator app.",
        ));
    }
    Ok(())
}

/// Runs an admin's change on the database pool, with the admin and the request's address as
/// the audit log's [`Actor`](crate::audit::Actor) and the time of the change; a feature's
/// error becomes its problem document.
pub async fn admin_change<T, E>(
    db: &crate::db::Db,
    clock: &dyn crate::clock::Clock,
    req: &Request,
    auth: &AdminAuth,
    work: impl FnOnce(&crate::db::conn::Conn, i64, &crate::audit::Actor<'_>) -> Result<T, E>
    + Send
    + 'static,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    ApiError: From<E>,
{
    let admin = auth.principal().user_id.clone();
    let (ip, now) = (super::request_meta(req).ip, clock.unix());
    db.run_conn(move |c| {
        let actor = crate::audit::Actor { user_id: Some(&admin), ip: ip.as_deref() };
        work(c, now, &actor).map_err(ApiError::from)
    })
    .await
}
