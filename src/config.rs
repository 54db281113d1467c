//! Configuration: embedded defaults, then a TOML file, then `GATEHOUSE_<SECTION>__<KEY>`
//! environment variables (figment). Every section denies unknown keys so a typo stops start-up
//! with a message naming the key. Secrets are [`Secret`]s: they print as `<redacted>` in
//! `check-config` output and in `Debug`, and each may instead be read from a `*_file` key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

mod secret;
mod validate;

pub use secret::Secret;

/// The whole configuration. Field names are the TOML keys.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub storage: StorageConfig,
    pub log: LogConfig,
    pub mail: MailConfig,
    pub sms: SmsConfig,
    pub backup: BackupConfig,
    pub captcha: CaptchaConfig,
    pub auth: AuthConfig,
    pub rate_limit: RateLimitConfig,
    pub keys: KeysConfig,
    pub metrics: MetricsConfig,
    pub retention: RetentionConfig,
    pub driver: DriverConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Development,
    Production,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub mode: Mode,
    pub listen: SocketAddr,
    /// The URL users reach Gatehouse at; links in emails are built from it. Empty: derived
    /// from `listen` (development only).
    pub public_url: String,
    /// CIDRs whose `X-Forwarded-For` header is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Extra origins allowed for CORS and CSRF checks.
    pub allowed_origins: Vec<String>,
    /// Largest request body accepted, in bytes (413 above it).
    pub max_body_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            mode: Mode::Development,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: String::new(),
            trusted_proxies: Vec::new(),
            allowed_origins: Vec::new(),
            max_body_bytes: 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Keys, logs, backups and (with SQLite) the database file. Every node of a PostgreSQL
    /// installation holds the same key files.
    pub data_dir: PathBuf,
    /// `sqlite` (one file in `data_dir`, one node) or `postgres` (several nodes, SPEC 14).
    pub engine: StorageEngine,
    /// `postgres://user:password@host:port/database` when `engine = "postgres"`. A secret: it
    /// may carry the password.
    pub postgres_url: Secret,
    pub postgres_url_file: PathBuf,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./gatehouse-data"),
            engine: StorageEngine::Sqlite,
            postgres_url: Secret::default(),
            postgres_url_file: PathBuf::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageEngine {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Empty: `<data_dir>/logs`.
    pub dir: PathBuf,
    /// A tracing filter: `info`, `debug`, `gatehouse=debug,info`, ...
    pub level: String,
    /// How lines on stdout are written; the log files are JSON whatever it says.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { dir: PathBuf::new(), level: "info".into(), format: LogFormat::Auto }
    }
}

/// The format of log lines on stdout (`log.format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Text when stdout is a terminal (a person is reading), JSON otherwise: a pipe, a file,
    /// or the systemd journal, whose stdout is a socket.
    Auto,
    /// JSON lines, one object each.
    Json,
    /// Lines for a person: time, level, where, message, fields.
    Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    Smtp,
    Maildir,
    Log,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    None,
    Starttls,
    Tls,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    pub transport: MailTransport,
    pub from: String,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_tls: SmtpTls,
    pub smtp_username: String,
    pub smtp_password: Secret,
    pub smtp_password_file: PathBuf,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            transport: MailTransport::Maildir,
            from: "Gatehouse <no-reply@localhost>".into(),
            smtp_host: String::new(),
            smtp_port: 587,
            smtp_tls: SmtpTls::Starttls,
            smtp_username: String::new(),
            smtp_password: Secret::default(),
            smtp_password_file: PathBuf::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmsProvider {
    File,
    Webhook,
    Twilio,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmsConfig {
    pub provider: SmsProvider,
    pub webhook_url: String,
    pub webhook_secret: Secret,
    pub webhook_secret_file: PathBuf,
    pub twilio_base_url: String,
    pub twilio_account_sid: String,
    pub twilio_auth_token: Secret,
    pub twilio_auth_token_file: PathBuf,
    pub twilio_from: String,
    /// Region for numbers written without `+` (ISO 3166 alpha-2).
    pub default_region: String,
    /// The regions (ISO 3166 alpha-2) whose phone numbers may be used: codes go only to them,
    /// and other numbers are refused wherever a number is typed. Empty (the default): only
    /// `default_region`. Must include `default_region`.
    pub allowed_regions: Vec<String>,
    /// Development only: the code request answers with the code itself (`dev_code`), for
    /// trying the flow without a phone. Production mode refuses to start with it.
    pub dev_echo: bool,
}

impl Default for SmsConfig {
    fn default() -> Self {
        Self {
            provider: SmsProvider::File,
            webhook_url: String::new(),
            webhook_secret: Secret::default(),
            webhook_secret_file: PathBuf::new(),
            twilio_base_url: "https://api.twilio.com".into(),
            twilio_account_sid: String::new(),
            twilio_auth_token: Secret::default(),
            twilio_auth_token_file: PathBuf::new(),
            twilio_from: String::new(),
            default_region: "IN".into(),
            allowed_regions: Vec::new(),
            dev_echo: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackupConfig {
    /// `HH:MM` local time, daily; empty turns scheduled backups off.
    pub schedule: String,
    pub keep: u32,
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self { schedule: "03:00".into(), keep: 14 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaptchaConfig {
    pub enabled: bool,
    /// Leading zero bits a solution's hash must have.
    pub difficulty: u8,
}

impl Default for CaptchaConfig {
    fn default() -> Self {
        Self { enabled: true, difficulty: 18 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// A code for an unknown phone creates an account (off: a phone proves no campus membership).
    pub phone_signup: bool,
    /// The `aud` claim of access tokens.
    pub token_audience: String,
    /// How long an email verification link works, in hours (24 to 48).
    pub verification_hours: u8,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self { phone_signup: false, token_audience: "gatehouse".into(), verification_hours: 24 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// `false` only for benchmarks; production mode refuses it.
    pub enabled: bool,
    /// Account lockout after failed passwords. `false` only for benchmarks
    /// and API fuzzing; production mode refuses it.
    pub lockout: bool,
    /// The window of the per-address and per-account tiers, in seconds.
    pub window_seconds: u64,
    /// Sign-in, sign-up, reset, verification and phone-code requests per window per
    /// (client IP, account identifier).
    pub auth_per_account: u32,
    /// The same requests per window per client IP.
    pub auth_per_ip: u32,
    /// Any other unauthenticated API request per window per client IP.
    pub anonymous_per_ip: u32,
    /// Authenticated API requests per minute per user.
    pub authenticated_per_minute: u32,
    /// Password-strength checks (the sign-up page's live meter) per window per client IP.
    pub strength_per_ip: u32,
    /// IPv6 clients are counted per network of this prefix length, not per address: one
    /// subscriber usually holds a whole /64 and can rotate through it at will.
    pub ipv6_prefix: u8,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            lockout: true,
            window_seconds: 900,
            auth_per_account: 5,
            auth_per_ip: 100,
            anonymous_per_ip: 1000,
            authenticated_per_minute: 600,
            strength_per_ip: 300,
            ipv6_prefix: 64,
        }
    }
}

/// `GET /metrics` access. Empty token: open to anyone who can reach the port (keep it behind
/// the firewall or the reverse proxy then).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Scrapers send `Authorization: Bearer <token>`.
    pub token: Secret,
    pub token_file: PathBuf,
}

/// How long data is kept (the daily retention job, `privacy::retention`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Accounts whose email (or phone) was never verified are deleted this many days after
    /// sign-up.
    pub unverified_account_days: u32,
    /// Audit rows older than this many days are deleted.
    pub audit_days: u32,
    /// Delivered or failed outbox messages (sealed recipient, no body) are deleted after this
    /// many days.
    pub outbox_days: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self { unverified_account_days: 30, audit_days: 365, outbox_days: 30 }
    }
}

/// Driver verification.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DriverConfig {
    /// Largest licence image accepted, per file, in bytes.
    pub max_image_bytes: usize,
    /// Largest licence image accepted, in pixels (width x height), checked from the header
    /// before any pixel is decoded.
    pub max_image_pixels: u64,
    /// Smallest width and height accepted, in pixels.
    pub min_image_side: u32,
    /// Name match score (0 to 1) at or above which the licence name counts as the profile's
    /// legal name.
    pub name_match_threshold: f64,
    /// The OCR program for licence fronts: a path, or a name looked up on PATH. Empty: no
    /// OCR (uploads whose barcode cannot be read go straight to manual review).
    pub tesseract: String,
    /// Seconds one OCR run may take before it is stopped.
    pub ocr_timeout_seconds: u64,
    /// `enable` and `availability` requests per hour per user.
    pub changes_per_hour: u32,
    /// Approve a renewal without a reviewer when every check passes AND the front, read by
    /// OCR, agrees with the barcode. Off: every renewal waits for a reviewer. A barcode is not
    /// signed, so this trusts OCR of the front to catch a reprinted back.
    pub auto_approve_renewals: bool,
    /// Common reasons reviewers pick from when rejecting a licence (they may also write their
    /// own). Each is shown to the driver as written.
    pub rejection_reasons: Vec<String>,
}

impl Default for DriverConfig {
    fn default() -> Self {
        Self {
            max_image_bytes: 10 * 1024 * 1024,
            max_image_pixels: 24_000_000,
            min_image_side: 300,
            name_match_threshold: 0.9,
            tesseract: "tesseract".into(),
            ocr_timeout_seconds: 30,
            changes_per_hour: 10,
            auto_approve_renewals: false,
            rejection_reasons: [
                "The photo is too blurred or dark to read: take it again in good light.",
                "Part of the licence is cut off: the whole card must be in the photo.",
                "The front and the back are of different licences.",
                "The name on the licence is not the legal name on your profile.",
                "The licence has expired or is about to: upload your current licence.",
                "This is not a driving licence: upload both sides of your driving licence.",
                "The printed details do not match the barcode on the back.",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

/// Key files. Empty paths: generated on first start into `<data_dir>/keys/` (mode 0600).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeysConfig {
    pub session_secret_file: PathBuf,
    pub jwt_signing_key_file: PathBuf,
    pub pii_key_file: PathBuf,
    pub pepper_file: PathBuf,
}

/// A configuration that could not be loaded or is not valid. The message names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Parse(#[from] Box<figment::Error>),
    #[error("invalid configuration: {key}: {message}")]
    Invalid { key: &'static str, message: String },
}

impl ConfigError {
    fn invalid(key: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid { key, message: message.into() }
    }
}

/// A `GATEHOUSE_` variable without the `__` separator is ignored; say so, because it is most
/// likely a misspelt setting (`GATEHOUSE_SERVER_LISTEN`).
fn warn_about_stray_variables() {
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if let Some(rest) = name.strip_prefix("GATEHOUSE_")
            && !rest.contains("__")
            && rest != "CONFIG"
        {
            eprintln!(
                "warning: ignoring {name}: settings are GATEHOUSE_<SECTION>__<KEY>, \
                 e.g. GATEHOUSE_SERVER__LISTEN"
            );
        }
    }
}

impl Config {
    /// Loads defaults, then `file` (if any), then the `GATEHOUSE_` environment, and validates.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(ConfigError::invalid(
                    "--config",
                    format!("{} does not exist or is not a file", file.display()),
                ));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        warn_about_stray_variables();
        // Only GATEHOUSE_<SECTION>__<KEY> variables are configuration; others that share the
        // prefix (GATEHOUSE_CONFIG, a test's GATEHOUSE_BIN) are not.
        figment = figment.merge(
            Env::prefixed("GATEHOUSE_").filter(|key| key.as_str().contains("__")).split("__"),
        );
        let config: Config = figment.extract().map_err(Box::new)?;
        config.finish()
    }

    /// Validates a configuration built in code (tests) and fills derived values.
    pub fn finish(mut self) -> Result<Self, ConfigError> {
        validate::validate(&mut self)?;
        Ok(self)
    }

    pub fn is_production(&self) -> bool {
        self.server.mode == Mode::Production
    }

    pub fn log_dir(&self) -> PathBuf {
        if self.log.dir.as_os_str().is_empty() {
            self.storage.data_dir.join("logs")
        } else {
            self.log.dir.clone()
        }
    }

    /// The effective configuration as TOML, secrets redacted.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}
