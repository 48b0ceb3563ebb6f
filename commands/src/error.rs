//! The one error type of the command layer. Every failure that comes from elsewhere keeps its
//! cause as the error's source, so the API can log the whole chain once.

use domain::{ErrorKind, Rejection};
use uuid::Uuid;

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
    /// Wrong e-mail or password (deliberately not saying which to the client).
    #[error("wrong e-mail or password")]
    BadCredentials {
        /// Whose account it was, when the e-mail is known: for the security log only.
        user_id: Option<uuid::Uuid>,
    },
    /// The aggregate kept changing under us; the client may retry later.
    #[error("too much contention on {0}; try again")]
    Contention(&'static str),
    /// Another writer committed first; retried inside the command path, never returned by it.
    #[error("optimistic concurrency conflict")]
    Conflict,
    /// An event with the same idempotency id exists: the request was carried out before.
    #[error("already done")]
    Duplicate,
    /// The event store or database failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// An append could not be written with the group it was in (see `store::group`).
    #[error("append failed")]
    Append(#[source] crate::store::AppendError),
    /// postgres-es could not load an aggregate.
    #[error("could not load {aggregate} {id}")]
    Load {
        /// The aggregate type.
        aggregate: &'static str,
        /// Its id.
        id: String,
        /// What failed: the cause cqrs-es wrapped (the database's error, say), or cqrs-es's own
        /// error where it wrapped none.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An event or snapshot could not be serialised.
    #[error("could not encode an event or snapshot")]
    Encode(#[source] serde_json::Error),
    /// A stored event could not be read back as its type.
    #[error("stored event {event_id} could not be read")]
    Decode {
        /// Which event.
        event_id: Uuid,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The store answered something that cannot happen (a bug, not a user's mistake).
    #[error("event store invariant broken: {0}")]
    Invariant(String),
    /// Too many requests (or failures) of this kind lately; the client may try again after a
    /// while.
    #[error("too many requests; try again in {retry_after_secs} s")]
    RateLimited {
        /// When to retry.
        retry_after_secs: u64,
    },
    /// The account is suspended.
    #[error("this account is suspended")]
    Suspended {
        /// When the suspension ends by itself (none: when an admin lifts it).
        until: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Too many password operations are running or waiting; the client may retry shortly.
    #[error("too many logins at once; try again")]
    Overloaded {
        /// When to retry.
        retry_after_secs: u64,
    },
    /// Password hashing failed.
    #[error("password hashing failed")]
    Hashing(#[source] argon2::password_hash::Error),
    /// The blocking task that hashes passwords died.
    #[error("the password worker died")]
    Worker(#[source] tokio::task::JoinError),
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
