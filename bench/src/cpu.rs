//! Where the machine's CPU went during a phase, per party: Moim (its runtime's threads, which the
//! bench names [`MOIM_THREADS`]), the load generator (the bench's other threads), PostgreSQL's
//! processes, nats-server, and what stayed idle. Per send it is the cost a floor is made of: two
//! cores give 2,000,000 µs per second, so a rate of R sends/s leaves 2,000,000 / R µs for each.
//!
//! Read from Linux's `/proc`. A database or NATS on another machine shows as zero; elsewhere
//! than Linux the figure is absent. A Moim thread that ends during a phase (one of its blocking
//! pool's) takes its time with it, and that time is counted as the load generator's.

use std::time::Instant;

use serde::Serialize;

/// The name the bench gives its own Moim's threads, so that they can be told from its own.
pub const MOIM_THREADS: &str = "moim-server";

/// `/proc` counts CPU time in clock ticks of 1/100 s (`USER_HZ`, 100 on every Linux Moim runs on).
const TICKS_PER_SEC: f64 = 100.0;

/// CPU seconds each party used over a phase, and per send.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct CpuUse {
    pub seconds: f64,
    /// Core-seconds the machine had (cores × seconds).
    pub available: f64,
    pub moim: f64,
    pub load_generator: f64,
    pub postgres: f64,
    pub nats: f64,
    pub idle: f64,
    /// The sends the phase made, to divide by.
    pub sends: u64,
}

impl CpuUse {
    /// Microseconds of `core_seconds` per send.
    pub fn per_send_us(&self, core_seconds: f64) -> f64 {
        core_seconds * 1e6 / self.sends.max(1) as f64
    }
}

/// Ticks per party at one moment.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    moim: u64,
    whole_bench: u64,
    postgres: u64,
    nats: u64,
    idle: u64,
    all: u64,
}

/// A phase being measured.
pub struct CpuMeter {
    start: Option<Sample>,
    at: Instant,
}

impl CpuMeter {
    pub fn start() -> Self {
        Self {
            start: sample(),
            at: Instant::now(),
        }
    }

    /// What was used since [`CpuMeter::start`], by a phase that made `sends`.
    pub fn stop(self, sends: u64) -> Option<CpuUse> {
        let (start, end) = (self.start?, sample()?);
        let seconds = self.at.elapsed().as_secs_f64();
        let ticks =
            |f: fn(&Sample) -> u64| f(&end).saturating_sub(f(&start)) as f64 / TICKS_PER_SEC;
        let (all, idle) = (ticks(|s| s.all), ticks(|s| s.idle));
        let moim = ticks(|s| s.moim);
        Some(CpuUse {
            seconds,
            available: all,
            moim,
            load_generator: (ticks(|s| s.whole_bench) - moim).max(0.0),
            postgres: ticks(|s| s.postgres),
            nats: ticks(|s| s.nats),
            idle,
            sends,
        })
    }
}

fn sample() -> Option<Sample> {
    let machine = std::fs::read_to_string("/proc/stat").ok()?;
    // cpu  user nice system idle iowait irq softirq steal …
    let fields: Vec<u64> = machine
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let all = fields.iter().take(8).sum();
    let idle = fields.get(3)? + fields.get(4)?;
    let mut moim = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        if let Some((name, used)) = stat(&task.path().join("stat")) {
            if name == MOIM_THREADS {
                moim += used;
            }
        }
    }
    let (_, whole_bench) = stat(std::path::Path::new("/proc/self/stat"))?;
    let (mut postgres, mut nats) = (0, 0);
    for process in std::fs::read_dir("/proc").ok()?.flatten() {
        let path = process.path().join("stat");
        match stat(&path) {
            Some((name, used)) if name == "postgres" => postgres += used,
            Some((name, used)) if name == "nats-server" => nats += used,
            _ => {}
        }
    }
    Some(Sample {
        moim,
        whole_bench,
        postgres,
        nats,
        idle,
        all,
    })
}

/// A process's or thread's name and its user plus system ticks.
fn stat(path: &std::path::Path) -> Option<(String, u64)> {
    let text = std::fs::read_to_string(path).ok()?;
    // pid (comm) state … : the name may hold spaces and parentheses, so split at the last ')'.
    let (head, rest) = text.rsplit_once(')')?;
    let name = head.split_once('(')?.1.to_owned();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 0, utime field 11, stime field 12.
    let used = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some((name, used))
}
