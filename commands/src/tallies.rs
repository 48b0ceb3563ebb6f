//! Generous rate limits counted in memory. A command per user is counted here, and the counts
//! go to `rate_counters` for every key each [`WRITE_BACK_EVERY`], or at once by the call that
//! fills its key's step, instead of one upsert per command. A process admits from memory at
//! most a step's worth of calls the database has not counted yet (counts being written
//! included), and never more than the limit on what it knows; each write returns its keys'
//! counts over every process. So a client that spreads its commands over processes is held to
//! the limit to within a step per process.
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

/// Keys per write-back statement: row locks held at once, and the statement's size.
const KEYS_PER_WRITE: usize = 1000;

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
    /// Counted here and being written.
    in_flight: u32,
    /// Counted here, not written yet.
    pending: u32,
}

impl Tally {
    fn new(window: (i64, i64)) -> Self {
        Self {
            window,
            known: 0,
            in_flight: 0,
            pending: 0,
        }
    }

    /// Takes what is pending to be written.
    fn take(&mut self) -> u32 {
        let delta = std::mem::take(&mut self.pending);
        self.in_flight += delta;
        delta
    }
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
        let tally = keys
            .entry(key.to_owned())
            .or_insert_with(|| Tally::new(window));
        if tally.window != window {
            *tally = Tally::new(window);
        }
        // Counts only grow within a window, and what is in flight or pending was admitted, so
        // what this adds up to is used up.
        let counted = tally
            .known
            .saturating_add(tally.in_flight)
            .saturating_add(tally.pending);
        if counted >= rate.max {
            return Counting::Refused;
        }
        tally.pending += 1;
        if tally.in_flight + tally.pending < step {
            return Counting::Admitted;
        }
        Counting::WriteNow {
            delta: tally.take(),
        }
    }

    /// A write of `delta` for `key` in the window starting at `start`, under way.
    pub(crate) fn writing<'a>(&'a self, key: &'a str, start: i64, delta: u32) -> Writing<'a> {
        Writing {
            tallies: self,
            key,
            start,
            delta,
            count: None,
        }
    }

    /// Writes every count kept here, a thousand keys a statement, learns the counts over every
    /// process, and forgets keys whose window has ended. A write that fails puts its counts
    /// back for the next one.
    pub async fn write_back(&self, pool: &PgPool) -> Result<(), sqlx::Error> {
        let now = Utc::now().timestamp();
        let mut due: Vec<(String, i64, u32)> = {
            let mut keys = self.keys();
            keys.retain(|_, t| t.pending + t.in_flight > 0 || t.window.0 + t.window.1 > now);
            keys.iter_mut()
                .filter(|(_, t)| t.pending > 0)
                .map(|(key, t)| (key.clone(), t.window.0, t.take()))
                .collect()
        };
        // Every process writes its keys in one order, so two writes never deadlock.
        due.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut failed = None;
        for chunk in due.chunks(KEYS_PER_WRITE) {
            let written = add_all(pool, chunk).await;
            let mut keys = self.keys();
            match written {
                Ok(counts) => {
                    for (key, start, delta) in chunk {
                        // Every key comes back, inserted or updated.
                        let count = counts.get(key.as_str()).copied().unwrap_or(0);
                        settle(&mut keys, key, *start, *delta, Some(count));
                    }
                }
                Err(error) => {
                    for (key, start, delta) in chunk {
                        settle(&mut keys, key, *start, *delta, None);
                    }
                    failed = Some(error);
                }
            }
        }
        failed.map_or(Ok(()), Err)
    }
}

/// A key's write under way. Dropped before [`Writing::done`] (the write failed, or the request
/// waiting for it was given up) it puts its counts back, to go with the next write.
pub(crate) struct Writing<'a> {
    tallies: &'a Tallies,
    key: &'a str,
    start: i64,
    delta: u32,
    count: Option<u32>,
}

impl Writing<'_> {
    /// The write is done: the key's count over every process is `count`.
    pub(crate) fn done(mut self, count: u32) {
        self.count = Some(count);
    }
}

impl Drop for Writing<'_> {
    fn drop(&mut self) {
        let mut keys = self.tallies.keys();
        settle(&mut keys, self.key, self.start, self.delta, self.count);
    }
}

/// Ends a write of `delta`: with the count over every process it returned, or without one,
/// putting `delta` back.
fn settle(
    keys: &mut HashMap<String, Tally>,
    key: &str,
    start: i64,
    delta: u32,
    count: Option<u32>,
) {
    if let Some(tally) = keys.get_mut(key).filter(|t| t.window.0 == start) {
        tally.in_flight = tally.in_flight.saturating_sub(delta);
        match count {
            Some(count) => tally.known = tally.known.max(count),
            None => tally.pending += delta,
        }
    }
}

/// Adds each `(key, window start, delta)` to its counter (a key once); answers each key's count
/// after.
async fn add_all(
    pool: &PgPool,
    due: &[(String, i64, u32)],
) -> Result<HashMap<String, u32>, sqlx::Error> {
    let keys: Vec<&str> = due.iter().map(|(key, _, _)| key.as_str()).collect();
    let starts: Vec<DateTime<Utc>> = due
        .iter()
        .map(|&(_, start, _)| DateTime::from_timestamp(start, 0).unwrap_or_default())
        .collect();
    let deltas: Vec<i32> = due
        .iter()
        .map(|&(_, _, delta)| i32::try_from(delta).unwrap_or(i32::MAX))
        .collect();
    let rows: Vec<(String, i32)> = sqlx::query_as(
        "INSERT INTO rate_counters (key, window_start, count)
         SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::int[])
         ON CONFLICT (key, window_start) DO UPDATE SET count = rate_counters.count + EXCLUDED.count
         RETURNING key, count",
    )
    .bind(keys)
    .bind(starts)
    .bind(deltas)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(key, count)| (key, u32::try_from(count).unwrap_or(0)))
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
        tallies.writing("k", WINDOW.0, 10).done(10);
        assert_eq!(count(&tallies, "k", 320, false), Counting::Admitted);
    }

    #[test]
    fn while_a_step_is_being_written_each_call_is_written_and_a_failed_write_comes_back() {
        let tallies = Tallies::default();
        for _ in 0..9 {
            count(&tallies, "k", 320, false);
        }
        assert_eq!(
            count(&tallies, "k", 320, false),
            Counting::WriteNow { delta: 10 }
        );
        // The ten are in flight: no more is admitted from memory until they are written.
        assert_eq!(
            count(&tallies, "k", 320, false),
            Counting::WriteNow { delta: 1 }
        );
        drop(tallies.writing("k", WINDOW.0, 1));
        assert_eq!(
            count(&tallies, "k", 320, false),
            Counting::WriteNow { delta: 2 }
        );
    }

    #[test]
    fn one_process_admits_no_more_than_the_limit_whatever_is_in_flight() {
        let tallies = Tallies::default();
        let passed = (0..100)
            .filter(|_| count(&tallies, "k", 64, false) != Counting::Refused)
            .count();
        assert_eq!(passed, 64);
    }

    #[test]
    fn a_count_learned_from_other_processes_refuses_without_a_write() {
        let tallies = Tallies::default();
        assert_eq!(count(&tallies, "k", 320, false), Counting::Admitted);
        tallies.writing("k", WINDOW.0, 0).done(319);
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
