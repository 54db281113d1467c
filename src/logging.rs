//! Logs: lines to stdout and JSON lines to daily rolling files in the log directory. Only the
//! binary installs this (once per process); tests of the in-process app do not.
//!
//! Stdout follows `log.format`: `auto` (the default) writes lines for a person when stdout is
//! a terminal, so that the start-up banner is not buried among JSON objects, and JSON
//! otherwise (a pipe, a file, or the systemd journal, whose stdout is a socket), which log
//! collectors and `jq` read. The files are always JSON.

use anyhow::Context;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, fmt};

use crate::config::{Config, LogFormat};

/// Log files kept in the log directory (one per day).
const KEEP_LOG_FILES: usize = 30;

/// Lines the file writer's queue holds before it drops new ones (stdout still gets every
/// line). tracing-appender's default of 128,000 preallocates and touches a 4 MB ring at
/// start-up, a fifth of the idle process; 16,384 lines are a third of a second of access
/// lines at the fastest this service answers, and the writer thread empties the queue far
/// faster than requests fill it.
const FILE_QUEUE_LINES: usize = 16_384;

/// Installs the global subscriber. Keep the guard alive until exit: dropping it flushes the
/// file writer.
pub fn init(config: &Config) -> anyhow::Result<WorkerGuard> {
    let dir = config.log_dir();
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the log directory {}", dir.display()))?;
    let appender = RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix("gatehouse")
        .filename_suffix("log")
        .max_log_files(KEEP_LOG_FILES)
        .build(&dir)
        .with_context(|| format!("cannot write logs to {}", dir.display()))?;
    let (file_writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(FILE_QUEUE_LINES)
        .finish(appender);
    // PostgreSQL's client logs every statement with its bound values at debug level: tokens'
    // hashes, sealed data, emails' blind indexes. Never below warn, whatever log.level says.
    let filter = EnvFilter::try_new(&config.log.level)
        .context("log.level")?
        .add_directive("tokio_postgres=warn".parse().expect("a valid directive"))
        .add_directive("postgres=warn".parse().expect("a valid directive"));
    let terminal = std::io::IsTerminal::is_terminal(&std::io::stdout());
    // One of the two stdout layers is installed; `Option` layers are no-ops when `None`.
    let (text, json) = if stdout_is_text(config.log.format, terminal) {
        (Some(fmt::layer().with_ansi(terminal)), None)
    } else {
        let json =
            fmt::layer().json().flatten_event(true).with_current_span(true).with_span_list(false);
        (None, Some(json))
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json)
        .with(
            fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .with_writer(file_writer),
        )
        .try_init()
        .context("cannot install the logger")?;
    Ok(guard)
}

/// Whether stdout gets lines for a person (rather than JSON).
fn stdout_is_text(format: LogFormat, stdout_is_terminal: bool) -> bool {
    match format {
        LogFormat::Auto => stdout_is_terminal,
        LogFormat::Json => false,
        LogFormat::Text => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_is_text_on_a_terminal_only_and_the_others_are_fixed() {
        assert!(stdout_is_text(LogFormat::Auto, true));
        assert!(!stdout_is_text(LogFormat::Auto, false));
        for terminal in [true, false] {
            assert!(stdout_is_text(LogFormat::Text, terminal));
            assert!(!stdout_is_text(LogFormat::Json, terminal));
        }
    }
}
