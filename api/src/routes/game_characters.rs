//! Game characters on profiles: link one by its name in the game, unlink it, ask the game's API
//! again, and read anyone's (served from the connector's cache; see `connectors::characters`).

use axum::extract::State;
use commands::rates::Counted;
use connectors::characters::CharacterCard;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Written;
use crate::error::ApiError;
use crate::extract::{Actor, AuthUser, Consistency, Json, Path};
use crate::state::AppState;

/// The longest character name asked for (MapleStory's are 2–12 characters).
const MAX_NAME_CHARS: usize = 30;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkBody {
    character_name: String,
}

#[derive(Serialize)]
pub struct Cards {
    items: Vec<CharacterCard>,
}

#[derive(Serialize)]
pub struct Unlinked {
    game: String,
}

/// `PUT /users/me/game-characters/{game}` `{character_name}`: links the caller's character,
/// replacing one linked before.
pub async fn link(
    State(state): State<AppState>,
    actor: Actor,
    Path(game): Path<String>,
    Json(body): Json<LinkBody>,
) -> Result<Written<CharacterCard>, ApiError> {
    let name = body.character_name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(ApiError::invalid(
            "invalid_character_name",
            format!("character_name must be 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    actor
        .commands
        .rate(Counted::CharacterLookup(actor.user_id))
        .await?;
    let (card, position) = state
        .connectors
        .characters
        .link(&actor.commands, actor.user_id, &game, name)
        .await?;
    Ok(Written::ok(card, position))
}

/// `DELETE /users/me/game-characters/{game}`.
pub async fn unlink(actor: Actor, Path(game): Path<String>) -> Result<Written<Unlinked>, ApiError> {
    let position = actor
        .commands
        .unlink_game_character(actor.user_id, &game)
        .await?;
    Ok(Written::ok(Unlinked { game }, position))
}

/// `POST /users/me/game-characters/{game}/refresh`: asks the game's API now, whatever the
/// copy's age (links and refreshes share one rate per user).
pub async fn refresh(
    State(state): State<AppState>,
    actor: Actor,
    Path(game): Path<String>,
) -> Result<Json<CharacterCard>, ApiError> {
    actor
        .commands
        .rate(Counted::CharacterLookup(actor.user_id))
        .await?;
    let card = state
        .connectors
        .characters
        .refresh(&actor.commands, actor.user_id, &game)
        .await?;
    Ok(Json(card))
}

/// `GET /users/{user_id}/game-characters`: anyone signed in sees anyone's.
pub async fn list(
    State(state): State<AppState>,
    AuthUser(_): AuthUser,
    Path(user_id): Path<Uuid>,
    consistency: Option<Consistency>,
) -> Result<Json<Cards>, ApiError> {
    state
        .caught_up(projections::users::VIEW, consistency)
        .await?;
    if projections::users::profile(&state.pool, user_id)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found("user_not_found", "no such user"));
    }
    let items = state.connectors.characters.of_user(user_id).await?;
    Ok(Json(Cards { items }))
}
