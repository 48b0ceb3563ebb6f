//! Game characters on profiles: link one by its name in the game, unlink it, ask the game's API
//! again, and read anyone's (served from the connector's cache; see `connectors::characters`).

use axum::extract::State;
use commands::rates::Counted;
use connectors::characters::CharacterCard;
use projections::frames::Problem;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::Written;
use crate::error::ApiError;
use crate::extract::{Actor, AuthUser, Consistency, Json, Path};
use crate::security::ClientIp;
use crate::state::AppState;

/// The longest character name asked for (MapleStory's are 2–12 characters).
const MAX_NAME_CHARS: usize = 30;

/// The character to link.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkBody {
    /// Its name in the game (1 to 30 characters).
    #[schema(min_length = 1, max_length = 30)]
    character_name: String,
}

/// A user's linked characters.
#[derive(Serialize, ToSchema)]
pub struct Cards {
    items: Vec<CharacterCard>,
}

/// The game whose character was unlinked.
#[derive(Serialize, ToSchema)]
pub struct Unlinked {
    game: String,
}

/// `PUT /users/me/game-characters/{game}` `{character_name}`: links the caller's character,
/// replacing one linked before.
#[utoipa::path(
    put,
    path = "/users/me/game-characters/{game}",
    operation_id = "link_game_character",
    tag = "users",
    summary = "Link the caller's character in a game",
    params(("game" = String, Path, description = "The game: `maplestory`")),
    request_body = LinkBody,
    responses(
        (status = 200, description = "Linked: the character's card", body = Written<CharacterCard>),
        (status = 404, description = "`game_not_supported`, `character_not_found`", body = Problem),
        (status = 422, description = "`invalid_character_name`", body = Problem),
        (status = 429, description = "`rate_limited`: lookups per hour used up", body = Problem),
        (status = 502, description = "`upstream_malformed`: the game's API answered nonsense", body = Problem),
        (status = 503, description = "`upstream_unavailable`, `connector_not_configured`", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn link(
    State(state): State<AppState>,
    actor: Actor,
    ip: ClientIp,
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
    count_lookup(&state, &actor, ip).await?;
    let (card, position) = state
        .connectors
        .characters
        .link(&actor.commands, actor.user_id, &game, name)
        .await?;
    Ok(Written::ok(card, position))
}

/// `DELETE /users/me/game-characters/{game}`.
#[utoipa::path(
    delete,
    path = "/users/me/game-characters/{game}",
    operation_id = "unlink_game_character",
    tag = "users",
    summary = "Unlink the caller's character in a game",
    params(("game" = String, Path, description = "The game: `maplestory`")),
    responses(
        (status = 200, description = "Unlinked", body = Written<Unlinked>),
        (status = 404, description = "`character_not_linked`", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn unlink(actor: Actor, Path(game): Path<String>) -> Result<Written<Unlinked>, ApiError> {
    let position = actor
        .commands
        .unlink_game_character(actor.user_id, &game)
        .await?;
    Ok(Written::ok(Unlinked { game }, position))
}

/// `POST /users/me/game-characters/{game}/refresh`: asks the game's API now, whatever the
/// copy's age (links and refreshes share one rate per user).
#[utoipa::path(
    post,
    path = "/users/me/game-characters/{game}/refresh",
    operation_id = "refresh_game_character",
    tag = "users",
    summary = "Ask the game's API for the caller's character now",
    params(("game" = String, Path, description = "The game: `maplestory`")),
    responses(
        (status = 200, description = "The character's card as the API says now, or its copy marked `stale`", body = CharacterCard),
        (status = 404, description = "`game_not_supported`, `character_not_linked`", body = Problem),
        (status = 429, description = "`rate_limited`: lookups per hour used up", body = Problem),
        (status = 502, description = "`upstream_malformed`", body = Problem),
        (status = 503, description = "`upstream_unavailable`, `connector_not_configured`", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn refresh(
    State(state): State<AppState>,
    actor: Actor,
    ip: ClientIp,
    Path(game): Path<String>,
) -> Result<Json<CharacterCard>, ApiError> {
    count_lookup(&state, &actor, ip).await?;
    let card = state
        .connectors
        .characters
        .refresh(&actor.commands, actor.user_id, &game)
        .await?;
    Ok(Json(card))
}

/// `GET /users/{user_id}/game-characters`: anyone signed in sees anyone's.
#[utoipa::path(
    get,
    path = "/users/{user_id}/game-characters",
    operation_id = "game_characters_of_user",
    tag = "users",
    summary = "A user's linked characters",
    params(("user_id" = Uuid, Path, description = "The user"), Consistency),
    responses(
        (status = 200, description = "Their characters, from the cache", body = Cards),
        (status = 404, description = "`user_not_found`", body = Problem),
        (status = 503, description = "`upstream_unavailable`: a character has no copy yet and the API cannot be asked", body = Problem),
    ),
    security(("bearer" = [])),
)]
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

/// Counts a lookup of the game's API against the caller's lookups per hour.
async fn count_lookup(state: &AppState, actor: &Actor, ip: ClientIp) -> Result<(), ApiError> {
    let user_id = actor.user_id;
    state
        .limit(
            Counted::CharacterLookup(user_id),
            ip,
            Some(user_id),
            "character lookups",
        )
        .await
}
