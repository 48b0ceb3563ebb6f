//! What happens to a game.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::aggregate::DomainEvent;

/// Events of a [`Game`](crate::game::Game).
///
/// The variants carry payload structs, as every aggregate's events do; the stored JSON is the same
/// `{"PlayerJoined": {"game_id": …, "user_id": …}}` that the earlier struct variants wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
}

/// Payload of [`GameEvent::PlayerJoined`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerJoined {
    /// The game.
    pub game_id: Uuid,
    /// The player.
    pub user_id: Uuid,
}

/// Payload of [`GameEvent::PlayerWaitlisted`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerWaitlisted {
    /// The game.
    pub game_id: Uuid,
    /// The player.
    pub user_id: Uuid,
    /// Place in the queue (1-based).
    pub position: u32,
}

/// Payload of [`GameEvent::PlayerLeft`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerLeft {
    /// The game.
    pub game_id: Uuid,
    /// The player.
    pub user_id: Uuid,
}

/// Payload of [`GameEvent::PlayerPromoted`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerPromoted {
    /// The game.
    pub game_id: Uuid,
    /// The player.
    pub user_id: Uuid,
}

/// Payload of [`GameEvent::GameCreated`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
}

impl DomainEvent for GameEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::GameCreated(_) => "GameCreated",
            Self::PlayerJoined(_) => "PlayerJoined",
            Self::PlayerWaitlisted(_) => "PlayerWaitlisted",
            Self::PlayerLeft(_) => "PlayerLeft",
            Self::PlayerPromoted(_) => "PlayerPromoted",
        }
    }

    fn event_version(&self) -> &'static str {
        "1"
    }

    fn caused_by_previous(&self) -> bool {
        // A promotion happens because someone left just before, in the same command.
        matches!(self, Self::PlayerPromoted(_))
    }
}
