//! Where the machine's CPU went during a phase, per party: Moim (its runtime's threads, which the
//! bench names [`MOIM_THREADS`]), the load generator (the bench's other threads), PostgreSQL's
//! processes, nats-server, and what stayed idle. Per send it is the cost a floor is made of: two
//! cores give 2,000,000 µs per second, so a rate of R sends/s leaves 2,000,000 / R µs for each.
//!
//! With it go the context switches per send, per party the same way: at a low rate much of a
//! send's cost is the parties waking one another up (docs/performance.md).
//!
//! Read from Linux's `/proc`. A database or NATS on another machine shows as zero; elsewhere
//! than Linux the figure is absent. A Moim thread that ends during a phase (one of its blocking
//! pool's) takes its time with it, and that time is counted as the load generator's. Switches
//! are counted per thread (and per PostgreSQL process) alive at the phase's end, from what it
//! had at the start (or from zero, if it began during the phase): the switches a thread made
//! before it ended are lost with it.

use std::collections::HashMap;
use std::path::Path;
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
    /// Context switches: each time a thread left a core, by itself or not.
    pub switches: Switches,
    /// The sends the phase made, to divide by.
    pub sends: u64,
}

impl CpuUse {
    /// Microseconds of `core_seconds` per send.
    pub fn per_send_us(&self, core_seconds: f64) -> f64 {
        core_seconds * 1e6 / self.sends.max(1) as f64
    }

    /// `switches` per send.
    pub fn switches_per_send(&self, switches: u64) -> f64 {
        switches as f64 / self.sends.max(1) as f64
    }
}

/// Context switches over a phase per party, each time one of its threads left a core (by
/// itself or not), and on the whole machine.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Switches {
    pub moim: u64,
    pub load_generator: u64,
    pub postgres: u64,
    pub nats: u64,
    /// The machine's, kernel threads' and every other process's among them.
    pub all: u64,
}

impl Switches {
    fn of(&mut self, party: Party) -> &mut u64 {
        match party {
            Party::Moim => &mut self.moim,
            Party::LoadGenerator => &mut self.load_generator,
            Party::Postgres => &mut self.postgres,
            Party::Nats => &mut self.nats,
        }
    }
}

/// Whose a thread is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Party {
    Moim,
    LoadGenerator,
    Postgres,
    Nats,
}

/// Ticks per party at one moment, and switches per thread.
#[derive(Debug, Clone, Default)]
struct Sample {
    moim: u64,
    whole_bench: u64,
    postgres: u64,
    nats: u64,
    idle: u64,
    all: u64,
    /// The machine's context switches.
    all_switches: u64,
    /// Each thread's context switches, by its party and id.
    switches: HashMap<(Party, u32), u64>,
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
        let mut switches = Switches {
            all: end.all_switches.saturating_sub(start.all_switches),
            ..Switches::default()
        };
        for (thread, &count) in &end.switches {
            let before = start.switches.get(thread).copied().unwrap_or_default();
            *switches.of(thread.0) += count.saturating_sub(before);
        }
        Some(CpuUse {
            seconds,
            available: all,
            moim,
            load_generator: (ticks(|s| s.whole_bench) - moim).max(0.0),
            postgres: ticks(|s| s.postgres),
            nats: ticks(|s| s.nats),
            idle,
            switches,
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
    let all_switches = machine
        .lines()
        .find_map(|line| line.strip_prefix("ctxt "))?
        .trim()
        .parse()
        .ok()?;
    let mut switches = HashMap::new();
    let mut moim = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        if let Some((name, used)) = stat(&task.path().join("stat")) {
            let party = if name == MOIM_THREADS {
                moim += used;
                Party::Moim
            } else {
                Party::LoadGenerator
            };
            count_switches(&mut switches, party, &task.path());
        }
    }
    let (_, whole_bench) = stat(Path::new("/proc/self/stat"))?;
    let (mut postgres, mut nats) = (0, 0);
    for process in std::fs::read_dir("/proc").ok()?.flatten() {
        let path = process.path().join("stat");
        match stat(&path) {
            Some((name, used)) if name == "postgres" => {
                postgres += used;
                // One thread a process.
                count_switches(&mut switches, Party::Postgres, &process.path());
            }
            Some((name, used)) if name == "nats-server" => {
                nats += used;
                // A process's own `status` counts only its main thread's switches.
                let tasks = std::fs::read_dir(process.path().join("task"));
                for task in tasks.into_iter().flatten().flatten() {
                    count_switches(&mut switches, Party::Nats, &task.path());
                }
            }
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
        all_switches,
        switches,
    })
}

/// Records the context switches, voluntary and not, of the thread (or single-threaded process)
/// at `task` in `/proc`, unless it has ended.
fn count_switches(switches: &mut HashMap<(Party, u32), u64>, party: Party, task: &Path) {
    let Some(id) = task.file_name().and_then(|id| id.to_str()?.parse().ok()) else {
        return;
    };
    let Ok(status) = std::fs::read_to_string(task.join("status")) else {
        return;
    };
    let count = |key: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|count| count.trim().parse::<u64>().ok())
    };
    if let (Some(voluntary), Some(not)) = (
        count("voluntary_ctxt_switches:"),
        count("nonvoluntary_ctxt_switches:"),
    ) {
        switches.insert((party, id), voluntary + not);
    }
}

/// A process's or thread's name and its user plus system ticks.
fn stat(path: &Path) -> Option<(String, u64)> {
    let text = std::fs::read_to_string(path).ok()?;
    // pid (comm) state … : the name may hold spaces and parentheses, so split at the last ')'.
    let (head, rest) = text.rsplit_once(')')?;
    let name = head.split_once('(')?.1.to_owned();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 0, utime field 11, stime field 12.
    let used = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some((name, used))
}
