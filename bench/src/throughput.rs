//! Closed-loop command throughput: `POST /chat/rooms/{id}/messages` from N clients at once, each
//! sending its next message as soon as the last one answered, each in its own room.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::client::{self, Setup};
use crate::cpu::{CpuMeter, CpuUse};
use crate::stats::{Latencies, Percentiles};

/// One concurrency level.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    pub concurrency: usize,
    pub commands: u64,
    pub errors: u64,
    pub per_sec: f64,
    pub latency: Percentiles,
    /// While the loop ran: the views trail it and catch up after, so this is less than a
    /// send's whole cost.
    pub cpu: Option<CpuUse>,
}

pub async fn run(
    setup: &Setup,
    concurrency: usize,
    length: Duration,
) -> anyhow::Result<Throughput> {
    let started = Instant::now();
    let meter = CpuMeter::start();
    let deadline = started + length;
    let mut workers = Vec::with_capacity(concurrency);
    for w in 0..concurrency {
        let (room, sender) = setup.rooms[w % setup.rooms.len()];
        let sender = setup.users[sender].clone();
        let (http, url) = (setup.http.clone(), setup.url.clone());
        workers.push(tokio::spawn(async move {
            let (mut latencies, mut ok, mut errors) = (Latencies::new(), 0u64, 0u64);
            while Instant::now() < deadline {
                let sent = Instant::now();
                match client::send(&http, &url, &sender, room).await {
                    Ok(_) => {
                        latencies.record(sent.elapsed());
                        ok += 1;
                    }
                    Err(error) => {
                        if errors == 0 {
                            eprintln!("bench: a send failed: {error:#}");
                        }
                        errors += 1;
                    }
                }
            }
            (latencies, ok, errors)
        }));
    }
    let (mut latencies, mut commands, mut errors) = (Latencies::new(), 0, 0);
    for worker in workers {
        let (l, ok, err) = worker.await?;
        latencies.merge(&l);
        commands += ok;
        errors += err;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = meter.stop(commands);
    Ok(Throughput {
        concurrency,
        commands,
        errors,
        per_sec: commands as f64 / seconds,
        latency: latencies.percentiles(),
        cpu,
    })
}
