//! The command line. `gatehouse` with no subcommand is `gatehouse serve`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::server::{self, App};

#[derive(Parser)]
#[command(name = "gatehouse", version, about = "Identity and verification appliance for campuses")]
struct Cli {
    /// The TOML configuration file (defaults apply without one).
    #[arg(long, global = true, env = "GATEHOUSE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API, the web UI and the background jobs (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Validate the configuration and print it, secrets redacted.
    CheckConfig,
    /// Print the OpenAPI document as YAML.
    Openapi,
    /// Print the version.
    Version,
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.config.as_deref()),
        Command::Migrate => migrate(cli.config.as_deref()),
        Command::CheckConfig => check_config(cli.config.as_deref()),
        Command::Openapi => {
            print!("{}", crate::app::spec_documents().yaml);
            Ok(())
        }
        Command::Version => {
            println!("gatehouse {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load(file: Option<&Path>) -> anyhow::Result<Config> {
    Config::load(file).map_err(anyhow::Error::from)
}

fn check_config(file: Option<&Path>) -> anyhow::Result<()> {
    let config = load(file)?;
    println!("# The configuration is valid. Effective values (secrets redacted):\n");
    print!("{}", config.to_redacted_toml());
    Ok(())
}

fn migrate(file: Option<&Path>) -> anyhow::Result<()> {
    let config = load(file)?;
    server::prepare_data_dir(&config.storage.data_dir)?;
    let path = config.storage.data_dir.join("gatehouse.db");
    let db = crate::db::open(&path)
        .with_context(|| format!("cannot open the database {}", path.display()))?;
    let report = crate::db::migrate(&mut *db.get()?)?;
    println!(
        "{} migration(s) applied, {} already applied",
        report.applied.len(),
        report.already_applied
    );
    for name in report.applied {
        println!("  applied {name}");
    }
    Ok(())
}

fn serve(file: Option<&Path>) -> anyhow::Result<()> {
    let config = load(file)?;
    server::prepare_data_dir(&config.storage.data_dir)?;
    let _log_guard = crate::logging::init(&config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(64)
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listen = config.server.listen;
        let std_listener = std::net::TcpListener::bind(listen).with_context(|| {
            format!("cannot listen on {listen} (is another process using this address?)")
        })?;
        std_listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(std_listener)?;
        let bound = listener.local_addr()?;
        let mut config = config;
        if config.server.listen.port() == 0 && !config.is_production() {
            // An ephemeral port (tests, side-by-side runs): links must name the real one.
            config.server.public_url = format!("http://{bound}");
        }
        let app = tokio::task::spawn_blocking(move || App::open(config)).await??;
        // Listen for signals before announcing the server, so that a SIGTERM sent as soon as
        // the banner appears is a clean shutdown and not the default kill.
        let shutdown = shutdown_signal()?;
        print_banner(app.state().config.as_ref(), bound);
        app.run(listener, shutdown).await
    })?;
    tracing::info!("stopped cleanly");
    Ok(())
}

fn print_banner(config: &Config, bound: std::net::SocketAddr) {
    let url = &config.server.public_url;
    let data = config.storage.data_dir.display();
    if !config.is_production() {
        println!("============================================================");
        println!(" DEVELOPMENT MODE: not for real users.");
        println!(" Mail goes to {data}/mail/new, SMS to {data}/sms.jsonl.");
        println!("============================================================");
        tracing::warn!("running in development mode");
    }
    println!("Gatehouse {} is serving on {bound}", env!("CARGO_PKG_VERSION"));
    println!("  Web UI:      {url}/");
    println!("  Swagger UI:  {url}/docs");
    println!("  OpenAPI:     {url}/openapi.json");
    println!("  Data:        {data}");
    tracing::info!(listen = %bound, public_url = %url, "serving");
}

/// Completes at the first SIGTERM or SIGINT. The handlers are installed when this is called.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT received; shutting down"),
            _ = terminate.recv() => tracing::info!("SIGTERM received; shutting down"),
        }
    })
}
