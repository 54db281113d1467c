//! Privacy-policy versions and their acceptance. Admins publish versions; the newest is
//! current. While none is published, registration needs no acceptance (there is nothing to
//! accept) and sign-in asks for none. Once one is, registration must name it
//! (`accepted_policy_version`), and a user who has not accepted it is told so at sign-in
//! (`policy_acceptance_required: true`) until `POST /api/v1/account/policy-acceptance`.
//! Only the current version can be accepted.

//!
//! Which version each user still has to accept is cached ([`PendingPolicies`]) for the
//! answers that carry it.

mod pending;
pub mod personal_data;
mod store;
#[cfg(test)]
mod store_tests;

pub use pending::{PendingPolicies, PendingPolicy};
pub use personal_data::PoliciesData;
pub use store::{
    Acceptance, MAX_TEXT_BYTES, MAX_VERSION_CHARS, POLICY_ACCEPTED, POLICY_PUBLISHED, Policy,
    PolicySummary, accept, acceptances_of, current, list, pending_for, publish, refusal,
    version_exists,
};
