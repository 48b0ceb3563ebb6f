//! The report: every figure, the ratios to the ceiling, the printed table and the JSON.

use std::fmt::Write as _;

use serde::Serialize;
use sqlx::{Connection, PgConnection};

use crate::ceiling::{BatchCeiling, Ceiling};
use crate::cpu::CpuUse;
use crate::e2e::{EndToEnd, ProjectionLag};
use crate::fanout::Fanout;
use crate::mixed::Mixed;
use crate::replay::Replay;
use crate::throughput::Throughput;

/// Moim's command rate as a share of the ceiling at one concurrency.
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    pub concurrency: usize,
    pub of_pg_insert: f64,
    /// Messages/s over rows/s of the ten-row INSERT: how far a shared commit could take sends.
    pub of_pg_insert_batch10: f64,
    pub of_jetstream_publish: f64,
}

/// What the machine is.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub memory: String,
    /// The PostgreSQL measured against, set by [`Machine::read_database`].
    pub database: String,
}

impl Machine {
    fn read() -> Self {
        let field = |file: &str, key: &str| {
            std::fs::read_to_string(file)
                .ok()
                .and_then(|text| {
                    text.lines()
                        .find(|l| l.starts_with(key))
                        .and_then(|l| l.split_once(':'))
                        .map(|(_, v)| v.trim().to_owned())
                })
                .unwrap_or_else(|| "unknown".into())
        };
        Self {
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(0),
            cpu: field("/proc/cpuinfo", "model name"),
            memory: field("/proc/meminfo", "MemTotal"),
            database: "PostgreSQL unknown".into(),
        }
    }

    /// Reads the version of the PostgreSQL at `url`, and whether autovacuum runs there: without
    /// it, a table updated often grows within a run by what its updates leave behind, unless
    /// they are made in place (docs/performance.md, "Read pointers updated in place").
    pub async fn read_database(&mut self, url: &str) {
        let read = async {
            let mut conn = PgConnection::connect(url).await?;
            let (version,): (String,) = sqlx::query_as("SHOW server_version")
                .fetch_one(&mut conn)
                .await?;
            let (autovacuum,): (String,) = sqlx::query_as("SHOW autovacuum")
                .fetch_one(&mut conn)
                .await?;
            Ok::<_, sqlx::Error>(format!("PostgreSQL {version}, autovacuum {autovacuum}"))
        };
        match read.await {
            Ok(database) => self.database = database,
            Err(error) => eprintln!("bench: reading the database's settings: {error}"),
        }
    }
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub quick: bool,
    pub machine: Machine,
    pub throughput: Vec<Throughput>,
    pub e2e: Option<EndToEnd>,
    pub projection_lag: Option<ProjectionLag>,
    /// End to end at an eighth of the best rate: the pipeline's own latency, with the machine
    /// left room, beside [`Self::e2e`]'s at half, where every queue is long.
    pub e2e_light: Option<EndToEnd>,
    pub projection_lag_light: Option<ProjectionLag>,
    pub mixed: Option<Mixed>,
    pub fanout: Option<Fanout>,
    pub replay: Option<Replay>,
    pub room_list: Option<crate::chat::RoomList>,
    pub search: Option<crate::chat::Search>,
    pub pg_insert: Vec<Ceiling>,
    pub pg_insert_batch10: Vec<BatchCeiling>,
    pub jetstream_publish: Vec<Ceiling>,
    pub ratios: Vec<Ratio>,
    pub abuse: Option<crate::abuse::Abuse>,
    pub idle: Option<crate::idle::Idle>,
    pub media: Option<crate::media::MediaBench>,
}

impl Report {
    pub fn new(quick: bool) -> Self {
        Self {
            quick,
            machine: Machine::read(),
            throughput: vec![],
            e2e: None,
            projection_lag: None,
            e2e_light: None,
            projection_lag_light: None,
            mixed: None,
            fanout: None,
            replay: None,
            room_list: None,
            search: None,
            pg_insert: vec![],
            pg_insert_batch10: vec![],
            jetstream_publish: vec![],
            ratios: vec![],
            abuse: None,
            idle: None,
            media: None,
        }
    }

    /// Computes the ratios to the ceiling.
    pub fn finish(&mut self) {
        self.ratios = self
            .throughput
            .iter()
            .filter_map(|t| {
                let pg = self
                    .pg_insert
                    .iter()
                    .find(|c| c.concurrency == t.concurrency)?;
                let batch = self
                    .pg_insert_batch10
                    .iter()
                    .find(|c| c.statements.concurrency == t.concurrency)?;
                let js = self
                    .jetstream_publish
                    .iter()
                    .find(|c| c.concurrency == t.concurrency)?;
                Some(Ratio {
                    concurrency: t.concurrency,
                    of_pg_insert: t.per_sec / pg.per_sec,
                    of_pg_insert_batch10: t.per_sec / batch.rows_per_sec,
                    of_jetstream_publish: t.per_sec / js.per_sec,
                })
            })
            .collect();
    }

    /// Names of figures that are missing, zero or not finite.
    pub fn missing_figures(&self, options: &crate::Options) -> Vec<String> {
        let mut missing = Vec::new();
        let mut need = |name: String, value: Option<f64>| {
            if !value.is_some_and(|v| v.is_finite() && v > 0.0) {
                missing.push(name);
            }
        };
        if options.commands_only {
            for (name, value) in self.command_figures() {
                need(name, value);
            }
            return missing;
        }
        if options.replay_only {
            need(
                "replay events/s".into(),
                self.replay.as_ref().map(|r| r.events_per_sec),
            );
            return missing;
        }
        if options.realtime_only {
            for (name, value) in self.realtime_figures() {
                need(name, value);
            }
            return missing;
        }
        if options.media_only {
            for (name, value) in self.media_figures() {
                need(name, value);
            }
            return missing;
        }
        if !options.abuse_only {
            need(
                "room list p99".into(),
                self.room_list.as_ref().map(|r| r.page_50.p99_ms),
            );
            let queries = self.search.as_ref().map_or(&[][..], |s| &s.queries[..]);
            need("search queries".into(), Some(queries.len() as f64));
            for q in queries {
                need(format!("search p99, {}", q.name), Some(q.latency.p99_ms));
                need(format!("search hits, {}", q.name), Some(q.hits as f64));
            }
        }
        if options.chat_only {
            return missing;
        }
        let floods = self.abuse.as_ref().map_or(&[][..], |a| &a.floods[..]);
        need("abuse floods".into(), Some(floods.len() as f64));
        for flood in floods {
            need(
                format!("peak RSS under {}", flood.name),
                Some(flood.peak_mib),
            );
            need(
                format!("settled RSS after {}", flood.name),
                Some(flood.settled_mib),
            );
        }
        if options.abuse_only {
            return missing;
        }
        for (name, value) in self.command_figures() {
            need(name, value);
        }
        for (name, value) in self.media_figures() {
            need(name, value);
        }
        for (name, value) in self.realtime_figures() {
            need(name, value);
        }
        missing
    }

    /// The command path's figures, by name: throughput, end to end, the mixed workload, replay
    /// and the ceilings with their ratios.
    fn command_figures(&self) -> Vec<(String, Option<f64>)> {
        let mut figures = Vec::new();
        for c in crate::CONCURRENCY {
            let t = self.throughput.iter().find(|t| t.concurrency == c);
            figures.push((format!("commands/s at {c}"), t.map(|t| t.per_sec)));
            figures.push((format!("p99 at {c}"), t.map(|t| t.latency.p99_ms)));
            figures.push((
                format!("pg inserts/s at {c}"),
                self.pg_insert
                    .iter()
                    .find(|x| x.concurrency == c)
                    .map(|x| x.per_sec),
            ));
            figures.push((
                format!("pg rows/s in 10-row inserts at {c}"),
                self.pg_insert_batch10
                    .iter()
                    .find(|x| x.statements.concurrency == c)
                    .map(|x| x.rows_per_sec),
            ));
            figures.push((
                format!("jetstream publishes/s at {c}"),
                self.jetstream_publish
                    .iter()
                    .find(|x| x.concurrency == c)
                    .map(|x| x.per_sec),
            ));
            let r = self.ratios.iter().find(|r| r.concurrency == c);
            figures.push((format!("ratio to pg at {c}"), r.map(|r| r.of_pg_insert)));
            figures.push((
                format!("ratio to 10-row pg inserts at {c}"),
                r.map(|r| r.of_pg_insert_batch10),
            ));
            figures.push((
                format!("ratio to jetstream at {c}"),
                r.map(|r| r.of_jetstream_publish),
            ));
        }
        figures.push((
            "end-to-end p99".into(),
            self.e2e.as_ref().map(|e| e.latency.p99_ms),
        ));
        figures.push((
            "CPU per send at half the best rate".into(),
            self.e2e
                .as_ref()
                .and_then(|e| e.cpu)
                .map(|c| c.per_send_us(c.available - c.idle)),
        ));
        figures.push((
            "projection lag samples".into(),
            self.projection_lag.as_ref().map(|l| l.samples as f64),
        ));
        figures.push((
            "end-to-end p99 at a light load".into(),
            self.e2e_light.as_ref().map(|e| e.latency.p99_ms),
        ));
        figures.push((
            "projection lag samples at a light load".into(),
            self.projection_lag_light.as_ref().map(|l| l.samples as f64),
        ));
        figures.push((
            "replay events/s".into(),
            self.replay.as_ref().map(|r| r.events_per_sec),
        ));
        figures.push(("mixed ops/s".into(), self.mixed.as_ref().map(|m| m.per_sec)));
        for kind in crate::mixed::Kind::ALL {
            let figures_of = self
                .mixed
                .as_ref()
                .and_then(|m| m.kinds.iter().find(|k| k.kind == kind.name()));
            figures.push((
                format!("mixed ops/s, {}", kind.name()),
                figures_of.map(|k| k.per_sec),
            ));
            figures.push((
                format!("mixed p99, {}", kind.name()),
                figures_of.map(|k| k.latency.p99_ms),
            ));
        }
        figures
    }

    /// The photo figures, by name.
    fn media_figures(&self) -> Vec<(String, Option<f64>)> {
        let uploads = self.media.as_ref().map_or(&[][..], |m| &m.uploads[..]);
        let mut figures = vec![
            ("upload levels".to_owned(), Some(uploads.len() as f64)),
            (
                "thumbnail decode p50".to_owned(),
                self.media.as_ref().map(|m| m.process.p50_ms),
            ),
            (
                "thumbnail gets/s".to_owned(),
                self.media.as_ref().map(|m| m.thumbnails_per_sec),
            ),
        ];
        for u in uploads {
            figures.push((format!("uploads/s at {}", u.concurrency), Some(u.per_sec)));
        }
        figures
    }

    /// The fan-out and idle-socket figures, by name.
    fn realtime_figures(&self) -> Vec<(String, Option<f64>)> {
        let steps = self.fanout.as_ref().map_or(&[][..], |f| &f.steps[..]);
        let mut figures = vec![
            ("fan-out steps".to_owned(), Some(steps.len() as f64)),
            (
                "RSS with idle sockets".to_owned(),
                self.idle.as_ref().map(|i| i.after_mib),
            ),
        ];
        for s in steps {
            figures.push((
                format!("fan-out p99 at {}/s", s.rate),
                Some(s.delivery_to_all.p99_ms),
            ));
            figures.push((
                format!("fan-out frames/s at {}/s", s.rate),
                Some(s.frames_per_sec),
            ));
        }
        figures
    }

    /// The human-readable table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let _ = writeln!(
            out,
            "\nMoim benchmark{} — {} cores, {}, {}; {}",
            if self.quick { " (quick)" } else { "" },
            m.cores,
            m.cpu,
            m.memory,
            m.database
        );
        // An --abuse-only run has none of these.
        if !self.throughput.is_empty() {
            let _ = writeln!(
                out,
                "\nCommand throughput: POST /chat/rooms/{{id}}/messages, closed loop"
            );
            let _ = writeln!(
                out,
                "{:>11} {:>11} {:>9} {:>9} {:>9} {:>10} {:>14} {:>13}",
                "concurrency",
                "commands/s",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "vs INSERT",
                "vs 10-row rows",
                "vs JS publish"
            );
            for t in &self.throughput {
                let r = self.ratios.iter().find(|r| r.concurrency == t.concurrency);
                let _ = writeln!(
                    out,
                    "{:>11} {:>11.0} {:>9.2} {:>9.2} {:>9.2} {:>9.1}% {:>13.1}% {:>12.1}%",
                    t.concurrency,
                    t.per_sec,
                    t.latency.p50_ms,
                    t.latency.p95_ms,
                    t.latency.p99_ms,
                    r.map_or(0.0, |r| r.of_pg_insert * 100.0),
                    r.map_or(0.0, |r| r.of_pg_insert_batch10 * 100.0),
                    r.map_or(0.0, |r| r.of_jetstream_publish * 100.0)
                );
            }
            for t in &self.throughput {
                if let Some(cpu) = &t.cpu {
                    let load = format!("at {} clients, while the loop ran", t.concurrency);
                    let _ = writeln!(out, "{}", cpu_line(&load, cpu));
                }
            }
            let _ = writeln!(out, "\nCeiling: plain single-row INSERT of an event-shaped row / plain JetStream publish (ack awaited)");
            let _ = writeln!(
                out,
                "{:>11} {:>11} {:>9} {:>9} {:>13} {:>9} {:>9}",
                "concurrency", "inserts/s", "p50 ms", "p99 ms", "publishes/s", "p50 ms", "p99 ms"
            );
            for (pg, js) in self.pg_insert.iter().zip(&self.jetstream_publish) {
                let _ = writeln!(
                    out,
                    "{:>11} {:>11.0} {:>9.2} {:>9.2} {:>13.0} {:>9.2} {:>9.2}",
                    pg.concurrency,
                    pg.per_sec,
                    pg.latency.p50_ms,
                    pg.latency.p99_ms,
                    js.per_sec,
                    js.latency.p50_ms,
                    js.latency.p99_ms
                );
            }
            let _ = writeln!(
                out,
                "\nCeiling: {}-row INSERT … SELECT * FROM UNNEST (the event store's shape), autocommitted",
                crate::ceiling::BATCH_ROWS
            );
            let _ = writeln!(
                out,
                "{:>11} {:>11} {:>13} {:>9} {:>9}",
                "concurrency", "rows/s", "statements/s", "p50 ms", "p99 ms"
            );
            for b in &self.pg_insert_batch10 {
                let _ = writeln!(
                    out,
                    "{:>11} {:>11.0} {:>13.0} {:>9.2} {:>9.2}",
                    b.statements.concurrency,
                    b.rows_per_sec,
                    b.statements.per_sec,
                    b.statements.latency.p50_ms,
                    b.statements.latency.p99_ms
                );
            }
        }
        for (load, e2e, lag) in [
            ("half the best rate", &self.e2e, &self.projection_lag),
            (
                "an eighth of the best rate",
                &self.e2e_light,
                &self.projection_lag_light,
            ),
        ] {
            if let Some(e) = e2e {
                let _ = writeln!(out, "\nEnd to end (send → another member's WebSocket) at {load}, offered {:.0}/s: {} sent, {} delivered, {} missing", e.offered_per_sec, e.sent, e.delivered, e.missing);
                let _ = writeln!(
                    out,
                    "  p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                    e.latency.p50_ms, e.latency.p95_ms, e.latency.p99_ms, e.latency.max_ms
                );
                let a = e.answered;
                let _ = writeln!(
                    out,
                    "  of which until the send's 201: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                    a.p50_ms, a.p95_ms, a.p99_ms, a.max_ms
                );
                if let Some(cpu) = &e.cpu {
                    let _ = writeln!(out, "{}", cpu_line("until the last delivery", cpu));
                }
            }
            if let Some(l) = lag {
                let _ = writeln!(out, "Projection lag (chat view behind the store, {} samples): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, at most {} events behind", l.samples, l.lag.p50_ms, l.lag.p99_ms, l.lag.max_ms, l.max_events_behind);
            }
        }
        if let Some(m) = &self.mixed {
            let _ = writeln!(
                out,
                "\nMixed workload: {} clients, closed loop, {:.1} s: {:.0} ops/s in all, {} errors",
                m.clients, m.seconds, m.per_sec, m.errors
            );
            let _ = writeln!(
                out,
                "  {:<18} {:>6} {:>7} {:>6} {:>8} {:>9} {:>9}  requests",
                "kind", "share", "ops", "errors", "ops/s", "p50 ms", "p99 ms"
            );
            for k in &m.kinds {
                let _ = writeln!(
                    out,
                    "  {:<18} {:>5.2}% {:>7} {:>6} {:>8.0} {:>9.2} {:>9.2}  {}",
                    k.kind,
                    k.share,
                    k.ops,
                    k.errors,
                    k.per_sec,
                    k.latency.p50_ms,
                    k.latency.p99_ms,
                    k.route
                );
            }
        }
        if let Some(f) = &self.fanout {
            let _ = writeln!(out, "\nFan-out: one room, {} members on WebSockets, messages at a sustained rate (delivery to all members)", f.members);
            for s in &f.steps {
                let _ = writeln!(
                    out,
                    "  {:>5.0} msg/s (kept {:>6.1}): {:>8.0} frames/s, {} missing, p50 {:>8.2} ms, p99 {:>8.2} ms",
                    s.rate, s.sent_per_sec, s.frames_per_sec, s.frames_missing, s.delivery_to_all.p50_ms, s.delivery_to_all.p99_ms
                );
            }
            let _ = writeln!(
                out,
                "  highest rate with p99 under {} ms: {:.1} msg/s = {:.0} frames/s",
                crate::fanout::GOOD_P99_MS,
                f.best_rate,
                f.best_frames_per_sec
            );
        }
        if let Some(r) = &self.room_list {
            let _ = writeln!(
                out,
                "\nGET /chat/rooms for a user in {} rooms (each with unread messages)",
                r.rooms
            );
            for (page, p) in [("limit=50", &r.page_50), ("limit=200", &r.page_200)] {
                let _ = writeln!(
                    out,
                    "  {page:>9}: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms",
                    p.p50_ms, p.p95_ms, p.p99_ms
                );
            }
        }
        if let Some(s) = &self.search {
            let _ = writeln!(out, "\nSearch over {} messages in 1,000 rooms (the searcher is in 200; loaded in {:.1} s), first page of 50", s.messages, s.seconds_to_load);
            for q in &s.queries {
                let _ = writeln!(
                    out,
                    "  {:<34} {:<10} {:>3} hits  p50 {:>7.2} ms, p95 {:>7.2} ms, p99 {:>7.2} ms",
                    q.name, q.q, q.hits, q.latency.p50_ms, q.latency.p95_ms, q.latency.p99_ms
                );
            }
        }
        if let Some(m) = &self.media {
            let _ = writeln!(
                out,
                "\nPhoto uploads: a {:.1} MB {}×{} JPEG with EXIF (rotated), POST /media closed loop",
                m.photo_bytes as f64 / 1e6,
                m.width,
                m.height
            );
            let _ = writeln!(
                out,
                "  decode + upright + thumbnail + re-encode, in process: p50 {:.0} ms, max {:.0} ms",
                m.process.p50_ms, m.process.max_ms
            );
            for u in &m.uploads {
                let _ = writeln!(
                    out,
                    "  {:>2} at once: {:>5.2} uploads/s, {:>5.1} MB/s, p50 {:>7.0} ms, p99 {:>7.0} ms",
                    u.concurrency, u.per_sec, u.mb_per_sec, u.latency.p50_ms, u.latency.p99_ms
                );
            }
            let _ = writeln!(
                out,
                "  GET thumbnail (signed address), 8 at a time: {:.0}/s, p50 {:.2} ms, p99 {:.2} ms",
                m.thumbnails_per_sec, m.thumbnail_latency.p50_ms, m.thumbnail_latency.p99_ms
            );
        }
        if let Some(r) = &self.replay {
            let _ = writeln!(
                out,
                "\nReplay --all of {} events: {:.1} s, {:.0} store events/s",
                r.events, r.seconds, r.events_per_sec
            );
            for v in &r.views {
                let _ = writeln!(
                    out,
                    "  {:>13}: {:.1} s, {:.0} events/s",
                    v.view, v.seconds, v.events_per_sec
                );
            }
        }
        if let Some(i) = &self.idle {
            let _ = writeln!(
                out,
                "\nIdle sockets: {} open, authenticated, distinct users: RSS {:.0} → {:.0} MiB ({:.1} KiB per socket)",
                i.sockets, i.before_mib, i.after_mib, i.per_socket_kib
            );
        }
        if let Some(a) = &self.abuse {
            let _ = writeln!(
                out,
                "\nAbuse (a moim child process; RSS in MiB: idle → peak, settled a while after)"
            );
            for f in &a.floods {
                let _ = writeln!(
                    out,
                    "  {:<36} now {:>6.0} → {:>6.0}, settled {:>6.0}   before: {}",
                    f.name, f.idle_mib, f.peak_mib, f.settled_mib, f.before
                );
                let _ = writeln!(out, "  {:<36} {}", "", f.outcome);
            }
        }
        out
    }
}

/// One phase's CPU and context switches per send and per party, and how much of the machine
/// stayed idle.
fn cpu_line(phase: &str, cpu: &CpuUse) -> String {
    let s = &cpu.switches;
    format!(
        "  CPU per send {phase}: Moim {:.0} µs, load generator {:.0} µs, PostgreSQL {:.0} µs, \
         NATS {:.0} µs; all {:.0} µs; idle {:.0} % of {:.1} core-s\n    \
         context switches per send: Moim {:.1}, load generator {:.1}, PostgreSQL {:.1}, \
         NATS {:.1}; all {:.1}",
        cpu.per_send_us(cpu.moim),
        cpu.per_send_us(cpu.load_generator),
        cpu.per_send_us(cpu.postgres),
        cpu.per_send_us(cpu.nats),
        cpu.per_send_us(cpu.available - cpu.idle),
        cpu.idle / cpu.available.max(f64::EPSILON) * 100.0,
        cpu.available,
        cpu.switches_per_send(s.moim),
        cpu.switches_per_send(s.load_generator),
        cpu.switches_per_send(s.postgres),
        cpu.switches_per_send(s.nats),
        cpu.switches_per_send(s.all)
    )
}
