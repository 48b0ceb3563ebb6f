//! The projections' error type. Failures from elsewhere keep their cause as the source.

/// A boxed cause from a library whose error types are many (async-nats has one per call).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a read model could not take an event or answer a query.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// PostgreSQL failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// A query ran past the time it was given.
    #[error("the query took longer than {0:?}")]
    TimedOut(std::time::Duration),
    /// NATS failed.
    #[error("nats: {what}")]
    Nats {
        /// What was being done.
        what: &'static str,
        /// What async-nats reported.
        #[source]
        source: BoxError,
    },
    /// A stored event could not be read as the domain type it claims to be.
    #[error("event {event_id} ({event_type}) unreadable")]
    Unreadable {
        /// Which event.
        event_id: uuid::Uuid,
        /// Its type.
        event_type: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A stream message that is not an event envelope.
    #[error("stream message {stream_seq} is not an event envelope")]
    BadEnvelope {
        /// Where it is.
        stream_seq: u64,
        /// Why (shared by every view the message was handed to).
        #[source]
        source: std::sync::Arc<serde_json::Error>,
    },
    /// A frame could not be serialised.
    #[error("could not encode a frame")]
    Encode(#[source] serde_json::Error),
    /// The consumer skipped ahead of the checkpoint; it is re-created from the checkpoint.
    #[error("gap: expected stream sequence {expected}, got {got}")]
    Gap {
        /// What should have come next.
        expected: u64,
        /// What came.
        got: u64,
    },
    /// A replay met a room's messages out of order: a store that breaks the aggregate's own
    /// numbering.
    #[error("room {room_id}: message {seq} came where {due} was due")]
    OutOfOrder {
        /// The room.
        room_id: uuid::Uuid,
        /// The message's seq.
        seq: i64,
        /// The seq that should have come.
        due: i64,
    },
    /// A view's lock stayed held elsewhere (by a replay) past the wait a batch allows.
    #[error("the view's lock is held elsewhere")]
    LockHeld,
    /// A view let messages by while its lock was held elsewhere (a replay's) or after it failed;
    /// the consumer is made again after the lowest checkpoint to hand them to it.
    #[error("the {view} view stood aside from stream sequence {from}")]
    StoodAside {
        /// Which view.
        view: &'static str,
        /// The first message it let by.
        from: u64,
    },
    /// No such read model in the registry.
    #[error("unknown read model {name:?}; known: {known}")]
    UnknownView {
        /// What was asked for.
        name: String,
        /// The registry's names, comma-separated.
        known: String,
    },
    /// A view's task, live or replaying, ended without an answer (it panicked).
    #[error("a view's task failed")]
    ViewTask(#[source] tokio::task::JoinError),
    /// A view's runner or the consumer feeding it stopped while the other went on.
    #[error("a view and its consumer parted")]
    ConsumerParted,
    /// Two read models with one name in a registry.
    #[error("two read models are called {0:?}")]
    DuplicateView(&'static str),
    /// A read model with the name of the views' consumer.
    #[error("a read model may not be called {0:?}: the views' consumer is")]
    ReservedViewName(&'static str),
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

    /// Whether a view's batch failed in the view's own work (its connection, its statements,
    /// the frames it makes), which the view waits out standing aside while the others go on
    /// ([`crate::runner`]). Anything else (the consumer, NATS, a gap) starts every view again.
    pub(crate) fn is_the_views_own(&self) -> bool {
        matches!(
            self,
            Self::Database(_) | Self::TimedOut(_) | Self::Encode(_)
        )
    }

    /// Whether the pool had no connection for the view within its wait
    /// (`MOIM_DB_ACQUIRE_TIMEOUT_MS`): every one was taken, or the database took no new one.
    pub(crate) fn is_a_wait_for_a_connection(&self) -> bool {
        matches!(self, Self::Database(sqlx::Error::PoolTimedOut))
    }

    /// Wraps an async-nats error with what was being done.
    pub(crate) fn nats<E: Into<BoxError>>(what: &'static str) -> impl FnOnce(E) -> Self {
        move |source| Self::Nats {
            what,
            source: source.into(),
        }
    }
}
