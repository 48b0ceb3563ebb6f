//! Feeds one read model from its own durable JetStream consumer.
//!
//! Messages are applied strictly in stream order, a batch per PostgreSQL transaction that also
//! moves the checkpoint; they are acked only after it commits. A message at or below the
//! checkpoint was applied before (its ack got lost) and is acked again without effect. A message
//! beyond the next expected one means the consumer ran ahead (a redelivery is pending), so the
//! consumer is re-created to start right after the checkpoint. The checkpoint in PostgreSQL, not
//! the consumer's state, is the truth. The runner knows no particular view: what a view does
//! beyond applying events (making pushes) it says through its [`ReadModel`](crate::ReadModel)
//! hooks.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy, consumer::DeliverPolicy};
use futures::StreamExt;
use moim_nats::{EventEnvelope, Subjects};
use sqlx::{ConnectOptions, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::checkpoint::{self, Checkpoint};
use crate::outbox::Outbox;
use crate::{dead_letters, ProjectionError, Push, View};

/// The most messages taken from the consumer at once, and held (see `PASS_OVER_WAIT`) before
/// they are applied.
const BATCH: usize = 500;

/// How long events a view passes over wait for the ones after them, so that one statement moves
/// its checkpoint past many. At a low rate every event came alone, and moving the checkpoint of
/// each of the six views that pass over a chat message was a fifth of the statements PostgreSQL
/// ran (docs/performance.md). A read with a consistency token on such a view waits this much
/// longer when the token names an event the view does not read.
const PASS_OVER_WAIT: Duration = Duration::from_millis(20);

/// Runs one read model's consumer.
pub struct Runner {
    pool: PgPool,
    nats: async_nats::Client,
    subjects: Subjects,
    view: View,
    outbox: Outbox,
}

impl Runner {
    /// A runner for `view`; pushes (if the view makes any) go out on `nats`.
    pub fn new(pool: PgPool, nats: async_nats::Client, subjects: Subjects, view: View) -> Self {
        Self {
            pool,
            nats,
            subjects,
            view,
            outbox: Outbox::default(),
        }
    }

    /// Runs until `stop` is cancelled, starting over after any failure. Only one process runs a
    /// view at a time (two would split its messages and keep re-creating the consumer); the
    /// others wait as standbys.
    pub async fn run(self, stop: CancellationToken) {
        let mut leader = None;
        let name = self.view.name();
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
                        view = name,
                        expected,
                        got,
                        "consumer ran ahead; re-creating it"
                    );
                    if let Err(error) = self.delete_consumer().await {
                        let error = domain::error::chain(&error);
                        tracing::warn!(view = name, error, "could not delete consumer");
                    }
                }
                Err(error) => {
                    let error = domain::error::chain(&error);
                    tracing::warn!(view = name, error, "projection failed; restarting");
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
                Err(error) => {
                    let error = domain::error::chain(&error);
                    tracing::warn!(view = self.view.name(), error, "leader lock failed");
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    async fn consumer(&self, start_after: u64) -> Result<pull::Stream, ProjectionError> {
        let js = jetstream::new(self.nats.clone());
        let stream = moim_nats::stream::ensure(&js, &self.subjects)
            .await
            .map_err(ProjectionError::nats("ensuring the stream"))?;
        let name = self.subjects.consumer(self.view.name());
        let config = pull::Config {
            durable_name: Some(name.clone()),
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: start_after + 1,
            },
            // One ack per batch, for its last message, acks the batch: everything up to the
            // checkpoint is applied, in order.
            ack_policy: AckPolicy::All,
            ack_wait: Duration::from_secs(30),
            max_ack_pending: 20_000,
            ..Default::default()
        };
        let mut consumer: jetstream::consumer::Consumer<pull::Config> = stream
            .get_or_create_consumer(&name, config.clone())
            .await
            .map_err(ProjectionError::nats("creating the consumer"))?;
        if consumer.cached_info().config.ack_policy != AckPolicy::All {
            // Made by an older Moim, which acked each message: the policy cannot be changed,
            // so the consumer is made again, from the checkpoint as always.
            stream
                .delete_consumer(&name)
                .await
                .map_err(ProjectionError::nats("deleting the consumer"))?;
            consumer = stream
                .create_consumer(config)
                .await
                .map_err(ProjectionError::nats("creating the consumer"))?;
        }
        consumer
            .messages()
            .await
            .map_err(ProjectionError::nats("pulling messages"))
    }

    async fn delete_consumer(&self) -> Result<(), ProjectionError> {
        let js = jetstream::new(self.nats.clone());
        let stream = js
            .get_stream(self.subjects.stream_name())
            .await
            .map_err(ProjectionError::nats("finding the stream"))?;
        stream
            .delete_consumer(&self.subjects.consumer(self.view.name()))
            .await
            .map_err(ProjectionError::nats("deleting the consumer"))?;
        Ok(())
    }

    async fn run_once(&self, stop: &CancellationToken) -> Result<(), ProjectionError> {
        if self.view.makes_pushes() {
            self.outbox
                .flush(&self.pool, &self.nats, &self.subjects)
                .await?;
        }
        let start = checkpoint::load(&mut *self.pool.acquire().await?, self.view.name()).await?;
        let mut messages = self.consumer(start.stream_seq).await?.ready_chunks(BATCH);
        // Events the view passes over wait here a little for the ones after them (see
        // `PASS_OVER_WAIT`), then go with them, or alone once the wait is up. While any wait,
        // `run` says what they pass over.
        let mut held: Vec<jetstream::Message> = Vec::new();
        let mut run: Option<Run> = None;
        let mut held_until = tokio::time::Instant::now();
        loop {
            let batch = tokio::select! {
                // In this order, so that held messages wait no longer than promised however
                // busy the consumer is.
                biased;
                () = stop.cancelled() => return Ok(()),
                () = tokio::time::sleep_until(held_until), if !held.is_empty() => {
                    self.apply_batch(std::mem::take(&mut held), run.take()).await?;
                    continue;
                }
                batch = messages.next() => batch,
            };
            let Some(batch) = batch else {
                return Err(ProjectionError::Nats {
                    what: "pulling messages",
                    source: "the message stream ended".into(),
                });
            };
            let batch = batch
                .into_iter()
                .collect::<Result<Vec<_>, _>>()
                .map_err(ProjectionError::nats("receiving a message"))?;
            let passed = self.passed_over(&batch);
            let longer = match run.take() {
                None if held.is_empty() => passed,
                Some(run) => passed.and_then(|next| run.then(next)),
                None => None,
            };
            if held.is_empty() {
                held_until = tokio::time::Instant::now() + PASS_OVER_WAIT;
            }
            held.extend(batch);
            if longer.is_some() && held.len() < BATCH {
                run = longer;
                continue;
            }
            self.apply_batch(std::mem::take(&mut held), longer).await?;
        }
    }

    /// Applies `batch`: passes over it if `run` says the view reads none of it, and otherwise
    /// (or if passing over finds the checkpoint elsewhere) applies it in a transaction.
    async fn apply_batch(
        &self,
        batch: Vec<jetstream::Message>,
        run: Option<Run>,
    ) -> Result<(), ProjectionError> {
        if let Some(run) = run {
            if self.pass_over(&batch, run).await? {
                return Ok(());
            }
        }
        match self.apply_messages(&batch, false).await {
            Err(error) if error.is_poison() => {
                let reason = domain::error::chain(&error);
                tracing::warn!(
                    view = self.view.name(),
                    reason,
                    "retrying the batch one event at a time"
                );
                self.apply_messages(&batch, true).await
            }
            other => other,
        }
    }

    /// Passes over a batch none of whose events the view reads ([`crate::ReadModel::reads`]):
    /// only the checkpoint moves, in one statement with no transaction or lock around it, and
    /// only if it stands right before the batch. Answers whether it did; anything else (a
    /// redelivery, a gap, a replay that set the checkpoint elsewhere) takes the full path,
    /// which sorts it out.
    async fn pass_over(
        &self,
        batch: &[jetstream::Message],
        run: Run,
    ) -> Result<bool, ProjectionError> {
        if !checkpoint::advance(&self.pool, self.view.name(), run.first - 1, run.to).await? {
            return Ok(false);
        }
        record_progress(
            self.view.name(),
            batch.len(),
            Some(run.newest.recorded_at),
            batch.last(),
        );
        ack_through(batch.iter()).await;
        Ok(true)
    }

    /// Whether the view would pass over all of `batch`, a run of consecutive events none of
    /// which it reads (or whose heads it cannot read: the full path sorts those out).
    fn passed_over(&self, batch: &[jetstream::Message]) -> Option<Run> {
        self.view.reads()?;
        let mut run: Option<Run> = None;
        for message in batch {
            let seq = message.info().ok()?.stream_sequence;
            let head = serde_json::from_slice::<Head>(&message.payload).ok()?;
            if self
                .view
                .reads_event(&head.aggregate_type, &head.event_type)
            {
                return None;
            }
            let next = Run {
                first: seq,
                to: Checkpoint {
                    position: head.position,
                    stream_seq: seq,
                },
                newest: head,
            };
            run = match run {
                None => Some(next),
                Some(run) => Some(run.then(next)?),
            };
        }
        run
    }

    /// Applies a batch in one transaction. With `careful`, each event runs under a savepoint and
    /// one that cannot be applied is dead-lettered and skipped.
    async fn apply_messages(
        &self,
        batch: &[jetstream::Message],
        careful: bool,
    ) -> Result<(), ProjectionError> {
        // A batch is a handful of statements, and at a low rate every event is a batch of its
        // own for each view: round trips are most of its cost, so the transaction opens, takes
        // the view's lock and commits asynchronously in one, and the checkpoint is read and the
        // sent pushes deleted in the next. Asynchronous commit is safe here: if a crash forgets
        // this transaction, it forgets the checkpoint with it, the next messages then look like
        // a gap, and the consumer is re-created to read them again from the stream, which
        // keeps every event.
        // The lock comes before `BEGIN`: PostgreSQL makes the implicit transaction it ran in
        // the explicit one, so it is held until the commit; and should it fail (a timeout, a
        // cancel), that implicit transaction ends with the query and the connection goes back
        // to the pool clean, where a failure after `BEGIN` would leave it inside an aborted
        // transaction that sqlx, which did not see it open, never rolls back.
        let mut tx = self
            .pool
            .begin_with(format!(
                "SELECT pg_advisory_xact_lock({}); BEGIN; SET LOCAL synchronous_commit = off",
                self.view.lock_key()
            ))
            .await?;
        let forgotten = self.outbox.to_forget();
        let mut at = checkpoint::load_forgetting(&mut tx, self.view.name(), forgotten).await?;
        let next = next_in_order(batch, at.stream_seq)?;
        // A span per traced event, continuing its trace from the relay's, open until the batch
        // is committed and its pushes sent.
        let spans: Vec<tracing::Span> = if moim_nats::trace::is_on() {
            next.apply
                .iter()
                .filter_map(|(_, message)| {
                    let parent = message
                        .headers
                        .as_ref()?
                        .get(moim_nats::envelope::headers::TRACEPARENT)?;
                    let span = tracing::info_span!("view.apply", view = self.view.name());
                    moim_nats::trace::follow(&span, parent.as_str());
                    Some(span)
                })
                .collect()
        } else {
            Vec::new()
        };
        let mut pushes = Vec::new();
        if careful {
            for (seq, message) in &next.apply {
                at = self
                    .apply_carefully(&mut tx, *seq, message, at, &mut pushes)
                    .await?;
            }
        } else {
            let events = next
                .apply
                .iter()
                .map(|(seq, message)| envelope(*seq, message))
                .collect::<Result<Vec<_>, _>>()?;
            if let (Some((seq, _)), Some(last)) = (next.apply.last(), events.last()) {
                at = Checkpoint {
                    position: last.position,
                    stream_seq: *seq,
                };
            }
            let read: Vec<&EventEnvelope> = events
                .iter()
                .filter(|event| {
                    self.view
                        .reads_event(&event.aggregate_type, &event.event_type)
                })
                .collect();
            self.view.apply(&mut tx, &read, Some(&mut pushes)).await?;
        }
        let row = checkpoint::save_keeping(&mut tx, self.view.name(), at, &pushes).await?;
        tx.commit().await?;
        self.outbox.committed(forgotten);
        let view = self.view.name();
        metrics::histogram!("projection_batch_size", "view" => view)
            .record(next.apply.len() as f64);
        metrics::counter!("push_frames_total", "view" => view).increment(pushes.len() as u64);
        record_progress(
            view,
            next.apply.len(),
            events_last_recorded(&next.apply),
            next.apply.last().map(|&(_, message)| message),
        );
        ack_through(next.ack.into_iter()).await;
        if let Some(row) = row {
            self.outbox
                .send(&self.nats, &self.subjects, row, &pushes)
                .await?;
        }
        drop(spans);
        next.gap.map_or(Ok(()), Err)
    }

    /// Applies one event under a savepoint; one that cannot be applied is dead-lettered and
    /// skipped. Answers the new checkpoint.
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
        let applied = match envelope(seq, message) {
            Ok(event)
                if !self
                    .view
                    .reads_event(&event.aggregate_type, &event.event_type) =>
            {
                Ok(event.position)
            }
            Ok(event) => match self
                .view
                .apply(&mut *tx, &[&event], Some(&mut produced))
                .await
            {
                Ok(()) => Ok(event.position),
                Err(error) => Err((error, Some(event))),
            },
            Err(error) => Err((error, None)),
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
                dead_letters::record(tx, self.view, seq, event.as_ref(), &error).await?;
                Ok(Checkpoint {
                    position: event.map_or(at.position, |e| e.position),
                    stream_seq: seq,
                })
            }
            Err((error, _)) => Err(error),
        }
    }
}

/// A run of consecutive events a view passes over.
struct Run {
    /// The first one's stream sequence.
    first: u64,
    /// The checkpoint after the last one.
    to: Checkpoint,
    /// The last one's head.
    newest: Head,
}

impl Run {
    /// This run followed by `next`, if `next` starts right after it.
    fn then(self, next: Run) -> Option<Run> {
        (next.first == self.to.stream_seq + 1).then_some(Run {
            first: self.first,
            ..next
        })
    }
}

/// What passing over an event needs of its envelope.
#[derive(serde::Deserialize)]
struct Head {
    aggregate_type: String,
    event_type: String,
    position: domain::Position,
    recorded_at: chrono::DateTime<chrono::Utc>,
}

/// Acks the furthest of `messages`, which acks every message before it too (`AckPolicy::All`):
/// only messages at or below the committed checkpoint are handed here. A lost ack only means a
/// redelivery, which the checkpoint turns into a no-op.
async fn ack_through<'a>(messages: impl Iterator<Item = &'a jetstream::Message>) {
    let furthest =
        messages.max_by_key(|message| message.info().map_or(0, |info| info.stream_sequence));
    if let Some(message) = furthest {
        if let Err(error) = message.ack().await {
            tracing::debug!(%error, "ack failed");
        }
    }
}

/// A batch sorted against the checkpoint.
struct Next<'a> {
    /// The messages that come next in stream order, with their sequences.
    apply: Vec<(u64, &'a jetstream::Message)>,
    /// Everything to ack once the transaction commits (older messages included).
    ack: Vec<&'a jetstream::Message>,
    /// A message beyond the next expected one, if the consumer ran ahead.
    gap: Option<ProjectionError>,
}

fn next_in_order(batch: &[jetstream::Message], after: u64) -> Result<Next<'_>, ProjectionError> {
    let mut next = Next {
        apply: Vec::with_capacity(batch.len()),
        ack: Vec::with_capacity(batch.len()),
        gap: None,
    };
    let mut expected = after + 1;
    for message in batch {
        let seq = message
            .info()
            .map_err(|e| ProjectionError::Nats {
                what: "reading a message's sequence",
                source: e,
            })?
            .stream_sequence;
        if seq > expected {
            next.gap = Some(ProjectionError::Gap { expected, got: seq });
            break;
        }
        if seq == expected {
            next.apply.push((seq, message));
            expected += 1;
        }
        next.ack.push(message);
    }
    Ok(next)
}

/// The metrics of `moved` events a view has gone past, applied or passed over: how many, how
/// far behind the store the newest (recorded at `newest`) was, and how many wait after `last`.
fn record_progress(
    view: &'static str,
    moved: usize,
    newest: Option<chrono::DateTime<chrono::Utc>>,
    last: Option<&jetstream::Message>,
) {
    metrics::counter!("projection_events_applied_total", "view" => view).increment(moved as u64);
    if let Some(newest) = newest {
        let behind = (chrono::Utc::now() - newest).num_milliseconds().max(0) as f64;
        metrics::gauge!("projection_lag_seconds", "view" => view).set(behind / 1000.0);
    }
    if let Some(info) = last.and_then(|m| m.info().ok()) {
        metrics::gauge!("projection_lag_events", "view" => view).set(info.pending as f64);
    }
}

/// When the newest of `messages` was recorded in the store (for the lag behind it).
fn events_last_recorded(
    messages: &[(u64, &jetstream::Message)],
) -> Option<chrono::DateTime<chrono::Utc>> {
    let (seq, message) = messages.last()?;
    envelope(*seq, message).ok().map(|e| e.recorded_at)
}

fn envelope(seq: u64, message: &jetstream::Message) -> Result<EventEnvelope, ProjectionError> {
    serde_json::from_slice(&message.payload).map_err(|source| ProjectionError::BadEnvelope {
        stream_seq: seq,
        source,
    })
}
