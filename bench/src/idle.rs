//! Idle sockets: what open, authenticated WebSockets that do nothing cost a Moim process in
//! memory, measured on a `moim serve` child (so the bench's own sockets are not counted). The
//! sockets belong to distinct users whose tokens the bench signs with the child's secret, which
//! spares registering (and hashing passwords for) ten thousand users.

use std::time::Duration;

use futures::stream::{self, StreamExt};
use serde::Serialize;
use uuid::Uuid;

use crate::abuse::Child;
use crate::client;
use crate::Options;

/// The idle-socket figures.
#[derive(Debug, Clone, Serialize)]
pub struct Idle {
    /// Sockets held open.
    pub sockets: usize,
    /// The child's RSS before they opened, MiB.
    pub before_mib: f64,
    /// Its RSS with all of them open and settled, MiB.
    pub after_mib: f64,
    /// What one socket costs, KiB.
    pub per_socket_kib: f64,
}

pub async fn run(options: &Options, sockets: usize) -> anyhow::Result<Idle> {
    // Each socket is a file here and one in the child (which inherits the limit), plus slack
    // for their own; the usual soft limit of 1,024 would stop far short.
    let files = u64::try_from(sockets)
        .unwrap_or(u64::MAX)
        .saturating_add(4096);
    let allowed = rlimit::increase_nofile_limit(files)?;
    anyhow::ensure!(
        allowed >= files,
        "the open-file limit is {allowed}; {sockets} sockets need {files} (raise the hard limit)"
    );
    let connections = (sockets + 1000).to_string();
    let child = Child::start_with(options, &[("MOIM_MAX_CONNECTIONS", &connections)]).await?;
    let keys = child.keys();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = child.rss_mib();
    let opened: Vec<anyhow::Result<client::Socket>> = stream::iter(0..sockets)
        .map(|_| {
            let token = keys.access(Uuid::now_v7(), Uuid::now_v7(), 0);
            let url = child.url.clone();
            async move {
                let user = client::User {
                    id: Uuid::nil(),
                    token: token.map_err(|e| anyhow::anyhow!("signing a token: {e:?}"))?,
                };
                client::ws(&url, &user).await
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let open = opened.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = child.rss_mib();
    drop(open);
    child.stop().await;
    Ok(Idle {
        sockets,
        before_mib: before,
        after_mib: after,
        per_socket_kib: (after - before) * 1024.0 / sockets as f64,
    })
}
