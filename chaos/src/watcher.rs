//! The WebSocket watcher: one user's socket on api-a (which is never killed), open from before
//! the load starts until after the system settles, recording every frame it receives. If the
//! socket closes it is recorded (the checks count it) and opened again.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::clock::Clock;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A `message.sent` frame.
#[derive(Debug, Clone)]
pub struct MessageFrame {
    /// When it arrived (run clock).
    pub at: f64,
    /// `data.message_id`.
    pub message_id: Uuid,
    /// `data.room_id`.
    pub room_id: Uuid,
}

/// What the watcher saw.
#[derive(Debug, Default)]
pub struct Watched {
    /// Every `message.sent` frame, in arrival order.
    pub messages: Vec<MessageFrame>,
    /// Frames of other types (couple, game).
    pub other_frames: u64,
    /// Frames that are not JSON, or `message.sent` frames without a message or room id.
    pub malformed: Vec<String>,
    /// Times the socket closed under it, with why.
    pub disconnects: Vec<(f64, String)>,
}

/// Opens a socket to `base` (`http://…`) as the holder of `token` and waits for `ready`.
pub async fn connect(base: &str, token: &str) -> anyhow::Result<Socket> {
    let url = format!("{}/api/v1/ws", base.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    let ready = tokio::time::timeout(Duration::from_secs(10), next_json(&mut socket))
        .await
        .map_err(|_| anyhow::anyhow!("no ready frame within 10 s"))?;
    match ready {
        Ok(frame) if frame["type"] == "ready" => Ok(socket),
        Ok(frame) => anyhow::bail!("first frame was not ready: {frame}"),
        Err(why) => anyhow::bail!("socket closed before ready: {why}"),
    }
}

/// Records frames from `socket` until `stop`; reconnects (and records it) if the socket closes.
pub async fn watch(
    mut socket: Socket,
    base: String,
    token: String,
    clock: Clock,
    stop: CancellationToken,
) -> Watched {
    let mut watched = Watched::default();
    loop {
        let frame = tokio::select! {
            () = stop.cancelled() => break,
            frame = next_json(&mut socket) => frame,
        };
        match frame {
            Ok(frame) => record(&mut watched, &frame, clock.now()),
            Err(why) => {
                watched.disconnects.push((clock.now(), why));
                socket = loop {
                    if stop.is_cancelled() {
                        return watched;
                    }
                    match connect(&base, &token).await {
                        Ok(socket) => break socket,
                        Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                    }
                };
            }
        }
    }
    let _ = socket.close(None).await;
    watched
}

fn record(watched: &mut Watched, frame: &Value, at: f64) {
    if frame["type"] == "unreadable" {
        watched.malformed.push(frame["raw"].to_string());
        return;
    }
    if frame["type"] != "message.sent" {
        watched.other_frames += 1;
        return;
    }
    // Deduplicated by the message id, unique per message; a push id would do as well.
    let id = |field: &str| frame["data"][field].as_str()?.parse::<Uuid>().ok();
    match (id("message_id"), id("room_id")) {
        (Some(message_id), Some(room_id)) => watched.messages.push(MessageFrame {
            at,
            message_id,
            room_id,
        }),
        _ => watched.malformed.push(frame.to_string()),
    }
}

/// The next JSON text frame; an error says why the socket ended.
async fn next_json(socket: &mut Socket) -> Result<Value, String> {
    loop {
        match socket.next().await {
            None => return Err("socket ended".into()),
            Some(Err(error)) => return Err(error.to_string()),
            Some(Ok(Message::Text(text))) => {
                // An unreadable frame is recorded as malformed, not taken for a closed socket.
                return Ok(serde_json::from_str(text.as_str()).unwrap_or_else(
                    |_| serde_json::json!({ "type": "unreadable", "raw": text.as_str() }),
                ));
            }
            Some(Ok(Message::Ping(payload))) => {
                let _ = socket.send(Message::Pong(payload)).await;
            }
            Some(Ok(Message::Close(frame))) => return Err(format!("closed by server: {frame:?}")),
            Some(Ok(_)) => {}
        }
    }
}
