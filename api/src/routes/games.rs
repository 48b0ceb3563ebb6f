//! Games: announce (in a club), join or queue, leave, look; start on courts, score sets live,
//! complete or cancel; watch a game's scores.

use axum::extract::State;
use chrono::{DateTime, Utc};
use commands::games::NewGame;
use domain::game::{CourtLineup, CourtResult, GameStatus, Participation, Winner};
use domain::values::{GameTitle, MaxParticipants};
use projections::games::{GameSummary, GameView, VIEW};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::clubs::member_of;
use super::{page_limit, Written};
use crate::error::ApiError;
use crate::extract::{Actor, Consistency, Json, Path, Query};
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

/// `GET /games/{id}`: participants and waitlist in order, the courts and their sets (a club's
/// game: its members only).
pub async fn show(
    State(state): State<AppState>,
    actor: Actor,
    Path(game_id): Path<Uuid>,
    consistency: Option<Consistency>,
) -> Result<Json<GameView>, ApiError> {
    actor.commands.game_access(game_id, actor.user_id).await?;
    state.caught_up(VIEW, consistency).await?;
    projections::games::game(&state.pool, game_id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("game_not_found", "game not found"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateClubGame {
    title: String,
    starts_at: DateTime<Utc>,
    max_participants: i64,
    courts: u32,
}

/// `POST /clubs/{id}/games` (owner or managers).
pub async fn create_in_club(
    actor: Actor,
    Path(club_id): Path<Uuid>,
    Json(body): Json<CreateClubGame>,
) -> Result<Written<GameCreated>, ApiError> {
    let game = NewGame {
        title: GameTitle::parse(&body.title)?,
        starts_at: body.starts_at,
        max_participants: MaxParticipants::new(body.max_participants)?,
        courts: body.courts,
    };
    let (game_id, position) = actor
        .commands
        .create_club_game(club_id, actor.user_id, game)
        .await?;
    Ok(Written::created(GameCreated { game_id }, position))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClubGamesQuery {
    status: Option<GameStatus>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit: Option<i64>,
}

#[derive(Serialize)]
pub struct ClubGames {
    games: Vec<GameSummary>,
}

/// `GET /clubs/{id}/games?status=&from=&to=&limit=`: by start (members only).
pub async fn club_games(
    State(state): State<AppState>,
    actor: Actor,
    Path(club_id): Path<Uuid>,
    Query(q): Query<ClubGamesQuery>,
    consistency: Option<Consistency>,
) -> Result<Json<ClubGames>, ApiError> {
    member_of(&actor, club_id).await?;
    let limit = page_limit(q.limit)?;
    state.caught_up(VIEW, consistency).await?;
    let games = projections::games::club_games(
        &state.pool,
        club_id,
        q.status.map(GameStatus::as_str),
        (q.from, q.to),
        limit,
    )
    .await?;
    Ok(Json(ClubGames { games }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    courts: Vec<CourtBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CourtBody {
    court: u32,
    team_a: Vec<Uuid>,
    team_b: Vec<Uuid>,
}

#[derive(Serialize)]
pub struct Status {
    status: &'static str,
}

/// `POST /games/{id}/start` `{courts: [{court, team_a, team_b}]}` (owner or managers).
pub async fn start(
    actor: Actor,
    Path(game_id): Path<Uuid>,
    Json(body): Json<StartBody>,
) -> Result<Written<Status>, ApiError> {
    if body.courts.len() > domain::game::Game::MAX_COURTS as usize {
        return Err(ApiError::invalid("bad_court", "too many courts"));
    }
    let courts = body
        .courts
        .into_iter()
        .map(|c| CourtLineup {
            court: c.court,
            team_a: c.team_a,
            team_b: c.team_b,
        })
        .collect();
    let position = actor
        .commands
        .start_game(game_id, actor.user_id, courts)
        .await?;
    Ok(Written::ok(
        Status {
            status: "in_progress",
        },
        position,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreBody {
    set_no: u32,
    team_a: u32,
    team_b: u32,
    /// The version this corrects; absent for a set's first score.
    version: Option<u32>,
}

#[derive(Serialize)]
pub struct Scored {
    court: u32,
    set_no: u32,
    team_a: u32,
    team_b: u32,
    version: u32,
}

/// `POST /games/{id}/courts/{court}/sets` `{set_no, team_a, team_b, version?}`: a correction
/// names the version it corrects; a stale one gets 409 `stale_score`.
pub async fn score(
    actor: Actor,
    Path((game_id, court)): Path<(Uuid, u32)>,
    Json(body): Json<ScoreBody>,
) -> Result<Written<Scored>, ApiError> {
    let (version, position) = actor
        .commands
        .score_set(
            game_id,
            actor.user_id,
            court,
            body.set_no,
            (body.team_a, body.team_b),
            body.version,
        )
        .await?;
    let out = Scored {
        court,
        set_no: body.set_no,
        team_a: body.team_a,
        team_b: body.team_b,
        version,
    };
    Ok(Written::created(out, position))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteBody {
    winner: Vec<CourtWinner>,
    mvp_user_id: Option<Uuid>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CourtWinner {
    court: u32,
    winner: Winner,
}

/// `POST /games/{id}/complete` `{winner: [{court, winner: team_a|team_b|draw}], mvp_user_id}`.
pub async fn complete(
    actor: Actor,
    Path(game_id): Path<Uuid>,
    Json(body): Json<CompleteBody>,
) -> Result<Written<Status>, ApiError> {
    if body.winner.len() > domain::game::Game::MAX_COURTS as usize {
        return Err(ApiError::invalid("bad_results", "too many results"));
    }
    let results = body
        .winner
        .into_iter()
        .map(|w| CourtResult {
            court: w.court,
            winner: w.winner,
        })
        .collect();
    let position = actor
        .commands
        .complete_game(game_id, actor.user_id, results, body.mvp_user_id)
        .await?;
    Ok(Written::ok(
        Status {
            status: "completed",
        },
        position,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelBody {
    reason: String,
}

/// `POST /games/{id}/cancel` `{reason}`: players and waitlist get `game.cancelled`.
pub async fn cancel(
    actor: Actor,
    Path(game_id): Path<Uuid>,
    Json(body): Json<CancelBody>,
) -> Result<Written<Status>, ApiError> {
    let reason = domain::values::Memo::parse(&body.reason)?;
    let position = actor
        .commands
        .cancel_game(game_id, actor.user_id, reason.as_str().to_owned())
        .await?;
    Ok(Written::ok(
        Status {
            status: "cancelled",
        },
        position,
    ))
}

#[derive(Serialize)]
pub struct Watch {
    game_id: Uuid,
    watching: bool,
}

/// `POST /games/{id}/watch`: every open socket of the caller, on every API process, receives
/// the game's `game.score` frames from now on (each confirms with `game.watching`).
pub async fn watch(
    State(state): State<AppState>,
    actor: Actor,
    Path(game_id): Path<Uuid>,
) -> Result<Json<Watch>, ApiError> {
    actor.commands.game_access(game_id, actor.user_id).await?;
    state
        .hub
        .watch_game(actor.user_id, game_id)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(Watch {
        game_id,
        watching: true,
    }))
}
