//! Which privacy-policy version each user still has to accept, for the answers that tell
//! clients so (every sign-in, token grants and refreshes, `GET /api/v1/auth/session`). The
//! session check is the hottest path of the service, so answers are cached for a minute per
//! user; accepting drops the user's entry and publishing drops them all, so a change shows at
//! once in this process (the only one serving the database).

use std::time::Duration;

use poem_openapi::Object;

use super::store as policies;
use crate::db::notices::Notice;
use crate::db::{Db, DbError};

const TTL: Duration = Duration::from_secs(60);
/// The cache notices between nodes (see `crate::db::notices`): a user id, or [`ALL`] after a
/// new version was published.
const TOPIC: &str = "pending_policy";
const ALL: &str = "*";

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
        let cache: crate::cache::Cache<String, Option<String>> =
            crate::cache::with_ttl(100_000, TTL);
        let dropped = cache.clone();
        db.on_notice(TOPIC, move |notice| match notice {
            Notice::Key(ALL) | Notice::Everything => dropped.invalidate_all(),
            Notice::Key(user_id) => dropped.invalidate(user_id),
        });
        Self { db, cache }
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
        self.db.announce_soon(TOPIC, vec![user_id.to_string()]);
    }

    /// After a new version was published.
    pub fn forget_all(&self) {
        self.cache.invalidate_all();
        self.db.announce_soon(TOPIC, vec![ALL.to_string()]);
    }
}
