//! A pooled connection a runner keeps while it is busy.
//!
//! sqlx tests each connection with a round trip of its own as it goes back to the pool. A runner
//! taking one for each batch paid that round trip once a batch, and at a low rate every event is
//! a batch of its own for every view (docs/performance.md). Kept, the connection goes back only
//! once the runner has had nothing to do for a while, so an idle view holds none.
//!
//! A failure that ends the runner's run gives the connection back with it, to be tested there,
//! and so does a failure of the view's own, which it goes on from standing aside. The others it
//! goes on from leave the connection fit for the next statement: a lock held elsewhere fails the
//! opening query before its `BEGIN`, so no transaction is left open, and a batch of events one
//! of which is at fault drops its transaction, which queues a `ROLLBACK` that sqlx sends before
//! the next statement on the connection.

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};
use tokio::time::{Duration, Instant};

/// How long a runner with nothing to do keeps its connection.
const KEEP_IDLE: Duration = Duration::from_secs(1);

/// A connection taken from the pool on first use and kept until [`Kept::give_back`].
pub(crate) struct Kept {
    pool: PgPool,
    conn: Option<PoolConnection<Postgres>>,
}

impl Kept {
    /// Nothing kept yet; connections come from `pool`.
    pub(crate) fn new(pool: PgPool) -> Self {
        Self { pool, conn: None }
    }

    /// The kept connection, taken from the pool if none is kept.
    pub(crate) async fn get(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
        let conn = match self.conn.take() {
            Some(conn) => conn,
            None => self.pool.acquire().await?,
        };
        Ok(&mut **self.conn.insert(conn))
    }

    /// When the kept connection, if one is kept, is due back to the pool should the runner have
    /// nothing to do from now on.
    pub(crate) fn due(&self) -> Option<Instant> {
        self.conn.as_ref().map(|_| Instant::now() + KEEP_IDLE)
    }

    /// Gives the kept connection back to the pool.
    pub(crate) fn give_back(&mut self) {
        self.conn = None;
    }
}
