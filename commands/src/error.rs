//! The one error type of the command layer.

use domain::{ErrorKind, Rejection};

/// Why a command did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The domain refused it; `code` is stable and machine-readable.
    #[error("{message}")]
    Rejected {
        /// The class of refusal.
        kind: ErrorKind,
        /// Stable code such as `room_not_found`.
        code: &'static str,
        /// Human-readable reason.
        message: String,
    },
    /// Wrong e-mail or password (deliberately not saying which).
    #[error("wrong e-mail or password")]
    BadCredentials,
    /// The aggregate kept changing under us; the client may retry later.
    #[error("too much contention on {0}; try again")]
    Contention(String),
    /// Another writer committed first; retried inside the command path, never returned by it.
    #[error("optimistic concurrency conflict")]
    Conflict,
    /// An event with the same idempotency id exists: the request was carried out before.
    #[error("already done")]
    Duplicate,
    /// The event store or database failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// Stored data could not be read back.
    #[error("event store error: {0}")]
    Store(String),
    /// Password hashing failed or its worker died.
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

impl CommandError {
    /// Wraps a domain refusal.
    pub fn rejected(error: impl Rejection) -> Self {
        Self::Rejected {
            kind: error.kind(),
            code: error.code(),
            message: error.to_string(),
        }
    }
}
