//! `moim-bench`'s abuse section: floods a `moim serve` child process the way an attacker with a
//! free account (or none) would, and reads that process's peak and settled resident memory from
//! `/proc`, beside what the same floods did before Moim bounded them (the baselines measured on
//! the build before, in release). The child runs alone so its memory is its own.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::{SinkExt, StreamExt};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::target::{create_database, database_url, drop_database};
use crate::Options;

/// One flood's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Flood {
    /// What was sent.
    pub name: String,
    /// Before the bounds: peak and settled RSS, as measured then.
    pub before: &'static str,
    /// RSS when the flood began, MiB.
    pub idle_mib: f64,
    /// Highest RSS during the flood, MiB.
    pub peak_mib: f64,
    /// RSS a few seconds after, MiB.
    pub settled_mib: f64,
    /// What the clients got.
    pub outcome: String,
}

/// The abuse section.
#[derive(Debug, Clone, Serialize)]
pub struct Abuse {
    /// Each flood, in order.
    pub floods: Vec<Flood>,
}

/// A `moim serve` child on a database and stream of its own.
pub(crate) struct Child {
    process: tokio::process::Child,
    pub(crate) url: String,
    secret: String,
    admin: String,
    database: String,
    prefix: String,
}

impl Child {
    async fn start(options: &Options) -> anyhow::Result<Self> {
        Self::start_with(options, &[]).await
    }

    /// A child with `extra` environment variables.
    pub(crate) async fn start_with(
        options: &Options,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let binary = match &options.moim_bin {
            Some(path) => path.clone(),
            None => std::env::current_exe()?.with_file_name("moim"),
        };
        anyhow::ensure!(
            binary.exists(),
            "{} not found: build it (cargo build --bin moim, with --release for a full run) \
             or pass --moim-bin",
            binary.display()
        );
        let id = Uuid::new_v4().simple().to_string();
        let database = format!("moim_bench_abuse_{}", &id[..12]);
        create_database(&options.database_url, &database).await?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let prefix = format!("abuse{}", &id[..8]);
        let process = tokio::process::Command::new(&binary)
            .arg("serve")
            .env(
                "DATABASE_URL",
                database_url(&options.database_url, &database),
            )
            .env("NATS_URL", &options.nats_url)
            .env("MOIM_JWT_SECRET", format!("{id}{id}"))
            // The floods measure what hashing and connections hold; the rate limits (which
            // would refuse most of them first) are measured by the tests, not here.
            .env("MOIM_LOGIN_FAILURES_PER_15_MIN", "1000000")
            .env("MOIM_RATE_REGISTER_PER_HOUR", "1000000")
            .env("MOIM_RATE_COMMANDS_PER_MINUTE", "1000000")
            .envs(extra.iter().copied())
            .env("MOIM_SUBJECT_PREFIX", &prefix)
            .env("MOIM_BIND", format!("127.0.0.1:{port}"))
            .env("MOIM_HEADER_TIMEOUT_MS", "2000")
            .env("RUST_LOG", "error")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let child = Self {
            process,
            url: format!("http://127.0.0.1:{port}"),
            secret: format!("{id}{id}"),
            admin: options.database_url.clone(),
            database,
            prefix,
        };
        let http = reqwest::Client::new();
        for _ in 0..300 {
            let ready = http.get(format!("{}/health/ready", child.url)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return Ok(child);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("moim did not become ready")
    }

    /// Signs tokens as the child does, so sockets can be opened without registering users.
    pub(crate) fn keys(&self) -> moim_api::auth::Keys {
        let hour = Duration::from_secs(3600);
        moim_api::auth::Keys::new(&self.secret.clone().into(), hour, hour)
    }

    pub(crate) fn rss_mib(&self) -> f64 {
        let Some(pid) = self.process.id() else {
            return 0.0;
        };
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            })
            .map_or(0.0, |kib| kib / 1024.0)
    }

    fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.url)
    }

    /// Runs `flood`, sampling RSS every 20 ms, then once more `settle` later.
    async fn measure<F: std::future::Future<Output = String>>(
        &self,
        name: &str,
        before: &'static str,
        settle: Duration,
        flood: F,
    ) -> Flood {
        let idle = self.rss_mib();
        let done = std::sync::atomic::AtomicBool::new(false);
        let sample = async {
            let mut peak = idle;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(self.rss_mib());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            peak
        };
        let run = async {
            let outcome = flood.await;
            done.store(true, std::sync::atomic::Ordering::Relaxed);
            outcome
        };
        let (outcome, peak) = tokio::join!(run, sample);
        tokio::time::sleep(settle).await;
        Flood {
            name: name.to_owned(),
            before,
            idle_mib: idle,
            peak_mib: peak.max(self.rss_mib()),
            settled_mib: self.rss_mib(),
            outcome,
        }
    }

    pub(crate) async fn stop(mut self) {
        let _ = self.process.kill().await;
        if let Ok(client) = async_nats::connect("nats://127.0.0.1:4222").await {
            let subjects = moim_nats::Subjects::new(&self.prefix);
            let js = async_nats::jetstream::new(client);
            for stream in [
                subjects.stream_name(),
                format!("KV_{}", subjects.presence_bucket()),
                format!("KV_{}", subjects.last_seen_bucket()),
            ] {
                let _ = js.delete_stream(&stream).await;
            }
        }
        drop_database(&self.admin, &self.database).await;
    }
}

/// Tallies answers by status and problem code.
fn tally(answers: &[(u16, String)]) -> String {
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for (status, code) in answers {
        *counts.entry(format!("{status} {code}")).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(k, n)| format!("{n}× {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn post(client: &reqwest::Client, url: String, body: Value) -> (u16, String) {
    status_and_code(client.post(url).json(&body)).await
}

/// Sends a request; answers its status and problem code (`ok` for a success).
async fn status_and_code(request: reqwest::RequestBuilder) -> (u16, String) {
    match request.send().await {
        Ok(answer) => {
            let status = answer.status().as_u16();
            let body: Value = answer.json().await.unwrap_or_default();
            (status, body["code"].as_str().unwrap_or("ok").to_owned())
        }
        Err(_) => (0, "connection failed".into()),
    }
}

/// Runs every flood against a child of its own.
pub async fn run(options: &Options, quick: bool) -> anyhow::Result<Abuse> {
    let child = Child::start(options).await?;
    let settle = if quick {
        Duration::from_secs(2)
    } else {
        Duration::from_secs(12)
    };
    let mut floods = Vec::new();
    let email = format!("victim-{}@example.com", Uuid::new_v4().simple());
    let http = reqwest::Client::new();
    let registered: Value = http
        .post(child.api("/auth/register"))
        .json(&json!({ "email": email, "password": "correct horse", "display_name": "V" }))
        .send()
        .await?
        .json()
        .await?;
    let token = registered["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    // 120 concurrent wrong logins from four addresses.
    let clients: Vec<reqwest::Client> = (2..6u8)
        .map(|i| {
            reqwest::Client::builder()
                .local_address(IpAddr::from([127, 0, 0, i]))
                .build()
        })
        .collect::<Result<_, _>>()?;
    floods.push(
        child
            .measure(
                "120 concurrent wrong logins",
                "13 → 2,253 MiB, 1,946 MiB 12 s later",
                settle,
                async {
                    let answers = futures::future::join_all((0..120).map(|i| {
                        let body = json!({ "email": email, "password": format!("guess {i}") });
                        post(&clients[i % clients.len()], child.api("/auth/login"), body)
                    }))
                    .await;
                    tally(&answers)
                },
            )
            .await,
    );

    // 500 registrations, 100 at a time.
    floods.push(
        child
            .measure(
                "500 registrations, 100 at once",
                "1,843 MiB left behind",
                settle,
                async {
                    let answers = futures::stream::iter(0..500)
                        .map(|i| {
                            let body = json!({
                            "email": format!("flood-{i}-{}@example.com", Uuid::new_v4().simple()),
                            "password": "correct horse", "display_name": "F" });
                            post(&http, child.api("/auth/register"), body)
                        })
                        .buffer_unordered(100)
                        .collect::<Vec<_>>()
                        .await;
                    tally(&answers)
                },
            )
            .await,
    );

    // 8 sockets, each a message fragmented to 1 MiB that never ends.
    floods.push(
        child
            .measure(
                "8 WebSockets × 1 MiB of fragments",
                "13 → 535 MiB, held",
                settle,
                async {
                    let url = format!("{}/api/v1/ws", child.url.replace("http://", "ws://"));
                    let mut closed_1009 = 0;
                    for _ in 0..8 {
                        let Ok(mut request) = url.clone().into_client_request() else {
                            continue;
                        };
                        if let Ok(value) = format!("Bearer {token}").parse() {
                            request.headers_mut().insert("authorization", value);
                        }
                        let Ok((mut socket, _)) = tokio_tungstenite::connect_async(request).await
                        else {
                            continue;
                        };
                        let chunk = vec![b'a'; 16 * 1024];
                        let mut frame =
                            Frame::message(chunk.clone(), OpCode::Data(Data::Text), false);
                        for _ in 0..64 {
                            if socket.send(Message::Frame(frame)).await.is_err() {
                                break;
                            }
                            frame =
                                Frame::message(chunk.clone(), OpCode::Data(Data::Continue), false);
                        }
                        while let Ok(Some(Ok(message))) =
                            tokio::time::timeout(Duration::from_secs(2), socket.next()).await
                        {
                            if let Message::Close(Some(close)) = message {
                                closed_1009 += usize::from(u16::from(close.code) == 1009);
                                break;
                            }
                        }
                    }
                    format!("{closed_1009} of 8 sockets got close 1009 (one still sending may see a reset instead)")
                },
            )
            .await,
    );

    // 1,000 connections that never finish their headers.
    floods.push(
        child
            .measure("1,000 half-sent requests", "all 1,000 still open after 40 s", settle, async {
                let address = child.url.trim_start_matches("http://").to_owned();
                let mut open = Vec::new();
                for _ in 0..1000 {
                    if let Ok(mut stream) = tokio::net::TcpStream::connect(&address).await {
                        let _ = stream.write_all(b"GET /health/live HTTP/1.1\r\nHost: m\r\n").await;
                        open.push(stream);
                    }
                }
                let started = Instant::now();
                let served = http.get(format!("{}/health/live", child.url)).send().await;
                let served_ms = started.elapsed().as_secs_f64() * 1000.0;
                let mut closed = 0;
                for mut stream in open {
                    let mut buf = [0u8; 64];
                    let read = tokio::time::timeout(
                        Duration::from_secs(10),
                        tokio::io::AsyncReadExt::read(&mut stream, &mut buf),
                    )
                    .await;
                    closed += usize::from(matches!(read, Ok(Ok(_) | Err(_))));
                }
                format!(
                    "{closed} of 1,000 closed within the 2 s header timeout (+10 s grace); a normal \
                     request meanwhile: {} in {served_ms:.0} ms",
                    served.map_or(0, |r| r.status().as_u16())
                )
            })
            .await,
    );

    // 200 queries with a forged far-future consistency token.
    floods.push(
        child
            .measure(
                "200 forged consistency tokens",
                "5 s each, ~4,500 tx/s, an ERROR line each",
                settle,
                async {
                    let started = Instant::now();
                    let answers = futures::future::join_all((0..200).map(|_| {
                        status_and_code(
                            http.get(child.api("/chat/rooms"))
                                .bearer_auth(&token)
                                .header("x-moim-consistency", "9223372036854775807.1"),
                        )
                    }))
                    .await;
                    format!(
                        "{} in {:.0} ms",
                        tally(&answers),
                        started.elapsed().as_secs_f64() * 1000.0
                    )
                },
            )
            .await,
    );
    child.stop().await;
    Ok(Abuse { floods })
}
