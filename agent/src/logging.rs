//! Log output of both programs (`sdgx-agent` and `sdgx-coordinator`): human-readable text, or
//! one JSON object per line (`--log-format json`, or `SDGX_LOG_FORMAT=json`), always on
//! standard error; `RUST_LOG` chooses the levels.
//!
//! A JSON line carries `timestamp`, `level`, `target`, `fields` (the event's fields, `message`
//! among them) and, inside a span (the coordinator's HTTP access log), `span` with the span's
//! fields.

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Readable lines (coloured on a terminal).
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Installs the global subscriber: `format` on standard error, with the levels of `RUST_LOG`
/// or else `default_filter`.
pub fn init(format: LogFormat, default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default_filter.into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init(),
        LogFormat::Json => builder.with_ansi(false).json().with_current_span(true).with_span_list(false).init(),
    }
}
