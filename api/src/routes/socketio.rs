//! `/socket.io/`: the real-time protocol of `GET /api/v1/ws` over Socket.IO (v4), for the couple
//! and club apps' clients, through `socketioxide`. The event name is the frame type and the
//! first argument its data; a frame about a room or of the user's own has a second argument
//! `{id, room_id, rev, cursor}` (what `resume` takes). Client events (`message.send`,
//! `room.read`, `typing`, `resume`, `auth`, `ping`) are answered through their acknowledgement:
//! the `ack` frame's data, or `{error: <problem>}`.
//!
//! A socket authenticates with the handshake's `auth.token`, or the query's `token`, with or
//! without `Bearer `; a bad one gets `connect_error` with the reason. Behind it is the same
//! [`Live`] as a WebSocket's: the same rooms followed, replays, lag handling and limits.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use chrono::Utc;
use domain::Metadata;
use projections::frames::{ClientFrame, Frame, Problem, Ready, SessionExpired};
use serde_json::{json, Value};
use socketioxide::extract::{AckSender, Event, SocketRef, State, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use socketioxide::SocketIo;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::auth::{bearer, Access};
use crate::client_frames::Turn;
use crate::live::{deadline, Broken, Live, Wire, RESUME_WAIT};
use crate::request_id::{self, RequestId};
use crate::security::ClientIp;
use crate::state::AppState;

/// How many client events may wait for the socket's task; past it, an event is refused.
const PENDING_EVENTS: usize = 32;

/// The Socket.IO layer, serving `/socket.io/`.
pub fn layer(state: AppState) -> SocketIoLayer {
    let max_payload = u64::try_from(state.ws.max_message_bytes).unwrap_or(u64::MAX);
    let (layer, io) = SocketIo::builder()
        .max_payload(max_payload)
        .with_state(state)
        .build_layer();
    io.ns("/", connected.with(authenticated));
    layer
}

/// Why a connection is refused (sent as `connect_error`'s message).
#[derive(Debug)]
struct Refused(&'static str);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// The user and token expiry of a handshake: `auth.token`, else the query's `token`.
fn user_of(state: &AppState, socket: &SocketRef, auth: Option<Value>) -> Result<Access, Refused> {
    let from_auth = auth
        .as_ref()
        .and_then(|a| a.get("token")?.as_str().map(str::to_owned));
    let from_query =
        axum::extract::Query::<HashMap<String, String>>::try_from_uri(&socket.req_parts().uri)
            .ok()
            .and_then(|axum::extract::Query(mut query)| query.remove("token"));
    let token = from_auth
        .or(from_query)
        .ok_or(Refused("send a token in auth.token or ?token="))?;
    let token = bearer(&token).unwrap_or(&token).trim().to_owned();
    let access = state
        .authenticate(&token)
        .map_err(|_| Refused("the token is not valid"))?;
    if access.expires_at <= Utc::now() {
        return Err(Refused("the token has expired"));
    }
    if state.may_open_socket(access.user_id).is_err() {
        return Err(Refused("too many sockets open at once"));
    }
    Ok(access)
}

async fn authenticated(
    socket: SocketRef,
    TryData(auth): TryData<Value>,
    State(state): State<AppState>,
) -> Result<(), Refused> {
    user_of(&state, &socket, auth.ok()).map(|_| ())
}

async fn connected(
    socket: SocketRef,
    TryData(auth): TryData<Value>,
    State(state): State<AppState>,
) {
    let Ok(access) = user_of(&state, &socket, auth.ok()) else {
        let _ = socket.disconnect();
        return;
    };
    let (events, pending) = mpsc::channel(PENDING_EVENTS);
    socket.on_fallback(
        async move |Event(kind): Event, TryData(data): TryData<Value>, ack: AckSender| {
            let data = data.unwrap_or(Value::Null);
            if let Err(mpsc::error::TrySendError::Full((_, _, ack))) =
                events.try_send((kind.to_string(), data, ack))
            {
                let busy = Problem::new(429, "Too Many Requests", "too_many_frames", "slow down");
                let _ = ack.send(&json!({ "error": busy }));
            }
        },
    );
    let gone = CancellationToken::new();
    socket.on_disconnect({
        let gone = gone.clone();
        async move || gone.cancel()
    });
    let id = RequestId::for_socket("sio");
    tokio::spawn(request_id::within(
        id.clone(),
        serve(state, socket, access, id, pending, gone),
    ));
}

/// A client event: its name, data and acknowledgement.
type Pending = (String, Value, AckSender);

async fn serve(
    state: AppState,
    socket: SocketRef,
    mut access: Access,
    id: RequestId,
    mut pending: mpsc::Receiver<Pending>,
    gone: CancellationToken,
) {
    let user_id = access.user_id;
    let ip = ClientIp::of(&socket.req_parts().extensions);
    let mut endings = state.revocations.subscribe();
    let mut wire = SocketIoWire(socket.clone());
    let mut live = match Live::open(state.clone(), user_id).await {
        Ok(live) => live,
        Err(broken) => {
            tracing::warn!(?broken, "could not open the socket's live side");
            let _ = socket.disconnect();
            return;
        }
    };
    if socket.emit("ready", &Ready { user_id }).is_err() {
        live.close();
        return;
    }
    let commands = state
        .commands
        .on_behalf(Metadata::request(Some(user_id), id.as_str().to_owned()));
    let lagged = live.socket.lagged.clone();
    let expiry = tokio::time::sleep_until(deadline(access.expires_at));
    tokio::pin!(expiry);
    let hold = tokio::time::sleep(RESUME_WAIT);
    tokio::pin!(hold);
    let mut started = false;
    let mut typing = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            biased;
            () = gone.cancelled() => break,
            event = pending.recv() => {
                let Some((kind, data, ack)) = event else { break };
                started = true;
                let mut turn = Turn { state: &state, commands: &commands, user_id, ip, access: &mut access };
                let frame = serde_json::from_value::<ClientFrame>(json!({ "type": kind, "data": data }));
                let (reply, renewed) = match frame {
                    Ok(frame) => match turn.answer(&mut live, &mut wire, frame).await {
                        Ok(answered) => answered,
                        Err(broken) => {
                            end(&socket, broken);
                            break;
                        }
                    },
                    Err(error) => {
                        let problem = Problem::new(400, "Bad Request", "bad_frame", error.to_string());
                        (Frame::Error(problem), false)
                    }
                };
                if renewed {
                    expiry.as_mut().reset(deadline(access.expires_at));
                }
                let _ = ack.send(&acknowledgement(reply));
            }
            () = lagged.cancelled() => {
                end(&socket, Broken::Lagged);
                break;
            }
            () = &mut hold, if !started => started = true,
            delivery = live.socket.frames.recv(), if started => {
                let Some(delivery) = delivery else { break };
                if let Err(broken) = live.deliver(&mut wire, delivery).await {
                    end(&socket, broken);
                    break;
                }
            }
            ended = endings.recv() => {
                let ours = ended.map_or(true, |whose| whose == user_id);
                if let Some(ending) = state.revocations.ending(&access).filter(|_| ours) {
                    let frame = ending.frame(access.session_id);
                    let _ = socket.emit(frame.kind(), &acknowledgement(frame));
                    let _ = socket.clone().disconnect();
                    break;
                }
            }
            () = &mut expiry => {
                let _ = socket.emit("session.expired", &SessionExpired { expired_at: access.expires_at });
                let _ = socket.clone().disconnect();
                break;
            }
            _ = typing.tick() => live.lapse_typing().await,
            () = state.shutdown.cancelled() => {
                let _ = socket.clone().disconnect();
                break;
            }
        }
    }
    live.close();
}

/// What a client event's acknowledgement carries: the `ack` frame's data, or the problem.
fn acknowledgement(reply: Frame) -> Value {
    match reply {
        Frame::Error(problem) => json!({ "error": problem }),
        other => serde_json::to_value(&other)
            .ok()
            .and_then(|mut v| v.get_mut("data").map(Value::take))
            .unwrap_or_else(|| json!({})),
    }
}

/// Ends a socket that cannot go on, telling the client why when it can.
fn end(socket: &SocketRef, broken: Broken) {
    match broken {
        Broken::Client => {}
        Broken::Lagged => {
            let _ = socket.emit("lagged", &json!({}));
        }
        Broken::Server(error) => tracing::warn!(?error, "socket.io socket dropped"),
    }
    let _ = socket.clone().disconnect();
}

/// Frames as Socket.IO events: the type as the event, the data as the first argument, and the
/// frame's place (`id`, `room_id`, `rev`, `cursor`) as a second when it has one.
struct SocketIoWire(SocketRef);

impl Wire for SocketIoWire {
    async fn send_text(&mut self, text: Utf8Bytes) -> bool {
        let Ok(mut frame) = serde_json::from_str::<Value>(text.as_str()) else {
            return false;
        };
        let kind = frame["type"].as_str().unwrap_or_default().to_owned();
        let data = frame.get_mut("data").map(Value::take).unwrap_or(json!({}));
        let mut place = serde_json::Map::new();
        for field in ["id", "room_id", "rev", "cursor"] {
            if let Some(value) = frame.get_mut(field).map(Value::take) {
                place.insert(field.to_owned(), value);
            }
        }
        let sent = if place.is_empty() {
            self.0.emit(kind, &data)
        } else {
            self.0.emit(kind, &(data, Value::Object(place)))
        };
        sent.is_ok()
    }
}
