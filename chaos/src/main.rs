//! `moim-chaos`: runs Moim as separate processes on a PostgreSQL and a NATS server of its own,
//! kills and restarts them at random moments while clients send chat messages, then checks that
//! nothing was lost, doubled or reordered. What it does and what it found: docs/reliability.md.

mod api;
mod checks;
mod clock;
mod cluster;
mod faults;
mod load;
mod natsd;
mod postgres;
mod report;
mod scenario;
mod settle;
mod setup;
mod watcher;
mod workdir;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Crash test for Moim: kill -9 its processes, restart NATS and PostgreSQL under load, and check
/// that every acknowledged command is stored once, relayed once, projected and pushed correctly.
#[derive(Parser, Debug)]
#[command(name = "moim-chaos", version)]
pub struct Args {
    /// The moim binary [default: `moim` next to this program].
    #[arg(long)]
    pub moim: Option<PathBuf>,
    /// How long the load runs, in seconds.
    #[arg(long, default_value_t = 60)]
    pub duration: u64,
    /// Seed of the fault schedule and the clients' choices [default: random, printed].
    #[arg(long)]
    pub seed: Option<u64>,
    /// How many faults [default: one per 6 s of load].
    #[arg(long)]
    pub faults: Option<usize>,
    /// Target rate of sends per second over all clients; 0 sends as fast as Moim answers.
    #[arg(long, default_value_t = 400)]
    pub rate: u32,
    /// How long the system may take to settle after the load, in seconds.
    #[arg(long, default_value_t = 120)]
    pub settle_timeout: u64,
    /// Keep the work directory (PostgreSQL data, NATS store, logs) and print where it is.
    #[arg(long)]
    pub keep: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    // Returning (rather than dying on the signal) drops the cluster, which stops every process
    // the run started and removes its directory.
    let outcome = tokio::select! {
        outcome = scenario::run(args) => outcome,
        () = interrupted() => {
            eprintln!("chaos: interrupted; cleaning up");
            return ExitCode::from(130);
        }
    };
    match outcome {
        Ok(0) => {
            println!("chaos: PASS");
            ExitCode::SUCCESS
        }
        Ok(violations) => {
            println!("chaos: FAIL ({violations} violations)");
            ExitCode::from(1)
        }
        Err(error) => {
            println!("chaos: ERROR {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Resolves on ctrl-c or SIGTERM.
async fn interrupted() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}
