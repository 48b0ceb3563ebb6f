//! Read model of games: who plays and who waits, in order; the courts' lineups and live set
//! scores; each club member's record (played, won, MVPs); and each game's start reminder, due
//! an hour ahead, as a row the scheduler fires (`game_jobs`, written with the event that
//! scheduled or cancelled it, as the couples view does for plans).

use chrono::{DateTime, Utc};
use domain::game::{Game, GameEvent, GameStatus, Winner};
use domain::Aggregate;
use moim_nats::EventEnvelope;
use serde::Serialize;
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::decode::decode;
use crate::{ProjectionError, Simple, View};

/// The games view.
pub const VIEW: View = View::of(&Simple {
    name: "games",
    tables: &[
        "games",
        "game_players",
        "game_courts",
        "game_scores",
        "game_stats",
        "game_jobs",
    ],
    apply_one: |tx, event| Box::pin(apply(tx, event)),
    reads: &[Game::TYPE],
});

/// The table of due game work.
pub const JOBS: &str = "game_jobs";
/// A game's start reminder: `target` is the game, `payload.starts_at` the start.
pub const GAME_REMINDER: &str = "game.starting";

/// A game with who plays and who waits.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GameView {
    /// The game.
    pub game_id: Uuid,
    /// Its club.
    pub club_id: Option<Uuid>,
    /// Its title.
    pub title: String,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// How many may play.
    pub max_participants: i32,
    /// How many courts.
    pub courts: i32,
    /// `scheduled`, `in_progress`, `completed` or `cancelled`.
    #[schema(value_type = GameStatus)]
    pub status: String,
    /// Who announced it.
    pub host_id: Uuid,
    /// Players with a place, in the order they got it.
    pub participants: Vec<Uuid>,
    /// The waitlist, first in line first (position = index + 1), up to [`WAITLIST_LISTED`].
    pub waitlist: Vec<Uuid>,
    /// How many wait in all.
    pub waitlist_count: i64,
    /// Who plays where, with each court's sets and winner.
    pub lineups: Vec<CourtView>,
    /// Why it was cancelled.
    pub cancel_reason: Option<String>,
    /// Its most valuable player.
    pub mvp_user_id: Option<Uuid>,
}

/// One court of a started game.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CourtView {
    /// The court.
    pub court: i32,
    /// One side.
    pub team_a: Vec<Uuid>,
    /// The other.
    pub team_b: Vec<Uuid>,
    /// Its sets' latest scores, by set.
    pub sets: Vec<SetView>,
    /// `team_a`, `team_b` or `draw`, once completed.
    #[schema(value_type = Option<Winner>)]
    pub winner: Option<String>,
}

/// A set's latest score.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct SetView {
    /// The set.
    pub set_no: i32,
    /// `team_a`'s points.
    pub team_a: i32,
    /// `team_b`'s points.
    pub team_b: i32,
    /// The version a correction names.
    pub version: i32,
}

/// A club member's record.
#[derive(Debug, Clone, Default, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct MemberStats {
    /// Completed games played on a court.
    pub played: i32,
    /// Of those, won.
    pub won: i32,
    /// Times named MVP.
    pub mvp: i32,
}

/// A game as a club lists it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct GameSummary {
    /// The game.
    pub game_id: Uuid,
    /// Its title.
    pub title: String,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// Its state.
    #[schema(value_type = GameStatus)]
    pub status: String,
    /// How many may play.
    pub max_participants: i32,
    /// How many have a place.
    pub participant_count: i64,
}

/// At most this many of a game's waitlist are listed with it.
pub const WAITLIST_LISTED: i64 = 200;

fn winner(w: Winner) -> &'static str {
    match w {
        Winner::TeamA => "team_a",
        Winner::TeamB => "team_b",
        Winner::Draw => "draw",
    }
}

async fn apply(tx: &mut PgConnection, event: &EventEnvelope) -> Result<(), ProjectionError> {
    if event.aggregate_type != Game::TYPE {
        return Ok(());
    }
    let placed_at = event.sequence;
    let (game_id, user_id, status) = match decode(event)? {
        GameEvent::GameCreated(e) => {
            sqlx::query(
                "INSERT INTO games (game_id, title, starts_at, max_participants, host_id, created_at,
                                    club_id, courts)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (game_id) DO NOTHING",
            )
            .bind(e.game_id)
            .bind(&e.title)
            .bind(e.starts_at)
            .bind(e.max_participants as i32)
            .bind(e.host_id)
            .bind(e.created_at)
            .bind(e.club_id)
            .bind(e.courts.max(1) as i32)
            .execute(&mut *tx)
            .await?;
            if e.club_id.is_some() && e.starts_at > e.created_at {
                let due_at = (e.starts_at - Game::REMIND_BEFORE).max(e.created_at);
                let payload = json!({ "starts_at": e.starts_at });
                let key = job_key(e.game_id);
                crate::jobs::put(tx, JOBS, &key, GAME_REMINDER, e.game_id, due_at, payload).await?;
            }
            return Ok(());
        }
        GameEvent::PlayerLeft(e) => {
            sqlx::query("DELETE FROM game_players WHERE game_id = $1 AND user_id = $2")
                .bind(e.game_id)
                .bind(e.user_id)
                .execute(&mut *tx)
                .await?;
            return Ok(());
        }
        GameEvent::PlayerJoined(e) => (e.game_id, e.user_id, "joined"),
        GameEvent::PlayerPromoted(e) => (e.game_id, e.user_id, "joined"),
        GameEvent::PlayerWaitlisted(e) => (e.game_id, e.user_id, "waitlisted"),
        GameEvent::GameStarted(e) => {
            set_status(tx, e.game_id, GameStatus::InProgress, "started_at", e.at).await?;
            for lineup in &e.courts {
                for (team, players) in [("team_a", &lineup.team_a), ("team_b", &lineup.team_b)] {
                    sqlx::query(
                        "INSERT INTO game_courts (game_id, court, team, user_id)
                         SELECT $1, $2, $3, unnest($4::uuid[]) ON CONFLICT DO NOTHING",
                    )
                    .bind(e.game_id)
                    .bind(lineup.court as i32)
                    .bind(team)
                    .bind(players)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            unschedule(tx, e.game_id).await?;
            return Ok(());
        }
        GameEvent::SetScored(e) => {
            sqlx::query(
                "INSERT INTO game_scores (game_id, court, set_no, team_a, team_b, version)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (game_id, court, set_no) DO UPDATE
                   SET team_a = $4, team_b = $5, version = $6 WHERE game_scores.version < $6",
            )
            .bind(e.game_id)
            .bind(e.court as i32)
            .bind(e.set_no as i32)
            .bind(e.team_a as i32)
            .bind(e.team_b as i32)
            .bind(e.version as i32)
            .execute(&mut *tx)
            .await?;
            return Ok(());
        }
        GameEvent::GameCompleted(e) => {
            let done = set_status(tx, e.game_id, GameStatus::Completed, "ended_at", e.at).await?;
            sqlx::query("UPDATE games SET mvp_user_id = $2 WHERE game_id = $1")
                .bind(e.game_id)
                .bind(e.mvp_user_id)
                .execute(&mut *tx)
                .await?;
            for result in &e.results {
                sqlx::query("UPDATE game_courts SET winner = $3 WHERE game_id = $1 AND court = $2")
                    .bind(e.game_id)
                    .bind(result.court as i32)
                    .bind(winner(result.winner))
                    .execute(&mut *tx)
                    .await?;
            }
            if done {
                count_stats(tx, e.game_id, e.mvp_user_id).await?;
            }
            return Ok(());
        }
        GameEvent::GameCancelled(e) => {
            set_status(tx, e.game_id, GameStatus::Cancelled, "ended_at", e.at).await?;
            sqlx::query("UPDATE games SET reason = $2 WHERE game_id = $1")
                .bind(e.game_id)
                .bind(&e.reason)
                .execute(&mut *tx)
                .await?;
            unschedule(tx, e.game_id).await?;
            return Ok(());
        }
        GameEvent::GameReminded(e) => {
            unschedule(tx, e.game_id).await?;
            return Ok(());
        }
    };
    sqlx::query(
        "INSERT INTO game_players (game_id, user_id, status, placed_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (game_id, user_id) DO UPDATE SET status = $3, placed_at = $4",
    )
    .bind(game_id)
    .bind(user_id)
    .bind(status)
    .bind(placed_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

fn job_key(game_id: Uuid) -> String {
    format!("game:{game_id}")
}

async fn unschedule(tx: &mut PgConnection, game_id: Uuid) -> Result<(), ProjectionError> {
    sqlx::query("DELETE FROM game_jobs WHERE job_key = $1")
        .bind(job_key(game_id))
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Moves a game to `status`, stamping `column`; false when it was there already (a redelivered
/// event), so what is counted once is not counted again.
async fn set_status(
    tx: &mut PgConnection,
    game_id: Uuid,
    status: GameStatus,
    column: &str,
    at: DateTime<Utc>,
) -> Result<bool, ProjectionError> {
    let done = sqlx::query(&format!(
        "UPDATE games SET status = $2, {column} = $3 WHERE game_id = $1 AND status <> $2"
    ))
    .bind(game_id)
    .bind(status.as_str())
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Adds a completed game to its club's records: each player on a court played, the winning
/// side won, the MVP was MVP.
async fn count_stats(
    tx: &mut PgConnection,
    game_id: Uuid,
    mvp: Option<Uuid>,
) -> Result<(), ProjectionError> {
    sqlx::query(
        "INSERT INTO game_stats (club_id, user_id, played, won, mvp)
         SELECT g.club_id, c.user_id, 1, (c.winner = c.team)::int, (c.user_id = $2)::int
         FROM game_courts c JOIN games g ON g.game_id = c.game_id
         WHERE c.game_id = $1 AND g.club_id IS NOT NULL
         ON CONFLICT (club_id, user_id) DO UPDATE SET
           played = game_stats.played + 1,
           won = game_stats.won + EXCLUDED.won,
           mvp = game_stats.mvp + EXCLUDED.mvp",
    )
    .bind(game_id)
    .bind(mvp)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct GameRow {
    game_id: Uuid,
    club_id: Option<Uuid>,
    title: String,
    starts_at: DateTime<Utc>,
    max_participants: i32,
    courts: i32,
    status: String,
    host_id: Uuid,
    reason: Option<String>,
    mvp_user_id: Option<Uuid>,
}

/// A game, if it exists.
pub async fn game(pool: &PgPool, game_id: Uuid) -> Result<Option<GameView>, ProjectionError> {
    let Some(row): Option<GameRow> = sqlx::query_as(
        "SELECT game_id, club_id, title, starts_at, max_participants, courts, status, host_id,
                reason, mvp_user_id
         FROM games WHERE game_id = $1",
    )
    .bind(game_id)
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    // Participants are bounded by `max_participants`; the waitlist is listed up to a cap.
    let players: Vec<(Uuid, String)> = sqlx::query_as(
        "(SELECT user_id, status, placed_at FROM game_players
          WHERE game_id = $1 AND status = 'joined')
         UNION ALL
         (SELECT user_id, status, placed_at FROM game_players
          WHERE game_id = $1 AND status = 'waitlisted' ORDER BY placed_at LIMIT $2)
         ORDER BY placed_at",
    )
    .bind(game_id)
    .bind(WAITLIST_LISTED)
    .fetch_all(pool)
    .await?;
    let (waitlist_count,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM game_players WHERE game_id = $1 AND status = 'waitlisted'",
    )
    .bind(game_id)
    .fetch_one(pool)
    .await?;
    let (participants, waitlist) = players
        .into_iter()
        .partition::<Vec<_>, _>(|(_, s)| s == "joined");
    Ok(Some(GameView {
        game_id: row.game_id,
        club_id: row.club_id,
        title: row.title,
        starts_at: row.starts_at,
        max_participants: row.max_participants,
        courts: row.courts,
        status: row.status,
        host_id: row.host_id,
        participants: participants.into_iter().map(|(u, _)| u).collect(),
        waitlist: waitlist.into_iter().map(|(u, _)| u).collect(),
        waitlist_count,
        lineups: lineups(pool, game_id).await?,
        cancel_reason: row.reason,
        mvp_user_id: row.mvp_user_id,
    }))
}

async fn lineups(pool: &PgPool, game_id: Uuid) -> Result<Vec<CourtView>, ProjectionError> {
    let players: Vec<(i32, String, Uuid, Option<String>)> = sqlx::query_as(
        "SELECT court, team, user_id, winner FROM game_courts WHERE game_id = $1
         ORDER BY court, team, user_id",
    )
    .bind(game_id)
    .fetch_all(pool)
    .await?;
    let sets: Vec<(i32, i32, i32, i32, i32)> = sqlx::query_as(
        "SELECT court, set_no, team_a, team_b, version FROM game_scores WHERE game_id = $1
         ORDER BY court, set_no",
    )
    .bind(game_id)
    .fetch_all(pool)
    .await?;
    let mut courts: Vec<CourtView> = Vec::new();
    for (court, team, user_id, won) in players {
        if courts.last().is_none_or(|c| c.court != court) {
            courts.push(CourtView {
                court,
                team_a: Vec::new(),
                team_b: Vec::new(),
                sets: sets
                    .iter()
                    .filter(|s| s.0 == court)
                    .map(|s| SetView {
                        set_no: s.1,
                        team_a: s.2,
                        team_b: s.3,
                        version: s.4,
                    })
                    .collect(),
                winner: won,
            });
        }
        if let Some(c) = courts.last_mut() {
            if team == "team_a" {
                c.team_a.push(user_id);
            } else {
                c.team_b.push(user_id);
            }
        }
    }
    Ok(courts)
}

/// A club's games, by start, optionally one status and a window.
pub async fn club_games(
    pool: &PgPool,
    club_id: Uuid,
    status: Option<&str>,
    window: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
    limit: i64,
) -> Result<Vec<GameSummary>, ProjectionError> {
    Ok(sqlx::query_as(
        "SELECT g.game_id, g.title, g.starts_at, g.status, g.max_participants,
                (SELECT count(*) FROM game_players p
                 WHERE p.game_id = g.game_id AND p.status = 'joined') AS participant_count
         FROM games g
         WHERE g.club_id = $1 AND ($2::text IS NULL OR g.status = $2)
           AND ($3::timestamptz IS NULL OR g.starts_at >= $3)
           AND ($4::timestamptz IS NULL OR g.starts_at < $4)
         ORDER BY g.starts_at, g.game_id LIMIT $5",
    )
    .bind(club_id)
    .bind(status)
    .bind(window.0)
    .bind(window.1)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// A member's record in a club (zeros before their first completed game).
pub async fn stats(
    pool: &PgPool,
    club_id: Uuid,
    user_id: Uuid,
) -> Result<MemberStats, ProjectionError> {
    let row: Option<MemberStats> = sqlx::query_as(
        "SELECT played, won, mvp FROM game_stats WHERE club_id = $1 AND user_id = $2",
    )
    .bind(club_id)
    .bind(user_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.unwrap_or_default())
}

/// The games a user has a place in that are not over: their sockets follow these games'
/// scores from the moment they connect.
pub async fn live_games_of(pool: &PgPool, user_id: Uuid) -> Result<Vec<Uuid>, ProjectionError> {
    let rows: Vec<(Uuid,)> = sqlx::query_as(
        "SELECT p.game_id FROM game_players p JOIN games g ON g.game_id = p.game_id
         WHERE p.user_id = $1 AND p.status = 'joined' AND g.status IN ('scheduled', 'in_progress')
         LIMIT 100",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}
