//! Logging and tracing set-up: `RUST_LOG` filters, `MOIM_LOG_FORMAT=json` for machine logs.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber; a second call (as in tests) does nothing.
pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if std::env::var("MOIM_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
