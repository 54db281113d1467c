//! What every handler can reach: configuration, clock, database and the services.

use std::sync::Arc;

use tokio::sync::Notify;

use crate::accounts::Accounts;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::keys::Keys;
use crate::metrics::Metrics;

/// The spec rendered once at start-up.
pub struct SpecDocuments {
    pub json: String,
    pub yaml: String,
}

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub keys: Arc<Keys>,
    /// Seals and opens personal data at rest (see [`crate::privacy`]).
    pub pii: crate::pii::FieldCipher,
    pub metrics: Arc<Metrics>,
    pub spec: Arc<SpecDocuments>,
    pub clock: Arc<dyn Clock>,
    /// Cookie sessions (also reached through `accounts`, which issues them).
    pub sessions: Arc<crate::sessions::Sessions>,
    pub accounts: Arc<Accounts>,
    /// Notified when a message is queued, so the outbox worker sends it at once.
    pub outbox_wake: Arc<Notify>,
    pub tokens: Arc<crate::tokens::Tokens>,
    pub limits: Arc<crate::ratelimit::RateLimits>,
    pub captcha: Arc<crate::captcha::Captcha>,
    pub phone_codes: Arc<crate::phone_codes::PhoneCodes>,
    /// The outbox worker's sign of life, for `/ready`.
    pub outbox_heartbeat: Arc<crate::jobs::heartbeat::Heartbeat>,
    /// Backups on demand and on schedule (one at a time).
    pub backups: Arc<crate::backup::Backups>,
    /// Driver verification: licence image storage, OCR, the image decoding pool.
    pub drivers: Arc<crate::drivers::Drivers>,
    /// Retention, the export, policy publication and acceptance.
    pub privacy: Arc<crate::privacy::Privacy>,
    /// Account deletion across every feature's personal data.
    pub erasure: Arc<crate::pii::Erasure>,
    /// Privacy-policy versions users still have to accept (cached).
    pub pending_policies: Arc<crate::policies::PendingPolicies>,
    /// The OpenID Connect provider: campus apps sign students in through it.
    pub oidc: Arc<crate::oidc::Provider>,
}

impl crate::jobs::JobContext for AppState {
    fn unix_now(&self) -> i64 {
        self.clock.unix()
    }

    async fn job_turn(&self, job: &'static str) -> Result<Option<crate::jobs::JobTurn>, String> {
        match self.db.job_turn(job).await {
            Ok(turn) => Ok(turn.map(|lock| crate::jobs::JobTurn(Some(Box::new(lock))))),
            Err(e) => Err(format!("cannot take the job's turn: {e}")),
        }
    }
}
