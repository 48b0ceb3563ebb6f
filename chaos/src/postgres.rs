//! A PostgreSQL cluster of the run's own: `initdb` into the work directory, started with
//! `pg_ctl` on a port nobody else uses, and stopped the way a crash stops it (`-m immediate`:
//! no checkpoint, crash recovery on the next start).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{bail, Context};
use tokio::process::Command;

/// The run's PostgreSQL.
pub struct Postgres {
    bin: PathBuf,
    root: PathBuf,
    port: u16,
    /// initdb refuses to run as root, so as root every command runs as the `postgres` user.
    as_postgres_user: bool,
}

impl Postgres {
    /// Creates an empty cluster under `dir/postgres` that will listen on `port`.
    pub async fn init(dir: &Path, port: u16) -> anyhow::Result<Self> {
        let as_postgres_user = output("id", &["-u"]).await?.trim() == "0";
        let pg = Self {
            bin: bin_dir()?,
            root: dir.join("postgres"),
            port,
            as_postgres_user,
        };
        std::fs::create_dir_all(pg.root.join("sock"))?;
        if as_postgres_user {
            let root = pg.root.to_string_lossy().into_owned();
            output("chown", &["-R", "postgres:postgres", &root]).await?;
        }
        let data = pg.data().to_string_lossy().into_owned();
        let args = [
            "-D",
            &data,
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        ];
        pg.run("initdb", &args).await.context("initdb")?;
        Ok(pg)
    }

    fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    /// The server's log file.
    pub fn log(&self) -> PathBuf {
        self.root.join("postgres.log")
    }

    /// A connection URL for database `db`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Starts the server and waits until it accepts connections (after crash recovery).
    pub async fn start(&self) -> anyhow::Result<()> {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c max_connections=200",
            self.port,
            self.root.join("sock").display()
        );
        let data = self.data().to_string_lossy().into_owned();
        let log = self.log().to_string_lossy().into_owned();
        let args = [
            "-D", &data, "-l", &log, "-o", &options, "-w", "-t", "120", "start",
        ];
        self.run("pg_ctl", &args).await.context("pg_ctl start")
    }

    /// Stops the server at once, as a crash would: running transactions are cut off.
    pub async fn crash(&self) -> anyhow::Result<()> {
        let data = self.data().to_string_lossy().into_owned();
        let args = ["-D", &data, "-m", "immediate", "-w", "stop"];
        self.run("pg_ctl", &args).await.context("pg_ctl stop")
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        // The postgres user may not be allowed into the caller's working directory.
        command.current_dir(&self.root);
        command
    }

    async fn run(&self, program: &str, args: &[&str]) -> anyhow::Result<()> {
        let out = self
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await
            .with_context(|| format!("running {program}"))?;
        if !out.status.success() {
            bail!(
                "{program} failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // Drop cannot await; a blocking pg_ctl is fine at the very end of the run.
        let mut command = if self.as_postgres_user {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"));
            c
        } else {
            std::process::Command::new(self.bin.join("pg_ctl"))
        };
        let _ = command
            .current_dir(&self.root)
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// PostgreSQL's programs: the newest `/usr/lib/postgresql/<version>/bin` (Debian's layout).
fn bin_dir() -> anyhow::Result<PathBuf> {
    let base = Path::new("/usr/lib/postgresql");
    let newest = std::fs::read_dir(base)
        .with_context(|| format!("looking for PostgreSQL in {}", base.display()))?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .max()
        .with_context(|| format!("no PostgreSQL version under {}", base.display()))?;
    Ok(base.join(newest.to_string()).join("bin"))
}

async fn output(program: &str, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .await
        .with_context(|| format!("running {program}"))?;
    if !out.status.success() {
        bail!("{program} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
