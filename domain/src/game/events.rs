//! What happens to a game.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::aggregate::DomainEvent;

/// Events of a [`Game`](crate::game::Game).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum GameEvent {
    /// The game was announced.
    GameCreated(GameCreated),
    /// A player took a place.
    PlayerJoined {
        /// The game.
        game_id: Uuid,
        /// The player.
        user_id: Uuid,
    },
    /// A player was put on the waitlist at `position` (1-based).
    PlayerWaitlisted {
        /// The game.
        game_id: Uuid,
        /// The player.
        user_id: Uuid,
        /// Place in the queue.
        position: u32,
    },
    /// A player left, from the participants or from the waitlist.
    PlayerLeft {
        /// The game.
        game_id: Uuid,
        /// The player.
        user_id: Uuid,
    },
    /// The first on the waitlist got the place that was freed.
    PlayerPromoted {
        /// The game.
        game_id: Uuid,
        /// The player.
        user_id: Uuid,
    },
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
            Self::PlayerJoined { .. } => "PlayerJoined",
            Self::PlayerWaitlisted { .. } => "PlayerWaitlisted",
            Self::PlayerLeft { .. } => "PlayerLeft",
            Self::PlayerPromoted { .. } => "PlayerPromoted",
        }
    }

    fn event_version(&self) -> &'static str {
        "1"
    }
}
