//! Checks that types alone cannot express, and values derived from others. Each failure names
//! the key it is about.

use std::path::Path;

use super::{Config, ConfigError, MailTransport, Mode, Secret, SmsProvider, StorageEngine};
use crate::contact::phone::is_known_region;

pub(super) fn validate(config: &mut Config) -> Result<(), ConfigError> {
    validate_server(config)?;
    validate_log(config)?;
    validate_mail(config)?;
    validate_sms(config)?;
    validate_backup(config)?;
    validate_storage(config)?;
    let metrics = &mut config.metrics;
    read_secret_file(&mut metrics.token, &metrics.token_file, "metrics.token_file")?;
    if !(1..=32).contains(&config.captcha.difficulty) {
        return Err(ConfigError::invalid("captcha.difficulty", "must be between 1 and 32"));
    }
    if !(24..=48).contains(&config.auth.verification_hours) {
        return Err(ConfigError::invalid("auth.verification_hours", "must be between 24 and 48"));
    }
    if config.auth.token_audience.trim().is_empty() {
        return Err(ConfigError::invalid("auth.token_audience", "must not be empty"));
    }
    let limits = &config.rate_limit;
    for (key, value) in [
        ("rate_limit.window_seconds", limits.window_seconds),
        ("rate_limit.auth_per_account", limits.auth_per_account.into()),
        ("rate_limit.auth_per_ip", limits.auth_per_ip.into()),
        ("rate_limit.anonymous_per_ip", limits.anonymous_per_ip.into()),
        ("rate_limit.authenticated_per_minute", limits.authenticated_per_minute.into()),
        ("rate_limit.strength_per_ip", limits.strength_per_ip.into()),
    ] {
        if value == 0 {
            return Err(ConfigError::invalid(key, "must be at least 1"));
        }
    }
    if !(16..=128).contains(&limits.ipv6_prefix) {
        return Err(ConfigError::invalid("rate_limit.ipv6_prefix", "must be between 16 and 128"));
    }
    let retention = &config.retention;
    for (key, value) in [
        ("retention.unverified_account_days", retention.unverified_account_days),
        ("retention.audit_days", retention.audit_days),
        ("retention.outbox_days", retention.outbox_days),
    ] {
        if value == 0 {
            return Err(ConfigError::invalid(key, "must be at least 1 (day)"));
        }
    }
    let driver = &config.driver;
    if !(1024..=64 * 1024 * 1024).contains(&driver.max_image_bytes) {
        return Err(ConfigError::invalid(
            "driver.max_image_bytes",
            "must be between 1 KiB and 64 MiB",
        ));
    }
    if !(10_000..=200_000_000).contains(&driver.max_image_pixels) {
        return Err(ConfigError::invalid(
            "driver.max_image_pixels",
            "must be between 10000 and 200000000",
        ));
    }
    if driver.rejection_reasons.len() > 50
        || driver.rejection_reasons.iter().any(|r| r.trim().is_empty() || r.chars().count() > 500)
    {
        return Err(ConfigError::invalid(
            "driver.rejection_reasons",
            "must be at most 50 reasons of 1 to 500 characters each",
        ));
    }
    if !(0.0..=1.0).contains(&driver.name_match_threshold) {
        return Err(ConfigError::invalid("driver.name_match_threshold", "must be between 0 and 1"));
    }
    if driver.changes_per_hour == 0 || driver.ocr_timeout_seconds == 0 {
        let key = if driver.changes_per_hour == 0 {
            "driver.changes_per_hour"
        } else {
            "driver.ocr_timeout_seconds"
        };
        return Err(ConfigError::invalid(key, "must be at least 1"));
    }
    if config.server.mode == Mode::Production && !config.rate_limit.enabled {
        return Err(ConfigError::invalid(
            "rate_limit.enabled",
            "rate limits cannot be turned off in production mode",
        ));
    }
    if config.server.mode == Mode::Production && !config.rate_limit.lockout {
        return Err(ConfigError::invalid(
            "rate_limit.lockout",
            "account lockout cannot be turned off in production mode",
        ));
    }
    Ok(())
}

fn validate_server(config: &mut Config) -> Result<(), ConfigError> {
    let server = &mut config.server;
    let production = server.mode == Mode::Production;
    if server.public_url.is_empty() {
        if production {
            return Err(ConfigError::invalid(
                "server.public_url",
                "must be set (https://...) in production mode",
            ));
        }
        server.public_url = format!("http://{}", server.listen);
    }
    let url = url::Url::parse(&server.public_url)
        .map_err(|e| ConfigError::invalid("server.public_url", format!("not a URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if !production => {}
        "http" => {
            return Err(ConfigError::invalid(
                "server.public_url",
                "must be https in production mode",
            ));
        }
        other => {
            return Err(ConfigError::invalid(
                "server.public_url",
                format!("scheme {other:?} is not http or https"),
            ));
        }
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::invalid(
            "server.public_url",
            "must be an origin only (no path, query or fragment): Gatehouse is served at /",
        ));
    }
    server.public_url = url.origin().ascii_serialization();
    for origin in &mut server.allowed_origins {
        let parsed = url::Url::parse(origin).ok().filter(|u| u.path() == "/");
        let Some(parsed) = parsed else {
            return Err(ConfigError::invalid(
                "server.allowed_origins",
                format!("{origin:?} is not an origin like https://app.example.edu"),
            ));
        };
        *origin = parsed.origin().ascii_serialization();
    }
    if server.max_body_bytes < 1024 {
        return Err(ConfigError::invalid("server.max_body_bytes", "must be at least 1024"));
    }
    Ok(())
}

fn validate_log(config: &Config) -> Result<(), ConfigError> {
    tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .map(drop)
        .map_err(|e| ConfigError::invalid("log.level", format!("not a log filter: {e}")))
}

fn validate_mail(config: &mut Config) -> Result<(), ConfigError> {
    let mail = &mut config.mail;
    if !mail.from.contains('@') {
        return Err(ConfigError::invalid("mail.from", "must contain an email address"));
    }
    read_secret_file(&mut mail.smtp_password, &mail.smtp_password_file, "mail.smtp_password_file")?;
    if mail.transport == MailTransport::Smtp && mail.smtp_host.is_empty() {
        return Err(ConfigError::invalid(
            "mail.smtp_host",
            "is required when transport = \"smtp\"",
        ));
    }
    Ok(())
}

fn validate_sms(config: &mut Config) -> Result<(), ConfigError> {
    let production = config.server.mode == Mode::Production;
    let sms = &mut config.sms;
    read_secret_file(&mut sms.webhook_secret, &sms.webhook_secret_file, "sms.webhook_secret_file")?;
    read_secret_file(
        &mut sms.twilio_auth_token,
        &sms.twilio_auth_token_file,
        "sms.twilio_auth_token_file",
    )?;
    if sms.dev_echo && production {
        return Err(ConfigError::invalid(
            "sms.dev_echo",
            "would put sign-in codes in API responses; it is for development mode only",
        ));
    }
    let region = &sms.default_region;
    if !is_known_region(region) {
        return Err(ConfigError::invalid(
            "sms.default_region",
            format!("{region:?} is not a two-letter upper-case region code such as IN or US"),
        ));
    }
    if sms.allowed_regions.is_empty() {
        sms.allowed_regions = vec![region.clone()];
    }
    if let Some(unknown) = sms.allowed_regions.iter().find(|r| !is_known_region(r)) {
        return Err(ConfigError::invalid(
            "sms.allowed_regions",
            format!("{unknown:?} is not a two-letter upper-case region code such as IN or US"),
        ));
    }
    if !sms.allowed_regions.contains(region) {
        return Err(ConfigError::invalid(
            "sms.allowed_regions",
            format!(
                "must include sms.default_region ({region}): numbers written without + are \
                 read as its numbers"
            ),
        ));
    }
    match sms.provider {
        SmsProvider::File => {}
        SmsProvider::Webhook if sms.webhook_url.is_empty() => {
            return Err(ConfigError::invalid(
                "sms.webhook_url",
                "is required when provider = \"webhook\"",
            ));
        }
        SmsProvider::Webhook => {}
        SmsProvider::Twilio => {
            if sms.twilio_account_sid.is_empty()
                || sms.twilio_auth_token.is_empty()
                || sms.twilio_from.is_empty()
            {
                return Err(ConfigError::invalid(
                    "sms.twilio_account_sid",
                    "twilio_account_sid, twilio_auth_token(_file) and twilio_from are required \
                     when provider = \"twilio\"",
                ));
            }
        }
    }
    Ok(())
}

fn validate_backup(config: &Config) -> Result<(), ConfigError> {
    let schedule = &config.backup.schedule;
    if !schedule.is_empty() && chrono::NaiveTime::parse_from_str(schedule, "%H:%M").is_err() {
        return Err(ConfigError::invalid(
            "backup.schedule",
            format!("{schedule:?} is not a time like \"03:00\" (or \"\" for no schedule)"),
        ));
    }
    if config.backup.keep == 0 {
        return Err(ConfigError::invalid("backup.keep", "must be at least 1"));
    }
    Ok(())
}

fn validate_storage(config: &mut Config) -> Result<(), ConfigError> {
    let storage = &mut config.storage;
    read_secret_file(
        &mut storage.postgres_url,
        &storage.postgres_url_file,
        "storage.postgres_url_file",
    )?;
    match storage.engine {
        StorageEngine::Sqlite if !storage.postgres_url.is_empty() => Err(ConfigError::invalid(
            "storage.postgres_url",
            "is set but storage.engine is \"sqlite\": set storage.engine = \"postgres\" to use it",
        )),
        StorageEngine::Sqlite => Ok(()),
        StorageEngine::Postgres if storage.postgres_url.is_empty() => Err(ConfigError::invalid(
            "storage.postgres_url",
            "must be set (or storage.postgres_url_file) when storage.engine is \"postgres\"",
        )),
        // The parser's message would quote the URL, password and all: say what is wrong
        // without it.
        StorageEngine::Postgres => {
            match storage.postgres_url.expose().parse::<postgres::Config>() {
                Ok(_) => Ok(()),
                Err(_) => Err(ConfigError::invalid(
                    "storage.postgres_url",
                    "is not a PostgreSQL connection URL like postgres://gatehouse@db.campus.edu/gatehouse",
                )),
            }
        }
    }
}

/// Fills `secret` from `file` when a file is named; naming both is an error.
fn read_secret_file(
    secret: &mut Secret,
    file: &Path,
    key: &'static str,
) -> Result<(), ConfigError> {
    if file.as_os_str().is_empty() {
        return Ok(());
    }
    if !secret.is_empty() {
        return Err(ConfigError::invalid(key, "set either the secret or its *_file, not both"));
    }
    // Bounded: a secret is short, and a path such as /dev/zero must not hang start-up.
    const MAX_SECRET_BYTES: u64 = 64 * 1024;
    let mut value = String::new();
    std::fs::File::open(file)
        .and_then(|f| {
            std::io::Read::read_to_string(
                &mut std::io::Read::take(f, MAX_SECRET_BYTES + 1),
                &mut value,
            )
        })
        .map_err(|e| ConfigError::invalid(key, format!("cannot read {}: {e}", file.display())))?;
    if value.len() as u64 > MAX_SECRET_BYTES {
        let message = format!("{} is larger than 64 KiB: it is not a secret file", file.display());
        return Err(ConfigError::invalid(key, message));
    }
    *secret = Secret::new(value.trim_end_matches(['\r', '\n']));
    Ok(())
}
