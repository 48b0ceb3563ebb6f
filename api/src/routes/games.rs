//! Games: announce, join or queue, leave, look.

use axum::extract::State;
use chrono::{DateTime, Utc};
use domain::game::Participation;
use domain::values::{GameTitle, MaxParticipants};
use projections::games::{GameView, VIEW};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Written;
use crate::error::ApiError;
use crate::extract::{Actor, AuthUser, Consistency, Json, Path};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateGame {
    title: String,
    starts_at: DateTime<Utc>,
    max_participants: i64,
}

#[derive(Serialize)]
pub struct GameCreated {
    game_id: Uuid,
}

#[derive(Serialize)]
pub struct Joined {
    status: &'static str,
    position: Option<u32>,
}

#[derive(Serialize)]
pub struct Left {
    left: bool,
}

/// `POST /games`.
pub async fn create(
    actor: Actor,
    Json(body): Json<CreateGame>,
) -> Result<Written<GameCreated>, ApiError> {
    let title = GameTitle::parse(&body.title)?;
    let max = MaxParticipants::new(body.max_participants)?;
    let (game_id, position) = actor
        .commands
        .create_game(actor.user_id, title, body.starts_at, max)
        .await?;
    Ok(Written::created(GameCreated { game_id }, position))
}

/// `POST /games/{id}/join`.
pub async fn join(actor: Actor, Path(game_id): Path<Uuid>) -> Result<Written<Joined>, ApiError> {
    let (participation, position) = actor.commands.join_game(game_id, actor.user_id).await?;
    let out = match participation {
        Participation::Joined => Joined {
            status: "joined",
            position: None,
        },
        Participation::Waitlisted { position } => Joined {
            status: "waitlisted",
            position: Some(position),
        },
    };
    Ok(Written::ok(out, position))
}

/// `DELETE /games/{id}/join`.
pub async fn leave(actor: Actor, Path(game_id): Path<Uuid>) -> Result<Written<Left>, ApiError> {
    let position = actor.commands.leave_game(game_id, actor.user_id).await?;
    Ok(Written::ok(Left { left: true }, position))
}

/// `GET /games/{id}`: participants and waitlist in order.
pub async fn show(
    State(state): State<AppState>,
    AuthUser(_): AuthUser,
    Path(game_id): Path<Uuid>,
    consistency: Option<Consistency>,
) -> Result<Json<GameView>, ApiError> {
    state.caught_up(VIEW, consistency).await?;
    projections::games::game(&state.pool, game_id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("game_not_found", "game not found"))
}
