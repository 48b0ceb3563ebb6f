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
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::checkpoint::{self, Checkpoint};
use crate::{ProjectionError, Push, View};

/// Runs one read model's consumer.
#[derive(Clone)]
pub struct Runner {
    pool: PgPool,
    nats: async_nats::Client,
    subjects: Subjects,
    view: View,
}

impl Runner {
    /// A runner for `view`; pushes (if the view makes any) go out on `nats`.
    pub fn new(pool: PgPool, nats: async_nats::Client, subjects: Subjects, view: View) -> Self {
        Self {
            pool,
            nats,
            subjects,
            view,
        }
    }

    /// Runs until `stop` is cancelled, starting over after any failure.
    pub async fn run(self, stop: CancellationToken) {
        while !stop.is_cancelled() {
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
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
            }
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
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(self.view.lock_key())
            .execute(&mut *tx)
            .await?;
        let mut at = checkpoint::load(&mut tx, self.view.name()).await?;
        let mut pushes = Vec::new();
        let mut done = Vec::with_capacity(batch.len());
        let mut gap = None;
        for message in batch {
            let seq = message
                .info()
                .map_err(ProjectionError::nats)?
                .stream_sequence;
            if seq > at.stream_seq + 1 {
                gap = Some(ProjectionError::Gap {
                    expected: at.stream_seq + 1,
                    got: seq,
                });
                break;
            }
            if seq == at.stream_seq + 1 {
                let event: EventEnvelope = serde_json::from_slice(&message.payload)
                    .map_err(|e| ProjectionError::Nats(format!("bad envelope at {seq}: {e}")))?;
                self.view.apply(&mut tx, &event, &mut pushes).await?;
                at = Checkpoint {
                    position: event.position,
                    stream_seq: seq,
                };
            }
            done.push(message);
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

    /// Sends what a crashed run left in the outbox.
    async fn flush_outbox(&self) -> Result<(), ProjectionError> {
        let left: Vec<(i64, sqlx::types::Json<Vec<Push>>)> =
            sqlx::query_as("SELECT id, pushes FROM push_outbox ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        for (id, pushes) in left {
            self.send(id, &pushes.0).await?;
        }
        Ok(())
    }

    /// Publishes one outbox row's pushes, waits until NATS has them, then deletes the row.
    async fn send(&self, outbox_id: i64, pushes: &[Push]) -> Result<(), ProjectionError> {
        publish(&self.nats, &self.subjects, pushes).await?;
        self.nats.flush().await.map_err(ProjectionError::nats)?;
        sqlx::query("DELETE FROM push_outbox WHERE id = $1")
            .bind(outbox_id)
            .execute(&self.pool)
            .await?;
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
