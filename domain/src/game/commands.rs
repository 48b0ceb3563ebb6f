//! What can be asked of a game.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::values::{GameTitle, MaxParticipants};

/// Commands on a [`Game`](crate::game::Game).
#[derive(Debug, Clone)]
pub enum GameCommand {
    /// Announces a game.
    Create {
        /// The new game's id.
        game_id: Uuid,
        /// Its title.
        title: GameTitle,
        /// When it starts.
        starts_at: DateTime<Utc>,
        /// How many may play.
        max_participants: MaxParticipants,
        /// Who announces it.
        host_id: Uuid,
    },
    /// Takes a place, or a place on the waitlist when the game is full; joining twice does nothing.
    Join {
        /// Who joins.
        user_id: Uuid,
    },
    /// Gives up a place (promoting the first on the waitlist) or a waitlist spot.
    Leave {
        /// Who leaves.
        user_id: Uuid,
    },
}
