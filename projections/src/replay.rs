//! Rebuilds read models from the event store.
//!
//! A replay builds each view afresh in a shadow schema (empty copies of the view's tables),
//! applying every event below the horizon in global order in short transactions, then swaps the
//! shadow tables in and sets the checkpoint in one short transaction. Readers keep the old rows
//! until the swap; no transaction but an index build at the end stays open long enough to hold
//! back the relay's horizon. The views' advisory locks are held throughout, so their live
//! runners stand aside (a batch a view only passes over moves its checkpoint meanwhile, which the
//! swap then sets) and continue after the new checkpoints. The checkpoint's stream sequence is
//! the number of events applied: the relay keeps the stream an exact copy of the global order.
//!
//! Speed (docs/performance.md): the store is read once, however many views are rebuilt, and each
//! view applies on a connection of its own, so views run side by side; a view whose aggregates
//! are apart ([`View::aggregates_apart`]) applies on several, each taking a share of the
//! aggregates. A shadow table fills with its constraints and btree indexes (the views' own SQL
//! looks rows up through them); its search (GIN) indexes, and those the view says its SQL does
//! without, are built at the end, in one pass each and side by side, and a unique constraint
//! among them is made of its index once every build is done. A partitioned table is copied with
//! its partitions, and such an index is built per partition and the parts attached: one build
//! runs on one backend, so a table split in four builds its index on every core. Every index
//! keeps its live name.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use moim_nats::EventEnvelope;
use sqlx::pool::PoolConnection;
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool, Postgres};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::checkpoint::{self, Checkpoint};
use crate::runner::DEADLOCK;
use crate::{ProjectionError, View};

/// Events applied per transaction. Large, because a view's batch statement touches each row it
/// updates once however many events of the batch change it (a room's latest message).
const BATCH: usize = 20_000;
/// Batches queued ahead of the slowest view. A replay holds at most these, the one each view
/// applies and the one being read: four batches, about 80 MiB (about 1 KiB an event).
const AHEAD: usize = 2;
/// Connections a view whose aggregates are apart applies on. Its statements are most of a
/// replay's work, so while some lanes wait on PostgreSQL others decode their next events: on
/// two cores four lanes kept both busy (two were 3 % slower, docs/performance.md).
const LANES: u64 = 4;

/// Memory a view's index builds at the end of a replay may sort in, together.
const BUILD_MEMORY_MB: usize = 512;

/// How a replay went.
#[derive(Debug, Clone, Copy)]
pub struct Replayed {
    /// Events applied.
    pub events: u64,
}

/// How one view's replay went, in a replay of several.
#[derive(Debug, Clone, Copy)]
pub struct ViewReplayed {
    /// The view.
    pub view: View,
    /// Events applied.
    pub events: u64,
    /// From the start of the replay until the view was filled and indexed.
    pub took: Duration,
}

/// Rebuilds `view`; shows a progress bar when `progress` is set and stderr is a terminal.
pub async fn replay(
    pool: &PgPool,
    view: View,
    progress: bool,
) -> Result<Replayed, ProjectionError> {
    let done = replay_all(pool, &[view], progress).await?;
    Ok(Replayed {
        events: done.first().map_or(0, |d| d.events),
    })
}

/// Rebuilds `views` from one reading of the store, side by side.
pub async fn replay_all(
    pool: &PgPool,
    views: &[View],
    progress: bool,
) -> Result<Vec<ViewReplayed>, ProjectionError> {
    // Session locks on a connection of its own: released when it closes, whatever happens.
    let mut guard = pool.connect_options().connect().await?;
    for view in views {
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(view.lock_key())
            .execute(&mut guard)
            .await?;
    }
    let result = rebuild(pool, views, progress).await;
    let _ = guard.close().await;
    result
}

/// A view's shadow schema, and the indexes to build once it is filled.
struct Shadow {
    view: View,
    schema: String,
    /// The live tables and their partitions, as the swap moves them: the shadow's have the
    /// same names.
    moved: Vec<String>,
    /// Index builds, run side by side.
    later: Vec<String>,
    /// What needs every build done: constraints made of indexes `later` built (adding a
    /// constraint locks the table against every other build, so a constraint built as such
    /// would wait for them), and partitions' indexes attached to their table's.
    finish: Vec<String>,
}

impl Shadow {
    /// Empty copies of the view's tables (and of their partitions), with their constraints and
    /// btree indexes under the live tables' names; the search indexes are kept for the end.
    async fn create(pool: &PgPool, view: View) -> Result<Self, ProjectionError> {
        let schema = format!("moim_replay_{}", view.name());
        let mut ddl = format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};");
        let mut moved = Vec::new();
        let mut later = Vec::new();
        let mut finish = Vec::new();
        let after_filling = view.indexed_after_filling();
        for table in view.tables() {
            // A live index's definition, on the shadow table; `ONLY` kept where `only`.
            let in_shadow = |definition: String, only: bool| {
                let on = if only { " ON ONLY " } else { " ON " };
                definition
                    .replacen(
                        &format!(" ON ONLY public.{table} "),
                        &format!("{on}{schema}.{table} "),
                        1,
                    )
                    .replacen(
                        &format!(" ON public.{table} "),
                        &format!("{on}{schema}.{table} "),
                        1,
                    )
            };
            let partitioned: Option<String> =
                sqlx::query_scalar("SELECT pg_get_partkeydef($1::regclass)")
                    .bind(format!("public.{table}"))
                    .fetch_one(pool)
                    .await?;
            ddl.push_str(&format!(
                "CREATE TABLE {schema}.{table} (LIKE public.{table} INCLUDING ALL EXCLUDING INDEXES)"
            ));
            moved.push((*table).to_owned());
            if let Some(key) = &partitioned {
                ddl.push_str(&format!(" PARTITION BY {key};"));
                for (partition, bound) in partitions(pool, table).await? {
                    ddl.push_str(&format!(
                        "CREATE TABLE {schema}.{partition} PARTITION OF {schema}.{table} {bound};"
                    ));
                    moved.push(partition);
                }
            } else {
                ddl.push(';');
            }
            let table_constraints: Vec<(String, String, String, String, String)> = sqlx::query_as(
                "SELECT conname::text, quote_ident(conname), contype::text,
                            pg_get_constraintdef(oid), pg_get_indexdef(conindid)
                     FROM pg_constraint
                     WHERE conrelid = $1::regclass AND contype IN ('p', 'u', 'x')
                     ORDER BY conname",
            )
            .bind(format!("public.{table}"))
            .fetch_all(pool)
            .await?;
            for (name, quoted, kind, definition, index) in table_constraints {
                let add = format!("ALTER TABLE {schema}.{table} ADD CONSTRAINT {quoted}");
                let made_of_index = match kind.as_str() {
                    "p" => Some("PRIMARY KEY"),
                    "u" => Some("UNIQUE"),
                    _ => None,
                };
                match made_of_index {
                    Some(made) if after_filling.contains(&name.as_str()) => {
                        later.push(in_shadow(index, false));
                        finish.push(format!("{add} {made} USING INDEX {quoted}"));
                    }
                    None if after_filling.contains(&name.as_str()) => {
                        later.push(format!("{add} {definition}"));
                    }
                    _ => ddl.push_str(&format!("{add} {definition};")),
                }
            }
            let indexes: Vec<(String, i64, bool, String)> = sqlx::query_as(
                "SELECT c.relname::text, i.indexrelid::bigint, i.indisunique,
                        pg_get_indexdef(i.indexrelid)
                 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                 WHERE i.indrelid = $1::regclass
                   AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                                   WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid
                                     AND c.contype IN ('p', 'u', 'x'))
                 ORDER BY i.indexrelid",
            )
            .bind(format!("public.{table}"))
            .fetch_all(pool)
            .await?;
            for (name, oid, unique, definition) in indexes {
                // Search indexes are built at the end, in one pass, as are those the view
                // says it does without; its own lookups use the others while the tables fill.
                let search = !unique && definition.contains(" USING gin ");
                if !search && !after_filling.contains(&name.as_str()) {
                    ddl.push_str(&in_shadow(definition, false));
                    ddl.push(';');
                } else if partitioned.is_some() {
                    // The table's index, empty, and each partition's built apart, side by
                    // side: one build runs on one backend.
                    ddl.push_str(&in_shadow(definition, true));
                    ddl.push(';');
                    for (part, part_table, part_definition) in partition_indexes(pool, oid).await? {
                        later.push(part_definition.replacen(
                            &format!(" ON public.{part_table} "),
                            &format!(" ON {schema}.{part_table} "),
                            1,
                        ));
                        finish.push(format!(
                            "ALTER INDEX {schema}.{name} ATTACH PARTITION {schema}.{part}"
                        ));
                    }
                } else {
                    later.push(in_shadow(definition, false));
                }
            }
        }
        sqlx::raw_sql(&ddl).execute(pool).await?;
        Ok(Self {
            view,
            schema,
            moved,
            later,
            finish,
        })
    }

    /// Applies every batch it is sent, on one connection or, when the view's aggregates are
    /// apart, on [`LANES`] of them side by side, then builds the remaining indexes; answers
    /// where it stands.
    async fn fill(
        self: Arc<Self>,
        pool: &PgPool,
        mut batches: mpsc::Receiver<Arc<Vec<EventEnvelope>>>,
    ) -> Result<Checkpoint, ProjectionError> {
        let lanes = if self.view.aggregates_apart() {
            LANES
        } else {
            1
        };
        let mut senders = Vec::new();
        let mut applying = JoinSet::new();
        for _ in 0..lanes {
            let (send, receive) = mpsc::channel(1);
            senders.push(send);
            let (shadow, pool) = (Arc::clone(&self), pool.clone());
            applying.spawn(async move { shadow.apply_lane(&pool, receive).await });
        }
        let hand_out = async move {
            let mut at = Checkpoint::default();
            while let Some(batch) = batches.recv().await {
                at = Checkpoint {
                    position: batch.last().map_or(at.position, |e| e.position),
                    stream_seq: at.stream_seq + batch.len() as u64,
                };
                for (send, share) in senders.iter().zip(Share::split(&batch, lanes)) {
                    // A lane that stopped reports its error when it is joined.
                    let _ = send.send(share).await;
                }
            }
            Ok::<_, ProjectionError>(at)
        };
        let applied = async move {
            while let Some(joined) = applying.join_next().await {
                joined.map_err(ProjectionError::ViewTask)??;
            }
            Ok(())
        };
        let (at, ()) = tokio::try_join!(hand_out, applied)?;
        // Side by side, each on a connection of its own: an index build runs on one backend.
        // They share BUILD_MEMORY_MB, so splitting a table into partitions asks for no more.
        let memory = (BUILD_MEMORY_MB / self.later.len().max(1)).max(64);
        futures::future::try_join_all(self.later.iter().map(|index| async move {
            // One query string is one transaction, which the setting lasts for.
            let build = format!("SET LOCAL maintenance_work_mem = '{memory}MB'; {index}");
            sqlx::raw_sql(&build).execute(pool).await
        }))
        .await?;
        if !self.finish.is_empty() {
            sqlx::raw_sql(&self.finish.join(";")).execute(pool).await?;
        }
        Ok(at)
    }

    /// Applies its share of each batch, in order.
    async fn apply_lane(
        &self,
        pool: &PgPool,
        mut shares: mpsc::Receiver<Share>,
    ) -> Result<(), ProjectionError> {
        while let Some(share) = shares.recv().await {
            let events = share.events();
            let mut lane = Lane {
                conn: pool.acquire().await?,
                finished: false,
            };
            let mut tx = lane.conn.begin().await?;
            apply_into(&mut tx, &self.schema, self.view, &events).await?;
            tx.commit().await?;
            lane.finished = true;
        }
        Ok(())
    }

    /// Puts the rebuilt tables in place of the live ones and sets the checkpoint. A swap that
    /// PostgreSQL ends to break a deadlock is tried again, up to [`SWAP_TRIES`] times: it takes
    /// its tables' locks one after another in its own order, and a statement that holds one of
    /// them as it asks for another (a reader, or the view's batch written in one statement,
    /// which takes its tables' locks before it tries the view's) may meet it the other way
    /// round. Rolled back, the swap changed nothing, and the other statement ends soon.
    async fn swap(&self, pool: &PgPool, at: Checkpoint) -> Result<(), ProjectionError> {
        let retired = format!("moim_retired_{}", self.view.name());
        let mut swap = format!("DROP SCHEMA IF EXISTS {retired} CASCADE; CREATE SCHEMA {retired};");
        for (from, to) in [
            ("public", retired.as_str()),
            (self.schema.as_str(), "public"),
        ] {
            for moving in &self.moved {
                swap.push_str(&format!("ALTER TABLE {from}.{moving} SET SCHEMA {to};"));
            }
        }
        let mut tries = 1;
        loop {
            match self.swap_once(pool, &swap, at).await {
                Err(sqlx::Error::Database(e))
                    if e.code().as_deref() == Some(DEADLOCK) && tries < SWAP_TRIES =>
                {
                    tracing::warn!(
                        view = self.view.name(),
                        tries,
                        "the swap met a deadlock; trying again"
                    );
                    tries += 1;
                }
                swapped => break swapped?,
            }
        }
        // The swap is in: what is left to drop is dropped again by the next replay, should
        // this fail (a deadlock with a statement planned on the retired tables, say).
        if let Err(error) = sqlx::raw_sql(&format!(
            "DROP SCHEMA {retired} CASCADE; DROP SCHEMA {} CASCADE;",
            self.schema
        ))
        .execute(pool)
        .await
        {
            tracing::warn!(
                view = self.view.name(),
                error = %error,
                "the replaced tables were not dropped; the next replay drops them"
            );
        }
        Ok(())
    }

    /// One try of [`Self::swap`]'s transaction: `swap` moves the tables.
    async fn swap_once(
        &self,
        pool: &PgPool,
        swap: &str,
        at: Checkpoint,
    ) -> Result<(), sqlx::Error> {
        let mut tx = pool.begin().await?;
        sqlx::raw_sql(swap).execute(&mut *tx).await?;
        checkpoint::save(&mut tx, self.view.name(), at).await?;
        tx.commit().await
    }
}

/// How many times a swap is tried that keeps meeting deadlocks.
const SWAP_TRIES: u32 = 5;

/// A lane's connection for one batch: closed rather than pooled unless the batch committed. A
/// lane dropped with a statement half-answered (a `COPY` cancelled once begun, whose replies sqlx
/// does not track) must not hand a connection out of step to anyone.
struct Lane {
    conn: PoolConnection<Postgres>,
    finished: bool,
}

impl Drop for Lane {
    fn drop(&mut self) {
        if !self.finished {
            self.conn.close_on_drop();
        }
    }
}

/// The live partitions of `table` (none when it is not partitioned) and their bounds.
async fn partitions(pool: &PgPool, table: &str) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid)
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = $1::regclass ORDER BY c.relname",
    )
    .bind(format!("public.{table}"))
    .fetch_all(pool)
    .await
}

/// The partitions' indexes of the partitioned index `index`: each one's name, its table's, and
/// its definition.
async fn partition_indexes(
    pool: &PgPool,
    index: i64,
) -> Result<Vec<(String, String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.relname::text, t.relname::text, pg_get_indexdef(i.inhrelid)
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
              JOIN pg_index x ON x.indexrelid = i.inhrelid JOIN pg_class t ON t.oid = x.indrelid
         WHERE i.inhparent = $1::bigint::oid ORDER BY c.relname",
    )
    .bind(index)
    .fetch_all(pool)
    .await
}

/// A lane's share of a batch: the events of the aggregates that hash to it, in order.
struct Share {
    batch: Arc<Vec<EventEnvelope>>,
    /// Where its events are in the batch; `None` when it is the only lane.
    picked: Option<Vec<u32>>,
}

impl Share {
    /// Splits a batch into `lanes` shares, hashing each event's aggregate once.
    fn split(batch: &Arc<Vec<EventEnvelope>>, lanes: u64) -> Vec<Self> {
        if lanes == 1 {
            return vec![Self {
                batch: Arc::clone(batch),
                picked: None,
            }];
        }
        // Each its own allocation: a cloned empty vector keeps no capacity.
        let mut picked: Vec<Vec<u32>> = (0..lanes)
            .map(|_| Vec::with_capacity(batch.len() / lanes as usize + 1))
            .collect();
        for (index, event) in (0u32..).zip(batch.iter()) {
            let mut hasher = DefaultHasher::new();
            event.aggregate_id.hash(&mut hasher);
            picked[(hasher.finish() % lanes) as usize].push(index);
        }
        picked
            .into_iter()
            .map(|picked| Self {
                batch: Arc::clone(batch),
                picked: Some(picked),
            })
            .collect()
    }

    fn events(&self) -> Vec<&EventEnvelope> {
        match &self.picked {
            None => self.batch.iter().collect(),
            Some(picked) => picked.iter().map(|&i| &self.batch[i as usize]).collect(),
        }
    }
}

async fn rebuild(
    pool: &PgPool,
    views: &[View],
    progress: bool,
) -> Result<Vec<ViewReplayed>, ProjectionError> {
    let started = Instant::now();
    let shadows: Vec<Arc<Shadow>> =
        futures::future::try_join_all(views.iter().map(|&view| Shadow::create(pool, view)))
            .await?
            .into_iter()
            .map(Arc::new)
            .collect();

    let (horizon,): (i64,) =
        sqlx::query_as("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            .fetch_one(pool)
            .await?;
    // Counting the store reads it through once more, on one core: only for a bar someone sees.
    let bar = if progress && std::io::stderr().is_terminal() {
        let (total,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM events WHERE tx_id < $1::bigint::text::xid8")
                .bind(horizon)
                .fetch_one(pool)
                .await?;
        ProgressBar::new(total as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>13} [{bar:40}] {pos}/{len} events, {per_sec}, eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(match views {
        [one] => one.name(),
        _ => "all views",
    });

    // Each view fills on a task of its own, so its decoding runs beside the others' and beside
    // the reading of the next batch. The set aborts the tasks still running when it is dropped:
    // a replay that fails or is cancelled leaves nothing writing its shadow schemas.
    let mut senders = Vec::with_capacity(shadows.len());
    let mut fills = JoinSet::new();
    for (index, shadow) in shadows.iter().enumerate() {
        let (send, receive) = mpsc::channel(AHEAD);
        senders.push(send);
        let (shadow, pool) = (Arc::clone(shadow), pool.clone());
        fills.spawn(async move {
            let at = shadow.fill(&pool, receive).await;
            (index, at, started.elapsed())
        });
    }
    let filled = async move {
        let mut filled = Vec::with_capacity(fills.len());
        while let Some(joined) = fills.join_next().await {
            let (index, at, took) = joined.map_err(ProjectionError::ViewTask)?;
            filled.push((index, at?, took));
        }
        filled.sort_unstable_by_key(|&(index, ..)| index);
        Ok(filled)
    };

    // The events are read a batch per query, each its own short snapshot: one query over the
    // whole store would hold back the horizon for its whole length, and every row the views
    // update again and again (a room's latest message) would keep every old version alive for
    // the next lookup to step through. Each batch goes to every view; the views fill side by
    // side on connections of their own, so PostgreSQL does their work in parallel.
    let read = async {
        let senders = senders;
        let sql = EventEnvelope::select(
            "WHERE tx_id < $1::bigint::text::xid8
               AND (tx_id, position) > ($2::bigint::text::xid8, $3)
             ORDER BY tx_id, position LIMIT $4",
        );
        let mut after = domain::Position::START;
        loop {
            let batch: Vec<EventEnvelope> = sqlx::query_as(&sql)
                .bind(horizon)
                .bind(after.tx_id)
                .bind(after.position)
                .bind(BATCH as i64)
                .fetch_all(pool)
                .await?;
            let Some(last) = batch.last() else {
                return Ok::<_, ProjectionError>(());
            };
            after = last.position;
            bar.inc(batch.len() as u64);
            let shared = Arc::new(batch);
            for send in &senders {
                // A view that stopped reports its error when its fill is awaited.
                let _ = send.send(Arc::clone(&shared)).await;
            }
        }
    };
    // The first error ends the reading and the fills alike.
    let ((), filled) = tokio::try_join!(read, filled)?;

    // Every view is filled before any is swapped in: a view that failed leaves all as they were.
    // The swaps touch tables of their own, so they run side by side.
    let done = futures::future::try_join_all(shadows.iter().zip(filled).map(
        |(shadow, (_, at, took))| async move {
            shadow.swap(pool, at).await?;
            Ok::<_, ProjectionError>(ViewReplayed {
                view: shadow.view,
                events: at.stream_seq,
                took,
            })
        },
    ))
    .await?;
    bar.finish();
    Ok(done)
}

/// Applies events to the shadow tables: the shadow schema comes first on the search path, so
/// the view's own SQL writes there unchanged.
async fn apply_into(
    tx: &mut PgConnection,
    shadow: &str,
    view: View,
    events: &[&EventEnvelope],
) -> Result<(), ProjectionError> {
    // Asynchronous commit: a crash mid-replay leaves only the shadow schema, which the next
    // replay drops and rebuilds. A batch's statements sort and group tens of thousands of
    // rows: in memory, not in temporary files.
    sqlx::query(
        "SELECT set_config('search_path', $1 || ', public', true),
                set_config('synchronous_commit', 'off', true),
                set_config('work_mem', '64MB', true)",
    )
    .bind(shadow)
    .execute(&mut *tx)
    .await?;
    // Replays re-create the feed, not the moment: nothing is pushed again.
    view.replay(&mut *tx, events).await?;
    Ok(())
}
