//! Fan-out at a sustained rate: one room whose every member holds a WebSocket, messages sent at
//! a fixed rate, stepping the rate up; per step, how long until the last member has each message
//! and how many frames per second reached sockets. The highest rate whose p99 stays under
//! [`GOOD_P99_MS`] is the figure to watch.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};
use serde::Serialize;
use uuid::Uuid;

use crate::client;
use crate::stats::{Latencies, Percentiles};

/// A step's delivery is good while its p99 stays under this.
pub const GOOD_P99_MS: f64 = 100.0;
/// How long after a step's last send its messages may still arrive.
const DRAIN: Duration = Duration::from_secs(5);

/// One rate held for a while.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// The rate asked for, messages/s.
    pub rate: f64,
    /// Messages sent.
    pub messages: usize,
    /// The rate the sender kept, messages/s.
    pub sent_per_sec: f64,
    /// Frames that reached a socket during the step (and its drain).
    pub frames_delivered: u64,
    /// Frames that never arrived.
    pub frames_missing: u64,
    /// Frames per second delivered, over the step's sending time.
    pub frames_per_sec: f64,
    /// From send to the last member receiving it.
    pub delivery_to_all: Percentiles,
}

/// The fan-out figures.
#[derive(Debug, Clone, Serialize)]
pub struct Fanout {
    /// Members of the room, each with a socket.
    pub members: usize,
    /// Each rate, in order.
    pub steps: Vec<Step>,
    /// The highest rate whose delivery p99 stayed under [`GOOD_P99_MS`] with nothing missing.
    pub best_rate: f64,
    /// Frames per second delivered at that rate.
    pub best_frames_per_sec: f64,
}

/// Messages in flight: id → (sent at, members still waiting).
type Pending = Arc<Mutex<HashMap<Uuid, (Instant, usize)>>>;

pub async fn run(
    url: &str,
    members: usize,
    rates: &[f64],
    step: Duration,
) -> anyhow::Result<Fanout> {
    let http = client::http();
    let users = client::register_many(&http, url, members, 8).await?;
    let ids: Vec<Uuid> = users[1..].iter().map(|u| u.id).collect();
    let room = client::create_room(&http, url, &users[0], &ids).await?;
    let pending: Pending = Arc::default();
    let done = Arc::new(Mutex::new(Latencies::new()));
    let delivered = Arc::new(AtomicU64::new(0));
    let sockets: Vec<anyhow::Result<client::Socket>> = stream::iter(users.iter())
        .map(|u| client::ws(url, u))
        .buffer_unordered(32)
        .collect()
        .await;
    let mut readers = Vec::with_capacity(members);
    for socket in sockets {
        let mut socket = socket?;
        client::go_live(&mut socket).await?;
        let (pending, done, delivered) = (pending.clone(), done.clone(), delivered.clone());
        readers.push(tokio::spawn(async move {
            while let Some((id, arrived)) = client::next_message(&mut socket).await {
                delivered.fetch_add(1, Ordering::Relaxed);
                let Ok(mut pending) = pending.lock() else {
                    continue;
                };
                if let Some((at, waiting)) = pending.get_mut(&id) {
                    *waiting -= 1;
                    if *waiting == 0 {
                        if let Ok(mut d) = done.lock() {
                            d.record(arrived - *at);
                        }
                        pending.remove(&id);
                    }
                }
            }
        }));
    }
    let sender = Arc::new(users[0].clone());
    // A thousand sockets just connected leave work behind (the first messages waited ~4 s);
    // the steps start once one message has reached every member.
    let client_msg_id = Uuid::now_v7();
    let warm_up = domain::chat::message_id_for(room, sender.id, client_msg_id);
    if let Ok(mut p) = pending.lock() {
        p.insert(warm_up, (Instant::now(), members));
    }
    client::send_as(&http, url, &sender, room, client_msg_id).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while pending.lock().map(|p| !p.is_empty()).unwrap_or(false) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    anyhow::ensure!(
        pending.lock().map(|p| p.is_empty()).unwrap_or(false),
        "the warm-up message did not reach every member within a minute"
    );
    let mut steps = Vec::new();
    for &rate in rates {
        eprintln!("bench: fan-out at {rate} messages/s to {members} members");
        let before = delivered.load(Ordering::Relaxed);
        if let Ok(mut d) = done.lock() {
            *d = Latencies::new();
        }
        let started = Instant::now();
        let messages = send_at(&http, url, &sender, room, rate, step, &pending, members).await?;
        let sending = started.elapsed().as_secs_f64();
        let deadline = Instant::now() + DRAIN;
        while pending.lock().map(|p| !p.is_empty()).unwrap_or(false) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let frames = delivered.load(Ordering::Relaxed) - before;
        let expected = (members * messages) as u64;
        if let Ok(mut p) = pending.lock() {
            p.clear();
        }
        let step = Step {
            rate,
            messages,
            sent_per_sec: messages as f64 / sending,
            frames_delivered: frames,
            frames_missing: expected - frames.min(expected),
            frames_per_sec: frames as f64 / sending,
            delivery_to_all: done.lock().map(|d| d.percentiles()).unwrap_or_default(),
        };
        let saturated = step.frames_missing > 0 || step.delivery_to_all.p99_ms > 10.0 * GOOD_P99_MS;
        steps.push(step);
        if saturated {
            break;
        }
    }
    for reader in readers {
        reader.abort();
    }
    let best = steps
        .iter()
        .filter(|s| s.frames_missing == 0 && s.delivery_to_all.p99_ms < GOOD_P99_MS)
        .max_by(|a, b| a.rate.total_cmp(&b.rate));
    Ok(Fanout {
        members,
        best_rate: best.map_or(0.0, |s| s.sent_per_sec),
        best_frames_per_sec: best.map_or(0.0, |s| s.frames_per_sec),
        steps,
    })
}

/// Sends at `rate` messages/s for `length`, each send on its own task (an open loop: a slow
/// answer does not slow the rate); answers how many were sent.
#[allow(clippy::too_many_arguments)]
async fn send_at(
    http: &reqwest::Client,
    url: &str,
    sender: &Arc<client::User>,
    room: Uuid,
    rate: f64,
    length: Duration,
    pending: &Pending,
    members: usize,
) -> anyhow::Result<usize> {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let end = Instant::now() + length;
    let mut sends = Vec::new();
    while Instant::now() < end {
        tick.tick().await;
        let client_msg_id = Uuid::now_v7();
        let id = domain::chat::message_id_for(room, sender.id, client_msg_id);
        if let Ok(mut p) = pending.lock() {
            p.insert(id, (Instant::now(), members));
        }
        let (http, url, sender) = (http.clone(), url.to_owned(), sender.clone());
        sends.push(tokio::spawn(async move {
            client::send_as(&http, &url, &sender, room, client_msg_id).await
        }));
    }
    let count = sends.len();
    for send in sends {
        send.await??;
    }
    Ok(count)
}
