//! `GET /api/v1/ws`: the live channel. Frames are `projections::frames::OutFrame`s, JSON
//! `{"type": "...", "id": "...", "data": {...}}`; the first is `ready`, sent once this process is
//! subscribed for the user, so nothing after it is missed.
//!
//! What one socket can make Moim hold is bounded: a client message (fragments included) larger
//! than `MOIM_WS_MAX_MESSAGE_BYTES` closes the socket with 1009 before it is buffered; frames for
//! a socket that cannot keep up queue only so far (then it is closed, see `hub.rs`); and the
//! socket lives no longer than its access token — at the token's expiry it gets
//! `session.expired` and is closed, unless the client sent a fresh token in an `auth` frame; a
//! client that stops reading is dropped after [`SEND_TIMEOUT`] instead of holding a task; and the
//! socket keeps its connection's place under the connection cap until it closes.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use projections::frames::{
    Ack, ClientFrame, Frame, InFrame, OutFrame, Problem, Ready, SessionExpired,
};
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use crate::auth::bearer;
use crate::error::ApiError;
use crate::extract::Query;
use crate::server::ConnectionSlot;
use crate::state::AppState;

/// The longest one frame may take to reach a client that has stopped reading.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Close codes (RFC 6455).
mod close {
    /// The client sent a message too big to process.
    pub const TOO_BIG: u16 = 1009;
    /// The socket's session ended (its token expired).
    pub const POLICY: u16 = 1008;
    /// The server is shutting down.
    pub const GOING_AWAY: u16 = 1001;
}

/// Upgrades after checking the access token from `Authorization` or `?access_token=`
/// (browsers cannot set headers on a WebSocket).
pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
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
    let (user_id, expires_at) = state.keys.verify_access_until(token.trim())?;
    // The token check allows a little clock skew; a socket never outlives its token.
    if expires_at <= Utc::now() {
        return Err(ApiError::unauthorized(
            "token_expired",
            "the token has expired",
        ));
    }
    let upgrade =
        upgrade.map_err(|r| ApiError::bad_request("websocket_expected", r.body_text()))?;
    let limit = state.ws_max_message_bytes;
    Ok(upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| async move {
            serve(state, user_id, expires_at, socket).await;
            drop(slot);
        }))
}

/// Sends one message, giving up on a client that has not taken it within [`SEND_TIMEOUT`].
async fn send_message(socket: &mut WebSocket, message: Message) -> bool {
    matches!(
        tokio::time::timeout(SEND_TIMEOUT, socket.send(message)).await,
        Ok(Ok(()))
    )
}

async fn send(socket: &mut WebSocket, id: Option<String>, frame: Frame) -> bool {
    let Ok(text) = serde_json::to_string(&OutFrame { id, frame }) else {
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

/// When `expires_at` comes, on tokio's clock.
fn deadline(expires_at: DateTime<Utc>) -> tokio::time::Instant {
    let left = (expires_at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
    tokio::time::Instant::now() + left
}

async fn serve(
    state: AppState,
    user_id: Uuid,
    mut expires_at: DateTime<Utc>,
    mut socket: WebSocket,
) {
    let mut connection = match state.hub.connect(user_id).await {
        Ok(connection) => connection,
        Err(error) => {
            tracing::warn!(%error, "could not subscribe for pushes");
            let _ = socket.send(Message::Close(None)).await;
            return;
        }
    };
    if !send(&mut socket, None, Frame::Ready(Ready { user_id })).await {
        return;
    }
    let expiry = tokio::time::sleep_until(deadline(expires_at));
    tokio::pin!(expiry);
    let mut keepalive = tokio::time::interval(Duration::from_secs(30));
    loop {
        tokio::select! {
            frame = connection.frames.recv() => match frame {
                Ok(frame) => {
                    if !send_message(&mut socket, Message::Text(Utf8Bytes::from(frame.as_ref()))).await {
                        break;
                    }
                }
                // Too slow to keep up: close, so the client reconnects and reads history.
                Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => break,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let (id, answer) = answer(&state, user_id, &mut expires_at, &text);
                    if matches!(answer, Frame::Ack(Ack { expires_at: Some(_) })) {
                        expiry.as_mut().reset(deadline(expires_at));
                    }
                    if !send(&mut socket, id, answer).await {
                        break;
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
            },
            () = &mut expiry => {
                let expired = Frame::SessionExpired(SessionExpired { expired_at: expires_at });
                send(&mut socket, None, expired).await;
                close(&mut socket, close::POLICY, "session expired").await;
                break;
            }
            _ = keepalive.tick() => {
                if !send_message(&mut socket, Message::Ping(Default::default())).await {
                    break;
                }
            }
            () = state.shutdown.cancelled() => {
                close(&mut socket, close::GOING_AWAY, "server shutting down").await;
                break;
            }
        }
    }
}

/// The answer to one client frame, and the id it answers.
fn answer(
    state: &AppState,
    user_id: Uuid,
    expires_at: &mut DateTime<Utc>,
    text: &str,
) -> (Option<String>, Frame) {
    let frame = match serde_json::from_str::<InFrame>(text) {
        Ok(frame) => frame,
        Err(error) => {
            // Salvage the id of a malformed frame when there is one, so the client can match.
            let id = serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .and_then(|v| v.get("id")?.as_str().map(str::to_owned));
            let problem = Problem::new(400, "Bad Request", "bad_frame", error.to_string());
            return (id, Frame::Error(problem));
        }
    };
    let reply = match frame.frame {
        ClientFrame::Ping => Frame::Pong,
        ClientFrame::Auth(auth) => match state.keys.verify_access_until(&auth.access_token) {
            // The token check allows clock skew; a token already past its expiry renews nothing.
            Ok((_, until)) if until <= Utc::now() => Frame::Error(
                ApiError::unauthorized("token_expired", "the token has expired").problem(),
            ),
            Ok((owner, until)) if owner == user_id => {
                *expires_at = until;
                Frame::Ack(Ack {
                    expires_at: Some(until),
                })
            }
            Ok(_) => Frame::Error(Problem::new(
                StatusCode::FORBIDDEN.as_u16(),
                "Forbidden",
                "wrong_user",
                "the token belongs to another user",
            )),
            Err(error) => Frame::Error(error.problem()),
        },
    };
    (frame.id, reply)
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
