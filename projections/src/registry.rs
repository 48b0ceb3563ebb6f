//! The read models Moim maintains, each described by itself, and the one list of them.
//!
//! A read model is a module that implements [`ReadModel`]: its name, the tables it owns and how
//! it applies a batch of events (plus hooks such as "makes live pushes"). [`Registry::standard`]
//! lists them, one line each; the runner, replay, fingerprints, `moim replay <name>` and the crash
//! test all read that list, so a view added there is run, rebuilt and checked everywhere, and a
//! view left out of it is nowhere. The generic machinery (runner, replay, fingerprints) names
//! no particular view; only the queries that read a view name it (`projections::chat::VIEW`).

use std::fmt;

use futures::future::BoxFuture;
use moim_nats::EventEnvelope;
use sqlx::postgres::PgArguments;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    board, chat, clubs, couples, games, media, notifications, users, ProjectionError, Push,
};

/// What every read model says about itself.
pub trait ReadModel: Send + Sync + 'static {
    /// Stable name: its checkpoint, JetStream consumer, lock keys and `moim replay <name>`.
    /// Renaming a view starts it afresh.
    fn name(&self) -> &'static str;

    /// The tables it alone writes, and which a replay rebuilds.
    fn tables(&self) -> &'static [&'static str];

    /// Applies one event inside the caller's transaction. Live pushes to send after the commit
    /// go to `out`; a replay passes `None`, and nothing is pushed again.
    fn apply_one<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a EventEnvelope,
        out: Option<&'a mut Vec<Push>>,
    ) -> BoxFuture<'a, Result<(), ProjectionError>>;

    /// Applies `events` in order, as [`ReadModel::apply_one`] would one by one; a view that can
    /// write a run of events in fewer statements overrides it.
    fn apply<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        events: &'a [&'a EventEnvelope],
        mut out: Option<&'a mut Vec<Push>>,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(async move {
            for event in events {
                self.apply_one(&mut *tx, event, out.as_deref_mut()).await?;
            }
            Ok(())
        })
    }

    /// Applies `events` in order during a replay, into shadow tables that started empty and
    /// that nothing else writes, and that see each event once. A view may leave out there what
    /// only guards a live re-delivery (the chat view: its messages' `ON CONFLICT DO NOTHING`,
    /// about half of each insert's cost); by default it applies them as [`ReadModel::apply`].
    fn replay<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        events: &'a [&'a EventEnvelope],
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        self.apply(tx, events, None)
    }

    /// Hook: whether it makes live pushes, so its runner keeps a push outbox and re-sends what
    /// a crash left in it.
    fn makes_pushes(&self) -> bool {
        false
    }

    /// Hook: the aggregate types whose events it applies, or `None` for all. Its live runner
    /// hands it only events of these, and passes over a batch with none of them, moving only
    /// the checkpoint (a chat message passes six of the eight views by). A type it applies but
    /// leaves out here is never applied live; the replay test, which compares live views with
    /// rebuilt ones (a replay hands every event over), finds that.
    fn reads(&self) -> Option<&'static [&'static str]> {
        None
    }

    /// Hook: of the events of an aggregate type it reads, whether it applies those of
    /// `event_type`; all, unless it says otherwise. Its live runner passes over the rest like
    /// events of a type it does not read (the media view: of a room's events only a deleted
    /// message ends a use, so a chat message passes it by).
    fn reads_event(&self, _aggregate_type: &str, _event_type: &str) -> bool {
        true
    }

    /// Hook: of the events it reads, whether it only pushes from those of `event_type` of
    /// `aggregate_type` and writes nothing for them (the notifications view: a chat message goes
    /// to its room's sockets, and the feed keeps nothing of it); none, unless it says otherwise.
    /// Its live runner sends a batch of only such events, and events it passes over, with no
    /// transaction and no outbox, and moves the checkpoint past them with whatever statement
    /// comes next (docs/architecture.md): a chat message reaches the sockets after two round
    /// trips instead of a full batch's four or five. So its `apply` must only read for them,
    /// outside a transaction, and their pushes must be safe to send twice (a crash before the
    /// checkpoint moves sends them again).
    fn only_pushes(&self, _aggregate_type: &str, _event_type: &str) -> bool {
        false
    }

    /// Hook: for a batch of events it only pushes from ([`ReadModel::only_pushes`]), what its
    /// pushes need to read, made by the statement that asks whether the batch may go ahead, and
    /// how they are made from it (the notifications view: who blocks the messages' senders). The
    /// batch then reaches the sockets after one round trip instead of two. By default none, and
    /// its runner makes the pushes with [`ReadModel::apply`], which reads on its own.
    fn push_read<'a>(&self, _events: &'a [&'a EventEnvelope]) -> Option<PushRead<'a>> {
        None
    }

    /// Hook: how it writes `events` (ones it reads) with one statement outside a transaction,
    /// if it can: their parameters added to `args` and numbered from `$1`, it answers common
    /// table expressions (no `WITH`) that write only where the one-row `go`'s column `go` is
    /// true (`quick`, `gate`, `moved` and `go` are the statement's own names). Its live runner
    /// then writes a batch that follows right on where it left the checkpoint in one round trip
    /// instead of four: the statement tries the view's lock and moves the checkpoint, and `go`
    /// says whether both went (docs/architecture.md). Anything else (a batch it cannot write
    /// so, a lock held, a checkpoint moved elsewhere, an event at fault) takes a transaction, so
    /// a view answers `None` for what it would rather write there (the chat view: a batch with
    /// anything but sent messages). A view that makes pushes never writes so. By default none.
    fn write_alone(
        &self,
        _events: &[&EventEnvelope],
        _args: &mut PgArguments,
    ) -> Result<Option<&'static str>, ProjectionError> {
        Ok(None)
    }

    /// Hook: whether every row it writes for an aggregate follows from that aggregate's events
    /// alone, so a replay may apply different aggregates' events on connections side by side,
    /// each aggregate's in order (the chat view: every row is one room's). A view that reads
    /// back a row another aggregate's event wrote must leave it `false`.
    fn aggregates_apart(&self) -> bool {
        false
    }

    /// Hook: the indexes and constraints, by name, that its own SQL neither looks rows up
    /// through nor names as a conflict target. A replay builds these once the shadow tables are
    /// filled, in one pass each, instead of row by row (search indexes always are). A unique
    /// one listed here is checked then: a replay whose events would break it fails, and leaves
    /// the live view as it was. On a partitioned table list unique indexes, not constraints:
    /// PostgreSQL makes no constraint of an index there, so the replay could not finish one.
    fn indexed_after_filling(&self) -> &'static [&'static str] {
        &[]
    }
}

/// What the pushes of a batch a view only pushes from read ([`ReadModel::push_read`]).
pub struct PushRead<'a> {
    /// A scalar subquery answering one `jsonb` value or null. Its parameters, the `uuid[]`s of
    /// `uuids` in order, are numbered from `$10`: the statement it joins binds nine before them.
    pub sql: &'static str,
    /// Its parameters.
    pub uuids: Vec<Vec<Uuid>>,
    /// Makes the batch's pushes from what it read, into the vector given.
    pub then: PushFrom<'a>,
}

/// How a batch's pushes are made from what [`PushRead`] read.
pub type PushFrom<'a> = Box<
    dyn FnOnce(Option<serde_json::Value>, &mut Vec<Push>) -> Result<(), ProjectionError>
        + Send
        + 'a,
>;

/// The applying function of a view that applies events one by one and makes no pushes.
pub type ApplyOne = for<'a> fn(
    &'a mut PgConnection,
    &'a EventEnvelope,
) -> BoxFuture<'a, Result<(), ProjectionError>>;

/// A simple read model declared as data: a name, its tables and how it applies one event. Most
/// views are this; a view that batches or pushes implements [`ReadModel`] itself.
pub struct Simple {
    /// Its stable name.
    pub name: &'static str,
    /// The tables it alone writes.
    pub tables: &'static [&'static str],
    /// How it applies one event.
    pub apply_one: ApplyOne,
    /// The aggregate types whose events it applies ([`ReadModel::reads`]).
    pub reads: &'static [&'static str],
}

impl ReadModel for Simple {
    fn name(&self) -> &'static str {
        self.name
    }

    fn tables(&self) -> &'static [&'static str] {
        self.tables
    }

    fn apply_one<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a EventEnvelope,
        _: Option<&'a mut Vec<Push>>,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        (self.apply_one)(tx, event)
    }

    fn reads(&self) -> Option<&'static [&'static str]> {
        Some(self.reads)
    }
}

/// A read model, cheap to copy and compare (by name).
#[derive(Clone, Copy)]
pub struct View(&'static dyn ReadModel);

impl View {
    /// The handle of a read model.
    pub const fn of(model: &'static dyn ReadModel) -> Self {
        Self(model)
    }

    /// Its stable name.
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// The tables it owns.
    pub fn tables(self) -> &'static [&'static str] {
        self.0.tables()
    }

    /// Whether it makes live pushes.
    pub fn makes_pushes(self) -> bool {
        self.0.makes_pushes()
    }

    /// The aggregate types whose events it applies, or `None` for all.
    pub fn reads(self) -> Option<&'static [&'static str]> {
        self.0.reads()
    }

    /// Whether a replay may apply different aggregates' events side by side.
    pub fn aggregates_apart(self) -> bool {
        self.0.aggregates_apart()
    }

    /// The indexes and constraints a replay builds once it has filled the view.
    pub fn indexed_after_filling(self) -> &'static [&'static str] {
        self.0.indexed_after_filling()
    }

    /// Whether it applies events of `event_type` of `aggregate_type`.
    pub fn reads_event(self, aggregate_type: &str, event_type: &str) -> bool {
        self.reads()
            .is_none_or(|types| types.contains(&aggregate_type))
            && self.0.reads_event(aggregate_type, event_type)
    }

    /// Whether it applies events of `event_type` of `aggregate_type` only to push from them.
    pub fn only_pushes(self, aggregate_type: &str, event_type: &str) -> bool {
        self.reads_event(aggregate_type, event_type)
            && self.0.only_pushes(aggregate_type, event_type)
    }

    /// What the pushes of `events`, which it only pushes from, read in the statement that asks
    /// whether they may go ahead ([`ReadModel::push_read`]). None where an event has personal
    /// fields: [`Self::apply`] opens those first.
    pub fn push_read<'a>(self, events: &'a [&'a EventEnvelope]) -> Option<PushRead<'a>> {
        plain(events).then(|| self.0.push_read(events)).flatten()
    }

    /// How it writes `events`, which it reads, with one statement outside a transaction
    /// ([`ReadModel::write_alone`]). None where it makes pushes (they need the outbox a
    /// transaction keeps) or where an event has personal fields: [`Self::apply`] opens those
    /// first.
    pub fn write_alone(
        self,
        events: &[&EventEnvelope],
        args: &mut PgArguments,
    ) -> Result<Option<&'static str>, ProjectionError> {
        if self.makes_pushes() || events.is_empty() || !plain(events) {
            return Ok(None);
        }
        self.0.write_alone(events, args)
    }

    /// Applies events in order, their personal fields opened; see [`ReadModel::apply`].
    pub async fn apply(
        self,
        tx: &mut PgConnection,
        events: &[&EventEnvelope],
        out: Option<&mut Vec<Push>>,
    ) -> Result<(), ProjectionError> {
        self.write(tx, events, Writing::Live(out)).await
    }

    /// Applies events in order into a replay's shadow tables, their personal fields opened;
    /// see [`ReadModel::replay`].
    pub async fn replay(
        self,
        tx: &mut PgConnection,
        events: &[&EventEnvelope],
    ) -> Result<(), ProjectionError> {
        self.write(tx, events, Writing::Replay).await
    }

    /// Opens the events' personal fields, then hands them to the model as `writing` says.
    async fn write(
        self,
        tx: &mut PgConnection,
        events: &[&EventEnvelope],
        writing: Writing<'_>,
    ) -> Result<(), ProjectionError> {
        let opened = crate::personal::opened(tx, events).await?;
        let opened: Option<Vec<&EventEnvelope>> = opened.as_ref().map(|o| o.iter().collect());
        let events = opened.as_deref().unwrap_or(events);
        match writing {
            Writing::Live(out) => self.0.apply(tx, events, out).await,
            Writing::Replay => self.0.replay(tx, events).await,
        }
    }

    /// The key of the advisory lock that serialises writers of this view (live and replay).
    pub fn lock_key(self) -> i64 {
        stable_key("writer", self.name())
    }

    /// The key of the advisory lock held by the one process that runs this view's consumer.
    pub fn leader_key(self) -> i64 {
        stable_key("leader", self.name())
    }
}

impl PartialEq for View {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for View {}

impl fmt::Debug for View {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("View").field(&self.name()).finish()
    }
}

/// Whether none of `events` has personal fields, which only a view's `apply` opens.
fn plain(events: &[&EventEnvelope]) -> bool {
    events
        .iter()
        .all(|e| domain::personal::fields(&e.aggregate_type, &e.event_type).is_empty())
}

/// How a view's events are written: live, with pushes to send after the commit, or into a
/// replay's shadow tables.
enum Writing<'a> {
    Live(Option<&'a mut Vec<Push>>),
    Replay,
}

/// An advisory-lock key from a purpose and a view's name: 64-bit FNV-1a, which never changes
/// between builds or with the order views are listed in, so two versions of Moim running side
/// by side in a rolling deploy always agree on who leads a view.
fn stable_key(purpose: &str, name: &str) -> i64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for byte in "moim.view."
        .bytes()
        .chain(purpose.bytes())
        .chain([b':'])
        .chain(name.bytes())
    {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(PRIME);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// The read models one deployment runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Registry {
    views: Vec<View>,
}

impl Registry {
    /// Every read model Moim maintains. **Adding a read model is one line here.**
    pub fn standard() -> Self {
        Self {
            views: vec![
                users::VIEW,
                chat::VIEW,
                couples::VIEW,
                games::VIEW,
                clubs::VIEW,
                board::VIEW,
                notifications::VIEW,
                media::VIEW,
            ],
        }
    }

    /// This registry and one more view (e.g. one a test brings).
    pub fn with(mut self, view: View) -> Result<Self, ProjectionError> {
        if self.views.contains(&view) {
            return Err(ProjectionError::DuplicateView(view.name()));
        }
        if view.name() == crate::consumer::CONSUMER {
            return Err(ProjectionError::ReservedViewName(view.name()));
        }
        self.views.push(view);
        Ok(self)
    }

    /// The views, in the order they were listed.
    pub fn views(&self) -> &[View] {
        &self.views
    }

    /// Their names.
    pub fn names(&self) -> Vec<&'static str> {
        self.views.iter().map(|v| v.name()).collect()
    }

    /// The view called `name`.
    pub fn get(&self, name: &str) -> Result<View, ProjectionError> {
        self.views
            .iter()
            .copied()
            .find(|v| v.name() == name)
            .ok_or_else(|| ProjectionError::UnknownView {
                name: name.to_owned(),
                known: self.names().join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn todays_lock_keys_never_change() {
        // Pinned: a process of this version and one of the next must agree on every key.
        let keys: Vec<(&str, i64, i64)> = Registry::standard()
            .views()
            .iter()
            .map(|v| (v.name(), v.lock_key(), v.leader_key()))
            .collect();
        assert_eq!(keys, PINNED);
    }

    const PINNED: [(&str, i64, i64); 8] = [
        (
            "users",
            -7_903_305_895_143_163_495,
            -3_585_856_944_841_182_637,
        ),
        ("chat", -3_636_658_853_561_045_011, -361_068_893_580_105_685),
        (
            "couples",
            -7_188_183_341_093_385_592,
            4_509_181_954_904_670_362,
        ),
        (
            "games",
            -6_064_182_390_916_125_130,
            -5_470_921_297_127_560_996,
        ),
        (
            "clubs",
            -7_256_752_807_886_740_976,
            -6_780_891_326_214_579_878,
        ),
        (
            "board",
            5_251_658_963_171_071_145,
            7_263_788_358_071_712_939,
        ),
        (
            "notifications",
            -4_657_249_309_159_719_123,
            7_069_191_934_548_738_031,
        ),
        (
            "media",
            -1_364_396_051_584_633_531,
            4_943_446_178_493_360_803,
        ),
    ];

    #[test]
    fn different_names_never_share_a_key() {
        let mut names: Vec<String> = Registry::standard()
            .names()
            .into_iter()
            .map(str::to_owned)
            .collect();
        // Names a future view might take, and near-misses of today's.
        names.extend((0..20_000).map(|i| format!("view_{i}")));
        names
            .extend(["user", "chats", "Chat", "chat ", "games2", "notification"].map(String::from));
        let mut seen = HashSet::from([moim_nats::relay::LEADER_LOCK]);
        for name in &names {
            for purpose in ["writer", "leader"] {
                assert!(
                    seen.insert(stable_key(purpose, name)),
                    "{purpose} key of {name:?} collides"
                );
            }
        }
    }

    #[test]
    fn names_are_unique_and_unknown_names_list_the_known_ones() {
        let registry = Registry::standard();
        let names: HashSet<_> = registry.names().into_iter().collect();
        assert_eq!(names.len(), registry.views().len());
        assert!(!names.contains(crate::consumer::CONSUMER));
        assert!(registry.clone().with(chat::VIEW).is_err());
        let error = registry.get("nope").err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some("unknown read model \"nope\"; known: users, chat, couples, games, clubs, board, notifications, media")
        );
    }
}
