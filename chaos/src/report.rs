//! The end of a run: a summary table of the faults and the checks, and — when a check failed —
//! the warnings and errors from Moim's logs, which are about to be deleted with the work dir.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};

use crate::checks::Check;
use crate::clock::Outage;
use crate::workdir::WorkDir;

/// How many warning or error lines of each log are shown after a failure.
const LOG_LINES: usize = 15;

/// Prints the faults and every check's verdict.
pub fn summary(
    seed: u64,
    duration: u64,
    outages: &[Outage],
    starts: &[(&str, u32)],
    checks: &[Check],
) {
    println!("\n==================== summary ====================");
    println!("seed {seed}, load {duration}s");
    let mut by_kind: BTreeMap<&str, (usize, f64)> = BTreeMap::new();
    for outage in outages {
        let entry = by_kind.entry(outage.kind.name()).or_default();
        entry.0 += 1;
        entry.1 += outage.up_at - outage.down_at;
    }
    println!("{:<28} {:>6} {:>12}", "fault", "count", "down (s)");
    for (kind, (count, down)) in &by_kind {
        println!("{kind:<28} {count:>6} {down:>12.1}");
    }
    println!("{:<28} {:>6}", "total", outages.len());
    let starts: Vec<String> = starts
        .iter()
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    println!("process starts: {}", starts.join(", "));
    println!();
    println!("{:<62} result", "check");
    for check in checks {
        let verdict = if check.violations.is_empty() {
            "ok".to_owned()
        } else {
            format!("FAIL ({})", check.violations.len())
        };
        println!("{:<62} {verdict}", check.name);
    }
}

/// Prints the last warnings and errors of each of Moim's logs.
pub fn log_excerpts(dir: &WorkDir) {
    for name in ["api-a", "api-b", "relay", "projections", "replay"] {
        let Ok(file) = std::fs::File::open(dir.log(name)) else {
            continue;
        };
        let lines: Vec<String> = BufReader::new(file)
            .lines()
            .map_while(Result::ok)
            // `Error:` is how moim's main reports why it exited.
            .filter(|l| {
                l.contains("WARN")
                    || l.contains("ERROR")
                    || l.starts_with("Error:")
                    || l.starts_with("=====")
            })
            .collect();
        println!("\n--- {name}.log: last warnings and errors ---");
        for line in &lines[lines.len().saturating_sub(LOG_LINES)..] {
            println!("{line}");
        }
    }
    println!("\n(rerun with the same --seed and --keep to keep every log)");
}
