//! One time base for the whole run, so faults, acknowledgements and WebSocket frames can be laid
//! side by side afterwards; and the log of when each part was down, which also tells the
//! watcher when a part is back (it resumes then).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;

/// Seconds since the run started.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
}

impl Clock {
    /// Starts counting now.
    pub fn start() -> Self {
        Self {
            start: Instant::now(),
        }
    }

    /// Seconds since the start.
    pub fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }
}

/// What a fault took down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// kill -9 the relay process.
    KillRelay,
    /// kill -9 the projections process.
    KillProjections,
    /// kill -9 the API process the WebSocket watcher is not connected to.
    KillApi,
    /// kill -9 the NATS server and start it again.
    RestartNats,
    /// `pg_ctl stop -m immediate` and start again.
    RestartPostgres,
}

impl FaultKind {
    /// Every kind, in the order the schedule cycles through them.
    pub const ALL: [Self; 5] = [
        Self::KillRelay,
        Self::KillProjections,
        Self::KillApi,
        Self::RestartNats,
        Self::RestartPostgres,
    ];

    /// A short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Self::KillRelay => "relay",
            Self::KillProjections => "projections",
            Self::KillApi => "api-b",
            Self::RestartNats => "nats",
            Self::RestartPostgres => "postgres",
        }
    }

    /// What is done, for the running log.
    pub fn action(self) -> &'static str {
        match self {
            Self::KillRelay => "kill -9 relay",
            Self::KillProjections => "kill -9 projections",
            Self::KillApi => "kill -9 api-b",
            Self::RestartNats => "kill -9 nats-server",
            Self::RestartPostgres => "pg_ctl stop -m immediate",
        }
    }
}

/// One part's time down: from the kill until it was running (and, for an API, ready) again.
#[derive(Debug, Clone, Copy)]
pub struct Outage {
    /// What went down.
    pub kind: FaultKind,
    /// When it was killed.
    pub down_at: f64,
    /// When it was back; `f64::INFINITY` while it is still down.
    pub up_at: f64,
}

/// Every outage of the run, shared between the fault injector, the watcher and the checks.
#[derive(Debug, Clone, Default)]
pub struct Outages {
    all: Arc<Mutex<Vec<Outage>>>,
    /// Rung when a part is back. A ring nobody waits for is kept for the next waiter (a
    /// single one: the watcher), so one that comes while the watcher is reconnecting counts.
    back: Arc<Notify>,
}

impl Outages {
    /// Records that `kind` went down at `at`; returns its index for [`Outages::up`].
    pub fn down(&self, kind: FaultKind, at: f64) -> usize {
        let mut all = self.all.lock().unwrap_or_else(|p| p.into_inner());
        all.push(Outage {
            kind,
            down_at: at,
            up_at: f64::INFINITY,
        });
        all.len() - 1
    }

    /// Records that outage `index` ended at `at`.
    pub fn up(&self, index: usize, at: f64) {
        let mut all = self.all.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(outage) = all.get_mut(index) {
            outage.up_at = at;
        }
        self.back.notify_one();
    }

    /// Resolves when a part is back (at once if one came back since the last call returned).
    pub async fn part_back(&self) {
        self.back.notified().await;
    }

    /// A copy of every outage so far.
    pub fn all(&self) -> Vec<Outage> {
        self.all.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
