//! The projections' error type.

/// Why a read model could not take an event or answer a query.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// PostgreSQL failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// NATS failed.
    #[error("nats: {0}")]
    Nats(String),
    /// A stored event could not be read as the domain type it claims to be.
    #[error("event {event_id} ({event_type}) unreadable: {reason}")]
    Unreadable {
        /// Which event.
        event_id: uuid::Uuid,
        /// Its type.
        event_type: String,
        /// Why.
        reason: String,
    },
    /// A stream message that is not an event envelope.
    #[error("stream message {stream_seq} is not an event envelope: {reason}")]
    BadEnvelope {
        /// Where it is.
        stream_seq: u64,
        /// Why.
        reason: String,
    },
    /// The consumer skipped ahead of the checkpoint; it is re-created from the checkpoint.
    #[error("gap: expected stream sequence {expected}, got {got}")]
    Gap {
        /// What should have come next.
        expected: u64,
        /// What came.
        got: u64,
    },
    /// No such read model.
    #[error("unknown projection {0:?}; known: users, chat, couples, games, notifications")]
    UnknownView(String),
}

impl ProjectionError {
    /// Whether the event itself is at fault (so retrying cannot help), not the connection.
    pub fn is_poison(&self) -> bool {
        match self {
            Self::Unreadable { .. } | Self::BadEnvelope { .. } => true,
            Self::Database(sqlx::Error::Database(e)) => e
                .code()
                .is_some_and(|c| c.starts_with("22") || c.starts_with("23")),
            Self::Database(sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_)) => true,
            _ => false,
        }
    }

    pub(crate) fn nats(error: impl std::fmt::Display) -> Self {
        Self::Nats(error.to_string())
    }
}
