//! Feeds one read model from its own durable JetStream consumer.
//!
//! Messages are applied strictly in stream order, a batch per PostgreSQL transaction that also
//! moves the checkpoint; they are acked only after it commits. A message at or below the
//! checkpoint was applied before (its ack got lost) and is acked again without effect. A message
//! beyond the next expected one means the consumer ran ahead (a redelivery is pending), so the
//! consumer is re-created to start right after the checkpoint. The checkpoint in PostgreSQL, not
//! the consumer's state, is the truth.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy, consumer::DeliverPolicy};
use futures::StreamExt;
use moim_nats::{EventEnvelope, Subjects};
use sqlx::{ConnectOptions, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::checkpoint::{self, Checkpoint};
use crate::{ProjectionError, Push, View};

/// Runs one read model's consumer.
pub struct Runner {
    pool: PgPool,
    nats: async_nats::Client,
    subjects: Subjects,
    view: View,
    /// The last outbox row whose pushes are on NATS and that no transaction has deleted yet.
    sent_outbox: std::sync::atomic::AtomicI64,
}

impl Runner {
    /// A runner for `view`; pushes (if the view makes any) go out on `nats`.
    pub fn new(pool: PgPool, nats: async_nats::Client, subjects: Subjects, view: View) -> Self {
        Self {
            pool,
            nats,
            subjects,
            view,
            sent_outbox: std::sync::atomic::AtomicI64::new(0),
        }
    }

    /// Runs until `stop` is cancelled, starting over after any failure. Only one process runs a
    /// view at a time (two would split its messages and keep re-creating the consumer); the
    /// others wait as standbys.
    pub async fn run(self, stop: CancellationToken) {
        let mut leader = None;
        while !stop.is_cancelled() {
            if leader.is_none() {
                leader = Some(tokio::select! {
                    () = stop.cancelled() => return,
                    conn = self.lead() => conn,
                });
                continue;
            }
            match self.run_once(&stop).await {
                Ok(()) => return,
                Err(ProjectionError::Gap { expected, got }) => {
                    tracing::info!(
                        view = self.view.name(),
                        expected,
                        got,
                        "consumer ran ahead; re-creating it"
                    );
                    if let Err(error) = self.delete_consumer().await {
                        tracing::warn!(view = self.view.name(), %error, "could not delete consumer");
                    }
                }
                Err(error) => {
                    tracing::warn!(view = self.view.name(), %error, "projection failed; restarting");
                    if let Some(conn) = leader.as_mut() {
                        if sqlx::query("SELECT 1").execute(conn).await.is_err() {
                            leader = None;
                        }
                    }
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
            }
        }
    }

    /// Waits until this process holds the view's leader lock, on a connection of its own whose
    /// closing (on drop, or when the process dies) releases it.
    async fn lead(&self) -> PgConnection {
        loop {
            let attempt = async {
                let mut conn = self.pool.connect_options().connect().await?;
                let (got,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
                    .bind(self.view.leader_key())
                    .fetch_one(&mut conn)
                    .await?;
                Ok::<_, sqlx::Error>(got.then_some(conn))
            };
            match attempt.await {
                Ok(Some(conn)) => return conn,
                Ok(None) => {}
                Err(error) => tracing::warn!(view = self.view.name(), %error, "leader lock failed"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    async fn consumer(&self, start_after: u64) -> Result<pull::Stream, ProjectionError> {
        let js = jetstream::new(self.nats.clone());
        let stream = moim_nats::stream::ensure(&js, &self.subjects)
            .await
            .map_err(ProjectionError::nats)?;
        let name = self.subjects.consumer(self.view.name());
        let config = pull::Config {
            durable_name: Some(name.clone()),
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: start_after + 1,
            },
            ack_policy: AckPolicy::Explicit,
            ack_wait: Duration::from_secs(30),
            max_ack_pending: 20_000,
            ..Default::default()
        };
        let consumer: jetstream::consumer::Consumer<pull::Config> = stream
            .get_or_create_consumer(&name, config)
            .await
            .map_err(ProjectionError::nats)?;
        consumer.messages().await.map_err(ProjectionError::nats)
    }

    async fn delete_consumer(&self) -> Result<(), ProjectionError> {
        let js = jetstream::new(self.nats.clone());
        let stream = js
            .get_stream(self.subjects.stream_name())
            .await
            .map_err(ProjectionError::nats)?;
        stream
            .delete_consumer(&self.subjects.consumer(self.view.name()))
            .await
            .map_err(ProjectionError::nats)?;
        Ok(())
    }

    async fn run_once(&self, stop: &CancellationToken) -> Result<(), ProjectionError> {
        if self.view == View::Notifications {
            self.flush_outbox().await?;
        }
        let start = checkpoint::load(&mut *self.pool.acquire().await?, self.view.name()).await?;
        let mut messages = self.consumer(start.stream_seq).await?.ready_chunks(500);
        loop {
            let batch = tokio::select! {
                () = stop.cancelled() => return Ok(()),
                batch = messages.next() => batch,
            };
            let Some(batch) = batch else {
                return Err(ProjectionError::Nats("message stream ended".into()));
            };
            let batch = batch
                .into_iter()
                .collect::<Result<Vec<_>, _>>()
                .map_err(ProjectionError::nats)?;
            self.apply_batch(batch).await?;
        }
    }

    async fn apply_batch(&self, batch: Vec<jetstream::Message>) -> Result<(), ProjectionError> {
        match self.apply_messages(&batch, false).await {
            Err(error) if error.is_poison() => {
                tracing::warn!(view = self.view.name(), %error, "retrying the batch one event at a time");
                self.apply_messages(&batch, true).await
            }
            other => other,
        }
    }

    /// Applies a batch in one transaction. With `careful`, each event runs under a savepoint and
    /// one that cannot be applied is recorded in `projection_dead_letters` and skipped.
    async fn apply_messages(
        &self,
        batch: &[jetstream::Message],
        careful: bool,
    ) -> Result<(), ProjectionError> {
        let mut tx = self.pool.begin().await?;
        // Asynchronous commit is safe here: if a crash forgets this transaction, it forgets the
        // checkpoint with it, the next messages then look like a gap, and the consumer is
        // re-created to read them again from the stream, which keeps every event.
        sqlx::query(
            "SELECT pg_advisory_xact_lock($1), set_config('synchronous_commit', 'off', true)",
        )
        .bind(self.view.lock_key())
        .execute(&mut *tx)
        .await?;
        let sent = self.sent_outbox.load(std::sync::atomic::Ordering::Relaxed);
        if sent > 0 {
            // Pushes of earlier batches are on NATS; forget them with this batch's commit.
            sqlx::query("DELETE FROM push_outbox WHERE id <= $1")
                .bind(sent)
                .execute(&mut *tx)
                .await?;
        }
        let mut at = checkpoint::load(&mut tx, self.view.name()).await?;
        // Which messages come next in stream order; older ones were applied already.
        let mut next = Vec::with_capacity(batch.len());
        let mut done = Vec::with_capacity(batch.len());
        let mut gap = None;
        let mut expected = at.stream_seq + 1;
        for message in batch {
            let seq = message
                .info()
                .map_err(ProjectionError::nats)?
                .stream_sequence;
            if seq > expected {
                gap = Some(ProjectionError::Gap { expected, got: seq });
                break;
            }
            if seq == expected {
                next.push((seq, message));
                expected += 1;
            }
            done.push(message);
        }
        let mut pushes = Vec::new();
        if careful {
            for (seq, message) in next {
                at = self
                    .apply_carefully(&mut tx, seq, message, at, &mut pushes)
                    .await?;
            }
        } else {
            let events = next
                .iter()
                .map(|(seq, message)| {
                    serde_json::from_slice::<EventEnvelope>(&message.payload).map_err(|e| {
                        ProjectionError::BadEnvelope {
                            stream_seq: *seq,
                            reason: e.to_string(),
                        }
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            self.view
                .apply_many(&mut tx, &events, Some(&mut pushes))
                .await?;
            if let (Some((seq, _)), Some(last)) = (next.last(), events.last()) {
                at = Checkpoint {
                    position: last.position,
                    stream_seq: *seq,
                };
            }
        }
        let outbox = if pushes.is_empty() {
            None
        } else {
            let (id,): (i64,) =
                sqlx::query_as("INSERT INTO push_outbox (pushes) VALUES ($1) RETURNING id")
                    .bind(sqlx::types::Json(&pushes))
                    .fetch_one(&mut *tx)
                    .await?;
            Some(id)
        };
        checkpoint::save(&mut tx, self.view.name(), at).await?;
        tx.commit().await?;
        if sent > 0 {
            let _ = self.sent_outbox.compare_exchange(
                sent,
                0,
                std::sync::atomic::Ordering::Relaxed,
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        for message in done {
            // A lost ack only means a redelivery, which the checkpoint turns into a no-op.
            if let Err(error) = message.ack().await {
                tracing::debug!(%error, "ack failed");
            }
        }
        if let Some(id) = outbox {
            self.send(id, &pushes).await?;
        }
        gap.map_or(Ok(()), Err)
    }

    /// Applies one event under a savepoint; one that cannot be applied is recorded in
    /// `projection_dead_letters` and skipped. Answers the new checkpoint.
    async fn apply_carefully(
        &self,
        tx: &mut PgConnection,
        seq: u64,
        message: &jetstream::Message,
        at: Checkpoint,
        pushes: &mut Vec<Push>,
    ) -> Result<Checkpoint, ProjectionError> {
        sqlx::query("SAVEPOINT event").execute(&mut *tx).await?;
        let mut produced = Vec::new();
        let applied = match serde_json::from_slice::<EventEnvelope>(&message.payload) {
            Ok(event) => match self.view.apply(&mut *tx, &event, Some(&mut produced)).await {
                Ok(()) => Ok(event.position),
                Err(error) => Err((error, Some(event))),
            },
            Err(e) => Err((
                ProjectionError::BadEnvelope {
                    stream_seq: seq,
                    reason: e.to_string(),
                },
                None,
            )),
        };
        match applied {
            Ok(position) => {
                sqlx::query("RELEASE SAVEPOINT event")
                    .execute(&mut *tx)
                    .await?;
                pushes.extend(produced);
                Ok(Checkpoint {
                    position,
                    stream_seq: seq,
                })
            }
            Err((error, event)) if error.is_poison() => {
                sqlx::query("ROLLBACK TO SAVEPOINT event")
                    .execute(&mut *tx)
                    .await?;
                tracing::error!(view = self.view.name(), seq, %error, "event dead-lettered");
                sqlx::query(
                    "INSERT INTO projection_dead_letters (view, stream_seq, event_id, event_type, error)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(self.view.name())
                .bind(seq as i64)
                .bind(event.as_ref().map(|e| e.event_id))
                .bind(event.as_ref().map(|e| e.event_type.clone()))
                .bind(error.to_string())
                .execute(&mut *tx)
                .await?;
                Ok(Checkpoint {
                    position: event.map_or(at.position, |e| e.position),
                    stream_seq: seq,
                })
            }
            Err((error, _)) => Err(error),
        }
    }

    /// Sends what a crashed run left in the outbox.
    async fn flush_outbox(&self) -> Result<(), ProjectionError> {
        let left: Vec<(i64, sqlx::types::Json<Vec<Push>>)> =
            sqlx::query_as("SELECT id, pushes FROM push_outbox ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        for (id, pushes) in left {
            self.send(id, &pushes.0).await?;
        }
        let sent = self
            .sent_outbox
            .swap(0, std::sync::atomic::Ordering::Relaxed);
        sqlx::query("DELETE FROM push_outbox WHERE id <= $1")
            .bind(sent)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Publishes one outbox row's pushes and waits until NATS has them; the row is deleted by the
    /// next batch's transaction (or re-sent after a crash, which receivers drop as a repeat).
    async fn send(&self, outbox_id: i64, pushes: &[Push]) -> Result<(), ProjectionError> {
        publish(&self.nats, &self.subjects, pushes).await?;
        self.nats.flush().await.map_err(ProjectionError::nats)?;
        self.sent_outbox
            .fetch_max(outbox_id, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}

/// Header carrying a push's id.
pub const PUSH_ID_HEADER: &str = "Moim-Push-Id";

/// Publishes pushes on core NATS as `{"type", "id", "data"}` frames, with the push id also in
/// the `Moim-Push-Id` header so receivers can drop a re-sent one without parsing it.
pub async fn publish(
    nats: &async_nats::Client,
    subjects: &Subjects,
    pushes: &[Push],
) -> Result<(), ProjectionError> {
    for push in pushes {
        let frame = serde_json::json!({ "type": push.kind, "id": push.id, "data": push.data });
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(PUSH_ID_HEADER, push.id.to_string().as_str());
        nats.publish_with_headers(
            subjects.push_user(push.user_id),
            headers,
            frame.to_string().into(),
        )
        .await
        .map_err(ProjectionError::nats)?;
    }
    Ok(())
}
