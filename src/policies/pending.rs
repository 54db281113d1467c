//! Which privacy-policy version each user still has to accept, for the answers that tell
//! clients so (every sign-in, token grants and refreshes, `GET /api/v1/auth/session`). The
//! session check is the hottest path of the service, so answers are cached for a minute per
//! user; accepting drops the user's entry and publishing drops them all, so a change shows at
//! once in this process (the only one serving the database).

use std::time::Duration;

use poem_openapi::Object;

use super::store as policies;
use crate::db::{Db, DbError};

const TTL: Duration = Duration::from_secs(60);

/// Whether the user has a privacy-policy version to accept, in answers that carry it.
#[derive(Debug, Clone, Default, Object, serde::Serialize)]
#[oai(skip_serializing_if_is_none)]
pub struct PendingPolicy {
    /// True when a privacy-policy version was published that the user has not accepted: the
    /// client asks the user to accept `policy_version` with
    /// `POST /api/v1/account/policy-acceptance`.
    pub policy_acceptance_required: bool,
    /// The version to accept, when `policy_acceptance_required`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_version: Option<String>,
}

impl PendingPolicy {
    pub fn pending(version: Option<String>) -> Self {
        Self { policy_acceptance_required: version.is_some(), policy_version: version }
    }
}

pub struct PendingPolicies {
    db: Db,
    cache: crate::cache::Cache<String, Option<String>>,
}

impl PendingPolicies {
    pub fn new(db: Db) -> Self {
        Self { db, cache: crate::cache::with_ttl(100_000, TTL) }
    }

    /// The version `user_id` has to accept, if any.
    pub async fn status(&self, user_id: &str) -> Result<PendingPolicy, DbError> {
        if let Some(version) = self.cache.get(user_id) {
            return Ok(PendingPolicy::pending(version));
        }
        let id = user_id.to_string();
        let version =
            self.db.run_conn(move |c| policies::pending_for(c, &id).map_err(DbError::from)).await?;
        self.cache.insert(user_id.to_string(), version.clone());
        Ok(PendingPolicy::pending(version))
    }

    /// After `user_id` accepted a version.
    pub fn forget_user(&self, user_id: &str) {
        self.cache.invalidate(user_id);
    }

    /// After a new version was published.
    pub fn forget_all(&self) {
        self.cache.invalidate_all();
    }
}
