//! The command line. `gatehouse` with no subcommand is `gatehouse serve`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::startup::{self, App};

mod accounts_and_data;
mod clients;
mod keys;
mod migrate_to_postgres;
mod serve;
mod webhooks;

use accounts_and_data::{admin_create, backup, campus, restore, seed};
use keys::{keys_rotate, keys_rotate_jwt};
use serve::serve;

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
    /// Copy this SQLite installation into an empty PostgreSQL database, checked row by row
    /// (the server must be stopped).
    MigrateToPostgres {
        /// The target: postgres://user:password@host:port/database (created empty, with
        /// LC_COLLATE 'C').
        #[arg(long, value_name = "URL")]
        to: String,
    },
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
    /// Manage the apps that sign people in through Gatehouse (OpenID Connect clients).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage the webhook endpoints that hear of events (a student verified, a driver
    /// approved, an account deleted).
    #[command(subcommand)]
    Webhook(WebhookCommand),
}

#[derive(Subcommand)]
enum WebhookCommand {
    /// Register an endpoint. Its signing secret is printed once.
    Add {
        /// Where events are posted: https (http only on a loopback address).
        #[arg(long)]
        url: String,
        /// The event types it takes, comma-separated (default: every type).
        #[arg(long, value_delimiter = ',')]
        events: Vec<String>,
        /// Print `{"id", "secret"}` as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the endpoints.
    List {
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove an endpoint (its waiting deliveries are dropped).
    Remove { id: String },
    /// Give an endpoint a new secret (printed once); the old one signs beside it for 24 hours.
    RotateSecret {
        id: String,
        /// Print `{"id", "secret"}` as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Register an app. A confidential app's secret is printed once.
    Add {
        /// The app's name, as users see it.
        #[arg(long)]
        name: String,
        /// Where sign-ins return to, matched exactly (repeat for more).
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// A mobile or desktop app: no secret, PKCE only.
        #[arg(long)]
        public: bool,
        /// A campus-owned app: users are not asked to consent.
        #[arg(long)]
        trusted: bool,
        /// A scope the app may ask for (repeat; default: openid email profile).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Where the app may send users after signing out (repeat for more).
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// Where Gatehouse posts logout tokens when a user's session ends.
        #[arg(long)]
        backchannel_logout_uri: Option<String>,
        /// How ID tokens are signed: RS256 (default) or EdDSA.
        #[arg(long)]
        id_token_alg: Option<String>,
        /// Print `{"client_id", "client_secret"}` as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the apps.
    List {
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove an app: it can no longer sign anyone in.
    Remove { client_id: String },
    /// Give a confidential app a new secret (printed once); the old one stops working.
    RotateSecret {
        client_id: String,
        /// Print `{"client_id", "client_secret"}` as JSON.
        #[arg(long)]
        json: bool,
    },
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
        Command::MigrateToPostgres { to } => {
            migrate_to_postgres::migrate_to_postgres(cli.config.as_deref(), &to)
        }
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
        Command::Client(command) => clients::client(cli.config.as_deref(), command),
        Command::Webhook(command) => webhooks::webhook(cli.config.as_deref(), command),
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

pub(super) fn load(file: Option<&Path>) -> anyhow::Result<Config> {
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
    startup::prepare_data_dir(&config.storage.data_dir)?;
    // Start-up migrates too; this is for applying them ahead of a start (and its report).
    match config.storage.engine {
        crate::config::StorageEngine::Sqlite => {
            let path = config.storage.data_dir.join("gatehouse.db");
            let db = crate::db::open(&path)
                .with_context(|| format!("cannot open the database {}", path.display()))?;
            let report = crate::db::migrate(&mut *db.get()?)?;
            print_migrations(report);
        }
        crate::config::StorageEngine::Postgres => {
            let db = crate::db::open_postgres(config.storage.postgres_url.expose()).context(
                "cannot connect to the PostgreSQL database named by storage.postgres_url",
            )?;
            let report = db.blocking_postgres(crate::db::prepare_postgres)??;
            print_migrations(report);
        }
    }
    Ok(())
}

fn print_migrations(report: crate::db::MigrationReport) {
    println!(
        "{} migration(s) applied, {} already applied",
        report.applied.len(),
        report.already_applied
    );
    for name in report.applied {
        println!("  applied {name}");
    }
}
