//! The fault schedule, drawn from the seed, and its execution: one fault at a time, each at a
//! random moment of its own slice of the run (but at least 2 s after the previous part is back),
//! taking a part down, pausing 1–3 s, and bringing it back. The kinds cycle (shuffled) so a
//! short run still has every kind.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use crate::clock::{Clock, FaultKind, Outages};
use crate::cluster::{Cluster, Part};

/// One planned fault.
#[derive(Debug, Clone, Copy)]
pub struct Fault {
    /// When it starts, from the start of the load.
    pub at: Duration,
    /// What it does.
    pub kind: FaultKind,
    /// How long the part stays down.
    pub pause: Duration,
}

/// `count` faults spread over `duration`, after a short warm-up and not in the last seconds.
pub fn plan(seed: u64, duration: Duration, count: usize) -> Vec<Fault> {
    let mut rng = StdRng::seed_from_u64(seed);
    let warm_up = (duration / 10).min(Duration::from_secs(5));
    let span = duration.saturating_sub(warm_up + Duration::from_secs(3));
    if count == 0 {
        return Vec::new();
    }
    let mut kinds = Vec::new();
    while kinds.len() < count {
        let mut cycle = FaultKind::ALL;
        cycle.shuffle(&mut rng);
        kinds.extend(cycle);
    }
    (0..count)
        .map(|i| {
            let slice = span / count as u32;
            let offset = slice.mul_f64(rng.random_range(0.0..1.0));
            Fault {
                at: warm_up + slice * i as u32 + offset,
                kind: kinds[i],
                pause: Duration::from_millis(rng.random_range(1000..=3000)),
            }
        })
        .collect()
}

/// Time a part gets, once back, before the next fault strikes: a process killed or cut off
/// from PostgreSQL while it is still starting up would fail for the overlap, not for the fault.
const MIN_GAP: Duration = Duration::from_secs(2);

/// Runs `plan` from `start`, one fault after the other.
pub async fn run(
    cluster: &Cluster,
    plan: &[Fault],
    start: Instant,
    clock: Clock,
    outages: &Outages,
) -> anyhow::Result<()> {
    let mut earliest = start;
    for (i, fault) in plan.iter().enumerate() {
        tokio::time::sleep_until((start + fault.at).max(earliest)).await;
        let down = outages.down(fault.kind, clock.now());
        println!(
            "[{:7.1}s] fault {}/{}: {}, back after {:.1}s",
            clock.now(),
            i + 1,
            plan.len(),
            fault.kind.action(),
            fault.pause.as_secs_f64()
        );
        take_down(cluster, fault.kind).await?;
        tokio::time::sleep(fault.pause).await;
        bring_up(cluster, fault.kind).await?;
        outages.up(down, clock.now());
        earliest = Instant::now() + MIN_GAP;
        println!("[{:7.1}s]   {} is back", clock.now(), fault.kind.name());
    }
    Ok(())
}

async fn take_down(cluster: &Cluster, kind: FaultKind) -> anyhow::Result<()> {
    match kind {
        FaultKind::KillRelay => cluster.kill(Part::Relay).await,
        FaultKind::KillProjections => cluster.kill(Part::Projections).await,
        FaultKind::KillApi => cluster.kill(Part::ApiB).await,
        FaultKind::RestartNats => cluster.kill_nats().await,
        FaultKind::RestartPostgres => cluster.crash_postgres().await,
    }
}

async fn bring_up(cluster: &Cluster, kind: FaultKind) -> anyhow::Result<()> {
    match kind {
        FaultKind::KillRelay => cluster.start_part(Part::Relay).await,
        FaultKind::KillProjections => cluster.start_part(Part::Projections).await,
        FaultKind::KillApi => cluster.start_part(Part::ApiB).await,
        FaultKind::RestartNats => cluster.start_nats().await,
        FaultKind::RestartPostgres => cluster.start_postgres().await,
    }
}
