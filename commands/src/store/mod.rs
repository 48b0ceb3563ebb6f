//! The event store, split by what each part does: `load` reads aggregates through postgres-es
//! (snapshots and the domain's upcasters), `change` turns a decision into rows with their
//! metadata, `append` writes the rows of one or more aggregates in one statement and answers
//! their global position, `group` lets concurrent appends share a statement and a commit, and
//! `retry` runs a command again when it lost a race.

mod append;
mod change;
mod group;
mod load;
mod retry;
pub(crate) mod seal;

use std::sync::Arc;

use sqlx::PgPool;

pub use append::AppendError;
pub use change::{Change, Loaded, Rows};
pub use load::FoundEvent;
pub use retry::retry_conflicts;

/// The PostgreSQL event store. Cheap to clone.
#[derive(Clone)]
pub struct EventStore {
    pool: PgPool,
    groups: Arc<group::Groups>,
}

impl EventStore {
    /// A store over `pool`, whose schema `migrations/` created.
    pub fn new(pool: PgPool) -> Self {
        Self {
            groups: Arc::new(group::Groups::new(pool.clone())),
            pool,
        }
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}
