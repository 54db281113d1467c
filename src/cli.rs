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
    /// Manage campuses and their email domains.
    #[command(subcommand)]
    Campus(CampusCommand),
    /// Manage admins.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Back up the database, keys and uploads into <data_dir>/backups (safe while serving).
    Backup {
        /// Also copy the archive to this file.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Restore a backup archive into the data dir. The server must be stopped.
    Restore {
        /// The archive (gatehouse-<time>.tar.gz).
        file: PathBuf,
        /// Restore into this directory instead of the configured storage.data_dir.
        #[arg(long, value_name = "DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Fill the database with realistic verified accounts, sessions and audit rows (for
    /// benchmarks; never on a production database).
    Seed {
        /// How many accounts (numbered from 0; existing ones are skipped).
        #[arg(long)]
        users: u64,
        /// The campus email domain (a campus is created for it if none has it).
        #[arg(long, default_value = "seed.example.edu")]
        domain: String,
        /// A file holding the password every seeded account gets (default: Seed-Password-1).
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
    },
    /// Manage the keys that seal personal data.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Make a new PII key active and re-seal every stored value under it (the server may keep
    /// running). Run again to finish an interrupted rotation. With --jwt, rotate the JWT
    /// signing key instead.
    Rotate {
        /// Rotate the JWT signing key: new access tokens are signed with a new key; the old
        /// one keeps verifying (and stays in the JWK set) until its tokens have expired. The
        /// server may keep running: it follows the change.
        #[arg(long)]
        jwt: bool,
    },
}

#[derive(Subcommand)]
enum CampusCommand {
    /// Add a campus with one or more email domains.
    Add {
        #[arg(long)]
        name: String,
        /// An email domain whose owners may sign up (repeat for more).
        #[arg(long = "domain", required = true)]
        domains: Vec<String>,
    },
    /// List campuses and their domains.
    List,
    /// Remove a campus, named by id or by one of its domains.
    Remove { id_or_domain: String },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an admin, or promote the account with this email.
    Create {
        #[arg(long)]
        email: String,
        /// A file holding the new admin's password (otherwise asked on the terminal).
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
        /// The name shown for the admin.
        #[arg(long)]
        display_name: Option<String>,
    },
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.config.as_deref()),
        Command::Migrate => migrate(cli.config.as_deref()),
        Command::CheckConfig => check_config(cli.config.as_deref()),
        Command::Openapi => {
            print!("{}", crate::router::spec_documents().yaml);
            Ok(())
        }
        Command::Version => {
            println!("gatehouse {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Campus(command) => campus(cli.config.as_deref(), command),
        Command::Backup { out } => backup(cli.config.as_deref(), out.as_deref()),
        Command::Restore { file, data_dir } => {
            restore(cli.config.as_deref(), &file, data_dir.as_deref())
        }
        Command::Keys(KeysCommand::Rotate { jwt: false }) => keys_rotate(cli.config.as_deref()),
        Command::Keys(KeysCommand::Rotate { jwt: true }) => keys_rotate_jwt(cli.config.as_deref()),
        Command::Seed { users, domain, password_file } => {
            seed(cli.config.as_deref(), users, &domain, password_file.as_deref())
        }
        Command::Admin(AdminCommand::Create { email, password_file, display_name }) => {
            admin_create(
                cli.config.as_deref(),
                &email,
                password_file.as_deref(),
                display_name.as_deref(),
            )
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

fn keys_rotate(file: Option<&Path>) -> anyhow::Result<()> {
    use std::io::IsTerminal;

    use crate::privacy::rotate::{self, RotateOptions};
    let config = load(file)?;
    let clock: std::sync::Arc<dyn crate::clock::Clock> =
        std::sync::Arc::new(crate::clock::SystemClock);
    let (state, _, _) = server::build(config, clock.clone())?;
    let bar = if std::io::stdout().is_terminal() {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "re-sealing {bar:40} {pos}/{len} rows ({per_sec}, {eta} left)",
            )
            .expect("valid template"),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut conn = state.db.get()?;
    let report = rotate::rotate(
        &mut conn,
        &state.pii,
        &*state.driver.uploads,
        clock.unix(),
        RotateOptions {
            on_start: &mut |rows| bar.set_length(rows),
            on_progress: &mut |rows| bar.inc(rows),
            settle: std::time::Duration::from_secs(2),
        },
    )
    .context("key rotation stopped; run `gatehouse keys rotate` again to resume")?;
    bar.finish_and_clear();
    let verb = if report.resumed { "Finished the interrupted rotation" } else { "Rotated" };
    println!(
        "{verb} to PII key {}: {} value(s) and {} licence image(s) re-sealed.",
        report.key_id, report.values_resealed, report.files_resealed
    );
    for id in &report.keys_removed {
        println!("  key {id}: nothing is sealed under it any more; its file was deleted");
    }
    for id in &report.keys_kept {
        println!("  key {id}: still in use; kept (run the command again to finish)");
    }
    println!("  key 1 (pii.key) is kept: it also keys the email and phone lookups.");
    Ok(())
}

fn keys_rotate_jwt(file: Option<&Path>) -> anyhow::Result<()> {
    use crate::audit::{self, AuditEvent, actions};
    use crate::tokens::jwt::ACCESS_TOKEN_SECONDS;
    use crate::tokens::key_files::{KeyFiles, RETIRED_GRACE_SECONDS};
    let config = load(file)?;
    let data_dir = &config.storage.data_dir;
    let files = KeyFiles::new(&config.keys, data_dir);
    if !files.signing_path().exists() {
        // Said by `rotate` too; checked first so that no database is made for nothing.
        anyhow::bail!(
            "there is no JWT signing key at {} yet: start Gatehouse once, which makes one",
            files.signing_path().display()
        );
    }
    let db = server::open_database(data_dir)?;
    let now = chrono::Utc::now().timestamp();
    let rotation = files.rotate(now)?;
    let event = AuditEvent {
        at: now,
        actor_id: None,
        action: actions::JWT_KEY_ROTATED,
        subject_id: None,
        ip: None,
        success: true,
        details: serde_json::json!({
            "old_kid": rotation.old_kid,
            "new_kid": rotation.new_kid,
            "retired_keys_deleted": rotation.deleted.len(),
        }),
    };
    audit::record(&*db.get()?, &event)
        .context("the key was rotated, but the audit row could not be written")?;
    let minutes = (ACCESS_TOKEN_SECONDS + RETIRED_GRACE_SECONDS + 59) / 60;
    println!(
        "Rotated the JWT signing key: new access tokens are signed with key {}.",
        rotation.new_kid
    );
    println!(
        "  key {} is retired ({}): it verifies the tokens it signed, and stays in \
         /.well-known/jwks.json, for {minutes} more minutes.",
        rotation.old_kid,
        rotation.retired_file.display()
    );
    println!("  A running server follows the change at its next request; no restart is needed.");
    for path in &rotation.deleted {
        println!("  deleted {}: its tokens have all expired", path.display());
    }
    for path in &rotation.undated {
        println!(
            "  kept {}: retired by hand, so its age is unknown; delete it once its tokens have \
             expired ({minutes} minutes after it stopped signing)",
            path.display()
        );
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
        print_banner(app.state().config.as_ref(), bound, app.bootstrap_link());
        app.run(listener, shutdown).await
    })?;
    tracing::info!("stopped cleanly");
    Ok(())
}

fn print_banner(config: &Config, bound: std::net::SocketAddr, bootstrap_link: Option<&str>) {
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
    if let Some(link) = bootstrap_link {
        println!("There is no admin yet. Create the first one within an hour at:");
        println!("  Bootstrap:   {link}");
        println!("(or run `gatehouse admin create --email ...`)");
        tracing::warn!(bootstrap_link = %link, "no admin yet: one-time bootstrap link (valid 1 h)");
    }
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

fn campus(file: Option<&Path>, command: CampusCommand) -> anyhow::Result<()> {
    use crate::campuses::store::{self, Actor};
    let config = load(file)?;
    server::prepare_data_dir(&config.storage.data_dir)?;
    let db = server::open_database(&config.storage.data_dir)?;
    let mut conn = db.get()?;
    let now = chrono::Utc::now().timestamp();
    let cli = Actor { user_id: None, ip: None };
    match command {
        CampusCommand::Add { name, domains } => {
            let campus = store::create(&mut conn, &name, &domains, now, &cli)?;
            println!("added campus {} ({}): {}", campus.id, campus.name, campus.domains.join(", "));
        }
        CampusCommand::List => {
            let campuses = store::list(&conn)?;
            if campuses.is_empty() {
                println!(
                    "no campuses yet: add one with `gatehouse campus add --name NAME --domain DOMAIN`"
                );
            }
            for campus in campuses {
                println!("{}\t{}\t{}", campus.id, campus.name, campus.domains.join(","));
            }
        }
        CampusCommand::Remove { id_or_domain } => {
            let campus = store::remove(&mut conn, &id_or_domain, now, &cli)?;
            println!("removed campus {} ({})", campus.id, campus.name);
        }
    }
    Ok(())
}

fn backup(file: Option<&Path>, out: Option<&Path>) -> anyhow::Result<()> {
    let config = load(file)?;
    let data_dir = &config.storage.data_dir;
    if !data_dir.join("gatehouse.db").is_file() {
        anyhow::bail!("there is no database in {} to back up", data_dir.display());
    }
    let bar = crate::backup::terminal_bar();
    let info = crate::backup::create(data_dir, config.backup.keep, chrono::Utc::now(), &bar)?;
    println!(
        "backup written: {} ({} bytes, {} files)",
        info.path.display(),
        info.size_bytes,
        info.files
    );
    if let Some(out) = out {
        std::fs::copy(&info.path, out)
            .with_context(|| format!("cannot copy the backup to {}", out.display()))?;
        println!("copied to {}", out.display());
    }
    Ok(())
}

fn restore(file: Option<&Path>, archive: &Path, data_dir: Option<&Path>) -> anyhow::Result<()> {
    let data_dir = match data_dir {
        Some(dir) => dir.to_path_buf(),
        None => load(file)?.storage.data_dir,
    };
    let bar = crate::backup::terminal_bar();
    let report = crate::backup::restore(archive, &data_dir, &bar)?;
    let m = &report.manifest;
    println!(
        "restored the backup of {} (Gatehouse {}, {} files) into {}",
        m.created_at,
        m.gatehouse_version,
        m.files.len(),
        data_dir.display()
    );
    if let Some(old) = report.replaced {
        println!("the replaced files are in {} (delete it once all is well)", old.display());
    }
    println!("start the server: pending migrations are applied at start-up");
    Ok(())
}

/// The password of seeded accounts when no file names one (benchmarks sign them in with it).
const SEED_PASSWORD: &str = "Seed-Password-1";

fn seed(
    file: Option<&Path>,
    users: u64,
    domain: &str,
    password_file: Option<&Path>,
) -> anyhow::Result<()> {
    let config = load(file)?;
    if config.is_production() {
        anyhow::bail!("seed refuses to run in production mode: it adds made-up accounts");
    }
    let password = match password_file {
        Some(_) => read_new_password(password_file)?,
        None => SEED_PASSWORD.to_string(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = runtime.block_on(crate::seed::run(config, users, domain, &password, |done| {
        eprint!("\rseeded {done} accounts");
    }))?;
    eprintln!();
    println!(
        "seeded {} accounts ({} already there) in {:.1} s",
        report.created, report.skipped, report.seconds
    );
    Ok(())
}

fn read_new_password(file: Option<&Path>) -> anyhow::Result<String> {
    if let Some(file) = file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the password file {}", file.display()))?;
        return Ok(text.trim_end_matches(['\r', '\n']).to_string());
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        anyhow::bail!("no terminal to ask for the password on: use --password-file FILE");
    }
    let first = rpassword::prompt_password("New admin password: ")?;
    let second = rpassword::prompt_password("Repeat it: ")?;
    if first != second {
        anyhow::bail!("the two passwords differ");
    }
    Ok(first)
}

fn admin_create(
    file: Option<&Path>,
    email: &str,
    password_file: Option<&Path>,
    display_name: Option<&str>,
) -> anyhow::Result<()> {
    use crate::accounts::bootstrap::AdminOutcome;
    use crate::http::RequestMeta;
    let config = load(file)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let clock = std::sync::Arc::new(crate::clock::SystemClock);
        let (state, _, _) =
            tokio::task::spawn_blocking(move || server::build(config, clock)).await??;
        let index = state.accounts.email_index(&crate::accounts::email::normalize(email));
        let pii = state.accounts.pii().clone();
        let exists = state
            .db
            .run(move |c| {
                crate::accounts::store::find_by_email_index(c, &pii, &index)
                    .map_err(crate::db::DbError::from)
            })
            .await?
            .is_some();
        let password = if exists { None } else { Some(read_new_password(password_file)?) };
        let outcome = state
            .accounts
            .create_admin(email, password.as_deref(), display_name, None, &RequestMeta::default())
            .await
            .map_err(|e| match e {
                crate::accounts::AccountError::Validation(errors) => anyhow::anyhow!(
                    "{}",
                    errors
                        .iter()
                        .map(|e| format!("{}: {}", e.field, e.message))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                other => anyhow::anyhow!("{other}"),
            })?;
        match outcome {
            AdminOutcome::Created => println!("created admin {email}"),
            AdminOutcome::Promoted => println!("promoted {email} to admin (their sessions ended)"),
        }
        Ok::<_, anyhow::Error>(())
    })
}
