//! The state every handler shares.

use std::sync::Arc;
use std::time::Duration;

use commands::rates::Counted;
use commands::{CommandError, Commands};
use domain::Position;
use projections::progress::Progress;
use projections::View;
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::{Access, Keys};
use crate::error::ApiError;
use crate::extract::Consistency;
use crate::hub::Hub;
use crate::oauth::Providers;
use crate::presence::Presence;
use crate::revocations::Revocations;
use crate::security::{self, ClientIp};

/// Shared by all handlers, behind one reference count: axum clones the state for every
/// request, and cloning and dropping each field's own count was 1 % of the machine's samples at
/// load (docs/performance.md).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// The handlers' state.
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What the handlers share.
pub struct Shared {
    /// Runs commands.
    pub commands: Commands,
    /// Read models live here.
    pub pool: PgPool,
    /// Token signing.
    pub keys: Keys,
    /// The sessions whose tokens are refused.
    pub revocations: Arc<Revocations>,
    /// The roles this process runs (for `/health/details`).
    pub roles: crate::startup::Roles,
    /// Photo uploads and their store.
    pub media: Arc<crate::media::Uploads>,
    /// Outside services: game characters, Band imports.
    pub connectors: Arc<crate::connectors::Connectors>,
    /// Social-login providers.
    pub oauth: Arc<Providers>,
    /// What `GET /metrics` renders.
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
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
    /// Sockets one user may have open at once, on every process together.
    pub max_sockets_per_user: usize,
}

impl AppState {
    /// Refuses one more socket for a user who has as many open as allowed (counted across
    /// processes through presence, so two sockets opened at the same moment on two processes
    /// may both pass: the bound is exact to within one socket per process).
    pub fn may_open_socket(&self, user_id: Uuid) -> Result<(), ApiError> {
        if self.presence.sockets_of(user_id) < self.ws.max_sockets_per_user {
            return Ok(());
        }
        Err(ApiError::too_many(
            "too_many_sockets",
            format!(
                "at most {} sockets may be open at once",
                self.ws.max_sockets_per_user
            ),
            5,
        ))
    }

    /// Counts `what` against its rate limit; past it, `429 rate_limited` (and a line in the
    /// security log naming `limit`).
    pub async fn limit(
        &self,
        what: Counted,
        ip: ClientIp,
        user_id: Option<Uuid>,
        limit: &'static str,
    ) -> Result<(), ApiError> {
        self.commands.rate(what).await.inspect_err(|error| {
            if matches!(error, CommandError::RateLimited { .. }) {
                security::rate_limited(ip, user_id, limit);
            }
        })?;
        Ok(())
    }

    /// What a valid access token of a live session says.
    pub fn authenticate(&self, token: &str) -> Result<Access, ApiError> {
        let access = self.keys.verify_access(token)?;
        self.revocations.check(&access)?;
        Ok(access)
    }

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
