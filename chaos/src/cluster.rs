//! Everything the run starts and kills: its own PostgreSQL and NATS, and Moim as four separate
//! processes — `--role relay`, `--role projections` and two `--role api` — that can each be
//! killed with SIGKILL and started again, plus `moim migrate` and `moim replay --all`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::process::{Child, Command};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::natsd::NatsServer;
use crate::postgres::Postgres;
use crate::workdir::{free_ports, WorkDir};

/// Signs every token of the run; any 32 bytes do.
const JWT_SECRET: &str = "chaos-secret-chaos-secret-chaos-secret";

/// One of Moim's processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// `--role relay`.
    Relay,
    /// `--role projections`.
    Projections,
    /// `--role api`, never killed: the WebSocket watcher is connected to it.
    ApiA,
    /// `--role api`, killed now and then.
    ApiB,
}

impl Part {
    const ALL: [Self; 4] = [Self::Relay, Self::Projections, Self::ApiA, Self::ApiB];

    /// The process's name in logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Relay => "relay",
            Self::Projections => "projections",
            Self::ApiA => "api-a",
            Self::ApiB => "api-b",
        }
    }

    fn role(self) -> &'static str {
        match self {
            Self::Relay => "relay",
            Self::Projections => "projections",
            Self::ApiA | Self::ApiB => "api",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

struct Process {
    child: Option<Child>,
    starts: u32,
}

/// The whole deployment under test. Fields drop in order: Moim's processes (killed on drop),
/// then NATS, then PostgreSQL, and last the directory they all lived in.
pub struct Cluster {
    processes: [Mutex<Process>; 4],
    nats: Mutex<NatsServer>,
    nats_url: String,
    postgres: Postgres,
    moim: PathBuf,
    api_ports: [u16; 2],
    access_ttl_secs: u64,
    clock: Clock,
    /// Processes that exited without being killed: `(when, what)`.
    unexpected_exits: std::sync::Mutex<Vec<(f64, String)>>,
    dir: WorkDir,
}

impl Cluster {
    /// Starts PostgreSQL, NATS, migrates, and starts all four Moim processes.
    pub async fn start(
        moim: PathBuf,
        keep: bool,
        access_ttl_secs: u64,
        clock: Clock,
    ) -> anyhow::Result<Self> {
        if !moim.is_file() {
            bail!(
                "no moim binary at {} (build it: cargo build -p moim-api)",
                moim.display()
            );
        }
        let dir = WorkDir::create(keep)?;
        let ports = free_ports(4)?;
        let postgres = Postgres::init(dir.path(), ports[0]).await?;
        postgres.start().await?;
        create_database(&postgres).await?;
        let mut nats = NatsServer::new(dir.path(), ports[1]);
        nats.start(&dir).await?;
        let cluster = Self {
            processes: Part::ALL.map(|_| {
                Mutex::new(Process {
                    child: None,
                    starts: 0,
                })
            }),
            nats_url: nats.url(),
            nats: Mutex::new(nats),
            postgres,
            moim,
            api_ports: [ports[2], ports[3]],
            access_ttl_secs,
            clock,
            unexpected_exits: std::sync::Mutex::new(Vec::new()),
            dir,
        };
        cluster.run_to_end(&["migrate"], "migrate").await?;
        for part in Part::ALL {
            cluster.start_part(part).await?;
        }
        Ok(cluster)
    }

    /// The work directory (for `--keep` and error messages).
    pub fn dir(&self) -> &WorkDir {
        &self.dir
    }

    /// The database Moim uses.
    pub fn database_url(&self) -> String {
        self.postgres.url("moim")
    }

    /// The NATS server's URL.
    pub fn nats_url(&self) -> &str {
        &self.nats_url
    }

    /// The two API processes' base URLs: `[api-a, api-b]`.
    pub fn api_urls(&self) -> [String; 2] {
        self.api_ports
            .map(|port| format!("http://127.0.0.1:{port}"))
    }

    fn command(&self, args: &[&str], log_name: &str, banner: &str) -> anyhow::Result<Command> {
        let log = self.dir.open_log(log_name, banner)?;
        let mut command = Command::new(&self.moim);
        // A clean environment: moim refuses unknown MOIM_* variables, and a stray .env in the
        // caller's directory must not change the deployment.
        command
            .args(args)
            .env_clear()
            .env("DATABASE_URL", self.database_url())
            .env("NATS_URL", &self.nats_url)
            .env("MOIM_JWT_SECRET", JWT_SECRET)
            .env("MOIM_ACCESS_TTL_SECS", self.access_ttl_secs.to_string())
            .env("MOIM_DB_MAX_CONNECTIONS", "10")
            // The load generator is one trusted client driving every user from one address.
            .env("MOIM_RATE_REGISTER_PER_HOUR", "1000000")
            .env("MOIM_RATE_COMMANDS_PER_MINUTE", "1000000")
            .env("RUST_LOG", "info,sqlx=warn")
            .env("NO_COLOR", "1")
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        Ok(command)
    }

    /// Runs a one-shot `moim` command to completion.
    pub async fn run_to_end(&self, args: &[&str], log_name: &str) -> anyhow::Result<()> {
        let status = self
            .command(args, log_name, &format!("moim {}", args.join(" ")))?
            .status()
            .await
            .with_context(|| format!("running moim {}", args.join(" ")))?;
        if !status.success() {
            bail!(
                "moim {} failed ({status}); see {}",
                args.join(" "),
                self.dir.log(log_name).display()
            );
        }
        Ok(())
    }

    /// Starts `part` (which must not be running); an API is started once `/health/ready` says so.
    pub async fn start_part(&self, part: Part) -> anyhow::Result<()> {
        let mut process = self.processes[part.index()].lock().await;
        self.spawn_into(part, &mut process).await
    }

    async fn spawn_into(&self, part: Part, process: &mut Process) -> anyhow::Result<()> {
        process.starts += 1;
        let banner = format!("start #{} at {:.1}s", process.starts, self.clock.now());
        let mut command = self.command(&["serve", "--role", part.role()], part.name(), &banner)?;
        match part {
            Part::ApiA => command.env("MOIM_BIND", format!("127.0.0.1:{}", self.api_ports[0])),
            Part::ApiB => command.env("MOIM_BIND", format!("127.0.0.1:{}", self.api_ports[1])),
            Part::Relay | Part::Projections => &mut command,
        };
        process.child = Some(command.spawn().context("starting moim")?);
        match part {
            Part::ApiA => self.wait_ready(0, process).await,
            Part::ApiB => self.wait_ready(1, process).await,
            Part::Relay | Part::Projections => Ok(()),
        }
    }

    async fn wait_ready(&self, api: usize, process: &mut Process) -> anyhow::Result<()> {
        let url = format!("{}/health/ready", self.api_urls()[api]);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(child) = process.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    bail!("api {api} exited during start-up ({status})");
                }
            }
            if let Ok(response) = http.get(&url).send().await {
                if response.status().is_success() {
                    return Ok(());
                }
            }
            if tokio::time::Instant::now() > deadline {
                bail!("{url} not ready within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// kill -9, and waits until the process is gone.
    pub async fn kill(&self, part: Part) -> anyhow::Result<()> {
        let mut process = self.processes[part.index()].lock().await;
        if let Some(mut child) = process.child.take() {
            child.start_kill()?;
            child.wait().await?;
        }
        Ok(())
    }

    /// SIGTERM (a graceful stop), then SIGKILL if it has not exited within 15 s.
    pub async fn stop(&self, part: Part) -> anyhow::Result<()> {
        let mut process = self.processes[part.index()].lock().await;
        let Some(mut child) = process.child.take() else {
            return Ok(());
        };
        if let Some(pid) = child.id() {
            Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await?;
        }
        if tokio::time::timeout(Duration::from_secs(15), child.wait())
            .await
            .is_err()
        {
            child.start_kill()?;
            child.wait().await?;
        }
        Ok(())
    }

    /// Kills the NATS server (SIGKILL).
    pub async fn kill_nats(&self) -> anyhow::Result<()> {
        self.nats.lock().await.kill().await
    }

    /// Starts the NATS server again on the same port and store.
    pub async fn start_nats(&self) -> anyhow::Result<()> {
        self.nats.lock().await.start(&self.dir).await
    }

    /// Stops PostgreSQL as a crash would.
    pub async fn crash_postgres(&self) -> anyhow::Result<()> {
        self.postgres.crash().await
    }

    /// Starts PostgreSQL again (crash recovery included).
    pub async fn start_postgres(&self) -> anyhow::Result<()> {
        self.postgres.start().await
    }

    /// Watches for Moim processes that exit although nobody killed them: each is recorded (the
    /// checks count it as a violation) and started again so the run can go on.
    pub async fn supervise(&self, stop: CancellationToken) {
        while !stop.is_cancelled() {
            for part in Part::ALL {
                // A busy lock means a fault is killing or starting this part right now.
                let Ok(mut process) = self.processes[part.index()].try_lock() else {
                    continue;
                };
                let exited = match process.child.as_mut().map(Child::try_wait) {
                    Some(Ok(Some(status))) => Some(status.to_string()),
                    Some(Err(error)) => Some(error.to_string()),
                    _ => None,
                };
                if let Some(status) = exited {
                    let at = self.clock.now();
                    println!(
                        "[{at:7.1}s] !! {} exited on its own ({status}); starting it again",
                        part.name()
                    );
                    self.unexpected_exits
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((at, format!("{} exited on its own ({status})", part.name())));
                    process.child = None;
                    if let Err(error) = self.spawn_into(part, &mut process).await {
                        println!("[{at:7.1}s] !! could not start {}: {error:#}", part.name());
                    }
                }
            }
            tokio::select! {
                () = stop.cancelled() => {}
                () = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
        }
    }

    /// The processes that exited on their own so far.
    pub fn unexpected_exits(&self) -> Vec<(f64, String)> {
        self.unexpected_exits
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// How often each part was started, for the summary.
    pub async fn starts(&self) -> Vec<(&'static str, u32)> {
        let mut out = Vec::new();
        for part in Part::ALL {
            out.push((
                part.name(),
                self.processes[part.index()].lock().await.starts,
            ));
        }
        out
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // kill_on_drop would do it too, but only after this body: stop Moim before its servers.
        for process in &mut self.processes {
            if let Some(child) = process.get_mut().child.as_mut() {
                let _ = child.start_kill();
            }
        }
    }
}

async fn create_database(postgres: &Postgres) -> anyhow::Result<()> {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(&postgres.url("postgres"))
        .await
        .context("connecting to the run's PostgreSQL")?;
    sqlx::query("CREATE DATABASE moim")
        .execute(&mut admin)
        .await
        .context("creating database moim")?;
    Ok(())
}
