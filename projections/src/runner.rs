//! Applies one read model's share of the events the process's consumer
//! ([`crate::consumer`]) receives.
//!
//! Messages are applied strictly in stream order, a batch per PostgreSQL transaction that also
//! moves the checkpoint; the consumer acks them only after every view has committed past them.
//! A message at or below the checkpoint was applied before (it was delivered again) and is
//! passed without effect. A message beyond the next expected one means the consumer ran ahead
//! (a redelivery is pending), so the consumer is made again to start right after the lowest
//! checkpoint. The checkpoint in PostgreSQL, not the consumer's state, is the truth: a batch
//! that follows right on where the run left it does not read it, but writes it only if it still
//! stands there, and is applied again after reading it if not. The runner knows no particular
//! view: what a view does beyond applying events (making pushes) it says through its
//! [`ReadModel`](crate::ReadModel) hooks.
//!
//! A batch the view reads nothing of is passed over, and one the view only pushes from (a chat
//! message, for the notifier) is pushed over: neither takes a transaction, and the checkpoint
//! moves in one statement only if it stands right before the batch; a batch is pushed over only
//! while the view's lock is free, so a view whose lock a replay holds stands aside all the same.
//! A pushed batch's move waits for the next batch's first statement, or `PASS_OVER_WAIT`
//! (docs/architecture.md). A batch that follows right on where the run left the checkpoint, of
//! a view that can write it with one statement ([`crate::ReadModel::write_alone`]: the chat
//! view's sent messages), takes no transaction either: that statement tries the view's lock and
//! moves the checkpoint, and writes only if both went.
//!
//! A view whose lock is held elsewhere for long (a replay holds it from start to swap) stands
//! aside: it lets the messages go by unapplied, so that the consumer acks them for the other
//! views, which would otherwise wait with it once `max_ack_pending` is reached, and it touches
//! nothing meanwhile. Once the lock is free it ends the run, and the consumer is made again
//! after the lowest checkpoint: the one the replay set, or the view's own if the replay failed.
//!
//! A view whose batch fails in its own work (its connection, a statement PostgreSQL refuses)
//! stands aside the same way, so that one broken view neither holds the others back nor has
//! them all start again. It keeps the batch it failed at and tries it again, rolled back, after
//! a wait that doubles with each failure in a row, from half a second up to half a minute (a
//! wait for a pooled connection that ran out is not counted in the row: the wait after it stays
//! half a second). It ends the run, so that the consumer hands it what it let by, only once that
//! try goes through (or meets a replay's lock, or an event at fault, which the next run sorts
//! out). Ending the run at every try instead would have the others wait, at every try, for the
//! consumer to deliver again all the view let by, which grows for as long as it stays broken.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use backon::BackoffBuilder;
use moim_nats::{EventEnvelope, Subjects};
use sqlx::postgres::PgArguments;
use sqlx::{Connection, PgConnection, PgPool, Postgres, Transaction};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::checkpoint::{self, Checkpoint};
use crate::consumer::{Batch, Committed, Delivered, BATCH};
use crate::kept::Kept;
use crate::outbox::{send, Outbox};
use crate::{dead_letters, ProjectionError, Push, View};

/// How long events a view passes over wait for the ones after them, so that one statement moves
/// its checkpoint past many. At a low rate every event came alone, and moving the checkpoint of
/// each of the six views that pass over a chat message was a fifth of the statements PostgreSQL
/// ran (docs/performance.md). A read with a consistency token on such a view waits this much
/// longer when the token names an event the view does not read. A batch pushed over waits as
/// long, at most, for the statement that moves the checkpoint past it ([`Pushed`]).
const PASS_OVER_WAIT: Duration = Duration::from_millis(20);

/// How long a batch waits for its view's lock before the view stands aside. Only a replay or a
/// leader on its way out holds it longer than a batch takes.
const LOCK_WAIT: &str = "2s";

/// How often a view that stood aside tries whether its lock is free again.
const ASIDE_PROBE: Duration = Duration::from_secs(1);

/// How long a view that failed stands aside before it tries again, the first time in a row.
const RETRY_FIRST: Duration = Duration::from_millis(500);

/// The longest a view that keeps failing stands aside between tries.
const RETRY_MOST: Duration = Duration::from_secs(30);

/// How often a view that stands aside says so again: a lock that stays held (a replay that
/// hangs, a forgotten session) leaves the view stale, and its lag gauges stand still meanwhile.
const ASIDE_TOLD: Duration = Duration::from_secs(60);

/// Applies one read model's share of what the process's consumer receives.
pub(crate) struct Runner {
    pool: PgPool,
    nats: async_nats::Client,
    subjects: Subjects,
    view: View,
    outbox: Outbox,
    /// Where this run last left the checkpoint, so that a batch that follows right on need not
    /// read it first (its save makes sure it is still there, [`checkpoint::save_keeping_after`]).
    left: Mutex<Option<Checkpoint>>,
    /// How many of the view's batches failed in a row, across the consumer's runs.
    failures: AtomicU32,
}

impl Runner {
    /// A runner for `view`; pushes (if the view makes any) go out on `nats`.
    pub(crate) fn new(
        pool: PgPool,
        nats: async_nats::Client,
        subjects: Subjects,
        view: View,
    ) -> Self {
        // Exported from the start, so that a dashboard shows a view that never failed as
        // failing none rather than as no data. Adding zero leaves a value another part of the
        // process set (tests run several apps in one) as it was.
        let name = view.name();
        metrics::gauge!("projection_standing_aside", "view" => name).increment(0.0);
        metrics::counter!("projection_failures_total", "view" => name).increment(0);
        metrics::counter!("projection_dead_letters_total", "view" => name).increment(0);
        Self {
            pool,
            nats,
            subjects,
            view,
            outbox: Outbox::default(),
            left: Mutex::new(None),
            failures: AtomicU32::new(0),
        }
    }

    /// The read model it runs.
    pub(crate) fn view(&self) -> View {
        self.view
    }

    /// Applies the batches the consumer hands over, in order, until `stop` is cancelled (after
    /// the batch it is in; those still queued or held are delivered again to whoever runs the
    /// view next). How far the view has committed goes to `committed`, which acks what every
    /// view is past.
    pub(crate) async fn follow(
        &self,
        mut batches: mpsc::Receiver<Batch>,
        committed: Committed,
        stop: CancellationToken,
    ) -> Result<(), ProjectionError> {
        // Whatever moved the checkpoint between runs (a replay's swap, an operator) is read.
        self.leave(None);
        if self.view.makes_pushes() {
            self.outbox
                .flush(&self.pool, &self.nats, &self.subjects)
                .await?;
        }
        // Events the view passes over wait here a little for the ones after them (see
        // `PASS_OVER_WAIT`), then go with them, or alone once the wait is up. While any wait,
        // `run` says what they pass over.
        let mut held: Vec<Arc<Delivered>> = Vec::new();
        let mut run: Option<Run> = None;
        let mut held_until = tokio::time::Instant::now();
        // A batch pushed over whose checkpoint has not moved yet (see `Self::push_over`).
        let mut pushed: Option<Pushed> = None;
        // Whether the view stands aside (see the module's notes), and when it next tries whether
        // it may stop (read only while it does, which begins where a batch is settled).
        let mut aside: Option<Aside> = None;
        let mut probe_at = tokio::time::Instant::now();
        let mut kept = Kept::new(self.pool.clone());
        loop {
            // Each time round is something done, so the kept connection's idle second starts
            // here.
            let give_back_at = kept.due();
            let batch = tokio::select! {
                // In this order, so that held messages wait no longer than promised however
                // busy the consumer is.
                biased;
                () = stop.cancelled() => return Ok(()),
                () = tokio::time::sleep_until(probe_at), if aside.is_some() => {
                    if let Some(standing) = aside.as_mut() {
                        if self.may_stop_aside(&mut kept, standing).await? {
                            return Err(ProjectionError::StoodAside {
                                view: self.view.name(),
                                from: standing.from,
                            });
                        }
                    }
                    probe_at = next_try(aside.as_ref());
                    continue;
                }
                () = tokio::time::sleep_until(held_until), if !held.is_empty() => {
                    let held = std::mem::take(&mut held);
                    aside = self
                        .settle(&mut kept, held, run.take(), &mut pushed, &committed)
                        .await?;
                    probe_at = next_try(aside.as_ref());
                    continue;
                }
                // While events wait to be passed over, their own wait (no longer than this one)
                // takes the move along. A view standing aside has none waiting (`settle`).
                () = tokio::time::sleep_until(pushed.as_ref().map_or(probe_at, |p| p.until)),
                    if pushed.is_some() && held.is_empty() => {
                    aside = self
                        .settle(&mut kept, Vec::new(), None, &mut pushed, &committed)
                        .await?;
                    probe_at = next_try(aside.as_ref());
                    continue;
                }
                // A disabled branch's future is made but never polled: any instant will do.
                () = tokio::time::sleep_until(give_back_at.unwrap_or(probe_at)),
                    if give_back_at.is_some() => {
                    kept.give_back();
                    continue;
                }
                batch = batches.recv() => batch,
            };
            let Some(batch) = batch else {
                return Err(ProjectionError::ConsumerParted);
            };
            // The batches that queued while the view was busy go together: the consumer hands
            // them over as they arrive, and one transaction each would fall ever further
            // behind at a rate the view keeps up with in larger ones.
            let mut batch = batch.to_vec();
            while batch.len() < BATCH {
                match batches.try_recv() {
                    Ok(more) => batch.extend(more.iter().cloned()),
                    Err(_) => break,
                }
            }
            if aside.is_some() {
                let_by(&batch, &committed);
                continue;
            }
            let passed = self.passed_over(&batch);
            let longer = match run.take() {
                None if held.is_empty() => passed,
                Some(run) => passed.and_then(|next| run.then(next)),
                None => None,
            };
            if held.is_empty() {
                held_until = pushed.as_ref().map_or_else(
                    || tokio::time::Instant::now() + PASS_OVER_WAIT,
                    |pushed| pushed.until,
                );
            }
            held.extend(batch);
            if longer.is_some() && held.len() < BATCH {
                run = longer;
                continue;
            }
            aside = self
                .settle(
                    &mut kept,
                    std::mem::take(&mut held),
                    longer,
                    &mut pushed,
                    &committed,
                )
                .await?;
            probe_at = next_try(aside.as_ref());
        }
    }

    /// Applies `batch` ([`Self::apply_batch`]), first moving the checkpoint past the batch
    /// `pushed` holds, or lets both by if the view's lock stays held elsewhere or the view fails
    /// at them: answers why and since when the view stands aside, if it does now. An empty
    /// `batch` only makes the move.
    async fn settle(
        &self,
        kept: &mut Kept,
        batch: Vec<Arc<Delivered>>,
        run: Option<Run>,
        pushed: &mut Option<Pushed>,
        committed: &Committed,
    ) -> Result<Option<Aside>, ProjectionError> {
        let before = pushed.take();
        let moving = before.as_ref().map(|before| before.run);
        let applied = match kept.get().await {
            Ok(conn) => {
                self.apply_batch(conn, &batch, run, moving, pushed, committed)
                    .await
            }
            Err(error) => Err(error.into()),
        };
        let Err(error) = applied else {
            self.failures.store(0, Ordering::Relaxed);
            return Ok(None);
        };
        // What the view stands aside from includes the pushed batch, whose move may not have
        // been made: the run that follows reads it again, and sends its pushes again.
        let batch = match before {
            Some(before) => [before.batch, batch].concat(),
            None => batch,
        };
        let view = self.view.name();
        let why = match error {
            ProjectionError::LockHeld => {
                tracing::info!(
                    view,
                    "the view's lock is held elsewhere (a replay?); standing aside until it is free"
                );
                Why::LockHeld
            }
            error if error.is_the_views_own() => Why::Failed {
                wait: self.failed(kept, &error),
                batch: batch.clone(),
            },
            error => return Err(error),
        };
        let_by(&batch, committed);
        Ok(batch
            .first()
            .map(|first| Aside::begin(view, first.seq, why)))
    }

    /// Counts a failure of the view's own, says so, and answers how long the view now stands
    /// aside before it tries again.
    fn failed(&self, kept: &mut Kept, error: &ProjectionError) -> Duration {
        // The connection goes back to be tested: the failure may have been its own.
        kept.give_back();
        let (failures, wait) = wait_after(&self.failures, error);
        let view = self.view.name();
        let error = domain::error::chain(error);
        tracing::warn!(
            view,
            error,
            failures,
            retry_in_ms = wait.as_millis(),
            "the view failed; it stands aside, so the others go on, and tries again"
        );
        metrics::counter!("projection_failures_total", "view" => view).increment(1);
        wait
    }

    /// Whether the view may stop standing aside: its lock is free, or the batch it failed at
    /// now goes through. Until then it keeps standing aside, and tries again later.
    async fn may_stop_aside(
        &self,
        kept: &mut Kept,
        standing: &mut Aside,
    ) -> Result<bool, ProjectionError> {
        let Why::Failed { batch, wait } = &mut standing.why else {
            match self.lock_is_free(kept).await {
                Ok(true) => return Ok(true),
                Ok(false) => standing.still_held(),
                // Asked again at the next probe; ending the run for it would start every view
                // again.
                Err(error) if error.is_the_views_own() => kept.give_back(),
                Err(error) => return Err(error),
            }
            return Ok(false);
        };
        let rehearsed = match kept.get().await {
            Ok(conn) => self.rehearse(conn, batch).await,
            Err(error) => Err(error.into()),
        };
        match rehearsed {
            // A replay took the lock meanwhile, or an event is itself at fault: the next run
            // stands aside for the replay, or records the event in the dead letters.
            Ok(()) | Err(ProjectionError::LockHeld) => Ok(true),
            Err(error) if error.is_poison() => Ok(true),
            Err(error) if error.is_the_views_own() => {
                *wait = self.failed(kept, &error);
                Ok(false)
            }
            Err(error) => Err(error),
        }
    }

    /// Applies `batch` as a batch is applied ([`Self::apply_messages`]), with the same
    /// statements, and rolls it back: whether a view that failed at it would go through it now.
    async fn rehearse(
        &self,
        conn: &mut PgConnection,
        batch: &[Arc<Delivered>],
    ) -> Result<(), ProjectionError> {
        let mut tx = self.begin(conn).await?;
        let forgotten = self.outbox.to_forget();
        let at = checkpoint::load_forgetting(&mut tx, self.view.name(), forgotten).await?;
        let next = next_in_order(batch, at.stream_seq);
        let events = next
            .apply
            .iter()
            .map(|delivered| delivered.event())
            .collect::<Result<Vec<_>, _>>()?;
        // The pushes are made, as some views read more to make them, and dropped.
        let mut pushes = Vec::new();
        self.view
            .apply(&mut tx, &self.read(events), Some(&mut pushes))
            .await?;
        checkpoint::save_keeping(&mut tx, self.view.name(), at, &pushes).await?;
        tx.rollback().await?;
        Ok(())
    }

    /// Of `events`, those the view reads.
    fn read<'e>(&self, events: Vec<&'e EventEnvelope>) -> Vec<&'e EventEnvelope> {
        events
            .into_iter()
            .filter(|event| {
                self.view
                    .reads_event(&event.aggregate_type, &event.event_type)
            })
            .collect()
    }

    /// Whether the view's lock is free: taken and let go at once.
    async fn lock_is_free(&self, kept: &mut Kept) -> Result<bool, ProjectionError> {
        let free: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(self.view.lock_key())
            .fetch_one(kept.get().await?)
            .await?;
        Ok(free)
    }

    /// Applies `batch`: passes over it if `run` says the view reads none of it, pushes over it
    /// (keeping it in `pushed`) if the view only pushes from it, and otherwise (or if either
    /// finds the checkpoint elsewhere) applies it in a transaction. Whichever it does moves the
    /// checkpoint past the pushed batch `before` first, if any; an empty batch only does that.
    async fn apply_batch(
        &self,
        conn: &mut PgConnection,
        batch: &[Arc<Delivered>],
        run: Option<Run>,
        before: Option<Run>,
        pushed: &mut Option<Pushed>,
        committed: &Committed,
    ) -> Result<(), ProjectionError> {
        if let Some(run) = run {
            if self.pass_over(conn, batch, run, before, committed).await? {
                return Ok(());
            }
        } else if let Some(run) = self.only_pushed(batch) {
            if self
                .push_over(conn, batch, run, before, pushed, committed)
                .await?
            {
                return Ok(());
            }
        } else if let Some(before) = before {
            self.move_past(conn, before, committed).await?;
        }
        if batch.is_empty() || self.write_alone(conn, batch, committed).await? {
            return Ok(());
        }
        match self.apply_messages(conn, batch, false, committed).await {
            Err(error) if error.is_poison() => {
                let reason = domain::error::chain(&error);
                tracing::warn!(
                    view = self.view.name(),
                    reason,
                    "retrying the batch one event at a time"
                );
                self.apply_messages(conn, batch, true, committed).await
            }
            other => other,
        }
    }

    /// Passes over a batch the view reads none of ([`crate::ReadModel::reads`]). Only the
    /// checkpoint moves, in one statement with no transaction or lock around it, and only if it
    /// stands right before the batch, or before a pushed batch whose move waits (`before`) and
    /// the batch follows right on it. Answers whether it did; anything else (a redelivery, a
    /// gap, a replay that set the checkpoint elsewhere) takes the full path, which sorts it out.
    async fn pass_over(
        &self,
        conn: &mut PgConnection,
        batch: &[Arc<Delivered>],
        run: Run,
        before: Option<Run>,
        committed: &Committed,
    ) -> Result<bool, ProjectionError> {
        let run = match before {
            None => run,
            Some(before) => match before.then(run) {
                Some(joined) => joined,
                None => {
                    self.move_past(conn, before, committed).await?;
                    run
                }
            },
        };
        if !self.advance(conn, &run).await? {
            return Ok(false);
        }
        record_progress(
            self.view.name(),
            batch.len(),
            Some(run.newest),
            batch.last().map(|delivered| &**delivered),
        );
        committed.reached(run.to.stream_seq);
        Ok(true)
    }

    /// Sends the pushes of a batch the view only pushes from or passes over
    /// ([`Self::only_pushed`]): with nothing to write but the checkpoint, it takes no
    /// transaction and no outbox row. It goes ahead only if the checkpoint stands right before
    /// the batch and the view's lock is free, so that what the view reads to make the pushes is
    /// the state right before them, as in a transaction; anything else (a redelivery, a gap, a
    /// replay, an event at fault) takes the full path before anything is sent. The checkpoint
    /// moves past the batch later, in the first statement of whatever the view does next (or
    /// after `PASS_OVER_WAIT`, if nothing comes): until then `pushed` holds it. The statement
    /// that asks makes the move `before` waited for, and the read the pushes need if the view
    /// says what it is ([`crate::ReadModel::push_read`]): so a stream of messages costs the
    /// view one round trip a batch before its frames go out (two if the view reads on its own).
    /// The pushes go before the checkpoint moves, so a crash in between only sends them again,
    /// and receivers drop the repeats (a room's frames by their `rev`, a user's by push id).
    /// Answers whether the batch was pushed.
    async fn push_over(
        &self,
        conn: &mut PgConnection,
        batch: &[Arc<Delivered>],
        run: Run,
        before: Option<Run>,
        pushed: &mut Option<Pushed>,
        committed: &Committed,
    ) -> Result<bool, ProjectionError> {
        let view = self.view.name();
        let events = batch
            .iter()
            .map(|delivered| delivered.event())
            .collect::<Result<Vec<_>, _>>()?;
        let events = self.read(events);
        let read = self.view.push_read(&events);
        let forgotten = self.outbox.to_forget();
        let standing = checkpoint::stands_free_at(
            conn,
            view,
            self.view.lock_key(),
            run.first - 1,
            before.map(|before| (before.first - 1, before.to)),
            forgotten,
            read.as_ref().map(|read| (read.sql, read.uuids.as_slice())),
        )
        .await?;
        self.outbox.committed(forgotten);
        match before {
            Some(before) if standing.moved => {
                self.leave(Some(before.to));
                committed.reached(before.to.stream_seq);
            }
            Some(_) => self.leave(None),
            None => {}
        }
        if !standing.free {
            self.leave(None);
            return Ok(false);
        }
        let spans = self.spans(batch.iter().map(|delivered| &**delivered));
        let mut pushes = Vec::new();
        let made = match read {
            Some(read) => (read.then)(standing.read, &mut pushes),
            None => self.view.apply(conn, &events, Some(&mut pushes)).await,
        };
        match made {
            Err(error) if error.is_poison() => return Ok(false),
            made => made?,
        }
        send(&self.nats, &self.subjects, &pushes).await?;
        drop(spans);
        *pushed = Some(Pushed {
            run,
            batch: batch.to_vec(),
            until: tokio::time::Instant::now() + PASS_OVER_WAIT,
        });
        record_progress(
            view,
            batch.len(),
            Some(run.newest),
            batch.last().map(|delivered| &**delivered),
        );
        metrics::histogram!("projection_batch_size", "view" => view).record(batch.len() as f64);
        metrics::counter!("push_frames_total", "view" => view).increment(pushes.len() as u64);
        Ok(true)
    }

    /// Writes a batch with one statement outside a transaction, if the view can
    /// ([`crate::ReadModel::write_alone`]) and the batch is a run that follows right on where
    /// this run left the checkpoint: the statement tries the view's lock and moves the
    /// checkpoint, and writes only if both went ([`checkpoint::write_gated`]). At a low rate
    /// most of a batch's cost is its round trips, and a transaction takes four. Answers whether
    /// it wrote; anything else (a lock held, a checkpoint moved elsewhere, an event at fault,
    /// a statement PostgreSQL refused) takes the full path, which sorts it out, with nothing
    /// written.
    async fn write_alone(
        &self,
        conn: &mut PgConnection,
        batch: &[Arc<Delivered>],
        committed: &Committed,
    ) -> Result<bool, ProjectionError> {
        let (Some(left), Some(run)) = (self.left_before(batch), run_of(batch, |_| true)) else {
            return Ok(false);
        };
        let events = batch
            .iter()
            .map(|delivered| delivered.event())
            .collect::<Result<Vec<_>, _>>()?;
        let mut args = PgArguments::default();
        let view = self.view.name();
        let write = match self.view.write_alone(&self.read(events), &mut args) {
            Ok(Some(write)) => write,
            Ok(None) => return Ok(false),
            Err(error) if error.is_poison() => return Ok(false),
            Err(error) => return Err(error),
        };
        let spans = self.spans(batch.iter().map(|delivered| &**delivered));
        let lock = self.view.lock_key();
        let moved =
            match checkpoint::write_gated(conn, view, lock, left.stream_seq, run.to, write, args)
                .await
            {
                Ok(moved) => moved,
                // Met a replay's swap (`checkpoint::write_gated`): the full path waits for the
                // lock, which the swap is about to let go.
                Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(DEADLOCK) => false,
                // Refused (an event at fault, or something only this statement meets): the full
                // path writes the batch or sorts the fault out. Standing aside instead would have
                // the view fail here at every batch, and every view start again each time.
                Err(error @ sqlx::Error::Database(_)) => {
                    let error = ProjectionError::from(error);
                    if !error.is_poison() {
                        let error = domain::error::chain(&error);
                        tracing::warn!(
                            view,
                            error,
                            "the batch's one statement failed; it takes a transaction"
                        );
                    }
                    false
                }
                Err(error) => return Err(error.into()),
            };
        if !moved {
            self.leave(None);
            return Ok(false);
        }
        self.leave(Some(run.to));
        metrics::histogram!("projection_batch_size", "view" => view).record(batch.len() as f64);
        metrics::counter!("projection_batches_total", "view" => view, "how" => "alone")
            .increment(1);
        record_progress(
            view,
            batch.len(),
            Some(run.newest),
            batch.last().map(|delivered| &**delivered),
        );
        committed.reached(run.to.stream_seq);
        drop(spans);
        Ok(true)
    }

    /// Moves the checkpoint past a pushed batch (`before`) on its own, where what comes next
    /// cannot take the move along.
    async fn move_past(
        &self,
        conn: &mut PgConnection,
        before: Run,
        committed: &Committed,
    ) -> Result<(), ProjectionError> {
        if self.advance(conn, &before).await? {
            committed.reached(before.to.stream_seq);
        }
        Ok(())
    }

    /// Moves the checkpoint past `run` if it stands right before it ([`checkpoint::advance`]),
    /// and deletes the outbox rows already sent meanwhile: answers whether it moved.
    async fn advance(&self, conn: &mut PgConnection, run: &Run) -> Result<bool, ProjectionError> {
        let forgotten = self.outbox.to_forget();
        let moved =
            checkpoint::advance(conn, self.view.name(), run.first - 1, run.to, forgotten).await?;
        if moved {
            self.outbox.committed(forgotten);
            self.leave(Some(run.to));
        } else {
            self.leave(None);
        }
        Ok(moved)
    }

    /// Where this run left the checkpoint, if `batch` starts right after it.
    fn left_before(&self, batch: &[Arc<Delivered>]) -> Option<Checkpoint> {
        let left = *self.left.lock().unwrap_or_else(PoisonError::into_inner);
        left.filter(|at| {
            batch
                .first()
                .is_some_and(|first| first.seq == at.stream_seq + 1)
        })
    }

    /// Notes where this run left the checkpoint, or forgets it (`None`) once it may be elsewhere.
    fn leave(&self, at: Option<Checkpoint>) {
        *self.left.lock().unwrap_or_else(PoisonError::into_inner) = at;
    }

    /// Whether the view would pass over all of `batch`, a run of consecutive events none of
    /// which it reads (or whose heads it cannot read: the full path sorts those out).
    fn passed_over(&self, batch: &[Arc<Delivered>]) -> Option<Run> {
        self.view.reads()?;
        run_of(batch, |event| {
            !self
                .view
                .reads_event(&event.aggregate_type, &event.event_type)
        })
    }

    /// Whether all of `batch` is a run of consecutive events the view only pushes from
    /// ([`crate::ReadModel::only_pushes`]) or passes over, one at least of the first kind.
    fn only_pushed(&self, batch: &[Arc<Delivered>]) -> Option<Run> {
        let mut pushes = false;
        let run = run_of(batch, |event| {
            let (aggregate_type, event_type) = (&event.aggregate_type, &event.event_type);
            let only_pushes = self.view.only_pushes(aggregate_type, event_type);
            pushes |= only_pushes;
            only_pushes || !self.view.reads_event(aggregate_type, event_type)
        })?;
        pushes.then_some(run)
    }

    /// A span per traced message of `batch`, continuing its trace from the relay's, for as
    /// long as the caller keeps it: until the batch is committed and its pushes sent.
    fn spans<'d>(&self, batch: impl Iterator<Item = &'d Delivered>) -> Vec<tracing::Span> {
        if !moim_nats::trace::is_on() {
            return Vec::new();
        }
        batch
            .filter_map(|delivered| {
                let parent = delivered
                    .message
                    .headers
                    .as_ref()?
                    .get(moim_nats::envelope::headers::TRACEPARENT)?;
                let span = tracing::info_span!("view.apply", view = self.view.name());
                moim_nats::trace::follow(&span, parent.as_str());
                Some(span)
            })
            .collect()
    }

    /// Applies a batch in one transaction. With `careful`, each event runs under a savepoint and
    /// one that cannot be applied is dead-lettered and skipped.
    async fn apply_messages(
        &self,
        conn: &mut PgConnection,
        batch: &[Arc<Delivered>],
        careful: bool,
        committed: &Committed,
    ) -> Result<(), ProjectionError> {
        // Where the run left the checkpoint, if the batch follows right on: then the checkpoint
        // is not read, and the save makes sure it is still there. Otherwise it is read, and the
        // sent pushes deleted, in the round trip after the one that opens the transaction.
        let left = self.left_before(batch).filter(|_| !careful);
        let view = self.view.name();
        let mut tx = self.begin(conn).await?;
        let forgotten = self.outbox.to_forget();
        let mut at = match left {
            Some(left) => left,
            None => checkpoint::load_forgetting(&mut tx, view, forgotten).await?,
        };
        let next = next_in_order(batch, at.stream_seq);
        let spans = self.spans(next.apply.iter().copied());
        let mut pushes = Vec::new();
        if careful {
            for delivered in &next.apply {
                at = self
                    .apply_carefully(&mut tx, delivered, at, &mut pushes)
                    .await?;
            }
        } else {
            let events = next
                .apply
                .iter()
                .map(|delivered| delivered.event())
                .collect::<Result<Vec<_>, _>>()?;
            if let (Some(delivered), Some(last)) = (next.apply.last(), events.last()) {
                at = Checkpoint {
                    position: last.position,
                    stream_seq: delivered.seq,
                };
            }
            self.view
                .apply(&mut tx, &self.read(events), Some(&mut pushes))
                .await?;
        }
        let row = match left {
            None => checkpoint::save_keeping(&mut tx, view, at, &pushes).await?,
            Some(left) => {
                let from = left.stream_seq;
                match checkpoint::save_keeping_after(&mut tx, view, from, at, &pushes, forgotten)
                    .await?
                {
                    Some(row) => row,
                    None => {
                        // Moved by someone else since (a replay's swap): read it this time.
                        tx.rollback().await?;
                        drop(spans);
                        self.leave(None);
                        return Box::pin(self.apply_messages(conn, batch, careful, committed))
                            .await;
                    }
                }
            }
        };
        tx.commit().await?;
        self.outbox.committed(forgotten);
        self.leave(Some(at));
        metrics::histogram!("projection_batch_size", "view" => view)
            .record(next.apply.len() as f64);
        metrics::counter!("projection_batches_total", "view" => view, "how" => "transaction")
            .increment(1);
        metrics::counter!("push_frames_total", "view" => view).increment(pushes.len() as u64);
        let last = next.apply.last().copied();
        record_progress(
            view,
            next.apply.len(),
            last.and_then(|delivered| delivered.event().ok())
                .map(|event| event.recorded_at),
            last,
        );
        if let Some(through) = next.through {
            committed.reached(through);
        }
        if let Some(row) = row {
            self.outbox
                .send(&self.nats, &self.subjects, row, &pushes)
                .await?;
        }
        drop(spans);
        next.gap.map_or(Ok(()), Err)
    }

    /// Opens a batch's transaction, holding the view's lock until it ends.
    async fn begin<'c>(
        &self,
        conn: &'c mut PgConnection,
    ) -> Result<Transaction<'c, Postgres>, ProjectionError> {
        // A batch is a handful of statements, and at a low rate every event is a batch of its
        // own for each view: round trips are most of its cost, so the transaction opens, takes
        // the view's lock and commits asynchronously in one. Asynchronous commit is safe here:
        // if a crash forgets this transaction, it forgets the checkpoint with it, the next
        // messages then look like a gap, and the consumer is re-created to read them again from
        // the stream, which keeps every event.
        // The lock comes before `BEGIN`: PostgreSQL makes the implicit transaction it ran in
        // the explicit one, so it is held until the commit; and should it fail (a timeout, a
        // cancel), that implicit transaction ends with the query and the connection is left
        // clean, where a failure after `BEGIN` would leave it inside an aborted transaction that
        // sqlx, which did not see it open, never rolls back. The wait for it is
        // bounded (`LOCK_WAIT`, then the view stands aside), and only it: the view's own work
        // keeps the session's lock timeout.
        conn.begin_with(format!(
            "SET LOCAL lock_timeout = '{LOCK_WAIT}'; SELECT pg_advisory_xact_lock({}); \
             BEGIN; SET LOCAL synchronous_commit = off; SET LOCAL lock_timeout = DEFAULT",
            self.view.lock_key()
        ))
        .await
        .map_err(|error| match &error {
            sqlx::Error::Database(e) if e.code().as_deref() == Some(LOCK_NOT_AVAILABLE) => {
                ProjectionError::LockHeld
            }
            _ => ProjectionError::from(error),
        })
    }

    /// Applies one event under a savepoint; one that cannot be applied is dead-lettered and
    /// skipped. Answers the new checkpoint.
    async fn apply_carefully(
        &self,
        tx: &mut PgConnection,
        delivered: &Delivered,
        at: Checkpoint,
        pushes: &mut Vec<Push>,
    ) -> Result<Checkpoint, ProjectionError> {
        sqlx::query("SAVEPOINT event").execute(&mut *tx).await?;
        let mut produced = Vec::new();
        let seq = delivered.seq;
        let applied = match delivered.event() {
            Ok(event)
                if !self
                    .view
                    .reads_event(&event.aggregate_type, &event.event_type) =>
            {
                Ok(event.position)
            }
            Ok(event) => match self
                .view
                .apply(&mut *tx, &[event], Some(&mut produced))
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
                dead_letters::record(tx, self.view, seq, event, &error).await?;
                Ok(Checkpoint {
                    position: event.map_or(at.position, |e| e.position),
                    stream_seq: seq,
                })
            }
            Err((error, _)) => Err(error),
        }
    }
}

/// PostgreSQL's answer to a lock waited for past `lock_timeout`.
const LOCK_NOT_AVAILABLE: &str = "55P03";

/// PostgreSQL's answer to a statement it ended to break a deadlock.
pub(crate) const DEADLOCK: &str = "40P01";

/// Why a view stands aside.
enum Why {
    /// Its lock is held elsewhere: it tries the lock every `ASIDE_PROBE`.
    LockHeld,
    /// It failed at `batch` (what one transaction takes, a few times [`BATCH`] messages at
    /// most), which it tries again, rolled back, after `wait`.
    Failed {
        /// The batch it failed at.
        batch: Vec<Arc<Delivered>>,
        /// How long until it tries again.
        wait: Duration,
    },
}

/// A view standing aside while its lock is held elsewhere or after it failed;
/// `projection_standing_aside` is 1 while this lives, however the view's run ends.
struct Aside {
    /// Which view.
    view: &'static str,
    /// The first message it let by.
    from: u64,
    /// Why.
    why: Why,
    /// Since when.
    since: tokio::time::Instant,
    /// When it last said so.
    told_at: tokio::time::Instant,
}

impl Aside {
    /// `view` begins standing aside, the first message it lets by being `from`.
    fn begin(view: &'static str, from: u64, why: Why) -> Self {
        metrics::gauge!("projection_standing_aside", "view" => view).set(1.0);
        let now = tokio::time::Instant::now();
        Self {
            view,
            from,
            why,
            since: now,
            told_at: now,
        }
    }

    /// How long until it next tries whether it may stop standing aside.
    fn next_try(&self) -> Duration {
        match self.why {
            Why::LockHeld => ASIDE_PROBE,
            Why::Failed { wait, .. } => wait,
        }
    }

    /// Says again, now and then, that the view still stands aside.
    fn still_held(&mut self) {
        if self.told_at.elapsed() >= ASIDE_TOLD {
            self.told_at = tokio::time::Instant::now();
            let seconds = self.since.elapsed().as_secs();
            tracing::warn!(
                view = self.view,
                seconds,
                "the view still stands aside: its lock is held elsewhere"
            );
        }
    }
}

impl Drop for Aside {
    fn drop(&mut self) {
        metrics::gauge!("projection_standing_aside", "view" => self.view).set(0.0);
    }
}

/// When a view next tries whether it may stop standing aside, if it stands aside now.
fn next_try(aside: Option<&Aside>) -> tokio::time::Instant {
    tokio::time::Instant::now() + aside.map_or(ASIDE_PROBE, Aside::next_try)
}

/// How long a view that failed with `error` stands aside before it tries again, and how many
/// times in a row it has failed now, counted in `failures`. A wait for a pooled connection that
/// ran out is not counted: it already lasted as long as the pool allows
/// (`MOIM_DB_ACQUIRE_TIMEOUT_MS`), and when requests held every connection for that long (rather
/// than the database refusing new ones), a wait doubled at each try would leave the view up to
/// half a minute behind once the rush is over. It is tried again after the first wait.
fn wait_after(failures: &AtomicU32, error: &ProjectionError) -> (u32, Duration) {
    if error.is_a_wait_for_a_connection() {
        return (failures.load(Ordering::Relaxed), RETRY_FIRST);
    }
    let failures = failures.fetch_add(1, Ordering::Relaxed) + 1;
    (failures, retry_wait(failures))
}

/// How long a view that failed `failures` times in a row stands aside before it tries again.
fn retry_wait(failures: u32) -> Duration {
    backon::ExponentialBuilder::default()
        .with_min_delay(RETRY_FIRST)
        .with_max_delay(RETRY_MOST)
        .without_max_times()
        .build()
        // Past the few doublings that reach the longest wait, the count no longer matters.
        .nth(usize::try_from(failures.clamp(1, 32) - 1).unwrap_or_default())
        .unwrap_or(RETRY_MOST)
}

/// Lets a batch by unapplied while the view stands aside: the consumer may ack it for the other
/// views, and the view reads it again from the stream once the consumer is made again.
fn let_by(batch: &[Arc<Delivered>], committed: &Committed) {
    if let Some(last) = batch.last() {
        committed.reached(last.seq);
    }
}

/// A run of consecutive events a view passes over.
#[derive(Clone, Copy)]
struct Run {
    /// The first one's stream sequence.
    first: u64,
    /// The checkpoint after the last one.
    to: Checkpoint,
    /// When the last one was recorded in the store.
    newest: chrono::DateTime<chrono::Utc>,
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

/// A batch pushed over whose checkpoint has not moved yet: the next batch's first statement
/// moves it, or, if none comes first, a statement of its own at `until`. A crash or a stop
/// meanwhile leaves the checkpoint before it, and whoever runs the view next pushes it again;
/// so does a view that fails at the move, as it stands aside from the batch.
struct Pushed {
    /// Its events.
    run: Run,
    /// Its messages, let by with what comes next should the view stand aside.
    batch: Vec<Arc<Delivered>>,
    /// When it moves on its own.
    until: tokio::time::Instant,
}

/// The run of consecutive events `batch` is, if `takes` every one of them (and can read each
/// one's head: the full path sorts out one it cannot).
fn run_of(batch: &[Arc<Delivered>], mut takes: impl FnMut(&EventEnvelope) -> bool) -> Option<Run> {
    let mut run: Option<Run> = None;
    for delivered in batch {
        let event = delivered.event().ok()?;
        if !takes(event) {
            return None;
        }
        let next = Run {
            first: delivered.seq,
            to: Checkpoint {
                position: event.position,
                stream_seq: delivered.seq,
            },
            newest: event.recorded_at,
        };
        run = match run {
            None => Some(next),
            Some(run) => Some(run.then(next)?),
        };
    }
    run
}

/// A batch sorted against the checkpoint.
struct Next<'a> {
    /// The messages that come next in stream order.
    apply: Vec<&'a Delivered>,
    /// The furthest message the view is past once the transaction commits (older ones
    /// included, delivered again).
    through: Option<u64>,
    /// A message beyond the next expected one, if the consumer ran ahead.
    gap: Option<ProjectionError>,
}

fn next_in_order(batch: &[Arc<Delivered>], after: u64) -> Next<'_> {
    let mut next = Next {
        apply: Vec::with_capacity(batch.len()),
        through: None,
        gap: None,
    };
    let mut expected = after + 1;
    for delivered in batch {
        let seq = delivered.seq;
        if seq > expected {
            next.gap = Some(ProjectionError::Gap { expected, got: seq });
            break;
        }
        if seq == expected {
            next.apply.push(&**delivered);
            expected += 1;
        }
        next.through = next.through.max(Some(seq));
    }
    next
}

/// The metrics of `moved` events a view has gone past, applied or passed over: how many, how
/// far behind the store the newest (recorded at `newest`) was, and how many wait after `last`.
fn record_progress(
    view: &'static str,
    moved: usize,
    newest: Option<chrono::DateTime<chrono::Utc>>,
    last: Option<&Delivered>,
) {
    metrics::counter!("projection_events_applied_total", "view" => view).increment(moved as u64);
    if let Some(newest) = newest {
        let behind = (chrono::Utc::now() - newest).num_milliseconds().max(0) as f64;
        metrics::gauge!("projection_lag_seconds", "view" => view).set(behind / 1000.0);
    }
    if let Some(last) = last {
        metrics::gauge!("projection_lag_events", "view" => view).set(last.pending as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_failing_in_a_row_waits_twice_as_long_each_time_up_to_half_a_minute() {
        let waits: Vec<u64> = (1..=8)
            .map(|failures| retry_wait(failures).as_millis() as u64)
            .collect();
        assert_eq!(
            waits,
            [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]
        );
        assert_eq!(retry_wait(u32::MAX), RETRY_MOST, "however long it fails");
    }

    #[test]
    fn a_wait_for_a_connection_given_up_neither_counts_nor_doubles_the_wait() {
        // Given a view that failed three times in a row,
        let failures = AtomicU32::new(0);
        let broken = || ProjectionError::Database(sqlx::Error::WorkerCrashed);
        for _ in 0..3 {
            wait_after(&failures, &broken());
        }
        // when the pool has no connection free for it in its wait,
        let busy = ProjectionError::Database(sqlx::Error::PoolTimedOut);
        // then it tries again after the first wait, and the count stands,
        assert_eq!(wait_after(&failures, &busy), (3, RETRY_FIRST));
        assert_eq!(wait_after(&failures, &busy), (3, RETRY_FIRST));
        // and a failure of its own goes on doubling from there.
        assert_eq!(wait_after(&failures, &broken()), (4, retry_wait(4)));
    }
}
