//! Generous rate limits counted in memory. A command per user is counted here, and the counts
//! go to `rate_counters` in one statement for every key each [`WRITE_BACK_EVERY`], or at once
//! by the call that fills its key's step, instead of one upsert per command. Each write returns
//! its keys' counts over every process, so a client that spreads its commands over processes
//! is held to the limit to within a step per process.
//!
//! A limit of a few per window (registrations, refreshes, uploads) is never deferred: its step
//! is one, so each call counts in PostgreSQL at once. Past its bound on keys a process counts
//! new keys that way too, so what clients can make it hold stays bounded.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::rates::Rate;

/// How often counts kept in memory are written back.
pub const WRITE_BACK_EVERY: Duration = Duration::from_millis(100);

/// A limit defers its counting in steps of a 32nd of it, so a limit below 64 per window is
/// counted in PostgreSQL call by call.
fn step(max: u32) -> u32 {
    (max / 32).max(1)
}

/// One key's count in its current window (the window's start and length in seconds).
#[derive(Debug)]
struct Tally {
    window: (i64, i64),
    /// Its count over every process, as the last write returned it.
    known: u32,
    /// Counted here since.
    pending: u32,
}

/// What [`Tallies::count`] decided.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Counting {
    /// Within the limit, counted in memory.
    Admitted,
    /// Over the limit already, as far as this process knows.
    Refused,
    /// Write `delta` more now and decide by the count that comes back.
    WriteNow { delta: u32 },
}

/// The counts one process keeps in memory.
#[derive(Debug, Default)]
pub struct Tallies {
    keys: Mutex<HashMap<String, Tally>>,
}

impl Tallies {
    fn keys(&self) -> MutexGuard<'_, HashMap<String, Tally>> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one more for `key` in `window` (its start and length in seconds), keeping at
    /// most `bound` keys.
    pub(crate) fn count(
        &self,
        key: &str,
        rate: Rate,
        window: (i64, i64),
        bound: usize,
    ) -> Counting {
        let step = step(rate.max);
        if step == 1 {
            return Counting::WriteNow { delta: 1 };
        }
        let mut keys = self.keys();
        if !keys.contains_key(key) && keys.len() >= bound {
            return Counting::WriteNow { delta: 1 };
        }
        let fresh = Tally {
            window,
            known: 0,
            pending: 0,
        };
        let tally = keys.entry(key.to_owned()).or_insert(fresh);
        if tally.window != window {
            *tally = Tally {
                window,
                known: 0,
                pending: 0,
            };
        }
        // Counts only grow within a window, so what is known to be used up is used up.
        if tally.known.saturating_add(tally.pending) >= rate.max {
            return Counting::Refused;
        }
        tally.pending += 1;
        if tally.pending < step {
            return Counting::Admitted;
        }
        Counting::WriteNow {
            delta: std::mem::take(&mut tally.pending),
        }
    }

    /// Takes in `key`'s count over every process in the window starting at `start`.
    pub(crate) fn learn(&self, key: &str, start: i64, count: u32) {
        learn(&mut self.keys(), key, start, count);
    }

    /// Writes every count kept here in one statement, learns the counts over every process,
    /// and forgets keys whose window has ended. A write that fails puts its counts back for the
    /// next one.
    pub async fn write_back(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let now = Utc::now().timestamp();
        let mut due: Vec<(String, i64, u32)> = {
            let mut keys = self.keys();
            keys.retain(|_, t| t.pending > 0 || t.window.0 + t.window.1 > now);
            keys.iter_mut()
                .filter(|(_, t)| t.pending > 0)
                .map(|(key, t)| (key.clone(), t.window.0, std::mem::take(&mut t.pending)))
                .collect()
        };
        if due.is_empty() {
            return Ok(());
        }
        // Every process writes its keys in one order, so two writes never deadlock.
        due.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let written = add_all(pool, &due).await;
        let mut keys = self.keys();
        match written {
            Ok(counts) => {
                for (key, start, count) in counts {
                    learn(&mut keys, &key, start, count);
                }
                Ok(())
            }
            Err(error) => {
                for (key, start, delta) in due {
                    if let Some(tally) = keys.get_mut(&key).filter(|t| t.window.0 == start) {
                        tally.pending += delta;
                    }
                }
                Err(error)
            }
        }
    }
}

fn learn(keys: &mut HashMap<String, Tally>, key: &str, start: i64, count: u32) {
    if let Some(tally) = keys.get_mut(key).filter(|t| t.window.0 == start) {
        tally.known = tally.known.max(count);
    }
}

/// Adds each `(key, window start, delta)` to its counter; answers the counts after.
async fn add_all(
    pool: &PgPool,
    due: &[(String, i64, u32)],
) -> Result<Vec<(String, i64, u32)>, sqlx::Error> {
    let keys: Vec<&str> = due.iter().map(|(key, _, _)| key.as_str()).collect();
    let starts: Vec<DateTime<Utc>> = due
        .iter()
        .map(|&(_, start, _)| DateTime::from_timestamp(start, 0).unwrap_or_default())
        .collect();
    let deltas: Vec<i32> = due
        .iter()
        .map(|&(_, _, delta)| i32::try_from(delta).unwrap_or(i32::MAX))
        .collect();
    let rows: Vec<(String, DateTime<Utc>, i32)> = sqlx::query_as(
        "INSERT INTO rate_counters (key, window_start, count)
         SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::int[])
         ON CONFLICT (key, window_start) DO UPDATE SET count = rate_counters.count + EXCLUDED.count
         RETURNING key, window_start, count",
    )
    .bind(keys)
    .bind(starts)
    .bind(deltas)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(key, start, count)| (key, start.timestamp(), u32::try_from(count).unwrap_or(0)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: (i64, i64) = (1_800_000_000, 60);
    const BOUND: usize = 1000;

    /// Counts one for `key` against `max` a minute, in `WINDOW` or the one after.
    fn count(tallies: &Tallies, key: &str, max: u32, next_window: bool) -> Counting {
        let rate = Rate {
            max,
            window: Duration::from_secs(60),
        };
        let window = if next_window {
            (WINDOW.0 + 60, 60)
        } else {
            WINDOW
        };
        tallies.count(key, rate, window, BOUND)
    }

    #[test]
    fn a_small_limit_is_written_call_by_call() {
        let tallies = Tallies::default();
        for _ in 0..3 {
            let counted = count(&tallies, "k", 63, false);
            assert_eq!(counted, Counting::WriteNow { delta: 1 });
        }
        assert!(tallies.keys().is_empty());
    }

    #[test]
    fn a_generous_limit_is_written_once_a_step() {
        let tallies = Tallies::default();
        // 320 a window: a step of 10.
        for _ in 0..9 {
            assert_eq!(count(&tallies, "k", 320, false), Counting::Admitted);
        }
        let tenth = count(&tallies, "k", 320, false);
        assert_eq!(tenth, Counting::WriteNow { delta: 10 });
        assert_eq!(count(&tallies, "k", 320, false), Counting::Admitted);
    }

    #[test]
    fn a_count_learned_from_other_processes_refuses_without_a_write() {
        let tallies = Tallies::default();
        assert_eq!(count(&tallies, "k", 320, false), Counting::Admitted);
        tallies.learn("k", WINDOW.0, 319);
        assert_eq!(count(&tallies, "k", 320, false), Counting::Refused);
        // Another key, and the same key's next window, start afresh.
        assert_eq!(count(&tallies, "j", 320, false), Counting::Admitted);
        assert_eq!(count(&tallies, "k", 320, true), Counting::Admitted);
    }

    #[test]
    fn past_the_bound_new_keys_are_written_at_once() {
        let tallies = Tallies::default();
        for n in 0..BOUND {
            assert_eq!(
                count(&tallies, &n.to_string(), 320, false),
                Counting::Admitted
            );
        }
        let new_key = count(&tallies, "one more", 320, false);
        assert_eq!(new_key, Counting::WriteNow { delta: 1 });
        assert_eq!(count(&tallies, "0", 320, false), Counting::Admitted);
    }
}
