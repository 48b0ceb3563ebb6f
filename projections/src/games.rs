//! Read model of games with their participants and waitlist, in order.

use chrono::{DateTime, Utc};
use domain::game::{Game, GameEvent};
use domain::Aggregate;
use moim_nats::EventEnvelope;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::decode::decode;
use crate::{ProjectionError, Simple, View};

/// The games view.
pub const VIEW: View = View::of(&Simple {
    name: "games",
    tables: &["games", "game_players"],
    apply_one: |tx, event| Box::pin(apply(tx, event)),
});

/// A game with who plays and who waits.
#[derive(Debug, Clone, Serialize)]
pub struct GameView {
    /// The game.
    pub game_id: Uuid,
    /// Its title.
    pub title: String,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// How many may play.
    pub max_participants: i32,
    /// Who announced it.
    pub host_id: Uuid,
    /// Players with a place, in the order they got it.
    pub participants: Vec<Uuid>,
    /// The waitlist, first in line first (position = index + 1), up to [`WAITLIST_LISTED`].
    pub waitlist: Vec<Uuid>,
    /// How many wait in all.
    pub waitlist_count: i64,
}

/// At most this many of a game's waitlist are listed with it.
pub const WAITLIST_LISTED: i64 = 200;

#[derive(sqlx::FromRow)]
struct GameRow {
    game_id: Uuid,
    title: String,
    starts_at: DateTime<Utc>,
    max_participants: i32,
    host_id: Uuid,
}

async fn apply(tx: &mut PgConnection, event: &EventEnvelope) -> Result<(), ProjectionError> {
    if event.aggregate_type != Game::TYPE {
        return Ok(());
    }
    let placed_at = event.sequence;
    let (game_id, user_id, status) = match decode(event)? {
        GameEvent::GameCreated(e) => {
            sqlx::query(
                "INSERT INTO games (game_id, title, starts_at, max_participants, host_id, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (game_id) DO NOTHING",
            )
            .bind(e.game_id)
            .bind(&e.title)
            .bind(e.starts_at)
            .bind(e.max_participants as i32)
            .bind(e.host_id)
            .bind(e.created_at)
            .execute(&mut *tx)
            .await?;
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

/// A game, if it exists.
pub async fn game(pool: &PgPool, game_id: Uuid) -> Result<Option<GameView>, ProjectionError> {
    let Some(row): Option<GameRow> = sqlx::query_as(
        "SELECT game_id, title, starts_at, max_participants, host_id FROM games WHERE game_id = $1",
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
        title: row.title,
        starts_at: row.starts_at,
        max_participants: row.max_participants,
        host_id: row.host_id,
        participants: participants.into_iter().map(|(u, _)| u).collect(),
        waitlist: waitlist.into_iter().map(|(u, _)| u).collect(),
        waitlist_count,
    }))
}
