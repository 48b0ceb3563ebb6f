//! A mixed workload: 32 clients in a closed loop, each taking its next operation from a fixed
//! schedule weighted like a community's traffic (mostly chat sends, then history reads, then a
//! little of games, couples, clubs and the notifications feed). Chat alone measures one
//! aggregate and one read model; this measures the command path while the other features'
//! aggregates, projections and reads compete for the same store and pool.

mod ops;
mod world;

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::stats::{Latencies, Percentiles};

/// Clients driving the workload at once.
pub const CLIENTS: usize = 32;

/// What a client does in one iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ChatSend,
    ChatHistory,
    GameJoinLeave,
    CouplePlan,
    ClubBoard,
    NotificationFeed,
}

impl Kind {
    /// Every kind, in schedule order.
    pub const ALL: [Kind; 6] = [
        Kind::ChatSend,
        Kind::ChatHistory,
        Kind::GameJoinLeave,
        Kind::CouplePlan,
        Kind::ClubBoard,
        Kind::NotificationFeed,
    ];

    /// Slots of `SLOTS`: 70 % sends, 15 % history, 3.75 % each of the other four.
    fn weight(self) -> u64 {
        match self {
            Kind::ChatSend => 56,
            Kind::ChatHistory => 12,
            _ => 3,
        }
    }

    /// Its name in the table and the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Kind::ChatSend => "chat send",
            Kind::ChatHistory => "chat history",
            Kind::GameJoinLeave => "game join+leave",
            Kind::CouplePlan => "couple plan",
            Kind::ClubBoard => "club post/like",
            Kind::NotificationFeed => "notifications feed",
        }
    }

    /// The requests one operation makes.
    pub fn route(self) -> &'static str {
        match self {
            Kind::ChatSend => "POST /chat/rooms/{id}/messages",
            Kind::ChatHistory => "GET /chat/rooms/{id}/messages?before={seq}&limit=50",
            Kind::GameJoinLeave => "POST then DELETE /games/{id}/join",
            Kind::CouplePlan => "POST /couples/me/plans",
            Kind::ClubBoard => "POST /boards/club-{id}/posts, then PUT /posts/{id}/like",
            Kind::NotificationFeed => "GET /notifications?limit=50",
        }
    }
}

/// One round of the schedule: every kind takes exactly its weight in slots.
const SLOTS: u64 = 80;
/// Coprime with `SLOTS`, so a client visits every slot once per round with the kinds spread
/// through it rather than in blocks; counters instead of a random generator keep runs comparable.
const STRIDE: u64 = 37;

/// The kind client `client` does in its `n`th iteration; clients start at different slots so
/// they do not all switch kind at once.
fn kind_at(client: usize, n: u64) -> Kind {
    let mut slot = (client as u64 * 11 + n * STRIDE) % SLOTS;
    for kind in Kind::ALL {
        if slot < kind.weight() {
            return kind;
        }
        slot -= kind.weight();
    }
    // Unreachable while the weights sum to SLOTS (a test below holds them to it).
    Kind::ChatSend
}

/// One kind's figures.
#[derive(Debug, Clone, Serialize)]
pub struct KindFigures {
    pub kind: &'static str,
    pub route: &'static str,
    /// Its share of the schedule, in percent.
    pub share: f64,
    /// Operations that answered 2xx throughout.
    pub ops: u64,
    /// Operations with any answer outside 2xx, or no answer.
    pub errors: u64,
    pub per_sec: f64,
    /// Of the successful operations (a game's join and leave together).
    pub latency: Percentiles,
}

/// The mixed workload's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Mixed {
    pub clients: usize,
    pub seconds: f64,
    pub ops: u64,
    pub errors: u64,
    pub per_sec: f64,
    pub kinds: Vec<KindFigures>,
}

/// What one client saw of one kind.
struct Tally {
    latencies: Latencies,
    ok: u64,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn new() -> Self {
        Self {
            latencies: Latencies::new(),
            ok: 0,
            errors: 0,
            first_error: None,
        }
    }

    fn merge(&mut self, other: Tally) {
        self.latencies.merge(&other.latencies);
        self.ok += other.ok;
        self.errors += other.errors;
        self.first_error = self.first_error.take().or(other.first_error);
    }
}

/// Sets up the clients' users, rooms, games, couples and clubs, then runs the loop for `length`.
pub async fn run(url: &str, length: Duration) -> anyhow::Result<Mixed> {
    let world = world::World::create(url, CLIENTS).await?;
    let started = Instant::now();
    let deadline = started + length;
    let mut workers = Vec::with_capacity(CLIENTS);
    for (i, seat) in world.seats.into_iter().enumerate() {
        let mut client = ops::Client::new(world.http.clone(), url, seat);
        workers.push(tokio::spawn(async move {
            let mut tallies: [Tally; Kind::ALL.len()] = std::array::from_fn(|_| Tally::new());
            let mut n = 0u64;
            while Instant::now() < deadline {
                let kind = kind_at(i, n);
                n += 1;
                let at = Instant::now();
                let tally = &mut tallies[kind as usize];
                match client.perform(kind).await {
                    Ok(()) => {
                        tally.latencies.record(at.elapsed());
                        tally.ok += 1;
                    }
                    Err(error) => {
                        tally.errors += 1;
                        tally.first_error.get_or_insert(error);
                    }
                }
            }
            tallies
        }));
    }
    let mut tallies: [Tally; Kind::ALL.len()] = std::array::from_fn(|_| Tally::new());
    for worker in workers {
        for (all, one) in tallies.iter_mut().zip(worker.await?) {
            all.merge(one);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let total_weight: u64 = Kind::ALL.iter().map(|k| k.weight()).sum();
    let kinds: Vec<KindFigures> = Kind::ALL
        .iter()
        .zip(tallies)
        .map(|(kind, tally)| {
            if let Some(error) = &tally.first_error {
                eprintln!("bench: mixed {}: first error: {error}", kind.name());
            }
            KindFigures {
                kind: kind.name(),
                route: kind.route(),
                share: kind.weight() as f64 * 100.0 / total_weight as f64,
                ops: tally.ok,
                errors: tally.errors,
                per_sec: tally.ok as f64 / seconds,
                latency: tally.latencies.percentiles(),
            }
        })
        .collect();
    let ops = kinds.iter().map(|k| k.ops).sum();
    Ok(Mixed {
        clients: CLIENTS,
        seconds,
        ops,
        errors: kinds.iter().map(|k| k.errors).sum(),
        per_sec: ops as f64 / seconds,
        kinds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_round_of_the_schedule_holds_each_kind_at_its_weight() {
        assert_eq!(Kind::ALL.iter().map(|k| k.weight()).sum::<u64>(), SLOTS);
        for client in [0, 1, 31] {
            for kind in Kind::ALL {
                let seen = (0..SLOTS)
                    .filter(|&n| kind_at(client, 5 * SLOTS + n) == kind)
                    .count() as u64;
                assert_eq!(seen, kind.weight(), "{} for client {client}", kind.name());
            }
        }
    }
}
