//! The WebSocket watcher: one user's socket on api-a (which is never killed), open from before
//! the load starts until after the system settles, recording every frame it receives.
//!
//! It keeps what a client needs to `resume` — each room's highest `rev` and the highest
//! `cursor` — and opens every socket with a `resume`, so what it missed while away is replayed
//! before live frames go on. It reconnects when the socket closes (it does when NATS fails), on
//! purpose after every fault, and once more after the system has settled: live delivery need
//! not survive a fault, as long as the resume replays what it lost, so the check can demand
//! every message exactly once.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::Duration;

use domain::Position;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::clock::{Clock, Outages};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a resume may take to be answered: replaying a few rooms' 1000 changes is quick,
/// so a longer wait means the socket is stuck and is better opened again.
const RESUME_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the resume after settling keeps being tried.
const LAST_RESUME: Duration = Duration::from_secs(30);
/// The pause between two attempts to open a socket.
const RETRY: Duration = Duration::from_millis(200);

/// A `message.sent` frame.
#[derive(Debug, Clone)]
pub struct MessageFrame {
    /// When it arrived (run clock).
    pub at: f64,
    /// `data.message_id`.
    pub message_id: Uuid,
    /// `data.room_id`, which the frame's `room_id` must equal.
    pub room_id: Uuid,
    /// The frame's `rev`.
    pub rev: i64,
}

/// What the watcher saw.
#[derive(Debug, Default)]
pub struct Watched {
    /// Every `message.sent` frame, in arrival order.
    pub messages: Vec<MessageFrame>,
    /// Per room, the `rev` of every frame about it, in arrival order.
    pub revs: HashMap<Uuid, Vec<i64>>,
    /// Frames other than `message.sent` (room changes replayed from the rooms' start, couple, game).
    pub other_frames: u64,
    /// Frames that are not JSON, `message.sent` frames without a message id, room or `rev`, and
    /// frames whose `cursor` does not read as a position.
    pub malformed: Vec<String>,
    /// Times the socket closed under it, with why; each was followed by a resume.
    pub disconnects: Vec<(f64, String)>,
    /// Resumes answered with `resumed`.
    pub resumes: u64,
    /// What a resume could not do, and when: a room (or the feed) answered `recovered: false`,
    /// the answer was not `resumed`, or the last resume never completed.
    pub unresumed: Vec<(f64, String)>,
}

/// The watcher and the socket it has open.
pub struct Watcher {
    base: String,
    token: String,
    clock: Clock,
    socket: Socket,
    /// Per room, the highest `rev` received: `resume`'s `rooms`.
    rooms: BTreeMap<Uuid, i64>,
    /// The highest `cursor` received: `resume`'s `after`.
    after: Option<Position>,
    watched: Watched,
}

impl Watcher {
    /// Opens a socket to `base` (`http://…`) as the holder of `token`, the user of `rooms`, and
    /// resumes those rooms from their start.
    pub async fn start(
        base: String,
        token: String,
        rooms: &[Uuid],
        clock: Clock,
    ) -> anyhow::Result<Self> {
        let socket = connect(&base, &token).await?;
        let mut watcher = Self {
            base,
            token,
            clock,
            socket,
            // Rev 0 replays each room from its start, and gives the server the baseline it
            // needs: it notices a gap only after a rev it has sent, so without one a lost push
            // before the room's first live frame would never be replayed.
            rooms: rooms.iter().map(|&room| (room, 0)).collect(),
            after: None,
            watched: Watched::default(),
        };
        watcher.resume().await?;
        Ok(watcher)
    }

    /// Records frames until `stop`, reopening the socket (and resuming) when it closes and each
    /// time a part `outages` took down is back; then resumes once more and returns what it saw.
    pub async fn watch(mut self, outages: Outages, stop: CancellationToken) -> Watched {
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                // Pushes lost to the fault show only at the room's next frame, or never: the
                // resume fetches them now.
                () = outages.part_back() => {
                    let _ = self.socket.close(None).await;
                }
                frame = next_json(&mut self.socket) => match frame {
                    Ok(frame) => {
                        self.record(&frame);
                        continue;
                    }
                    Err(why) => self.watched.disconnects.push((self.clock.now(), why)),
                },
            }
            if self.reopen(stop.cancelled()).await.is_err() {
                break;
            }
        }
        let _ = self.socket.close(None).await;
        // The system has settled: everything lost on the way is in the store, and this
        // replays it before the tally.
        match self.reopen(tokio::time::sleep(LAST_RESUME)).await {
            Ok(()) => {
                let _ = self.socket.close(None).await;
            }
            Err(why) => self.watched.unresumed.push((
                self.clock.now(),
                format!(
                    "the resume after settling did not complete within {}s: {why}",
                    LAST_RESUME.as_secs()
                ),
            )),
        }
        self.watched
    }

    /// Opens a new socket and resumes on it, retrying until that works or `give_up` resolves
    /// (then the last failure).
    async fn reopen(&mut self, give_up: impl Future<Output = ()>) -> Result<(), String> {
        tokio::pin!(give_up);
        let mut last = "no attempt".to_owned();
        loop {
            let opened = async {
                self.socket = connect(&self.base, &self.token).await?;
                self.resume().await
            };
            tokio::select! {
                () = &mut give_up => return Err(last),
                opened = opened => match opened {
                    Ok(()) => return Ok(()),
                    Err(why) => last = format!("{why:#}"),
                },
            }
            tokio::select! {
                () = &mut give_up => return Err(last),
                () = tokio::time::sleep(RETRY) => {}
            }
        }
    }

    /// Sends `resume` naming every room it knows (and its cursor), records the replayed frames,
    /// and returns once `resumed` answers.
    async fn resume(&mut self) -> anyhow::Result<()> {
        let id = Uuid::new_v4().to_string();
        let named: Vec<Uuid> = self.rooms.keys().copied().collect();
        let feed_named = self.after.is_some();
        let mut data = json!({ "rooms": self.rooms });
        if let Some(after) = self.after {
            data["after"] = after.to_string().into();
        }
        let frame = json!({ "type": "resume", "id": id, "data": data });
        self.socket
            .send(Message::Text(frame.to_string().into()))
            .await?;
        let answer = tokio::time::timeout(RESUME_TIMEOUT, async {
            loop {
                let frame = next_json(&mut self.socket).await?;
                if frame["id"] == id.as_str() {
                    return Ok::<_, String>(frame);
                }
                self.record(&frame);
            }
        })
        .await
        .map_err(|_| anyhow::anyhow!("no answer to resume within {RESUME_TIMEOUT:?}"))?
        .map_err(|why| anyhow::anyhow!("socket closed during a resume: {why}"))?;
        let at = self.clock.now();
        if answer["type"] != "resumed" {
            self.watched
                .unresumed
                .push((at, format!("resume answered {answer}")));
            return Ok(());
        }
        self.watched.resumes += 1;
        let answered = &answer["data"];
        let mut recoveries: Vec<(String, &Value)> = named
            .iter()
            .map(|room| (format!("room {room}"), &answered["rooms"][room.to_string()]))
            .collect();
        if feed_named {
            recoveries.push(("the feed".to_owned(), &answered["feed"]));
        }
        // A room left out of the answer reads as null, and counts as not recovered too.
        for (what, recovery) in recoveries {
            if recovery["recovered"] != true {
                self.watched
                    .unresumed
                    .push((at, format!("resume: {what} answered {recovery}")));
            }
        }
        Ok(())
    }

    fn record(&mut self, frame: &Value) {
        let watched = &mut self.watched;
        if frame["type"] == "unreadable" {
            watched.malformed.push(frame["raw"].to_string());
            return;
        }
        if let Some(cursor) = frame.get("cursor") {
            let Some(cursor) = cursor.as_str().and_then(|c| c.parse::<Position>().ok()) else {
                watched.malformed.push(frame.to_string());
                return;
            };
            self.after = self.after.max(Some(cursor));
        }
        let uuid = |value: &Value| value.as_str()?.parse::<Uuid>().ok();
        let room_id = uuid(&frame["room_id"]);
        let rev = frame["rev"].as_i64();
        if let (Some(room_id), Some(rev)) = (room_id, rev) {
            watched.revs.entry(room_id).or_default().push(rev);
            let highest = self.rooms.entry(room_id).or_default();
            *highest = (*highest).max(rev);
        }
        if frame["type"] != "message.sent" {
            watched.other_frames += 1;
            return;
        }
        let data = &frame["data"];
        match (uuid(&data["message_id"]), uuid(&data["room_id"]), rev) {
            (Some(message_id), Some(in_data), Some(rev)) if room_id == Some(in_data) => {
                watched.messages.push(MessageFrame {
                    at: self.clock.now(),
                    message_id,
                    room_id: in_data,
                    rev,
                });
            }
            _ => watched.malformed.push(frame.to_string()),
        }
    }
}

/// Opens a socket to `base` (`http://…`) as the holder of `token` and waits for `ready`.
async fn connect(base: &str, token: &str) -> anyhow::Result<Socket> {
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
