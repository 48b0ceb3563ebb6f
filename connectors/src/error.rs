//! The connectors' one error type; the API maps it to problem+json in one place.

use std::time::Duration;

use commands::CommandError;
use domain::ErrorKind;
use projections::ProjectionError;

/// Why a connector could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The deployment has no settings for this service (no API key, no base URL).
    #[error("{0} is not set up on this server")]
    NotConfigured(&'static str),
    /// The outside service is down, slow, or asked us to wait; try again after `retry_after`.
    #[error("{upstream} is unavailable right now")]
    Unavailable {
        /// Which service.
        upstream: &'static str,
        /// When it may answer again.
        retry_after: Duration,
    },
    /// The request names something the outside service or Moim refuses; `code` is stable.
    #[error("{message}")]
    Rejected {
        /// The class of refusal.
        kind: ErrorKind,
        /// e.g. `character_not_found`.
        code: &'static str,
        /// Human-readable reason.
        message: String,
    },
    /// The outside service answered something that is not its documented shape.
    #[error("{upstream} answered in an unexpected shape")]
    Malformed {
        /// Which service.
        upstream: &'static str,
        /// What did not parse.
        #[source]
        source: serde_json::Error,
    },
    /// A command failed.
    #[error("command")]
    Command(#[from] CommandError),
    /// A read model failed.
    #[error("read model")]
    Projection(#[from] ProjectionError),
    /// The database failed.
    #[error("database")]
    Database(#[from] sqlx::Error),
}

impl ConnectorError {
    /// A refusal with a stable code.
    pub fn rejected(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> Self {
        Self::Rejected {
            kind,
            code,
            message: message.into(),
        }
    }
}
