//! One chaos run from start to verdict: start the cluster, build the world, connect the watcher,
//! run the load while faults strike, wait for the system to settle, and run the checks.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use moim_nats::Subjects;
use sqlx::postgres::PgPoolOptions;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::api::{Api, API_A};
use crate::checks::{self, Check};
use crate::clock::{Clock, Outages};
use crate::cluster::Cluster;
use crate::load::{LoadReport, Progress};
use crate::setup::{self, World};
use crate::watcher::Watcher;
use crate::{faults, load, report, settle, Args};

/// How long sends still in flight when the load ends keep being retried.
const GIVE_UP_AFTER: Duration = Duration::from_secs(60);

/// Runs the scenario; `Ok(violations)` once the checks ran, `Err` if the harness itself failed.
pub async fn run(args: Args) -> anyhow::Result<usize> {
    let seed = args.seed.unwrap_or_else(rand::random);
    let duration = Duration::from_secs(args.duration);
    let fault_count = args.faults.unwrap_or((args.duration / 6).max(1) as usize);
    let moim = match args.moim {
        Some(path) => path,
        None => std::env::current_exe()?.with_file_name("moim"),
    };
    let rate = match args.rate {
        0 => "unpaced".to_owned(),
        rate => format!("{rate}/s"),
    };
    println!(
        "chaos: seed {seed}, load {}s at {rate}, {fault_count} faults, settle timeout {}s, moim {}",
        args.duration,
        args.settle_timeout,
        moim.display()
    );
    let clock = Clock::start();
    // Tokens must outlive the load, the retries after it and the settling.
    let token_ttl = args.duration + args.settle_timeout + 3600;
    let cluster = Arc::new(Cluster::start(moim, args.keep, token_ttl, clock).await?);
    println!(
        "[{:7.1}s] started PostgreSQL, NATS, relay, projections, api-a, api-b in {}",
        clock.now(),
        cluster.dir().path().display()
    );
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(2))
        .connect(&cluster.database_url())
        .await?;
    let js = jetstream::new(async_nats::connect(cluster.nats_url()).await?);
    let api = Api::new(cluster.api_urls())?;
    let world = setup::build(&api).await?;
    println!(
        "[{:7.1}s] {} users, {} rooms, a couple and a game",
        clock.now(),
        world.users.len(),
        world.rooms.len()
    );

    // Everything spawned from here on stops when this guard drops, on success or error alike.
    let background = CancellationToken::new();
    let _stop_background = background.clone().drop_guard();
    let supervisor = {
        let (cluster, stop) = (cluster.clone(), background.clone());
        tokio::spawn(async move { cluster.supervise(stop).await })
    };
    let outages = Outages::default();
    let watcher = Watcher::start(
        cluster.api_urls()[API_A].clone(),
        world.users[World::WATCHER].token.clone(),
        &world.rooms_of(World::WATCHER),
        clock,
    )
    .await?;
    let watch = tokio::spawn(watcher.watch(outages.clone(), background.clone()));

    let plan = faults::plan(seed, duration, fault_count);
    let start = Instant::now();
    let progress = Arc::new(Progress::default());
    let schedule = load::Schedule {
        until: start + duration,
        give_up: start + duration + GIVE_UP_AFTER,
        rate: args.rate,
    };
    let load = tokio::spawn(load::run(
        api.clone(),
        world.clone(),
        seed,
        clock,
        schedule,
        progress.clone(),
    ));
    let ticker = tokio::spawn(tick(progress.clone(), clock, background.clone()));
    println!(
        "[{:7.1}s] load started; watcher connected to api-a",
        clock.now()
    );
    faults::run(&cluster, &plan, start, clock, &outages).await?;
    let load = load.await?;
    ticker.abort();
    println!(
        "[{:7.1}s] load done: {} acknowledged, {} requests",
        clock.now(),
        load.acks.len(),
        load.requests
    );

    let stream = Subjects::new("moim").stream_name();
    let settled = settle::wait(
        &pool,
        &js,
        &stream,
        Duration::from_secs(args.settle_timeout),
    )
    .await;
    // The watcher resumes once more before it returns, so what it lost live is counted too.
    background.cancel();
    let watched = watch.await?;
    supervisor.await?;
    println!("[{:7.1}s] settled; checking", clock.now());

    let store = checks::store::load(&pool).await?;
    let mut results = Vec::new();
    // Each check is printed as soon as it is done: the read-model one can take minutes.
    let mut done = |check: Check| {
        check.print(clock.now());
        results.push(check);
    };
    done(settle_check(settled));
    done(processes_check(&cluster));
    done(load_check(&load));
    done(checks::acks::check(&store, &load.acks, &world));
    done(checks::sequences::check(&store));
    done(checks::watcher::check(
        &watched,
        &store,
        &world.rooms_of(World::WATCHER),
    ));
    done(checks::stream::check(&js, &stream, &store).await?);
    done(checks::read_models::check(&cluster, &pool).await?);
    report::summary(
        seed,
        args.duration,
        &outages.all(),
        &cluster.starts().await,
        &results,
    );
    let violations = results.iter().map(|c| c.violations.len()).sum();
    if violations > 0 {
        report::log_excerpts(cluster.dir());
    }
    Ok(violations)
}

/// Prints what the load has done every 10 s.
async fn tick(progress: Arc<Progress>, clock: Clock, stop: CancellationToken) {
    let mut every = tokio::time::interval(Duration::from_secs(10));
    every.tick().await;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = every.tick() => println!(
                "[{:7.1}s] load: {} acknowledged, {} failed requests retried",
                clock.now(),
                progress.acked.load(Ordering::Relaxed),
                progress.failed_requests.load(Ordering::Relaxed)
            ),
        }
    }
}

fn settle_check(settled: Result<(settle::State, Duration), settle::State>) -> Check {
    let mut check = Check::new("the system settles");
    match settled {
        Ok((state, took)) => {
            check.count("settled after", format!("{:.1}s", took.as_secs_f64()));
            check.count("events in the store", state.events);
            check.count("last stream sequence", state.stream_last);
            check.count(
                "views at the store's last position",
                format!("{}/{}", state.checkpoints.len(), settle::VIEWS.len()),
            );
        }
        Err(state) => {
            check.count("settled", "no");
            check.violation(format!("not settled within the timeout: {state}"));
        }
    }
    check
}

fn processes_check(cluster: &Cluster) -> Check {
    let mut check = Check::new("processes run until they are killed");
    let exits = cluster.unexpected_exits();
    check.count("unexpected exits", exits.len());
    for (at, what) in exits {
        check.violation(format!("{at:.1}s: {what}"));
    }
    check
}

fn load_check(load: &LoadReport) -> Check {
    let mut check = Check::new("clients get the answers they should");
    check.count("requests", load.requests);
    check.count("sends acknowledged (201)", load.acks.len());
    check.count("  after retrying on the other api process", load.retried);
    check.count("sends given up after the load (no 2xx)", load.gave_up);
    check.count("deliberate re-sends of acknowledged messages", load.resends);
    check.count("unexpected answers", load.violations.len());
    for violation in &load.violations {
        check.violation(violation.clone());
    }
    check
}
