//! The HTTP server: hyper's HTTP/1 connection loop with the limits a client must not be able to
//! lift. A connection that has not sent its request headers within `header_timeout` is closed
//! (hyper's header-read timeout, which also closes an idle keep-alive connection: one waiting for
//! its next request is waiting for headers); at most `max_connections` are open at once, and one
//! past that gets a `503` problem and is closed; every request knows its peer address.
//!
//! `axum::serve` offers none of these knobs, hence this loop instead of it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// What bounds the server's connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Time to send the request headers (and the longest a keep-alive connection may idle).
    pub header_timeout: Duration,
    /// Open connections at most.
    pub max_connections: usize,
}

/// Serves `app` on `listener` until `stop` is cancelled, then lets open requests finish (for up
/// to `drain`).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    stop: CancellationToken,
    drain: Duration,
) {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    loop {
        let (stream, peer) = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, most likely: back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            tokio::spawn(refuse(stream, peer));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone().layer(axum::middleware::map_request(
            move |mut request: axum::extract::Request| async move {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            },
        )));
        let connection = http
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = stop.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(permit);
        });
    }
    // Every permit back means every connection has finished.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(drain, open.acquire_many(all)).await;
}

/// Answers a connection over the cap with a `503` problem and closes it.
async fn refuse(mut stream: TcpStream, peer: SocketAddr) {
    tracing::warn!(target: "security", event = "connection_refused", ip = %peer.ip(),
        "too many open connections");
    let body = r#"{"type":"https://moim.dev/problems/overloaded","title":"Service Unavailable","status":503,"detail":"too many open connections; try again","code":"overloaded"}"#;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(answer.as_bytes())).await;
    let _ = stream.shutdown().await;
}
