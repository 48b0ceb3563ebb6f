//! The checks run once the system has settled. Each prints its counts and returns a [`Check`]
//! holding them and its violations; the run fails if any check has a violation.

pub mod acks;
pub mod read_models;
pub mod sequences;
pub mod store;
pub mod stream;
pub mod watcher;

/// How many violations of one check are printed in full.
const SHOWN: usize = 10;

/// One check's outcome.
#[derive(Debug)]
pub struct Check {
    /// What it checks, in a few words.
    pub name: &'static str,
    /// `(what, how many)`, in the order they were counted.
    pub counts: Vec<(String, String)>,
    /// Every violation, described.
    pub violations: Vec<String>,
}

impl Check {
    /// An empty check.
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            counts: Vec::new(),
            violations: Vec::new(),
        }
    }

    /// Records a count.
    pub fn count(&mut self, what: impl Into<String>, value: impl ToString) {
        self.counts.push((what.into(), value.to_string()));
    }

    /// Records a violation.
    pub fn violation(&mut self, what: impl Into<String>) {
        self.violations.push(what.into());
    }

    /// Prints the counts and the first violations; `at` is when it finished (run clock).
    pub fn print(&self, at: f64) {
        let verdict = if self.violations.is_empty() {
            "ok".to_owned()
        } else {
            format!("FAIL ({} violations)", self.violations.len())
        };
        println!("\n[{at:7.1}s] == {}: {verdict}", self.name);
        for (what, value) in &self.counts {
            println!("   {what:<52} {value}");
        }
        for violation in self.violations.iter().take(SHOWN) {
            println!("   ! {violation}");
        }
        if self.violations.len() > SHOWN {
            println!("   ! … and {} more", self.violations.len() - SHOWN);
        }
    }
}
