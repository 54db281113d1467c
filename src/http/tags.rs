//! The groups API operations are listed under in the spec and Swagger UI.

use poem_openapi::Tags;

/// The groups operations are listed under in the spec and Swagger UI.
#[derive(Tags)]
pub enum ApiTags {
    /// Sign-up, email verification, sign-in (password or SMS code) and sign-out, password reset.
    Auth,
    /// The signed-in user's profile, password and sessions.
    Account,
    /// Campus IT: campuses, accounts, the audit log, the outbox, backups, driver reviews, the
    /// first admin.
    Admin,
    /// The caller's data: export, privacy-policy acceptance; the current policy.
    Privacy,
    /// Driver verification: licence upload, driving and availability.
    Driver,
    /// Liveness and readiness probes for load balancers and systemd.
    Operations,
}
