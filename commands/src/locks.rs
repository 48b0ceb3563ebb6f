//! Per-aggregate locks inside one process.
//!
//! Correctness never depends on them — the event store's primary key rejects a stale write and
//! the command is retried — but queuing commands for the same aggregate locally turns a burst of
//! conflicting writers (100 people joining one game) into an orderly line instead of a retry storm.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

type Key = (&'static str, String);

/// A lock per `(aggregate_type, aggregate_id)`, created on demand and dropped when unused.
#[derive(Default)]
pub(crate) struct KeyedLocks {
    locks: Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
}

/// Holds the locks of one command; releases them on drop.
pub(crate) struct Held<'a> {
    owner: &'a KeyedLocks,
    keys: Vec<Key>,
    guards: Vec<OwnedMutexGuard<()>>,
}

impl KeyedLocks {
    /// Takes the locks of all `keys`, in sorted order so two commands never deadlock.
    pub(crate) async fn lock(&self, mut keys: Vec<Key>) -> Held<'_> {
        keys.sort();
        keys.dedup();
        let mut guards = Vec::with_capacity(keys.len());
        for key in &keys {
            let lock = {
                let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
                locks.entry(key.clone()).or_default().clone()
            };
            guards.push(lock.lock_owned().await);
        }
        Held {
            owner: self,
            keys,
            guards,
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.guards.clear();
        let mut locks = self.owner.locks.lock().unwrap_or_else(|p| p.into_inner());
        for key in &self.keys {
            // Only the map itself still holds it: nobody waits, so forget it.
            if locks.get(key).is_some_and(|l| Arc::strong_count(l) == 1) {
                locks.remove(key);
            }
        }
    }
}
