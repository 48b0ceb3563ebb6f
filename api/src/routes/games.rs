//! Games: announce (in a club), join or queue, leave, look; start on courts, score sets live,
//! complete or cancel; watch a game's scores.

use axum::extract::State;
use chrono::{DateTime, Utc};
use commands::games::NewGame;
use domain::game::{CourtLineup, CourtResult, GameStatus, Participation, Winner};
use domain::values::{GameTitle, MaxParticipants};
use projections::frames::Problem;
use projections::games::{GameSummary, GameView, VIEW};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::clubs::member_of;
use super::{page_limit, Written};
use crate::error::ApiError;
use crate::extract::{Actor, Consistency, Json, Path, Query};
use crate::state::AppState;

/// A game to announce, in no club (one court).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGame {
    /// Its title (1 to 100 characters, trimmed).
    #[schema(min_length = 1, max_length = 100)]
    title: String,
    /// When it starts: from a day ago to five years ahead.
    starts_at: DateTime<Utc>,
    /// How many may play (1 to 1000); more wait in line.
    #[schema(minimum = 1, maximum = 1000)]
    max_participants: i64,
}

/// The new game.
#[derive(Serialize, ToSchema)]
pub struct CreatedGame {
    /// The game.
    game_id: Uuid,
}

/// Where the caller stands in a game after joining.
#[derive(Serialize, ToSchema)]
pub struct GameJoined {
    /// `joined` (has a place) or `waitlisted`.
    status: JoinStatus,
    /// The place in the waitlist (from 1) when waitlisted; null when joined.
    position: Option<u32>,
}

/// Whether a player has a place or waits for one.
#[derive(Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JoinStatus {
    /// Has a place.
    Joined,
    /// Waits in line.
    Waitlisted,
}

/// The caller left a game.
#[derive(Serialize, ToSchema)]
pub struct GameLeft {
    /// Always true.
    left: bool,
}

/// `POST /games`.
#[utoipa::path(
    post,
    path = "/games",
    operation_id = "create_game",
    tag = "games",
    summary = "Announce a game in no club (the caller hosts it)",
    request_body = CreateGame,
    responses(
        (status = 201, description = "Announced", body = Written<CreatedGame>),
        (status = 422, description = "`invalid_value`: a title or `max_participants` out of range; `starts_at_out_of_range`", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn create(
    actor: Actor,
    Json(body): Json<CreateGame>,
) -> Result<Written<CreatedGame>, ApiError> {
    let title = GameTitle::parse(&body.title)?;
    let max = MaxParticipants::new(body.max_participants)?;
    let (game_id, position) = actor
        .commands
        .create_game(actor.user_id, title, body.starts_at, max)
        .await?;
    Ok(Written::created(CreatedGame { game_id }, position))
}

/// `POST /games/{id}/join`.
#[utoipa::path(
    post,
    path = "/games/{game_id}/join",
    operation_id = "join_game",
    tag = "games",
    summary = "Join a game, or its waitlist when it is full",
    params(("game_id" = Uuid, Path, description = "The game")),
    responses(
        (status = 200, description = "A place or a place in line (joining again answers where one stands)", body = Written<GameJoined>),
        (status = 404, description = "`game_not_found`: also a club's game for non-members", body = Problem),
        (status = 409, description = "`game_state`: the game started, ended or was cancelled", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn join(
    actor: Actor,
    Path(game_id): Path<Uuid>,
) -> Result<Written<GameJoined>, ApiError> {
    let (participation, position) = actor.commands.join_game(game_id, actor.user_id).await?;
    let out = match participation {
        Participation::Joined => GameJoined {
            status: JoinStatus::Joined,
            position: None,
        },
        Participation::Waitlisted { position } => GameJoined {
            status: JoinStatus::Waitlisted,
            position: Some(position),
        },
    };
    Ok(Written::ok(out, position))
}

/// `DELETE /games/{id}/join`.
#[utoipa::path(
    delete,
    path = "/games/{game_id}/join",
    operation_id = "leave_game",
    tag = "games",
    summary = "Leave a game or its waitlist (the first in line takes a freed place)",
    params(("game_id" = Uuid, Path, description = "The game")),
    responses(
        (status = 200, description = "Left", body = Written<GameLeft>),
        (status = 404, description = "`game_not_found` (also a club's game for non-members), `not_joined`", body = Problem),
        (status = 409, description = "`game_state`: the game started, ended or was cancelled", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn leave(actor: Actor, Path(game_id): Path<Uuid>) -> Result<Written<GameLeft>, ApiError> {
    let position = actor.commands.leave_game(game_id, actor.user_id).await?;
    Ok(Written::ok(GameLeft { left: true }, position))
}

/// `GET /games/{id}`: participants and waitlist in order, the courts and their sets (a club's
/// game: its members only).
#[utoipa::path(
    get,
    path = "/games/{game_id}",
    operation_id = "get_game",
    tag = "games",
    summary = "A game: players, waitlist, courts and sets (a club's game: members only)",
    params(("game_id" = Uuid, Path, description = "The game"), Consistency),
    responses(
        (status = 200, description = "The game", body = GameView),
        (status = 404, description = "`game_not_found`: also a club's game for non-members", body = Problem),
    ),
    security(("bearer" = [])),
)]
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

/// A club's game to announce.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateClubGame {
    /// Its title (1 to 100 characters, trimmed).
    #[schema(min_length = 1, max_length = 100)]
    title: String,
    /// When it starts: from a day ago to five years ahead.
    starts_at: DateTime<Utc>,
    /// How many may play (1 to 1000); more wait in line.
    #[schema(minimum = 1, maximum = 1000)]
    max_participants: i64,
    /// How many courts it is played on (1 to 20).
    #[schema(minimum = 1, maximum = 20)]
    courts: u32,
}

/// `POST /clubs/{id}/games` (owner or managers).
#[utoipa::path(
    post,
    path = "/clubs/{club_id}/games",
    operation_id = "create_club_game",
    tag = "games",
    summary = "Announce a club's game (owner or managers)",
    params(("club_id" = Uuid, Path, description = "The club")),
    request_body = CreateClubGame,
    responses(
        (status = 201, description = "Announced", body = Written<CreatedGame>),
        (status = 403, description = "`not_allowed`: members who do not run the club", body = Problem),
        (status = 404, description = "`club_not_found`: also for non-members", body = Problem),
        (status = 422, description = "`invalid_value`: a title or `max_participants` out of range; `starts_at_out_of_range`; `bad_courts`", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn create_in_club(
    actor: Actor,
    Path(club_id): Path<Uuid>,
    Json(body): Json<CreateClubGame>,
) -> Result<Written<CreatedGame>, ApiError> {
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
    Ok(Written::created(CreatedGame { game_id }, position))
}

/// Which of a club's games.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ClubGamesQuery {
    /// Only games in this state.
    status: Option<GameStatus>,
    /// Only games starting at or after this.
    #[serde(default, deserialize_with = "crate::extract::in_calendar")]
    from: Option<DateTime<Utc>>,
    /// Only games starting before this.
    #[serde(default, deserialize_with = "crate::extract::in_calendar")]
    to: Option<DateTime<Utc>>,
    /// At most this many, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// A club's games, by start.
#[derive(Serialize, ToSchema)]
pub struct ClubGames {
    /// The games.
    games: Vec<GameSummary>,
}

/// `GET /clubs/{id}/games?status=&from=&to=&limit=`: by start (members only).
#[utoipa::path(
    get,
    path = "/clubs/{club_id}/games",
    operation_id = "list_club_games",
    tag = "games",
    summary = "A club's games by start (members only)",
    params(("club_id" = Uuid, Path, description = "The club"), ClubGamesQuery, Consistency),
    responses(
        (status = 200, description = "The games", body = ClubGames),
        (status = 404, description = "`club_not_found`: also for non-members", body = Problem),
        (status = 422, description = "`bad_limit`", body = Problem),
    ),
    security(("bearer" = [])),
)]
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

/// Who plays where.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    /// The courts played on (1 to 20), each once.
    #[schema(min_items = 1, max_items = 20)]
    courts: Vec<CourtBody>,
}

/// One court's teams.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CourtBody {
    /// The court, from 1 to the game's courts.
    #[schema(minimum = 1, maximum = 20)]
    court: u32,
    /// One side: participants, each on one court only.
    #[schema(min_items = 1)]
    team_a: Vec<Uuid>,
    /// The other side.
    #[schema(min_items = 1)]
    team_b: Vec<Uuid>,
}

/// A game's state after a command.
#[derive(Serialize, ToSchema)]
pub struct GameStatusChanged {
    /// `in_progress`, `completed` or `cancelled`.
    status: GameStatus,
}

/// `POST /games/{id}/start` `{courts: [{court, team_a, team_b}]}` (owner or managers).
#[utoipa::path(
    post,
    path = "/games/{game_id}/start",
    operation_id = "start_game",
    tag = "games",
    summary = "Start a game on its courts (a club's owner or managers; a club-less game's host)",
    params(("game_id" = Uuid, Path, description = "The game")),
    request_body = StartBody,
    responses(
        (status = 200, description = "`in_progress`", body = Written<GameStatusChanged>),
        (status = 403, description = "`not_allowed`: players who do not run the game", body = Problem),
        (status = 404, description = "`game_not_found`: also a club's game for non-members", body = Problem),
        (status = 409, description = "`game_state`: not scheduled", body = Problem),
        (status = 422, description = "`bad_court`: no courts, too many, a number outside the game's or twice, an empty team; `bad_lineup`: a player without a place, or on two courts", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn start(
    actor: Actor,
    Path(game_id): Path<Uuid>,
    Json(body): Json<StartBody>,
) -> Result<Written<GameStatusChanged>, ApiError> {
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
        GameStatusChanged {
            status: GameStatus::InProgress,
        },
        position,
    ))
}

/// A set's score.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoreBody {
    /// The set (1 to 9).
    #[schema(minimum = 1, maximum = 9)]
    set_no: u32,
    /// `team_a`'s points (0 to 99).
    #[schema(maximum = 99)]
    team_a: u32,
    /// `team_b`'s points (0 to 99).
    #[schema(maximum = 99)]
    team_b: u32,
    /// The version this corrects; absent for a set's first score.
    version: Option<u32>,
}

/// A set's score as recorded.
#[derive(Serialize, ToSchema)]
pub struct ScoredSet {
    /// The court.
    court: u32,
    /// The set.
    set_no: u32,
    /// `team_a`'s points.
    team_a: u32,
    /// `team_b`'s points.
    team_b: u32,
    /// This score's version: a correction names it.
    version: u32,
}

/// `POST /games/{id}/courts/{court}/sets` `{set_no, team_a, team_b, version?}`: a correction
/// names the version it corrects; a stale one gets 409 `stale_score`.
#[utoipa::path(
    post,
    path = "/games/{game_id}/courts/{court}/sets",
    operation_id = "score_game_set",
    tag = "games",
    summary = "Record a set's score, or correct it (a club's owner or managers; a club-less game's host)",
    params(
        ("game_id" = Uuid, Path, description = "The game"),
        ("court" = u32, Path, description = "The court"),
    ),
    request_body = ScoreBody,
    responses(
        (status = 201, description = "Recorded", body = Written<ScoredSet>),
        (status = 403, description = "`not_allowed`: players who do not run the game", body = Problem),
        (status = 404, description = "`game_not_found`: also a club's game for non-members", body = Problem),
        (status = 409, description = "`game_state`: not in progress; `stale_score`: the version named is not the latest", body = Problem),
        (status = 422, description = "`bad_court`: a court not played on; `bad_score`", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn score(
    actor: Actor,
    Path((game_id, court)): Path<(Uuid, u32)>,
    Json(body): Json<ScoreBody>,
) -> Result<Written<ScoredSet>, ApiError> {
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
    let out = ScoredSet {
        court,
        set_no: body.set_no,
        team_a: body.team_a,
        team_b: body.team_b,
        version,
    };
    Ok(Written::created(out, position))
}

/// A game's results.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteBody {
    /// One result per court played on.
    #[schema(max_items = 20)]
    winner: Vec<CourtWinner>,
    /// The most valuable player: someone who played.
    mvp_user_id: Option<Uuid>,
}

/// One court's result.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CourtWinner {
    /// The court.
    court: u32,
    /// Who won there.
    winner: Winner,
}

/// `POST /games/{id}/complete` `{winner: [{court, winner: team_a|team_b|draw}], mvp_user_id}`.
#[utoipa::path(
    post,
    path = "/games/{game_id}/complete",
    operation_id = "complete_game",
    tag = "games",
    summary = "Complete a game with each court's winner (a club's owner or managers; a club-less game's host)",
    params(("game_id" = Uuid, Path, description = "The game")),
    request_body = CompleteBody,
    responses(
        (status = 200, description = "`completed`", body = Written<GameStatusChanged>),
        (status = 403, description = "`not_allowed`: players who do not run the game", body = Problem),
        (status = 404, description = "`game_not_found`: also a club's game for non-members", body = Problem),
        (status = 409, description = "`game_state`: not in progress", body = Problem),
        (status = 422, description = "`bad_results`: not one result per court, or an MVP who did not play", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn complete(
    actor: Actor,
    Path(game_id): Path<Uuid>,
    Json(body): Json<CompleteBody>,
) -> Result<Written<GameStatusChanged>, ApiError> {
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
        GameStatusChanged {
            status: GameStatus::Completed,
        },
        position,
    ))
}

/// Why a game is called off.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelBody {
    /// The reason, told to the players (1 to 2000 characters, trimmed).
    #[schema(min_length = 1, max_length = 2000)]
    reason: String,
}

/// `POST /games/{id}/cancel` `{reason}`: players and waitlist get `game.cancelled`.
#[utoipa::path(
    post,
    path = "/games/{game_id}/cancel",
    operation_id = "cancel_game",
    tag = "games",
    summary = "Call a game off before it starts (a club's owner or managers; a club-less game's host)",
    params(("game_id" = Uuid, Path, description = "The game")),
    request_body = CancelBody,
    responses(
        (status = 200, description = "`cancelled`: players and waitlist are told", body = Written<GameStatusChanged>),
        (status = 403, description = "`not_allowed`: players who do not run the game", body = Problem),
        (status = 404, description = "`game_not_found`: also a club's game for non-members", body = Problem),
        (status = 409, description = "`game_state`: not scheduled", body = Problem),
        (status = 422, description = "`invalid_value`: a reason empty, too long or with control characters", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn cancel(
    actor: Actor,
    Path(game_id): Path<Uuid>,
    Json(body): Json<CancelBody>,
) -> Result<Written<GameStatusChanged>, ApiError> {
    let reason = domain::values::Memo::parse(&body.reason)?;
    let position = actor
        .commands
        .cancel_game(game_id, actor.user_id, reason.as_str().to_owned())
        .await?;
    Ok(Written::ok(
        GameStatusChanged {
            status: GameStatus::Cancelled,
        },
        position,
    ))
}

/// The caller's sockets follow a game.
#[derive(Serialize, ToSchema)]
pub struct GameWatch {
    /// The game.
    game_id: Uuid,
    /// Always true.
    watching: bool,
}

/// `POST /games/{id}/watch`: every open socket of the caller, on every API process, receives
/// the game's `game.score` frames from now on (each confirms with `game.watching`).
#[utoipa::path(
    post,
    path = "/games/{game_id}/watch",
    operation_id = "watch_game",
    tag = "games",
    summary = "Have the caller's open sockets receive the game's scores",
    params(("game_id" = Uuid, Path, description = "The game")),
    responses(
        (status = 200, description = "Watching: each socket confirms with `game.watching`", body = GameWatch),
        (status = 404, description = "`game_not_found`: also a club's game for non-members", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn watch(
    State(state): State<AppState>,
    actor: Actor,
    Path(game_id): Path<Uuid>,
) -> Result<Json<GameWatch>, ApiError> {
    actor.commands.game_access(game_id, actor.user_id).await?;
    state
        .hub
        .watch_game(actor.user_id, game_id)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(GameWatch {
        game_id,
        watching: true,
    }))
}
