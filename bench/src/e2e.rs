//! End to end at a fixed offered rate: from sending a message to another member's WebSocket
//! receiving `message.sent`; and, meanwhile, how far the chat read model trails the store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use uuid::Uuid;

use crate::client::{self, Setup};
use crate::cpu::{CpuMeter, CpuUse};
use crate::stats::{Latencies, Percentiles};
use crate::target::Target;

/// The end-to-end figures.
#[derive(Debug, Clone, Serialize)]
pub struct EndToEnd {
    pub offered_per_sec: f64,
    pub sent: u64,
    pub delivered: u64,
    pub missing: u64,
    pub latency: Percentiles,
    /// Until the send's own `201`: the command's share of the end-to-end time.
    pub answered: Percentiles,
    /// From the first send until the last delivery: the whole pipeline's cost per send.
    pub cpu: Option<CpuUse>,
}

/// How far the chat view trailed the event store, sampled every 100 ms.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectionLag {
    pub samples: u64,
    pub lag: Percentiles,
    pub max_events_behind: i64,
}

type Sent = Arc<Mutex<HashMap<Uuid, (Instant, Uuid)>>>;

pub async fn run(
    setup: &Setup,
    target: &Target,
    rate: f64,
    length: Duration,
) -> anyhow::Result<(EndToEnd, ProjectionLag)> {
    let sent: Sent = Arc::default();
    let received = Arc::new(Mutex::new(Latencies::new()));
    let answered = Arc::new(Mutex::new(Latencies::new()));
    let delivered = Arc::new(Mutex::new(std::collections::HashSet::new()));
    let mut readers = Vec::new();
    for user in &setup.users {
        let mut socket = client::ws(&setup.url, user).await?;
        // A fresh socket's live frames wait for its resume, at most half a second: measured
        // without one, the first half second's messages all arrived that late.
        client::go_live(&mut socket).await?;
        let (sent, received, delivered, me) =
            (sent.clone(), received.clone(), delivered.clone(), user.id);
        readers.push(tokio::spawn(async move {
            while let Some((id, arrived)) = client::next_message(&mut socket).await {
                let from = sent.lock().map(|s| s.get(&id).copied()).ok().flatten();
                // The first other member to see it is what a conversation feels.
                if let Some((at, sender)) = from {
                    if sender != me && delivered.lock().is_ok_and(|mut d| d.insert(id)) {
                        if let Ok(mut r) = received.lock() {
                            r.record(arrived - at);
                        }
                    }
                }
            }
        }));
    }

    let sampling = tokio_util::sync::CancellationToken::new();
    let sampler = tokio::spawn(sample_lag(target.pool.clone(), sampling.clone()));

    let interval = Duration::from_secs_f64(1.0 / rate.max(1.0));
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let meter = CpuMeter::start();
    let mut sends = Vec::new();
    let mut n = 0usize;
    while started.elapsed() < length {
        ticker.tick().await;
        let (room, sender) = setup.rooms[n % setup.rooms.len()];
        let sender = setup.users[sender].clone();
        let (http, url, sent, answered) = (
            setup.http.clone(),
            setup.url.clone(),
            sent.clone(),
            answered.clone(),
        );
        n += 1;
        sends.push(tokio::spawn(async move {
            // Message ids derive from the client's id, so the frame can be matched even if it
            // arrives before the HTTP answer.
            let client_msg_id = Uuid::now_v7();
            let id = domain::chat::message_id_for(room, sender.id, client_msg_id);
            let at = Instant::now();
            if let Ok(mut s) = sent.lock() {
                s.insert(id, (at, sender.id));
            }
            match client::send_as(&http, &url, &sender, room, client_msg_id).await {
                Ok(_) => {
                    if let Ok(mut a) = answered.lock() {
                        a.record(at.elapsed());
                    }
                }
                Err(_) => {
                    if let Ok(mut s) = sent.lock() {
                        s.remove(&id);
                    }
                }
            }
        }));
    }
    for send in sends {
        let _ = send.await;
    }
    let offered = n as f64 / started.elapsed().as_secs_f64();
    // Let the last deliveries land.
    let total = sent.lock().map(|s| s.len()).unwrap_or(0) as u64;
    let deadline = Instant::now() + Duration::from_secs(10);
    while delivered.lock().map(|d| d.len() as u64).unwrap_or(0) < total && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let cpu = meter.stop(total);
    sampling.cancel();
    let lag = sampler.await??;
    for reader in readers {
        reader.abort();
    }
    let got = delivered.lock().map(|d| d.len() as u64).unwrap_or(0);
    let latency = received.lock().map(|r| r.percentiles()).unwrap_or_default();
    let answered = answered.lock().map(|a| a.percentiles()).unwrap_or_default();
    Ok((
        EndToEnd {
            offered_per_sec: offered,
            sent: total,
            delivered: got,
            missing: total - got.min(total),
            latency,
            answered,
            cpu,
        },
        lag,
    ))
}

async fn sample_lag(
    pool: sqlx::PgPool,
    stop: tokio_util::sync::CancellationToken,
) -> anyhow::Result<ProjectionLag> {
    let mut lag = Latencies::new();
    let (mut samples, mut max_behind) = (0, 0i64);
    while !stop.is_cancelled() {
        let (millis, behind): (f64, i64) = sqlx::query_as(
            "SELECT COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - min(e.recorded_at)) * 1000, 0)::float8,
                    count(e.*)
             FROM projection_checkpoints c
             LEFT JOIN events e ON (e.tx_id, e.position) > (c.tx_id::text::xid8, c.position)
             WHERE c.name = 'chat'",
        )
        .fetch_one(&pool)
        .await?;
        lag.record(Duration::from_secs_f64(millis.max(0.0) / 1000.0));
        max_behind = max_behind.max(behind);
        samples += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(ProjectionLag {
        samples,
        lag: lag.percentiles(),
        max_events_behind: max_behind,
    })
}
