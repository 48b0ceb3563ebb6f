//! `GET /api/v1/ws`: the live channel. Frames are `projections::frames::OutFrame`s, JSON
//! `{"type": "...", "id": "...", "data": {...}}`; the first is `ready`, sent once this process is
//! subscribed for the user, so nothing after it is missed.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use projections::frames::{Frame, OutFrame, Ready};
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use crate::auth::bearer;
use crate::error::ApiError;
use crate::extract::Query;
use crate::state::AppState;

/// Upgrades after checking the access token from `Authorization` or `?access_token=`
/// (browsers cannot set headers on a WebSocket).
pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
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
    let user_id = state.keys.verify_access(token.trim())?;
    let upgrade =
        upgrade.map_err(|r| ApiError::bad_request("websocket_expected", r.body_text()))?;
    Ok(upgrade.on_upgrade(move |socket| serve(state, user_id, socket)))
}

async fn serve(state: AppState, user_id: Uuid, mut socket: WebSocket) {
    let mut connection = match state.hub.connect(user_id).await {
        Ok(connection) => connection,
        Err(error) => {
            tracing::warn!(%error, "could not subscribe for pushes");
            let _ = socket.send(Message::Close(None)).await;
            return;
        }
    };
    let ready = OutFrame {
        id: None,
        frame: Frame::Ready(Ready { user_id }),
    };
    let Ok(ready) = serde_json::to_string(&ready) else {
        return;
    };
    if socket.send(Message::Text(ready.into())).await.is_err() {
        return;
    }
    let mut keepalive = tokio::time::interval(Duration::from_secs(30));
    loop {
        tokio::select! {
            frame = connection.frames.recv() => match frame {
                Ok(frame) => {
                    if socket.send(Message::Text(Utf8Bytes::from(frame.as_ref()))).await.is_err() {
                        break;
                    }
                }
                // Too slow to keep up: close, so the client reconnects and reads history.
                Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => break,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            _ = keepalive.tick() => {
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
            }
        }
    }
}
