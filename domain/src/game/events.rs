//! What happens to a game.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::aggregate::DomainEvent;

/// Events of a [`Game`](crate::game::Game).
///
/// The variants carry payload structs, as every aggregate's events do; the stored JSON is the same
/// `{"PlayerJoined": {"game_id": …, "user_id": …}}` that the earlier struct variants wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum GameEvent {
    /// The game was announced.
    GameCreated(GameCreated),
    /// A player took a place.
    PlayerJoined(PlayerJoined),
    /// A player was put on the waitlist.
    PlayerWaitlisted(PlayerWaitlisted),
    /// A player left, from the participants or from the waitlist.
    PlayerLeft(PlayerLeft),
    /// The first on the waitlist got the place that was freed.
    PlayerPromoted(PlayerPromoted),
    /// A manager started the game on its courts.
    GameStarted(GameStarted),
    /// A set's score was recorded, or corrected.
    SetScored(SetScored),
    /// A manager closed the game with each court's winner.
    GameCompleted(GameCompleted),
    /// A manager called the game off before it started.
    GameCancelled(GameCancelled),
    /// The players were reminded that it starts soon.
    GameReminded(GameReminded),
}

/// Who plays on one court.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CourtLineup {
    /// The court's number, 1 to the game's courts.
    pub court: u32,
    /// One side.
    pub team_a: Vec<Uuid>,
    /// The other.
    pub team_b: Vec<Uuid>,
}

/// Which side won on a court.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Winner {
    /// `team_a`.
    TeamA,
    /// `team_b`.
    TeamB,
    /// Neither.
    Draw,
}

/// One court's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CourtResult {
    /// The court.
    pub court: u32,
    /// Who won on it.
    pub winner: Winner,
}

/// Payload of [`GameEvent::GameStarted`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GameStarted {
    /// The game.
    pub game_id: Uuid,
    /// Who plays where.
    pub courts: Vec<CourtLineup>,
    /// Who started it.
    pub by: Uuid,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`GameEvent::SetScored`]: a fact with a version; a correction has the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SetScored {
    /// The game.
    pub game_id: Uuid,
    /// The court.
    pub court: u32,
    /// The set, from 1.
    pub set_no: u32,
    /// `team_a`'s points.
    pub team_a: u32,
    /// `team_b`'s points.
    pub team_b: u32,
    /// 1 for the first score of this set, one more for each correction.
    pub version: u32,
    /// Who recorded it.
    pub by: Uuid,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`GameEvent::GameCompleted`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GameCompleted {
    /// The game.
    pub game_id: Uuid,
    /// Each court's winner.
    pub results: Vec<CourtResult>,
    /// The most valuable player, if named.
    pub mvp_user_id: Option<Uuid>,
    /// Who closed it.
    pub by: Uuid,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`GameEvent::GameCancelled`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GameCancelled {
    /// The game.
    pub game_id: Uuid,
    /// Why.
    pub reason: String,
    /// Who called it off.
    pub by: Uuid,
    /// The participants and the waitlist, who are told.
    pub told: Vec<Uuid>,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`GameEvent::GameReminded`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GameReminded {
    /// The game.
    pub game_id: Uuid,
    /// The start it reminds of.
    pub starts_at: DateTime<Utc>,
    /// The participants, who are told.
    pub participants: Vec<Uuid>,
}

/// Payload of [`GameEvent::PlayerJoined`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlayerJoined {
    /// The game.
    pub game_id: Uuid,
    /// The player.
    pub user_id: Uuid,
}

/// Payload of [`GameEvent::PlayerWaitlisted`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlayerWaitlisted {
    /// The game.
    pub game_id: Uuid,
    /// The player.
    pub user_id: Uuid,
    /// Place in the queue (1-based).
    pub position: u32,
}

/// Payload of [`GameEvent::PlayerLeft`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlayerLeft {
    /// The game.
    pub game_id: Uuid,
    /// The player.
    pub user_id: Uuid,
}

/// Payload of [`GameEvent::PlayerPromoted`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlayerPromoted {
    /// The game.
    pub game_id: Uuid,
    /// The player.
    pub user_id: Uuid,
}

/// Payload of [`GameEvent::GameCreated`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GameCreated {
    /// The game.
    pub game_id: Uuid,
    /// Its title.
    pub title: String,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// How many may play.
    pub max_participants: u32,
    /// Who announced it.
    pub host_id: Uuid,
    /// When.
    pub created_at: DateTime<Utc>,
    /// The club it belongs to (none for games made before clubs).
    #[serde(default)]
    pub club_id: Option<Uuid>,
    /// How many courts it is played on.
    #[serde(default)]
    pub courts: u32,
}

impl DomainEvent for GameEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::GameCreated(_) => "GameCreated",
            Self::PlayerJoined(_) => "PlayerJoined",
            Self::PlayerWaitlisted(_) => "PlayerWaitlisted",
            Self::PlayerLeft(_) => "PlayerLeft",
            Self::PlayerPromoted(_) => "PlayerPromoted",
            Self::GameStarted(_) => "GameStarted",
            Self::SetScored(_) => "SetScored",
            Self::GameCompleted(_) => "GameCompleted",
            Self::GameCancelled(_) => "GameCancelled",
            Self::GameReminded(_) => "GameReminded",
        }
    }

    fn event_version(&self) -> &'static str {
        "1"
    }

    fn idempotency_id(&self) -> Option<Uuid> {
        // One reminder per game and start time, however often the scheduler fires it.
        match self {
            Self::GameReminded(e) => {
                let micros = e.starts_at.timestamp_micros().to_be_bytes();
                Some(Uuid::new_v5(&e.game_id, &micros))
            }
            _ => None,
        }
    }

    fn caused_by_previous(&self) -> bool {
        // A promotion happens because someone left just before, in the same command.
        matches!(self, Self::PlayerPromoted(_))
    }
}
