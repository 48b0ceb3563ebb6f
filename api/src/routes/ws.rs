//! `GET /api/v1/ws`: the live channel (the protocol is in `docs/realtime.md`). Frames are
//! `projections::frames::OutFrame`s, JSON `{"type", "id", "room_id"?, "rev"?, "data"}`; the first
//! is `ready`, sent once this process follows the user and their rooms. Client frames
//! (`message.send`, `room.read`, `resume`, `auth`, `ping`) are answered with the same `id`;
//! which room frames a socket gets, and how a resume fills gaps, is `live.rs`.
//!
//! What one socket can make Moim hold is bounded: a client message (fragments included) larger
//! than `MOIM_WS_MAX_MESSAGE_BYTES` closes the socket with 1009 before it is buffered; frames for
//! a socket that cannot keep up queue only so far (then it gets `lagged` and is closed); and the
//! socket lives no longer than its access token — at the token's expiry it gets
//! `session.expired` and is closed, unless the client sent a fresh token in an `auth` frame —
//! nor than its session: when the session ends it gets `session.revoked` (or
//! `account.suspended`) and is closed; a
//! client that stops reading is dropped after [`SEND_TIMEOUT`] instead of holding a task; and the
//! socket keeps its connection's place under the connection cap until it closes.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::Utc;
use domain::Metadata;
use projections::frames::{Frame, InFrame, OutFrame, Problem, Ready, SessionExpired};
use tokio::time::Instant;

use crate::auth::{bearer, Access};
use crate::client_frames::Turn;
use crate::error::ApiError;
use crate::extract::Query;
use crate::live::{deadline, Broken, Live, RESUME_WAIT};
use crate::request_id::{self, RequestId};
use crate::security::ClientIp;
use crate::server::ConnectionSlot;
use crate::state::AppState;

/// The longest one frame may take to reach a client that has stopped reading.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// The read and write buffer of one socket.
const SOCKET_BUFFER: usize = 4 * 1024;

/// Close codes (RFC 6455).
mod close {
    /// The client sent a message too big to process.
    pub const TOO_BIG: u16 = 1009;
    /// The socket's session ended (its token expired).
    pub const POLICY: u16 = 1008;
    /// The server is shutting down.
    pub const GOING_AWAY: u16 = 1001;
    /// The socket fell behind, or the server failed: reconnect and `resume`.
    pub const TRY_AGAIN: u16 = 1013;
}

/// Upgrades after checking the access token from `Authorization` or `?access_token=`
/// (browsers cannot set headers on a WebSocket).
#[utoipa::path(
    get,
    path = "/ws",
    operation_id = "open_websocket",
    tag = "live",
    summary = "Open the live channel (WebSocket; frames in the AsyncAPI document)",
    description = "A WebSocket upgrade (`Connection: Upgrade`, `Upgrade: websocket`). The access \
        token comes from `Authorization: Bearer <token>` or, for browsers, which cannot set \
        headers on a WebSocket, from `?access_token=`. The first frame is `ready`; the socket \
        lives no longer than its token (unless an `auth` frame renews it) or its session.",
    params(
        ("access_token" = Option<String>, Query, description = "The access token, instead of the `Authorization` header"),
    ),
    responses(
        (status = 101, description = "Switching protocols: the socket is open"),
        (status = 400, description = "`websocket_expected`: not a WebSocket upgrade request", body = Problem),
        (status = 401, description = "`missing_token`: neither a bearer header nor `access_token`", body = Problem),
        (status = 429, description = "`too_many_sockets`: the user has as many sockets open as allowed", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    ip: ClientIp,
    Query(query): Query<HashMap<String, String>>,
    slot: Option<Extension<ConnectionSlot>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(bearer)
        .map(str::to_owned)
        .or_else(|| query.get("access_token").cloned())
        .ok_or_else(|| {
            ApiError::unauthorized("missing_token", "send a Bearer token or ?access_token=")
        })?;
    let access = state.authenticate(token.trim())?;
    state.may_open_socket(access.user_id)?;
    // The token check allows a little clock skew; a socket never outlives its token.
    if access.expires_at <= Utc::now() {
        return Err(ApiError::unauthorized(
            "token_expired",
            "the token has expired",
        ));
    }
    let upgrade =
        upgrade.map_err(|r| ApiError::bad_request("websocket_expected", r.body_text()))?;
    let limit = state.ws.max_message_bytes;
    Ok(upgrade
        // The default buffers (128 KiB each way, per socket) would make an idle socket cost
        // more than everything else it holds; frames are small, and larger ones still pass.
        .read_buffer_size(SOCKET_BUFFER)
        .write_buffer_size(SOCKET_BUFFER)
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| async move {
            let id = RequestId::for_socket("ws");
            request_id::within(id.clone(), serve(state, access, ip, id, socket)).await;
            drop(slot);
        }))
}

/// Sends one message, giving up on a client that has not taken it within [`SEND_TIMEOUT`].
pub(crate) async fn send_message(socket: &mut WebSocket, message: Message) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, socket.send(message)).await,
        Ok(Ok(()))
    )
}

async fn send(socket: &mut WebSocket, id: Option<String>, frame: Frame) -> bool {
    let out = OutFrame {
        id,
        room_id: None,
        rev: None,
        cursor: None,
        frame,
    };
    let Ok(text) = serde_json::to_string(&out) else {
        return false;
    };
    send_message(socket, Message::Text(text.into())).await
}

/// Closes with `code`, then reads (and drops) what the client still sends until it answers the
/// close, for at most a second: closing a TCP connection with unread input resets it, and the
/// client could lose the close frame that says why. (After a read error the stream has ended
/// and there is nothing more to read.)
async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    if !send_message(socket, Message::Close(Some(frame))).await {
        return;
    }
    let drain = async {
        while let Some(incoming) = socket.recv().await {
            match incoming {
                Ok(Message::Close(_)) => break,
                Err(error) if !is_too_big(&error) => break,
                _ => {}
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}

async fn serve(
    state: AppState,
    mut access: Access,
    ip: ClientIp,
    id: RequestId,
    mut socket: WebSocket,
) {
    let user_id = access.user_id;
    let mut endings = state.revocations.subscribe();
    let mut live = match Live::open(state.clone(), user_id).await {
        Ok(live) => live,
        Err(broken) => {
            tracing::warn!(?broken, "could not open the socket's live side");
            let _ = socket.send(Message::Close(None)).await;
            return;
        }
    };
    if !send(&mut socket, None, Frame::Ready(Ready { user_id })).await {
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
    let mut keepalive = tokio::time::interval(state.ws.ping_every);
    let mut typing = tokio::time::interval(Duration::from_secs(1));
    let mut heard = Instant::now();
    loop {
        tokio::select! {
            biased;
            incoming = socket.recv() => {
                heard = Instant::now();
                match incoming {
                    Some(Ok(Message::Text(text))) => {
                        started = true;
                        let mut turn = Turn { state: &state, commands: &commands, user_id, ip, access: &mut access };
                        match answer(&mut turn, &mut live, &mut socket, &text).await {
                            Ok(renewed) => {
                                if renewed {
                                    expiry.as_mut().reset(deadline(access.expires_at));
                                }
                            }
                            Err(broken) => {
                                end(&mut socket, broken).await;
                                break;
                            }
                        }
                    }
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Ok(_)) => {}
                    Some(Err(error)) => {
                        if is_too_big(&error) {
                            close(&mut socket, close::TOO_BIG, "message too big").await;
                        }
                        break;
                    }
                }
            },
            () = lagged.cancelled() => {
                end(&mut socket, Broken::Lagged).await;
                break;
            }
            () = &mut hold, if !started => started = true,
            delivery = live.socket.frames.recv(), if started => {
                let Some(delivery) = delivery else { break };
                if let Err(broken) = live.deliver(&mut socket, delivery).await {
                    end(&mut socket, broken).await;
                    break;
                }
            },
            ended = endings.recv() => {
                let ours = ended.map_or(true, |whose| whose == user_id);
                if let Some(ending) = state.revocations.ending(&access).filter(|_| ours) {
                    send(&mut socket, None, ending.frame(access.session_id)).await;
                    close(&mut socket, close::POLICY, "session ended").await;
                    break;
                }
            }
            () = &mut expiry => {
                let expired = Frame::SessionExpired(SessionExpired { expired_at: access.expires_at });
                send(&mut socket, None, expired).await;
                close(&mut socket, close::POLICY, "session expired").await;
                break;
            }
            _ = keepalive.tick() => {
                // Two and a half pings without a word (a pong is one): the client is gone.
                if heard.elapsed() > state.ws.ping_every * 5 / 2 {
                    close(&mut socket, close::POLICY, "no heartbeat").await;
                    break;
                }
                if !send_message(&mut socket, Message::Ping(Default::default())).await {
                    break;
                }
            }
            _ = typing.tick() => live.lapse_typing().await,
            () = state.shutdown.cancelled() => {
                close(&mut socket, close::GOING_AWAY, "server shutting down").await;
                break;
            }
        }
    }
    live.close();
}

/// Closes a socket that cannot go on, telling the client why when it can.
async fn end(socket: &mut WebSocket, broken: Broken) {
    match broken {
        Broken::Client => {}
        Broken::Lagged => {
            send(socket, None, Frame::Lagged).await;
            close(
                socket,
                close::TRY_AGAIN,
                "too far behind: reconnect and resume",
            )
            .await;
        }
        Broken::Server(error) => {
            tracing::warn!(?error, "socket dropped");
            close(socket, close::TRY_AGAIN, "server error").await;
        }
    }
}

/// Answers one text message from the client: a client frame, or garbage (an `error` frame,
/// with the id when one can be read). True when it renewed the socket's token.
async fn answer(
    turn: &mut Turn<'_>,
    live: &mut Live,
    socket: &mut WebSocket,
    text: &str,
) -> Result<bool, Broken> {
    let (id, reply, renewed) = match serde_json::from_str::<InFrame>(text) {
        Ok(frame) => {
            let (reply, renewed) = turn.answer(live, socket, frame.frame).await?;
            (frame.id, reply, renewed)
        }
        Err(error) => {
            // Salvage the id of a malformed frame when there is one, so the client can match.
            let id = serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .and_then(|v| v.get("id")?.as_str().map(str::to_owned));
            let problem = Problem::new(400, "Bad Request", "bad_frame", error.to_string());
            (id, Frame::Error(problem), false)
        }
    };
    if send(socket, id, reply).await {
        Ok(renewed)
    } else {
        Err(Broken::Client)
    }
}

/// Whether the socket failed because the client's message was over the size limit.
fn is_too_big(error: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(e) = cause {
        if matches!(e.downcast_ref(), Some(tungstenite::Error::Capacity(_))) {
            return true;
        }
        cause = e.source();
    }
    false
}
