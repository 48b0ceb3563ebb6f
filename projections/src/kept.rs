//! A pooled connection a runner keeps while it is busy.
//!
//! sqlx tests each connection with a round trip of its own as it goes back to the pool. A runner
//! taking one for each batch paid that round trip once a batch, and at a low rate every event is
//! a batch of its own for every view (docs/performance.md). Kept, the connection goes back only
//! once the runner has had nothing to do for a while, so an idle view holds none. A failure ends
//! the runner's run, and the connection goes back with it, to be tested there.

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};
use tokio::time::{Duration, Instant};

/// How long a runner with nothing to do keeps its connection.
const KEEP_IDLE: Duration = Duration::from_secs(1);

/// A connection taken from the pool on first use and kept until [`Kept::give_back`].
pub(crate) struct Kept {
    pool: PgPool,
    conn: Option<PoolConnection<Postgres>>,
    used: Instant,
}

impl Kept {
    /// Nothing kept yet; connections come from `pool`.
    pub(crate) fn new(pool: PgPool) -> Self {
        Self {
            pool,
            conn: None,
            used: Instant::now(),
        }
    }

    /// The kept connection, taken from the pool if none is kept.
    pub(crate) async fn get(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
        self.used = Instant::now();
        let conn = match self.conn.take() {
            Some(conn) => conn,
            None => self.pool.acquire().await?,
        };
        Ok(&mut **self.conn.insert(conn))
    }

    /// When the kept connection is due back to the pool, if one is kept.
    pub(crate) fn due(&self) -> Option<Instant> {
        self.conn.as_ref().map(|_| self.used + KEEP_IDLE)
    }

    /// Gives the kept connection back to the pool.
    pub(crate) fn give_back(&mut self) {
        self.conn = None;
    }
}
