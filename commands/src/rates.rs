//! Rate limits shared by every API process: a counter per key and fixed window in PostgreSQL
//! (`rate_counters`, unlogged: a counter is worth no fsync, and a crash only forgives). A limit
//! kept in one process's memory alone would let a client multiply it by the number of
//! processes; a generous one is counted in memory and written back in batches (`tallies.rs`).
//!
//! A fixed window lets a client spend up to twice its limit across a window's edge; the limits
//! are set with that in mind (docs/security.md lists them).

use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::tallies::{Counting, WRITE_BACK_EVERY};
use crate::{CommandError, Commands};

/// At most `max` within each `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Allowed per window.
    pub max: u32,
    /// The window.
    pub window: Duration,
}

/// Every rate limit Moim applies (the failed-login limit is a [`crate::FailureLimit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Registrations per client address.
    pub register_per_ip: Rate,
    /// Social-login starts per client address.
    pub oauth_start_per_ip: Rate,
    /// Refreshes per session.
    pub refresh_per_session: Rate,
    /// Commands (writes over HTTP or a socket) per user.
    pub commands_per_user: Rate,
    /// Photo uploads per user.
    pub uploads_per_user: Rate,
    /// Game characters looked up in their game's API (a link or a refresh), per user.
    pub character_lookups_per_user: Rate,
    /// Wrong passwords per account and per client address, before even the right one waits.
    pub login_failures: crate::FailureLimit,
    /// Keys one process counts in memory at most (`tallies.rs`); past it, a new key is counted
    /// in PostgreSQL call by call.
    pub keys_in_memory: usize,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            register_per_ip: Rate {
                max: 20,
                window: Duration::from_secs(3600),
            },
            oauth_start_per_ip: Rate {
                max: 60,
                window: Duration::from_secs(3600),
            },
            refresh_per_session: Rate {
                max: 10,
                window: Duration::from_secs(60),
            },
            commands_per_user: Rate {
                max: 300,
                window: Duration::from_secs(60),
            },
            uploads_per_user: Rate {
                max: 10,
                window: Duration::from_secs(3600),
            },
            character_lookups_per_user: Rate {
                max: 10,
                window: Duration::from_secs(3600),
            },
            login_failures: crate::FailureLimit {
                max: 5,
                window: Duration::from_secs(15 * 60),
            },
            keys_in_memory: 100_000,
        }
    }
}

impl RateLimits {
    /// Limits for a load generator or test suite that drives every user from one address as
    /// fast as it can: registrations, commands and uploads unbounded, the rest as by default.
    pub fn one_trusted_client() -> Self {
        let unbounded = |window| Rate {
            max: u32::MAX,
            window,
        };
        Self {
            register_per_ip: unbounded(Duration::from_secs(3600)),
            commands_per_user: unbounded(Duration::from_secs(60)),
            uploads_per_user: unbounded(Duration::from_secs(3600)),
            ..Self::default()
        }
    }
}

/// What is counted.
#[derive(Debug, Clone, Copy)]
pub enum Counted {
    /// A registration from an address.
    Register(IpAddr),
    /// A social-login start from an address.
    OAuthStart(IpAddr),
    /// A refresh of a session.
    Refresh(Uuid),
    /// A command of a user.
    Command(Uuid),
    /// A photo upload of a user.
    Upload(Uuid),
    /// A user's link or refresh of a game character.
    CharacterLookup(Uuid),
}

/// Calls between two sweeps of old windows.
const SWEEP_EVERY: u64 = 1000;

static CALLS: AtomicU64 = AtomicU64::new(0);

/// Adds `delta` to `key`'s counter for the window starting at `start`; answers its count after.
async fn add(pool: &PgPool, key: &str, start: i64, delta: u32) -> Result<u32, sqlx::Error> {
    let (count,): (i32,) = sqlx::query_as(
        "INSERT INTO rate_counters (key, window_start, count) VALUES ($1, $2, $3)
         ON CONFLICT (key, window_start) DO UPDATE SET count = rate_counters.count + $3
         RETURNING count",
    )
    .bind(key)
    .bind(DateTime::from_timestamp(start, 0).unwrap_or_default())
    .bind(i32::try_from(delta).unwrap_or(i32::MAX))
    .fetch_one(pool)
    .await?;
    Ok(u32::try_from(count).unwrap_or(0))
}

impl Commands {
    /// Counts `what` against its limit; past it, `RateLimited` with when to try again.
    pub async fn rate(&self, what: Counted) -> Result<(), CommandError> {
        let (key, rate) = match what {
            Counted::Register(ip) => (format!("register:{ip}"), self.rates.register_per_ip),
            Counted::OAuthStart(ip) => (format!("oauth:{ip}"), self.rates.oauth_start_per_ip),
            Counted::Refresh(session) => {
                (format!("refresh:{session}"), self.rates.refresh_per_session)
            }
            Counted::Command(user) => (format!("command:{user}"), self.rates.commands_per_user),
            Counted::Upload(user) => (format!("upload:{user}"), self.rates.uploads_per_user),
            Counted::CharacterLookup(user) => (
                format!("character:{user}"),
                self.rates.character_lookups_per_user,
            ),
        };
        let window_secs = i64::try_from(rate.window.as_secs().max(1)).unwrap_or(i64::MAX);
        let now = Utc::now().timestamp();
        let start = now - now.rem_euclid(window_secs);
        let pool = self.store.pool();
        if CALLS
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(SWEEP_EVERY)
        {
            sqlx::query("DELETE FROM rate_counters WHERE window_start < now() - interval '1 day'")
                .execute(pool)
                .await?;
        }
        let counting =
            self.tallies
                .count(&key, rate, (start, window_secs), self.rates.keys_in_memory);
        let within = match counting {
            Counting::Admitted => true,
            Counting::Refused => false,
            Counting::WriteNow { delta } => {
                let writing = self.tallies.writing(&key, start, delta);
                let count = add(pool, &key, start, delta).await?;
                writing.done(count);
                count <= rate.max
            }
        };
        if within {
            return Ok(());
        }
        let wait = u64::try_from(start + window_secs - now).unwrap_or(1);
        Err(CommandError::RateLimited {
            retry_after_secs: wait.max(1),
        })
    }

    /// Writes the counts kept in memory to PostgreSQL every [`WRITE_BACK_EVERY`], and once
    /// more when `stop` completes (after the server's last request). Run by each API process;
    /// without it counts still reach PostgreSQL a step at a time, only later.
    pub async fn write_back_rate_counts(&self, stop: impl Future<Output = ()>) {
        let mut stop = std::pin::pin!(stop);
        let mut every = tokio::time::interval(WRITE_BACK_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let stopping = tokio::select! {
                biased;
                () = &mut stop => true,
                _ = every.tick() => false,
            };
            if let Err(error) = self.tallies.write_back(self.store.pool()).await {
                tracing::warn!(%error, "writing rate counts back failed; they go with the next write");
            }
            if stopping {
                return;
            }
        }
    }
}
