//! The HTTP server: hyper's HTTP/1 connection loop with the limits a client must not be able to
//! lift. A connection that has not sent its request headers within `header_timeout` is closed
//! (hyper's header-read timeout, which also closes an idle keep-alive connection: one waiting for
//! its next request is waiting for headers); at most `max_connections` are open at once, and one
//! past that gets a `503` problem and is closed; every request knows its peer address. A
//! connection upgraded to a WebSocket keeps its place until the socket closes: the WebSocket
//! handler holds the [`ConnectionSlot`] it finds on the request.
//!
//! `axum::serve` offers none of these knobs, hence this loop instead of it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

/// What bounds the server's connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Time to send the request headers (and the longest a keep-alive connection may idle).
    pub header_timeout: Duration,
    /// Open connections at most.
    pub max_connections: usize,
}

/// A connection's place under `max_connections`, on every request of that connection. It is
/// given back when the last holder (the connection, or the WebSocket it became) lets go.
#[derive(Clone)]
pub struct ConnectionSlot {
    _permit: Arc<OwnedSemaphorePermit>,
}

/// Serves `app` on `listener` until `stop` is cancelled, then lets open connections finish (for
/// up to `drain`).
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
        let slot = ConnectionSlot {
            _permit: Arc::new(permit),
        };
        let _ = stream.set_nodelay(true);
        let tagged = slot.clone();
        let service = TowerToHyperService::new(app.clone().layer(axum::middleware::map_request(
            move |mut request: Request| {
                let slot = tagged.clone();
                async move {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    request.extensions_mut().insert(slot);
                    request
                }
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
            drop(slot);
        });
    }
    // Stop accepting: new connections are refused at once instead of waiting in the backlog.
    drop(listener);
    // Every permit back means every connection (and socket) has finished.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(drain, open.acquire_many(all)).await;
}

/// Answers a connection over the cap with a `503` problem and closes it: after reading its
/// request head (briefly, and only so far), since an HTTP client does not expect an answer before
/// it has asked, and before closing reads what else it sent, since closing with unread input
/// resets the connection and the client could lose the answer.
async fn refuse(mut stream: TcpStream, peer: SocketAddr) {
    tracing::warn!(target: "security", event = "connection_refused", ip = %peer.ip(),
        "too many open connections");
    let mut head = Vec::with_capacity(1024);
    let read_head = async {
        let mut buf = [0u8; 1024];
        while head.len() < 8 * 1024 && !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), read_head).await;
    let body = r#"{"type":"https://moim.dev/problems/overloaded","title":"Service Unavailable","status":503,"detail":"too many open connections; try again","code":"overloaded"}"#;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(answer.as_bytes())).await;
    let _ = stream.shutdown().await;
    let drain = async {
        let mut sink = [0u8; 4096];
        let mut left = 64 * 1024usize;
        while left > 0 {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}
