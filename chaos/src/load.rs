//! The load: one client per user sending chat messages, each with a fresh `client_msg_id`, to a
//! randomly chosen API process. A send that fails (refused, reset, timed out, 5xx, 409) is
//! retried on the *other* API process with the same `client_msg_id`, alternating, until it is
//! acknowledged. Every acknowledgement is recorded; now and then an acknowledged message is
//! deliberately sent again, which must return the very same message.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::time::Instant;
use uuid::Uuid;

use crate::api::{uuid_field, Api, User};
use crate::clock::Clock;
use crate::setup::World;

/// How often an acknowledged message is sent again on purpose.
const RESEND_PROBABILITY: f64 = 0.05;

/// A message Moim acknowledged with 201.
#[derive(Debug, Clone)]
pub struct Ack {
    /// Who sent it.
    pub sender: Uuid,
    /// The room.
    pub room_id: Uuid,
    /// The client's idempotency key.
    pub client_msg_id: Uuid,
    /// The message id Moim answered.
    pub message_id: Uuid,
    /// The room sequence number Moim answered.
    pub seq: i64,
    /// When it was acknowledged (run clock).
    pub at: f64,
    /// Requests it took.
    pub attempts: u32,
}

/// What all clients did.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Every acknowledged send.
    pub acks: Vec<Ack>,
    /// Requests made in all.
    pub requests: u64,
    /// Sends acknowledged only after a retry on the other API process.
    pub retried: u64,
    /// Sends still failing when the clients stopped retrying (not acknowledged, so not checked).
    pub gave_up: u64,
    /// Deliberate re-sends of acknowledged messages.
    pub resends: u64,
    /// Violations: re-sends answered with another message, unexpected 4xx answers.
    pub violations: Vec<String>,
}

/// Counters the progress line reads while the load runs.
#[derive(Debug, Default)]
pub struct Progress {
    /// Acknowledged sends so far.
    pub acked: AtomicU64,
    /// Failed requests so far (each followed by a retry).
    pub failed_requests: AtomicU64,
}

enum Outcome {
    Acked(Ack),
    Rejected(String),
    GaveUp,
}

/// When and how fast the load runs.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// No new sends after this.
    pub until: Instant,
    /// Sends still failing are given up after this.
    pub give_up: Instant,
    /// Sends per second over all clients; 0 for as fast as answers come.
    pub rate: u32,
}

/// Runs one client per user until `schedule.until`; sends in flight then are retried until
/// `schedule.give_up`.
pub async fn run(
    api: Api,
    world: World,
    seed: u64,
    clock: Clock,
    schedule: Schedule,
    progress: Arc<Progress>,
) -> LoadReport {
    // Each client keeps its share of the rate.
    let pace = (schedule.rate > 0)
        .then(|| Duration::from_secs_f64(world.users.len() as f64 / f64::from(schedule.rate)));
    let mut clients = tokio::task::JoinSet::new();
    for (index, user) in world.users.iter().enumerate() {
        let client = Client {
            api: api.clone(),
            user: user.clone(),
            rooms: world.rooms_of(index),
            rng: StdRng::seed_from_u64(
                seed ^ (index as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            ),
            clock,
            give_up: schedule.give_up,
            pace,
            progress: progress.clone(),
            report: LoadReport::default(),
        };
        clients.spawn(client.run(schedule.until));
    }
    let mut total = LoadReport::default();
    while let Some(done) = clients.join_next().await {
        match done {
            Ok(report) => {
                total.acks.extend(report.acks);
                total.requests += report.requests;
                total.retried += report.retried;
                total.gave_up += report.gave_up;
                total.resends += report.resends;
                total.violations.extend(report.violations);
            }
            Err(error) => total
                .violations
                .push(format!("a load client crashed: {error}")),
        }
    }
    total
}

struct Client {
    api: Api,
    user: User,
    rooms: Vec<Uuid>,
    rng: StdRng,
    clock: Clock,
    give_up: Instant,
    pace: Option<Duration>,
    progress: Arc<Progress>,
    report: LoadReport,
}

impl Client {
    async fn run(mut self, until: Instant) -> LoadReport {
        let mut n = 0u64;
        let mut next = Instant::now();
        while Instant::now() < until && !self.rooms.is_empty() {
            if let Some(pace) = self.pace {
                // A client that fell behind (its send waited out a fault) does not burst to
                // catch up: it just goes on at its pace.
                next = (next + pace).max(Instant::now());
                tokio::time::sleep_until(next).await;
            }
            n += 1;
            let room = self.rooms[self.rng.random_range(0..self.rooms.len())];
            let client_msg_id = Uuid::new_v4();
            let body = format!("{} #{n}", self.user.id.simple());
            let first = self.rng.random_range(0..2);
            match self.send(first, room, client_msg_id, &body).await {
                Outcome::Acked(ack) => {
                    self.progress.acked.fetch_add(1, Ordering::Relaxed);
                    if ack.attempts > 1 {
                        self.report.retried += 1;
                    }
                    if self.rng.random_bool(RESEND_PROBABILITY) {
                        self.resend(1 - first, &ack, &body).await;
                    }
                    self.report.acks.push(ack);
                }
                Outcome::Rejected(why) => self.report.violations.push(why),
                Outcome::GaveUp => self.report.gave_up += 1,
            }
        }
        self.report
    }

    /// Sends the same message again to the other API process: it must come back unchanged.
    async fn resend(&mut self, api: usize, ack: &Ack, body: &str) {
        self.report.resends += 1;
        match self.send(api, ack.room_id, ack.client_msg_id, body).await {
            Outcome::Acked(again) if again.message_id == ack.message_id && again.seq == ack.seq => {
            }
            Outcome::Acked(again) => self.report.violations.push(format!(
                "re-sent client_msg_id {} got message {} seq {}, first answer was {} seq {}",
                ack.client_msg_id, again.message_id, again.seq, ack.message_id, ack.seq
            )),
            Outcome::Rejected(why) => self.report.violations.push(format!("re-send: {why}")),
            Outcome::GaveUp => {}
        }
    }

    async fn send(&mut self, first: usize, room: Uuid, client_msg_id: Uuid, body: &str) -> Outcome {
        let path = format!("/chat/rooms/{room}/messages");
        let request = json!({ "client_msg_id": client_msg_id, "body": body });
        let mut api = first;
        let mut delay = Duration::from_millis(50);
        let mut attempts = 0;
        loop {
            attempts += 1;
            self.report.requests += 1;
            let answer = self
                .api
                .call(
                    api,
                    Method::POST,
                    &path,
                    Some(&self.user.token),
                    Some(&request),
                )
                .await;
            match answer {
                Ok((StatusCode::CREATED, answer)) => {
                    return match acked(&answer) {
                        Some((message_id, seq)) => Outcome::Acked(Ack {
                            sender: self.user.id,
                            room_id: room,
                            client_msg_id,
                            message_id,
                            seq,
                            at: self.clock.now(),
                            attempts,
                        }),
                        None => Outcome::Rejected(format!("201 without message_id/seq: {answer}")),
                    };
                }
                Ok((status, answer)) if !retryable(status) => {
                    return Outcome::Rejected(format!("send answered {status}: {answer}"));
                }
                Ok(_) | Err(_) => {}
            }
            self.progress
                .failed_requests
                .fetch_add(1, Ordering::Relaxed);
            if Instant::now() >= self.give_up {
                return Outcome::GaveUp;
            }
            api = 1 - api;
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(1));
        }
    }
}

/// Statuses a client retries: the server or one of its dependencies is having a bad moment.
fn retryable(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::CONFLICT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
}

fn acked(answer: &Value) -> Option<(Uuid, i64)> {
    Some((
        uuid_field(answer, "message_id").ok()?,
        answer["seq"].as_i64()?,
    ))
}
