//! `moim-bench`: drives a Moim over its public API as clients would, measures the machine's own
//! ceiling (plain PostgreSQL inserts, one and ten rows a statement; plain JetStream publishes) in
//! the same run, and prints a table plus `bench-report.json`. `--quick` finishes in a few minutes
//! and only checks that every figure was produced.

mod abuse;
mod ceiling;
mod chat;
mod client;
mod cpu;
mod e2e;
mod fanout;
mod idle;
mod media;
mod mixed;
mod replay;
mod report;
mod stats;
mod target;
mod throughput;

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::report::Report;

/// Command-line options.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "moim-bench",
    about = "Benchmarks Moim against the machine's own ceiling"
)]
pub struct Options {
    /// A running Moim to drive (e.g. http://127.0.0.1:8080); by default the bench starts its own.
    #[arg(long)]
    url: Option<String>,
    /// Moim's database, for projection lag (and the admin connection for scratch databases).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    database_url: String,
    /// NATS with JetStream.
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    nats_url: String,
    /// Short runs and small stores: checks the bench works, not how fast Moim is.
    #[arg(long)]
    quick: bool,
    /// The `moim` binary the abuse section runs as a child process; by default the one built
    /// beside this bench (`cargo build --bin moim`, with `--release` for a full run).
    #[arg(long)]
    moim_bin: Option<PathBuf>,
    /// Runs only the abuse section (its figures alone are then checked).
    #[arg(long)]
    abuse_only: bool,
    /// Runs only the chat reads: the room list and search (their figures alone are checked).
    #[arg(long, conflicts_with = "abuse_only")]
    chat_only: bool,
    /// Runs only the real-time figures: fan-out at sustained rates and idle sockets.
    #[arg(long, conflicts_with_all = ["abuse_only", "chat_only"])]
    realtime_only: bool,
    /// Runs only the photo uploads and thumbnails (their figures alone are checked).
    #[arg(long, conflicts_with_all = ["abuse_only", "chat_only", "realtime_only"])]
    media_only: bool,
    /// Runs only the command path: throughput, end to end with projection lag, the mixed
    /// workload, replay and the ceilings (for profiling and iterating on commands).
    #[arg(long, conflicts_with_all = ["abuse_only", "chat_only", "realtime_only", "media_only"])]
    commands_only: bool,
    /// Runs only the replay of a generated store (its figures alone are checked).
    #[arg(long, conflicts_with_all = ["abuse_only", "chat_only", "realtime_only", "media_only", "commands_only"])]
    replay_only: bool,
    /// Where to write the JSON report.
    #[arg(long, default_value = "bench-report.json")]
    report: PathBuf,
}

/// How long and how big each phase is.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// Each closed-loop level.
    pub level: Duration,
    /// The fixed-rate end-to-end phase.
    pub e2e: Duration,
    /// Events in the replay store.
    pub replay_events: u64,
    /// Members (each with a WebSocket) of the fan-out room.
    pub fanout_members: usize,
    /// The rates (messages/s) the fan-out room is sent at, in turn.
    pub fanout_rates: &'static [f64],
    /// How long each rate is held.
    pub fanout_step: Duration,
    /// Idle authenticated sockets held open at once.
    pub idle_sockets: usize,
    /// Each ceiling level.
    pub ceiling_level: Duration,
    /// Messages in the searched history.
    pub search_messages: i64,
    /// Samples per timed read.
    pub read_samples: usize,
}

impl Scale {
    fn of(quick: bool) -> Self {
        if quick {
            Self {
                level: Duration::from_secs(2),
                e2e: Duration::from_secs(3),
                replay_events: 20_000,
                fanout_members: 50,
                fanout_rates: &[10.0, 20.0],
                fanout_step: Duration::from_secs(2),
                idle_sockets: 500,
                ceiling_level: Duration::from_secs(1),
                search_messages: 50_000,
                read_samples: 20,
            }
        } else {
            Self {
                level: Duration::from_secs(15),
                e2e: Duration::from_secs(20),
                replay_events: 1_000_000,
                fanout_members: 1000,
                fanout_rates: &[20.0, 50.0, 100.0, 150.0, 200.0, 300.0],
                fanout_step: Duration::from_secs(10),
                idle_sockets: 10_000,
                ceiling_level: Duration::from_secs(10),
                search_messages: 1_000_000,
                read_samples: 200,
            }
        }
    }
}

/// The concurrencies measured.
pub const CONCURRENCY: [usize; 3] = [1, 8, 32];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    let scale = Scale::of(options.quick);
    let mut report = Report::new(options.quick);
    report.machine.read_database(&options.database_url).await;
    if options.commands_only {
        let target = target::Target::start(&options).await?;
        command_path(&target, scale, &mut report).await?;
        store_and_ceiling(&options, scale, &mut report).await?;
        target.stop().await;
    } else if options.replay_only {
        replay(&options, scale, &mut report).await?;
    } else if options.chat_only {
        measure_chat_reads(&options, scale, &mut report).await?;
    } else if options.media_only {
        let target = target::Target::start(&options).await?;
        report.media = Some(uploads(&target, options.quick).await?);
        target.stop().await;
    } else if options.realtime_only {
        let target = target::Target::start(&options).await?;
        report.fanout = Some(fan_out(&target, scale).await?);
        target.stop().await;
        eprintln!(
            "bench: {} idle sockets (a moim child process)",
            scale.idle_sockets
        );
        report.idle = Some(idle::run(&options, scale.idle_sockets).await?);
    } else {
        if !options.abuse_only {
            measure_throughput_to_replay(&options, scale, &mut report).await?;
        }
        eprintln!("bench: abuse (a moim child process under floods)");
        report.abuse = Some(abuse::run(&options, options.quick).await?);
        eprintln!(
            "bench: {} idle sockets (a moim child process)",
            scale.idle_sockets
        );
        report.idle = Some(idle::run(&options, scale.idle_sockets).await?);
    }

    report.finish();
    print!("{}", report.table());
    std::fs::write(&options.report, serde_json::to_string_pretty(&report)?)?;
    eprintln!("bench: report written to {}", options.report.display());
    let missing = report.missing_figures(&options);
    if missing.is_empty() {
        eprintln!("bench: all figures produced");
        Ok(())
    } else {
        anyhow::bail!("figures not produced: {}", missing.join(", "))
    }
}

/// Every section but abuse: the command path, fan-out, chat reads, media, replay and the ceiling.
async fn measure_throughput_to_replay(
    options: &Options,
    scale: Scale,
    report: &mut Report,
) -> anyhow::Result<()> {
    let target = target::Target::start(options).await?;
    command_path(&target, scale, report).await?;

    report.fanout = Some(fan_out(&target, scale).await?);

    chat_reads(options, &target, scale, report).await?;

    report.media = Some(uploads(&target, options.quick).await?);

    store_and_ceiling(options, scale, report).await?;
    target.stop().await;
    Ok(())
}

/// Command throughput at each concurrency, end to end with projection lag, and the mixed
/// workload, against `target`.
async fn command_path(
    target: &target::Target,
    scale: Scale,
    report: &mut Report,
) -> anyhow::Result<()> {
    eprintln!("bench: driving {}", target.url);
    let setup = client::Setup::create(&target.url, 8, 32).await?;
    for concurrency in CONCURRENCY {
        eprintln!("bench: command throughput at concurrency {concurrency}");
        report
            .throughput
            .push(throughput::run(&setup, concurrency, scale.level).await?);
    }
    let best = report
        .throughput
        .iter()
        .map(|t| t.per_sec)
        .fold(0.0, f64::max);
    eprintln!("bench: end to end at {:.0} messages/s", best / 2.0);
    let (e2e, lag) = e2e::run(&setup, target, best / 2.0, scale.e2e).await?;
    report.e2e = Some(e2e);
    report.projection_lag = Some(lag);
    eprintln!("bench: end to end at {:.0} messages/s", best / 8.0);
    let (e2e, lag) = e2e::run(&setup, target, best / 8.0, scale.e2e).await?;
    report.e2e_light = Some(e2e);
    report.projection_lag_light = Some(lag);

    eprintln!("bench: mixed workload, {} clients", mixed::CLIENTS);
    report.mixed = Some(mixed::run(&target.url, scale.level).await?);
    Ok(())
}

/// Replay and the machine's ceiling, in a scratch database and stream.
async fn store_and_ceiling(
    options: &Options,
    scale: Scale,
    report: &mut Report,
) -> anyhow::Result<()> {
    replay(options, scale, report).await?;
    let scratch = target::Scratch::create(options).await?;
    for concurrency in CONCURRENCY {
        eprintln!("bench: ceiling at concurrency {concurrency}");
        report
            .pg_insert
            .push(ceiling::pg_insert(&scratch, concurrency, scale.ceiling_level).await?);
        report
            .pg_insert_batch10
            .push(ceiling::pg_insert_batch(&scratch, concurrency, scale.ceiling_level).await?);
        report
            .jetstream_publish
            .push(ceiling::jetstream_publish(&scratch, concurrency, scale.ceiling_level).await?);
    }
    scratch.drop_all().await;
    Ok(())
}

/// `replay --all` of a generated store, in a scratch database of its own.
async fn replay(options: &Options, scale: Scale, report: &mut Report) -> anyhow::Result<()> {
    eprintln!("bench: replay of {} events", scale.replay_events);
    let scratch = target::Scratch::create(options).await?;
    report.replay = Some(replay::run(&scratch, scale.replay_events).await?);
    scratch.drop_all().await;
    Ok(())
}

/// Photo uploads and thumbnails against the bench's own Moim.
async fn uploads(target: &target::Target, quick: bool) -> anyhow::Result<media::MediaBench> {
    eprintln!("bench: photo uploads and thumbnails");
    let max_uploads = moim_api::config::MediaSettings::default().max_uploads;
    media::run(&target.url, quick, max_uploads).await
}

/// Fan-out to one room at the scale's rates.
async fn fan_out(target: &target::Target, scale: Scale) -> anyhow::Result<fanout::Fanout> {
    eprintln!("bench: fan-out to {} members", scale.fanout_members);
    fanout::run(
        &target.url,
        scale.fanout_members,
        scale.fanout_rates,
        scale.fanout_step,
    )
    .await
}

/// Only the chat reads, against the bench's own Moim.
async fn measure_chat_reads(
    options: &Options,
    scale: Scale,
    report: &mut Report,
) -> anyhow::Result<()> {
    let target = target::Target::start(options).await?;
    chat_reads(options, &target, scale, report).await?;
    target.stop().await;
    Ok(())
}

/// The room list through HTTP, and search on a scratch history.
async fn chat_reads(
    options: &Options,
    target: &target::Target,
    scale: Scale,
    report: &mut Report,
) -> anyhow::Result<()> {
    eprintln!("bench: GET /chat/rooms for a user in 200 rooms");
    report.room_list = Some(chat::room_list(&target.url, 200, scale.read_samples).await?);
    eprintln!("bench: search over {} messages", scale.search_messages);
    let scratch = target::Scratch::create(options).await?;
    report.search = Some(chat::search(&scratch, scale.search_messages, scale.read_samples).await?);
    scratch.drop_all().await;
    Ok(())
}
