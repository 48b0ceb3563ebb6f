//! The relay: tails the events table in global order and publishes each event to JetStream.
//!
//! Nothing lost: it reads only below `pg_snapshot_xmin`, so a transaction that commits late can
//! never land behind its cursor. Nothing doubled: every publish carries the stream sequence it
//! expects to follow (`Nats-Expected-Last-Sequence`), so the stream is an exact, gap-free copy of
//! the global order, and on (re)start the relay resumes after the position written in the
//! stream's last message — whatever the process was doing when it died. `Nats-Msg-Id` (the
//! event id) de-duplicates on top of that.
//!
//! One relay works at a time: it holds a PostgreSQL advisory lock, which the server releases
//! when the process or its connection dies, letting a standby take over.

use std::time::Duration;

use async_nats::jetstream::{self, context::PublishErrorKind, message::PublishMessage};
use domain::Position;
use futures::FutureExt;
use sqlx::postgres::PgListener;
use sqlx::{ConnectOptions, FromRow, PgConnection, PgPool, Row};
use tokio_util::sync::CancellationToken;

use crate::envelope::EventEnvelope;
use crate::stream;
use crate::subjects::Subjects;

/// Advisory lock key of the relay leader ("moimrely" in ASCII).
pub const LEADER_LOCK: i64 = 0x6d6f_696d_7265_6c79;

/// Why the relay stopped a round; it logs, re-synchronises and goes on.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// PostgreSQL failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// NATS failed or refused a publish.
    #[error("nats: {what}")]
    Nats {
        /// What was being done.
        what: &'static str,
        /// What async-nats (or the relay's own check) reported.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An envelope could not be serialised.
    #[error("could not encode event {0}")]
    Encode(uuid::Uuid, #[source] serde_json::Error),
    /// The stream and the event store disagree in a way the relay must not paper over.
    #[error("inconsistent: {0}")]
    Inconsistent(String),
}

/// Wraps an async-nats error (or a message) with what was being done.
fn nats<E>(what: &'static str) -> impl FnOnce(E) -> RelayError
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    move |source| RelayError::Nats {
        what,
        source: source.into(),
    }
}

/// What one round published, and whether committed events wait beyond the horizon.
struct Round {
    published: usize,
    waiting: bool,
}

/// Where the relay stands: the last event published and its stream sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// Global position of the last published event.
    pub position: Position,
    /// Its JetStream sequence.
    pub stream_seq: u64,
}

/// Moves committed events from the events table into JetStream.
#[derive(Clone)]
pub struct Relay {
    pool: PgPool,
    js: jetstream::Context,
    subjects: Subjects,
    batch: i64,
    /// When the checkpoint row was last written, and the stream sequence it says.
    saved: std::sync::Arc<std::sync::Mutex<(std::time::Instant, u64)>>,
}

impl Relay {
    /// A relay publishing to the stream of `subjects`.
    pub fn new(pool: PgPool, js: jetstream::Context, subjects: Subjects) -> Self {
        Self {
            pool,
            js,
            subjects,
            batch: 500,
            saved: std::sync::Arc::new(std::sync::Mutex::new((std::time::Instant::now(), 0))),
        }
    }

    /// Runs until `stop` is cancelled: waits for leadership, then relays.
    pub async fn run(self, stop: CancellationToken) -> Result<(), RelayError> {
        // Leadership lives on a connection of its own, outside the pool: closing it (on any exit,
        // or when the process dies) is what releases the lock. Each round reads the events on it,
        // so events a round read were read by the leader.
        let mut leader = self.pool.connect_options().connect().await?;
        loop {
            let (got,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
                .bind(LEADER_LOCK)
                .fetch_one(&mut leader)
                .await?;
            if got {
                break;
            }
            tokio::select! {
                () = stop.cancelled() => return Ok(()),
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
        tracing::info!("relay is the leader");
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen("moim_events").await?;
        let mut cursor = None;
        let mut backoff = Duration::from_millis(1);
        while !stop.is_cancelled() {
            let round = async {
                let mut at = match cursor {
                    Some(at) => at,
                    None => self.recover().await?,
                };
                let round = self.publish_next(&mut leader, &mut at).await;
                cursor = Some(at);
                round
            };
            match round.await {
                Ok(round) if round.published as i64 == self.batch => continue,
                Ok(round) => {
                    // Committed rows can wait behind an older transaction still in flight, whose
                    // end may not notify (it may write no events): look again soon, backing off.
                    let pause = if round.waiting {
                        backoff = if round.published > 0 {
                            Duration::from_millis(1)
                        } else {
                            (backoff * 2).min(Duration::from_millis(100))
                        };
                        backoff
                    } else {
                        Duration::from_secs(1)
                    };
                    tokio::select! {
                        () = stop.cancelled() => break,
                        _ = listener.recv() => {
                            // Each commit notifies, and the next round reads all that committed:
                            // the notices already here would each cost a round finding nothing.
                            // Polled once each, without a timer: a zero timeout waits for the
                            // timer's next millisecond.
                            while let Some(Ok(_)) = listener.recv().now_or_never() {}
                        }
                        () = tokio::time::sleep(pause) => {}
                    }
                }
                Err(error) => {
                    let error = domain::error::chain(&error);
                    tracing::warn!(error, "relay round failed; re-synchronising");
                    cursor = None;
                    // Leadership lives on this connection; if it broke, start over.
                    sqlx::query("SELECT 1").execute(&mut leader).await?;
                    tokio::select! {
                        () = stop.cancelled() => break,
                        () = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
            }
        }
        Ok(())
    }

    /// Finds where publishing stands from the stream's last message, the source of truth.
    pub async fn recover(&self) -> Result<Cursor, RelayError> {
        let mut stream = stream::ensure(&self.js, &self.subjects)
            .await
            .map_err(nats("ensuring the stream"))?;
        let last = stream
            .info()
            .await
            .map_err(nats("reading the stream's state"))?
            .state
            .last_sequence;
        let cursor = if last == 0 {
            Cursor {
                position: Position::START,
                stream_seq: 0,
            }
        } else {
            let message = stream
                .get_raw_message(last)
                .await
                .map_err(nats("reading the stream's last message"))?;
            let position = EventEnvelope::position_in(Some(&message.headers)).ok_or_else(|| {
                RelayError::Inconsistent(format!("stream message {last} has no position header"))
            })?;
            Cursor {
                position,
                stream_seq: last,
            }
        };
        let (next_tx,): (i64,) =
            sqlx::query_as("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
                .fetch_one(&self.pool)
                .await?;
        if cursor.position.tx_id >= next_tx {
            // New events would sort behind the cursor and never be published: refuse loudly.
            return Err(RelayError::Inconsistent(format!(
                "the stream holds transaction {} but the database's next is {next_tx}; was the \
                 database restored or moved? Re-seed the stream (see docs/architecture.md)",
                cursor.position.tx_id
            )));
        }
        self.save_checkpoint(&mut *self.pool.acquire().await?, cursor)
            .await?;
        tracing::info!(?cursor, "relay resumes");
        Ok(cursor)
    }

    /// Publishes the next batch after `at`, advancing it; answers how many were published.
    pub async fn publish_batch(&self, at: &mut Cursor) -> Result<usize, RelayError> {
        let mut conn = self.pool.acquire().await?;
        Ok(self.publish_next(&mut conn, at).await?.published)
    }

    /// Publishes the next batch after `at`, advancing it. The same statement reads the newest
    /// event if it is committed beyond the horizon (the oldest transaction in flight), where its
    /// order is not final yet: only whether there is one is kept, which a statement of its own
    /// asked before, once a round (docs/performance.md). A running relay reads on its leader
    /// connection, which it keeps anyway: a pooled one costs sqlx's test round trip as it goes
    /// back, once a round.
    async fn publish_next(
        &self,
        conn: &mut PgConnection,
        at: &mut Cursor,
    ) -> Result<Round, RelayError> {
        let fetched = sqlx::query(&format!(
            "SELECT *, true AS ready FROM ({}) below
             UNION ALL
             SELECT *, false FROM ({}) newest
              WHERE tx >= pg_snapshot_xmin(pg_current_snapshot())::text::bigint
             ORDER BY ready DESC, tx, position",
            EventEnvelope::select(
                "WHERE (tx_id, position) > ($1::bigint::text::xid8, $2)
                   AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
                 ORDER BY tx_id, position
                 LIMIT $3"
            ),
            EventEnvelope::select("ORDER BY tx_id DESC LIMIT 1"),
        ))
        .bind(at.position.tx_id)
        .bind(at.position.position)
        .bind(self.batch)
        .fetch_all(&mut *conn)
        .await?;
        let mut rows = Vec::with_capacity(fetched.len());
        let mut waiting = false;
        for row in &fetched {
            if row.try_get("ready")? {
                rows.push(EventEnvelope::from_row(row)?);
            } else {
                waiting = true;
                break;
            }
        }
        if rows.is_empty() {
            // Idle: the operators' row catches up with the last burst, at most once a second
            // too (at a low rate the relay idles after every event).
            let stale = self
                .saved
                .lock()
                .map(|s| s.1 != at.stream_seq && s.0.elapsed() >= Duration::from_secs(1))
                .unwrap_or(true);
            if stale {
                self.save_checkpoint(conn, *at).await?;
            }
            return Ok(Round {
                published: 0,
                waiting,
            });
        }
        let mut acks = Vec::with_capacity(rows.len());
        // Each traced event's publish is a span of its writer's trace, open until it is acked.
        let mut spans = Vec::new();
        let mut last = at.position;
        for (expected, envelope) in (at.stream_seq..).zip(&rows) {
            let body = serde_json::to_vec(&envelope)
                .map_err(|e| RelayError::Encode(envelope.event_id, e))?;
            let mut headers = envelope.headers();
            if let Some(parent) = envelope.traceparent().filter(|_| crate::trace::is_on()) {
                let span = tracing::info_span!("relay.publish", event_type = %envelope.event_type);
                crate::trace::follow(&span, &parent);
                if let Some(traceparent) = crate::trace::traceparent_of(&span) {
                    headers.insert(crate::envelope::headers::TRACEPARENT, traceparent.as_str());
                }
                spans.push(span);
            }
            let message = PublishMessage::build()
                .payload(body.into())
                .headers(headers)
                .message_id(envelope.event_id.to_string())
                .expected_last_sequence(expected);
            let subject = self
                .subjects
                .event(&envelope.aggregate_type, &envelope.aggregate_id);
            acks.push(
                self.js
                    .send_publish(subject, message)
                    .await
                    .map_err(nats("publishing"))?,
            );
            last = envelope.position;
        }
        let mut sequence = at.stream_seq;
        for ack in acks {
            let ack = ack.await.map_err(|e| match e.kind() {
                PublishErrorKind::WrongLastSequence => {
                    RelayError::Inconsistent("the stream moved under the relay".into())
                }
                _ => nats("awaiting a publish acknowledgement")(e),
            })?;
            if ack.duplicate || ack.sequence != sequence + 1 {
                return Err(RelayError::Inconsistent(format!(
                    "unexpected ack {} after {sequence}",
                    ack.sequence
                )));
            }
            sequence = ack.sequence;
        }
        drop(spans);
        *at = Cursor {
            position: last,
            stream_seq: sequence,
        };
        metrics::counter!("relay_events_published_total").increment(rows.len() as u64);
        if let Some(newest) = rows.last() {
            let behind = (chrono::Utc::now() - newest.recorded_at).num_milliseconds() as f64;
            metrics::gauge!("relay_lag_seconds").set(behind.max(0.0) / 1000.0);
        }
        // The stream, not this row, is what recovery trusts; the row is for operators
        // (`/health/details`), so it is written at most once a second, busy or idle.
        let due = self
            .saved
            .lock()
            .map(|s| s.0.elapsed() >= Duration::from_secs(1))
            .unwrap_or(true);
        if due {
            self.save_checkpoint(conn, *at).await?;
        }
        Ok(Round {
            published: rows.len(),
            waiting,
        })
    }

    async fn save_checkpoint(&self, conn: &mut PgConnection, at: Cursor) -> Result<(), RelayError> {
        if let Ok(mut saved) = self.saved.lock() {
            *saved = (std::time::Instant::now(), at.stream_seq);
        }
        sqlx::query(
            "INSERT INTO relay_checkpoints (name, tx_id, position, stream_seq) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name) DO UPDATE SET tx_id = $2, position = $3, stream_seq = $4,
                                               updated_at = now()",
        )
        .bind(self.subjects.stream_name())
        .bind(at.position.tx_id)
        .bind(at.position.position)
        .bind(at.stream_seq as i64)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}
