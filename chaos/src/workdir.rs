//! The run's private directory — PostgreSQL's data, the NATS store, every process's log — and
//! the free ports the run's servers listen on.

use std::fs::OpenOptions;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use uuid::Uuid;

/// A directory under the system's temporary directory, removed on drop unless kept.
pub struct WorkDir {
    path: PathBuf,
    keep: bool,
}

impl WorkDir {
    /// Creates `moim-chaos-<random>` with a `logs/` folder inside.
    pub fn create(keep: bool) -> anyhow::Result<Self> {
        let path = std::env::temp_dir().join(format!("moim-chaos-{}", Uuid::new_v4().simple()));
        std::fs::create_dir(&path).with_context(|| format!("creating {}", path.display()))?;
        // PostgreSQL runs as its own user and must be able to pass through this directory.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        std::fs::create_dir(path.join("logs"))?;
        Ok(Self { path, keep })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the process called `name` logs.
    pub fn log(&self, name: &str) -> PathBuf {
        self.path.join("logs").join(format!("{name}.log"))
    }

    /// Opens `name`'s log for appending, after a line saying why a new section starts: one log
    /// file per process name holds all of its restarts, in order.
    pub fn open_log(&self, name: &str, banner: &str) -> anyhow::Result<std::fs::File> {
        let path = self.log(name);
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        writeln!(file, "===== chaos: {banner} =====")?;
        Ok(file)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("chaos: kept {}", self.path.display());
            return;
        }
        // A process killed a moment ago may still be closing a file in here; one retry is enough.
        if std::fs::remove_dir_all(&self.path).is_err() {
            std::thread::sleep(std::time::Duration::from_millis(300));
            if let Err(error) = std::fs::remove_dir_all(&self.path) {
                eprintln!("chaos: could not remove {}: {error}", self.path.display());
            }
        }
    }
}

/// `n` distinct ports that were free a moment ago. The listeners are held until all are chosen
/// so the system cannot hand out the same port twice.
pub fn free_ports(n: usize) -> anyhow::Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .context("finding free ports")?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect()
}
