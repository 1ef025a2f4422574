//! Structured logs. Lambda functions log JSON lines (CloudWatch parses them); every
//! request's lines carry the request id, function and tenant id from the span that
//! [`crate::http::handle`] opens. Secrets and sample text are never logged.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

/// Installs the global subscriber (JSON to stdout for Lambda; text to stderr locally); the level comes from `LOG_LEVEL` (default `info`).
/// Metric lines ([`crate::metrics`]) go to the same stream. Safe to call more than once
/// (later calls do nothing).
pub fn init(format: LogFormat) {
    crate::metrics::set_sink(metrics_sink(format));
    let filter = EnvFilter::try_from_env("LOG_LEVEL").unwrap_or_else(|_| EnvFilter::new("info"));
    // A failed log write must never fail a request: with internal-error logging on,
    // tracing-subscriber reports it with eprintln!, which panics when stderr is closed.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .log_internal_errors(false);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder
            .compact()
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .try_init(),
    };
}

/// Where the metric lines of a process logging in `format` go: with its log.
pub fn metrics_sink(format: LogFormat) -> crate::metrics::Sink {
    match format {
        LogFormat::Json => crate::metrics::Sink::Stdout,
        LogFormat::Text => crate::metrics::Sink::Stderr,
    }
}
