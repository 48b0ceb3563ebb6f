//! The one durable JetStream consumer that feeds every read model a process runs.
//!
//! Each event is received once and handed to every view's [`Runner`], each applying it on its
//! own task, in its own transactions, against its own checkpoint. A consumer per view had NATS
//! deliver every event eight times, and receiving and dropping them was a good part of Moim's
//! CPU per send (docs/performance.md). The consumer acks a message (`AckPolicy::All`: everything
//! before it too) once every view has committed past it, or let it by while standing aside (its
//! lock held by a replay, or after it failed, [`crate::runner`]), so a crash anywhere has it
//! delivered again, and each view passes over what its checkpoint already holds. A view is not
//! handed a batch its checkpoint held when the run began.
//!
//! One process runs the views at a time: it holds every view's leader lock, taken in the
//! registry's order, so that two processes starting together never split them, and a Moim of
//! before this consumer, which led each view by itself, is waited for.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy, consumer::DeliverPolicy};
use futures::StreamExt;
use moim_nats::{EventEnvelope, Subjects};
use sqlx::{ConnectOptions, PgConnection, PgPool};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::checkpoint;
use crate::runner::Runner;
use crate::{ProjectionError, View};

/// The most messages taken from the consumer at once, and held by a view (while it waits to
/// pass over them together) before they are applied.
pub(crate) const BATCH: usize = 500;

/// The most messages delivered and not yet acked. The consumer stops delivering there, which
/// bounds what the views hold between them however far the slowest is behind, and a view's
/// queue (a batch holds at least one message) never fills first: one view behind holds the
/// others back only once it is this far behind.
const MAX_ACK_PENDING: usize = 20_000;

/// How often the leader checks that the connection holding its locks is still there.
const LEAD_CHECK: Duration = Duration::from_secs(5);

/// The consumer's name after the stream's prefix. No view may be called so
/// ([`crate::Registry`] refuses it).
pub(crate) const CONSUMER: &str = "views";

/// A batch of messages as received, shared by every view.
pub(crate) type Batch = Arc<[Arc<Delivered>]>;

/// A message as received, read once for every view.
pub(crate) struct Delivered {
    /// Its stream sequence.
    pub(crate) seq: u64,
    /// How many messages waited in the stream beyond it then.
    pub(crate) pending: u64,
    /// Its envelope, or why it is not one.
    event: Result<EventEnvelope, Arc<serde_json::Error>>,
    /// The message itself, for its headers and its ack.
    pub(crate) message: jetstream::Message,
}

impl Delivered {
    fn read(message: jetstream::Message) -> Result<Self, ProjectionError> {
        let info = message.info().map_err(|source| ProjectionError::Nats {
            what: "reading a message's sequence",
            source,
        })?;
        let (seq, pending) = (info.stream_sequence, info.pending);
        Ok(Self {
            seq,
            pending,
            event: serde_json::from_slice(&message.payload).map_err(Arc::new),
            message,
        })
    }

    /// Its envelope, or why it is not one.
    pub(crate) fn event(&self) -> Result<&EventEnvelope, ProjectionError> {
        self.event
            .as_ref()
            .map_err(|source| ProjectionError::BadEnvelope {
                stream_seq: self.seq,
                source: source.clone(),
            })
    }
}

/// Runs every read model of a registry from one consumer.
pub struct Views {
    pool: PgPool,
    nats: async_nats::Client,
    subjects: Subjects,
    runners: Vec<Arc<Runner>>,
}

impl Views {
    /// The views of `views`, fed from the stream `subjects` names; pushes go out on `nats`.
    pub fn new(pool: PgPool, nats: async_nats::Client, subjects: Subjects, views: &[View]) -> Self {
        let runners = views
            .iter()
            .map(|&view| {
                Arc::new(Runner::new(
                    pool.clone(),
                    nats.clone(),
                    subjects.clone(),
                    view,
                ))
            })
            .collect();
        Self {
            pool,
            nats,
            subjects,
            runners,
        }
    }

    /// Runs until `stop` is cancelled, starting over after any failure. The other processes
    /// wait as standbys.
    pub async fn run(self, stop: CancellationToken) {
        if self.runners.is_empty() {
            return;
        }
        let mut leader = None;
        while !stop.is_cancelled() {
            let Some(lead) = leader.as_mut() else {
                leader = Some(tokio::select! {
                    () = stop.cancelled() => return,
                    conn = self.lead() => conn,
                });
                self.forget_consumers_per_view().await;
                continue;
            };
            match self.run_once(&stop, lead).await {
                Ok(()) => return,
                Err(ProjectionError::Gap { expected, got }) => {
                    // It delivered past the lowest checkpoint, so the next run makes it again.
                    tracing::info!(expected, got, "consumer ran ahead; re-creating it");
                }
                Err(ProjectionError::StoodAside { view, from }) => {
                    // Made again after the lowest checkpoint, it hands that view what it let by.
                    tracing::info!(
                        view,
                        from,
                        "a view that stood aside reads what it let by; re-creating the consumer"
                    );
                }
                Err(error) => {
                    let error = domain::error::chain(&error);
                    tracing::warn!(error, "views failed; restarting");
                    if let Some(conn) = leader.as_mut() {
                        if still_there(conn).await.is_err() {
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

    /// Waits until this process holds every view's leader lock, on a connection of its own
    /// whose closing (on drop, or when the process dies) releases them. They are tried in the
    /// registry's order, and all let go when one is held elsewhere, so the process that takes
    /// the first takes them all.
    async fn lead(&self) -> PgConnection {
        loop {
            let attempt = async {
                let mut conn = self.pool.connect_options().connect().await?;
                for runner in &self.runners {
                    let (got,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
                        .bind(runner.view().leader_key())
                        .fetch_one(&mut conn)
                        .await?;
                    if !got {
                        return Ok(None);
                    }
                }
                Ok::<_, sqlx::Error>(Some(conn))
            };
            match attempt.await {
                Ok(Some(conn)) => return conn,
                Ok(None) => {}
                Err(error) => {
                    let error = domain::error::chain(&error);
                    tracing::warn!(error, "leader lock failed");
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Deletes the consumers a Moim of before this one kept, one per view: nothing reads them
    /// now (their views' checkpoints are where this consumer starts from).
    async fn forget_consumers_per_view(&self) {
        let js = jetstream::new(self.nats.clone());
        let Ok(stream) = js.get_stream(self.subjects.stream_name()).await else {
            return;
        };
        for runner in &self.runners {
            let name = self.subjects.consumer(runner.view().name());
            if stream.delete_consumer(&name).await.is_ok() {
                tracing::info!(consumer = name, "deleted a view's own consumer");
            }
        }
    }

    async fn consumer(&self, start_after: u64) -> Result<pull::Stream, ProjectionError> {
        let js = jetstream::new(self.nats.clone());
        let stream = moim_nats::stream::ensure(&js, &self.subjects)
            .await
            .map_err(ProjectionError::nats("ensuring the stream"))?;
        let name = self.subjects.consumer(CONSUMER);
        let config = pull::Config {
            durable_name: Some(name.clone()),
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: start_after + 1,
            },
            // One ack, once every view is past a message, acks everything before it.
            ack_policy: AckPolicy::All,
            ack_wait: Duration::from_secs(30),
            max_ack_pending: MAX_ACK_PENDING as i64,
            ..Default::default()
        };
        let mut consumer = stream
            .get_or_create_consumer(&name, config.clone())
            .await
            .map_err(ProjectionError::nats("creating the consumer"))?;
        let info = consumer.cached_info();
        if info.delivered.stream_sequence > start_after
            || info.ack_floor.stream_sequence > start_after
        {
            // It went past the lowest checkpoint: a run before this one stopped with messages
            // out, or PostgreSQL forgot view commits it had acked. Made again from there, it
            // delivers them now instead of after `ack_wait`, or, for forgotten ones, never.
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

    /// Starts the consumer after the lowest checkpoint and hands every batch to every view,
    /// until `stop` is cancelled (answering once the views have finished the batches they are
    /// in), a view fails (answering its error) or the `lead` connection, whose locks make
    /// this process the leader, is lost.
    async fn run_once(
        &self,
        stop: &CancellationToken,
        lead: &mut PgConnection,
    ) -> Result<(), ProjectionError> {
        let mut starts = Vec::with_capacity(self.runners.len());
        {
            let mut conn = self.pool.acquire().await?;
            for runner in &self.runners {
                starts.push(
                    checkpoint::load(&mut conn, runner.view().name())
                        .await?
                        .stream_seq,
                );
            }
        }
        let from = starts.iter().copied().min().unwrap_or_default();
        let mut messages = self.consumer(from).await?.ready_chunks(BATCH);
        let progress = Arc::new(Progress {
            views: starts.iter().map(|&seq| AtomicU64::new(seq)).collect(),
            moved: Notify::new(),
        });
        // The views stop after the batch they are in, on `stop` or when one of them fails, so
        // none is cut off inside a transaction.
        let halt = stop.child_token();
        let mut views = JoinSet::new();
        let mut feeds = Vec::with_capacity(self.runners.len());
        for (index, runner) in self.runners.iter().enumerate() {
            let (feed, batches) = mpsc::channel(MAX_ACK_PENDING);
            let committed = Committed {
                progress: progress.clone(),
                index,
            };
            let (runner, halt) = (runner.clone(), halt.clone());
            views.spawn(async move {
                let followed = runner.follow(batches, committed, halt).await;
                if let Err(error) = &followed {
                    if !matches!(
                        error,
                        ProjectionError::Gap { .. } | ProjectionError::StoodAside { .. }
                    ) {
                        let error = domain::error::chain(error);
                        tracing::warn!(view = runner.view().name(), error, "view failed");
                    }
                }
                followed
            });
            feeds.push(feed);
        }
        let mut unacked = VecDeque::new();
        let mut acked = from;
        // The furthest message handed to the views in this run.
        let mut received = from;
        let mut lead_check = tokio::time::interval(LEAD_CHECK);
        let ended = loop {
            tokio::select! {
                biased;
                () = stop.cancelled() => break Ok(()),
                Some(ended) = views.join_next() => break Err(ended_early(ended)),
                () = progress.moved.notified() => {
                    acked = ack_through(&mut unacked, progress.floor(), acked).await;
                }
                _ = lead_check.tick() => {
                    // Its locks go with the connection: another process may lead now.
                    if let Err(error) = still_there(lead).await {
                        break Err(error);
                    }
                }
                batch = messages.next() => {
                    let Some(batch) = batch else {
                        break Err(ProjectionError::Nats {
                            what: "pulling messages",
                            source: "the message stream ended".into(),
                        });
                    };
                    let batch = match batch
                        .into_iter()
                        .map(|message| {
                            message
                                .map_err(ProjectionError::nats("receiving a message"))
                                .and_then(Delivered::read)
                        })
                        .collect::<Result<Vec<_>, _>>()
                    {
                        Ok(batch) => batch,
                        Err(error) => break Err(error),
                    };
                    let mut fresh = Vec::with_capacity(batch.len());
                    for delivered in batch {
                        if delivered.seq > received {
                            received = delivered.seq;
                            fresh.push(Arc::new(delivered));
                        } else {
                            // Delivered again (`ack_wait` passed while a view was held up):
                            // every view has it already, so it is dropped,
                            // which also keeps what the views hold within `max_ack_pending`.
                            // One whose ack was lost is acked again.
                            if delivered.seq <= acked {
                                ack(&delivered).await;
                            }
                        }
                    }
                    if fresh.is_empty() {
                        continue;
                    }
                    let batch: Batch = fresh.into();
                    unacked.extend(batch.iter().cloned());
                    let last = batch.last().map_or(0, |delivered| delivered.seq);
                    for (feed, &start) in feeds.iter().zip(&starts) {
                        // The consumer starts after the lowest checkpoint: a view that holds
                        // all of a batch already (one stood aside, say, and the others went
                        // on) is not handed it to pass over.
                        if last <= start {
                            continue;
                        }
                        if feed.send(batch.clone()).await.is_err() {
                            // That view has ended: `views` gives its answer next.
                            break;
                        }
                    }
                }
            }
        };
        halt.cancel();
        while views.join_next().await.is_some() {}
        ack_through(&mut unacked, progress.floor(), acked).await;
        ended
    }
}

/// Whether the connection holding the leader locks still answers, within [`LEAD_CHECK`]: one
/// whose server went away without a word would otherwise hold the views up for as long as the
/// kernel keeps the socket.
async fn still_there(lead: &mut PgConnection) -> Result<(), ProjectionError> {
    match tokio::time::timeout(LEAD_CHECK, sqlx::query("SELECT 1").execute(lead)).await {
        Ok(answer) => answer.map(drop).map_err(ProjectionError::from),
        Err(_) => Err(ProjectionError::TimedOut(LEAD_CHECK)),
    }
}

/// How far each view has committed, so the consumer acks what all are past.
struct Progress {
    /// Each view's furthest stream sequence at or below its committed checkpoint, or let by
    /// while it stands aside.
    views: Vec<AtomicU64>,
    /// Woken when one moves.
    moved: Notify,
}

impl Progress {
    /// The stream sequence every view is past.
    fn floor(&self) -> u64 {
        self.views
            .iter()
            .map(|seq| seq.load(Ordering::Acquire))
            .min()
            .unwrap_or_default()
    }
}

/// One view's handle on [`Progress`].
pub(crate) struct Committed {
    progress: Arc<Progress>,
    index: usize,
}

impl Committed {
    /// Says the view's committed checkpoint is at or past stream sequence `seq`, or that it let
    /// everything up to `seq` by while standing aside (to read again once the consumer is made
    /// again after its checkpoint).
    pub(crate) fn reached(&self, seq: u64) {
        self.progress.views[self.index].fetch_max(seq, Ordering::AcqRel);
        self.progress.moved.notify_one();
    }
}

/// Acks the furthest of `unacked` (in stream order) at or below `floor`, if `floor` moved past
/// `acked`, which acks every message before it too, and forgets them; answers what is acked
/// now. A lost ack only means a redelivery, acked again when it comes.
async fn ack_through(unacked: &mut VecDeque<Arc<Delivered>>, floor: u64, acked: u64) -> u64 {
    if floor <= acked {
        return acked;
    }
    let mut furthest = None;
    while let Some(delivered) = unacked.front() {
        if delivered.seq > floor {
            break;
        }
        furthest = unacked.pop_front();
    }
    if let Some(delivered) = furthest {
        ack(&delivered).await;
    }
    floor
}

/// Acks `delivered` and every message before it.
async fn ack(delivered: &Delivered) {
    if let Err(error) = delivered.message.ack().await {
        tracing::debug!(%error, "ack failed");
    }
}

/// The error a view's task ended with: its own, or that it panicked.
fn ended_early(
    ended: Result<Result<(), ProjectionError>, tokio::task::JoinError>,
) -> ProjectionError {
    match ended {
        Ok(Err(error)) => error,
        Ok(Ok(())) => ProjectionError::ConsumerParted,
        Err(panicked) => ProjectionError::ViewTask(panicked),
    }
}
