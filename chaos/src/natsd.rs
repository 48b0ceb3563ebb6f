//! A NATS server with JetStream of the run's own, killed with SIGKILL and started again on the
//! same port and store directory.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::process::{Child, Command};

use crate::workdir::WorkDir;

const BINARY: &str = "/usr/sbin/nats-server";

/// The run's NATS server.
pub struct NatsServer {
    port: u16,
    store: PathBuf,
    child: Option<Child>,
    starts: u32,
}

impl NatsServer {
    /// A server that will keep its JetStream store in `dir/nats`; not started yet.
    pub fn new(dir: &Path, port: u16) -> Self {
        Self {
            port,
            store: dir.join("nats"),
            child: None,
            starts: 0,
        }
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts the server and waits until it accepts connections.
    pub async fn start(&mut self, dir: &WorkDir) -> anyhow::Result<()> {
        self.starts += 1;
        let log = dir.open_log("nats", &format!("start #{}", self.starts))?;
        let binary = std::env::var("CHAOS_NATS_SERVER").unwrap_or_else(|_| BINARY.into());
        let child = Command::new(&binary)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(&self.store)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {binary}"))?;
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            if tokio::time::Instant::now() > deadline {
                bail!("nats-server did not listen on {} within 30 s", self.port);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// SIGKILL, and waits until the process is gone so its port and store are free.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.start_kill()?;
            child.wait().await?;
        }
        Ok(())
    }
}
