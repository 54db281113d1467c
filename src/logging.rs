//! Logs: JSON lines to stdout and to daily rolling files in the log directory. Only the
//! binary installs this (once per process); tests of the in-process app do not.

use anyhow::Context;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, fmt};

use crate::config::Config;

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
    let filter = EnvFilter::try_new(&config.log.level).context("log.level")?;
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt::layer().json().flatten_event(true).with_current_span(true).with_span_list(false))
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
