//! The state every handler shares.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use commands::Commands;
use domain::Position;
use projections::View;
use sqlx::PgPool;

use crate::auth::Keys;
use crate::error::ApiError;
use crate::extract::Consistency;
use crate::hub::Hub;

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
    /// How long a query waits for a consistency token.
    pub consistency_timeout: Duration,
}

impl FromRef<AppState> for Keys {
    fn from_ref(state: &AppState) -> Self {
        state.keys.clone()
    }
}

impl AppState {
    /// Waits until `view` reflects the caller's consistency token, if they sent one.
    pub async fn caught_up(&self, view: View, token: Option<Consistency>) -> Result<(), ApiError> {
        let Some(Consistency(token)) = token else {
            return Ok(());
        };
        if token == Position::START
            || projections::checkpoint::wait_for(&self.pool, view, token, self.consistency_timeout)
                .await?
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
