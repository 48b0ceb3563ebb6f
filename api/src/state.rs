//! The state every handler shares.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use commands::Commands;
use domain::Position;
use projections::progress::Progress;
use projections::View;
use sqlx::PgPool;

use crate::auth::Keys;
use crate::error::ApiError;
use crate::extract::Consistency;
use crate::hub::Hub;
use crate::presence::Presence;

/// Shared by all handlers; every field is cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Runs commands.
    pub commands: Commands,
    /// Read models live here.
    pub pool: PgPool,
    /// Token signing.
    pub keys: Keys,
    /// Live connections and their NATS subscriptions.
    pub hub: Arc<Hub>,
    /// Who is online, on every process.
    pub presence: Arc<Presence>,
    /// How long a query waits for a consistency token.
    pub consistency_timeout: Duration,
    /// The read models' progress, for those waits.
    pub progress: Arc<Progress>,
    /// What one WebSocket may hold.
    pub ws: WsLimits,
    /// The longest a chat search may run.
    pub search_timeout: Duration,
    /// Cancelled when the process shuts down (open sockets close with 1001).
    pub shutdown: tokio_util::sync::CancellationToken,
}

/// Bounds on one WebSocket.
#[derive(Debug, Clone, Copy)]
pub struct WsLimits {
    /// Largest message a client may send.
    pub max_message_bytes: usize,
    /// The most changes of one room a `resume` replays.
    pub resume_window: u32,
    /// How often the server pings; a client silent for 2.5 times this is dropped.
    pub ping_every: Duration,
}

impl FromRef<AppState> for Keys {
    fn from_ref(state: &AppState) -> Self {
        state.keys.clone()
    }
}

impl AppState {
    /// Waits until `view` reflects the caller's consistency token, if they sent one. A token
    /// beyond anything committed is refused at once: no view will ever reach it.
    pub async fn caught_up(&self, view: View, token: Option<Consistency>) -> Result<(), ApiError> {
        let Some(Consistency(token)) = token else {
            return Ok(());
        };
        if token == Position::START {
            return Ok(());
        }
        if !self.progress.committed(token).await? {
            return Err(ApiError::bad_request(
                "invalid_consistency_token",
                "this consistency token names nothing Moim has written",
            ));
        }
        if self
            .progress
            .wait_for(view, token, self.consistency_timeout)
            .await
        {
            return Ok(());
        }
        Err(ApiError::unavailable(
            "not_caught_up",
            format!("the {} view has not reached {token} yet", view.name()),
            1,
        ))
    }
}
