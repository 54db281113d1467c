//! Starting and stopping the app: data directory, keys, database and migrations, then the HTTP
//! server until the shutdown signal, then a WAL checkpoint.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use poem::listener::TcpAcceptor;

use crate::app::{self, AppState};
use crate::config::Config;
use crate::db::{self, Db};
use crate::keys::Keys;
use crate::ops::metrics::Metrics;

/// How long in-flight requests may run after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// An opened app: storage ready, not yet serving.
pub struct App {
    state: AppState,
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

/// Opens the database in `data_dir` and applies pending migrations.
pub fn open_database(data_dir: &Path) -> anyhow::Result<Db> {
    let path = data_dir.join("gatehouse.db");
    let db = db::open(&path).with_context(|| {
        format!(
            "cannot open the database {} (is it a Gatehouse SQLite database?); nothing was changed",
            path.display()
        )
    })?;
    let mut conn = db.get()?;
    let report = db::migrate(&mut conn)
        .with_context(|| format!("cannot migrate the database {}", path.display()))?;
    if !report.applied.is_empty() {
        tracing::info!(applied = ?report.applied, "database migrated");
    }
    drop(conn);
    Ok(db)
}

impl App {
    /// Everything start-up does before it binds: a failure here leaves no server half-running.
    pub fn open(config: Config) -> anyhow::Result<Self> {
        let data_dir = &config.storage.data_dir;
        prepare_data_dir(data_dir)?;
        let keys = Keys::load_or_generate(&config.keys, data_dir).context("cannot load keys")?;
        let db = open_database(data_dir)?;
        let state = AppState {
            config: Arc::new(config),
            db,
            keys: Arc::new(keys),
            metrics: Arc::new(Metrics::new()),
            spec: Arc::new(app::spec_documents()),
        };
        Ok(Self { state })
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves on `listener` until `shutdown` completes, lets in-flight requests finish (at most
    /// [`SHUTDOWN_GRACE`]) and checkpoints the WAL.
    pub async fn run(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        let acceptor = TcpAcceptor::from_tokio(listener).context("cannot use the listener")?;
        let state = self.state;
        let result = poem::Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(app::routes(state.clone()), shutdown, Some(SHUTDOWN_GRACE))
            .await;
        tracing::info!("server stopped; checkpointing the database");
        let checkpoint = state.db.clone();
        tokio::task::spawn_blocking(move || checkpoint.checkpoint()).await??;
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
