//! Aggregates this process loaded or wrote last, so a command usually needs no read at all.
//!
//! The cache is never trusted blindly. A command that writes is checked by the event store's
//! primary key: if another process appended meanwhile, the insert conflicts, the entry is
//! dropped and the command runs again on a fresh load. A command that writes nothing (a repeated
//! join) or is refused first confirms that the aggregate's latest sequence is still the cached
//! one.

use std::any::Any;
use std::num::NonZeroUsize;
use std::sync::Mutex;

use lru::LruCache;

use crate::store::Loaded;

type Key = (&'static str, String);

/// A bounded, least-recently-used map from aggregate to its last known state.
pub(crate) struct AggregateCache {
    entries: Mutex<LruCache<Key, Box<dyn Any + Send + Sync>>>,
}

impl AggregateCache {
    pub(crate) fn new(capacity: NonZeroUsize) -> Self {
        Self {
            entries: Mutex::new(LruCache::new(capacity)),
        }
    }

    pub(crate) fn get<A: domain::Aggregate>(&self, key: &Key) -> Option<Loaded<A>> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .and_then(|entry| entry.downcast_ref::<Loaded<A>>())
            .cloned()
    }

    pub(crate) fn put<A: domain::Aggregate>(&self, key: Key, loaded: Loaded<A>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.put(key, Box::new(loaded));
    }

    pub(crate) fn remove(&self, key: &Key) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.pop(key);
    }
}
