//! Starting and stopping the app: data directory, keys, database and migrations, the services
//! and background workers, then the HTTP server until the shutdown signal, then the workers
//! stop and the WAL is checkpointed.

mod storage;

pub use storage::{Opened, open_storage};

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use poem::listener::TcpAcceptor;
use tokio::sync::Notify;

use crate::accounts::Accounts;
use crate::accounts::AccountsData;
use crate::accounts::bootstrap::bootstrap_link;
use crate::accounts::password::PasswordHasherPool;
use crate::accounts::service::{AccountKeys, AccountSettings, Credentials};
use crate::backup::Backups;
use crate::backup::lock::DataDirLock;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::contact::phone::PhoneRegions;
use crate::db::BlockingPool;
use crate::drivers::DriversData;
use crate::drivers::sealed_files::LicenceImages;
use crate::drivers::{Drivers, DriversParts};
use crate::jobs::heartbeat::Heartbeat;
use crate::jobs::{Job, Schedule, Scheduler};
use crate::metrics::Metrics;
use crate::mfa::MfaData;
use crate::notify::NotifyData;
use crate::notify::mail::MailSender;
use crate::notify::outbox::{self, Outbox};
use crate::notify::sms::SmsSender;
use crate::oidc::OidcData;
use crate::phone_codes::PhoneCodesData;
use crate::phone_codes::{PhoneCodeSettings, PhoneCodes};
use crate::pii::Erasure;
use crate::pii::sealed::{SealedColumns, SealedFiles};
use crate::policies::PoliciesData;
use crate::privacy::{Privacy, PrivacyParts};
use crate::router;
use crate::sessions::SessionsData;
use crate::sessions::{Sessions, TouchWriter};
use crate::state::AppState;
use crate::tokens::Tokens;
use crate::tokens::TokensData;
use crate::tokens::key_files::KeyFiles;
use crate::tokens::live_keys::LiveJwtKeys;

/// Every sealed column, each declared by its feature: start-up seals what is still plain and
/// `gatehouse keys rotate` re-seals them (licence images beside them, as sealed files).
pub const SEALED: &[SealedColumns] = &[
    crate::accounts::personal_data::SEALED,
    crate::notify::personal_data::SEALED,
    crate::mfa::personal_data::SEALED,
    crate::mfa::personal_data::PASSKEYS_SEALED,
    crate::drivers::personal_data::SEALED,
    crate::webhooks::personal_data::SEALED,
];

/// How long in-flight requests may run after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// An opened app: storage ready, workers built, not yet serving.
pub struct App {
    state: AppState,
    touch_writer: TouchWriter,
    outbox: Outbox,
    bootstrap_link: Option<String>,
    /// Held while the app lives, so `gatehouse restore` refuses to run under it.
    _lock: DataDirLock,
}

/// When the daily retention job runs (server's local time): after the 03:00 default backup,
/// at a quiet hour on campus.
const RETENTION_AT: chrono::NaiveTime = chrono::NaiveTime::from_hms_opt(4, 0, 0).unwrap();

/// When the daily driver-expiry job runs: early, so that a licence expiring today is off
/// before the morning's rides (it counts UTC days; see `driver::expiry`).
const DRIVER_EXPIRY_AT: chrono::NaiveTime = chrono::NaiveTime::from_hms_opt(0, 10, 0).unwrap();

/// The background jobs (see [`crate::jobs`]). Registering one is one line here.
pub fn schedule_jobs(state: &AppState, outbox: Outbox) -> Scheduler<AppState> {
    let mut jobs = Scheduler::new(state.metrics.jobs.clone());
    let outbox = Arc::new(outbox);
    jobs.add(
        Job::every("outbox", outbox::POLL, move |_| {
            let outbox = outbox.clone();
            async move { outbox.deliver_all().await }
        })
        .woken_by(state.outbox_wake.clone())
        .quiet(),
    );
    match state.oidc.back_channel() {
        Ok(back_channel) => {
            let back_channel = Arc::new(back_channel);
            jobs.add(
                Job::every("backchannel_logout", crate::oidc::backchannel::POLL, move |_| {
                    let back_channel = back_channel.clone();
                    async move { back_channel.deliver_due().await }
                })
                .woken_by(state.oidc.logout_wake.clone())
                .quiet(),
            );
        }
        Err(e) => tracing::error!("back-channel logouts will not be sent: {e:#}"),
    }
    match crate::webhooks::delivery::Deliveries::new(
        state.db.clone(),
        state.clock.clone(),
        state.pii.clone(),
    ) {
        Ok(deliveries) => {
            let deliveries = Arc::new(deliveries);
            jobs.add(
                Job::every("webhooks", crate::webhooks::delivery::POLL, move |_| {
                    let deliveries = deliveries.clone();
                    async move { deliveries.start_due().await }
                })
                .quiet(),
            );
        }
        Err(e) => tracing::error!("webhooks will not be delivered: {e:#}"),
    }
    // Validated with the configuration: "" means no scheduled backups.
    if let Ok(Some(Schedule::DailyAt(at))) = Schedule::daily(&state.config.backup.schedule) {
        jobs.add(Job::daily(
            "backup",
            at,
            |state: AppState| async move { state.backups.run().await },
        ));
    }
    jobs.add(Job::daily("retention", RETENTION_AT, |state: AppState| async move {
        state.privacy.run_retention().await
    }));
    jobs.add(Job::daily("driver_expiry", DRIVER_EXPIRY_AT, |state: AppState| async move {
        state.drivers.run_expiry_job().await
    }));
    jobs
}

/// Creates the data directory if needed and proves it is writable.
pub fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let probe = dir.join(".write-test");
    std::fs::write(&probe, b"ok")
        .with_context(|| format!("the data directory {} is not writable", dir.display()))?;
    std::fs::remove_file(&probe).ok();
    Ok(())
}

/// Threads for password hashing: one per core, at the lowest priority (nice 19). A rush of
/// sign-ins then uses every core, and the async workers answering session checks (every
/// campus app checks a session on each of its requests) still run first whenever they have
/// work: the kernel gives a nice-0 thread about seventy times the share of a nice-19 one.
/// (With every core hashing at normal priority, p99 of session checks during a storm was 6.2
/// ms on two cores; with one thread fewer than the cores, sign-ins reached 0.62 of the
/// machine's argon2id rate. `scripts/bench/storm.sh` measures both together.)
pub fn hashing_threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
}

/// The services and workers for `config`, without side effects beyond opening storage.
pub fn build(
    config: Config,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<(AppState, TouchWriter, Outbox)> {
    let data_dir = config.storage.data_dir.clone();
    prepare_data_dir(&data_dir)?;
    let Opened { db, keys, pii } = storage::open_checked(&config, clock.unix())?;
    let hasher = PasswordHasherPool::new(
        BlockingPool::low_priority("hashing", hashing_threads(), crate::db::LOWEST_PRIORITY_NICE),
        *keys.pepper.expose(),
    );
    let outbox_wake = Arc::new(Notify::new());
    let jwt = LiveJwtKeys::open(
        KeyFiles::new(&config.keys, &data_dir),
        &config.server.public_url,
        &config.auth.token_audience,
    )
    .context("cannot load the JWT keys")?;
    let tokens = Arc::new(Tokens::new(db.clone(), clock.clone(), jwt));
    let (sessions, touch_writer) =
        Sessions::new(db.clone(), clock.clone(), *keys.session_secret.expose(), tokens.clone());
    let sessions = Arc::new(sessions);
    let accounts = Arc::new(Accounts::new(
        db.clone(),
        clock.clone(),
        hasher,
        Credentials { sessions: sessions.clone(), tokens: tokens.clone() },
        outbox_wake.clone(),
        AccountKeys { pii: pii.clone(), index_root: *keys.pii_key.expose() },
        AccountSettings {
            public_url: config.server.public_url.clone(),
            verify_hours: config.auth.verification_hours.into(),
            phone_regions: PhoneRegions::new(
                &config.sms.default_region,
                &config.sms.allowed_regions,
            ),
            lockout: config.rate_limit.lockout,
        },
    ));
    let phone_codes = Arc::new(PhoneCodes::new(
        db.clone(),
        clock.clone(),
        accounts.clone(),
        outbox_wake.clone(),
        keys.session_secret.expose(),
        PhoneCodeSettings {
            dev_echo: config.sms.dev_echo,
            phone_signup: config.auth.phone_signup,
            ipv6_prefix: config.rate_limit.ipv6_prefix,
        },
    ));
    let mail = MailSender::from_config(&config.mail, &data_dir).context("mail configuration")?;
    let sms = SmsSender::from_config(&config.sms, &data_dir).context("sms configuration")?;
    let outbox_heartbeat = Arc::new(Heartbeat::new());
    let outbox =
        Outbox::new(db.clone(), mail, sms, clock.clone(), outbox_heartbeat.clone(), pii.clone());
    let backups = Arc::new(Backups::for_storage(&config.storage, config.backup.keep));
    let limits = Arc::new(crate::ratelimit::RateLimits::new(&config.rate_limit));
    let captcha = Arc::new(crate::captcha::Captcha::new(
        &config.captcha,
        clock.clone(),
        keys.session_secret.expose(),
        db.clone(),
    ));
    // Licence images: files on one node, rows when several nodes share PostgreSQL.
    let uploads: Arc<dyn crate::drivers::uploads::UploadStore> = match config.storage.engine {
        crate::config::StorageEngine::Sqlite => Arc::new(
            crate::drivers::uploads::FileUploadStore::open(&data_dir, pii.clone())
                .context("cannot create the uploads directory")?,
        ),
        crate::config::StorageEngine::Postgres => {
            Arc::new(crate::drivers::image_rows::DatabaseUploadStore::new(db.clone(), pii.clone()))
        }
    };
    let active = pii.ring().active_id();
    let sealed = db
        .blocking_conn(|conn| {
            LicenceImages(&*uploads)
                .reseal(conn, active, true, &mut |_| {})
                .map_err(anyhow::Error::from)
        })
        .context("cannot seal the licence images stored in plain")?;
    if sealed > 0 {
        tracing::info!(files = sealed, "licence images stored in plain are now sealed");
    }
    let config = Arc::new(config);
    let drivers = Arc::new(Drivers::new(
        config.clone(),
        DriversParts {
            db: db.clone(),
            clock: clock.clone(),
            pii: pii.clone(),
            outbox_wake: outbox_wake.clone(),
        },
        uploads,
    ));
    let pending_policies = Arc::new(crate::policies::PendingPolicies::new(db.clone()));
    let keys = Arc::new(keys);
    // Every feature's personal data, for account deletion and retention (the accounts' apart:
    // it reads the person first and its row goes last).
    let erasure = Arc::new(Erasure::new(
        db.clone(),
        clock.clone(),
        &config.storage.data_dir,
        keys.session_secret.expose(),
        Arc::new(AccountsData { accounts: accounts.clone() }),
        vec![
            Arc::new(SessionsData { sessions: sessions.clone() }),
            Arc::new(TokensData { tokens: tokens.clone() }),
            Arc::new(MfaData),
            Arc::new(PhoneCodesData),
            Arc::new(NotifyData { pii: pii.clone() }),
            Arc::new(DriversData { drivers: drivers.clone() }),
            Arc::new(PoliciesData { pending: pending_policies.clone() }),
            Arc::new(OidcData),
            Arc::new(crate::webhooks::WebhookData { clock: clock.clone() }),
        ],
    ));
    let privacy = Arc::new(Privacy::new(PrivacyParts {
        db: db.clone(),
        clock: clock.clone(),
        config: config.clone(),
        erasure: erasure.clone(),
        pending_policies: pending_policies.clone(),
    }));
    let oidc = Arc::new(crate::oidc::Provider::new(
        db.clone(),
        clock.clone(),
        tokens.clone(),
        accounts.clone(),
        drivers.clone(),
        &config.server.public_url,
        &config.rate_limit,
    ));
    let state = AppState {
        oidc,
        config,
        db,
        keys,
        pii,
        metrics: Arc::new(Metrics::new()),
        spec: Arc::new(router::spec_documents()),
        clock,
        sessions,
        accounts,
        tokens,
        limits,
        captcha,
        phone_codes,
        outbox_wake,
        outbox_heartbeat,
        backups,
        drivers,
        pending_policies,
        privacy,
        erasure,
    };
    Ok((state, touch_writer, outbox))
}

impl App {
    /// Everything start-up does before it binds: a failure here leaves no server half-running.
    pub fn open(config: Config) -> anyhow::Result<Self> {
        Self::open_with_clock(config, Arc::new(SystemClock))
    }

    pub fn open_with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        prepare_data_dir(&config.storage.data_dir)?;
        let lock = DataDirLock::acquire(&config.storage.data_dir)?;
        let (state, touch_writer, outbox) = build(config, clock)?;
        // Other nodes' revocations reach this node's caches (PostgreSQL; nothing on SQLite).
        state.db.start_listening().context("cannot listen for other nodes' cache notices")?;
        let (now, url) = (state.clock.unix(), &state.config.server.public_url);
        let bootstrap_link = state
            .db
            .blocking_conn(|conn| bootstrap_link(conn, now, url).map_err(anyhow::Error::from))?;
        Ok(Self { state, touch_writer, outbox, bootstrap_link, _lock: lock })
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The one-time link to create the first admin, when there is no admin yet.
    pub fn bootstrap_link(&self) -> Option<&str> {
        self.bootstrap_link.as_deref()
    }

    /// Serves on `listener` until `shutdown` completes, lets in-flight requests finish (at most
    /// [`SHUTDOWN_GRACE`]), stops the workers and checkpoints the WAL.
    pub async fn run(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        let acceptor = TcpAcceptor::from_tokio(listener).context("cannot use the listener")?;
        let state = self.state;
        let jobs = schedule_jobs(&state, self.outbox);
        tracing::info!(jobs = ?jobs.names(), "starting jobs");
        let jobs = jobs.start(state.clone());
        let touch_task = tokio::spawn(self.touch_writer.run());
        let result = poem::Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(
                router::routes(state.clone()),
                shutdown,
                Some(SHUTDOWN_GRACE),
            )
            .await;
        tracing::info!("server stopped; stopping jobs and checkpointing the database");
        jobs.stop(SHUTDOWN_GRACE).await;
        state.outbox_heartbeat.stop();
        // The touch writer ends when the last Sessions handle (in the state) is dropped.
        let db = state.db.clone();
        drop(state);
        let _ = tokio::time::timeout(Duration::from_secs(2), touch_task).await;
        tokio::task::spawn_blocking(move || db.checkpoint()).await??;
        if let Err(e) = result {
            bail!("the server stopped with an error: {e}");
        }
        Ok(())
    }
}

/// Opens the app for `config` and serves on `listener` until `shutdown`: what the binary and
/// the integration tests both run.
pub async fn serve(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let app = tokio::task::spawn_blocking(move || App::open(config)).await??;
    app.run(listener, shutdown).await
}
