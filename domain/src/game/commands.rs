//! What can be asked of a game.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::game::{CourtLineup, CourtResult};
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
        /// The club it belongs to.
        club_id: Option<Uuid>,
        /// How many courts (1 to [`Game::MAX_COURTS`](crate::game::Game::MAX_COURTS)).
        courts: u32,
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
    /// A manager starts the game: who plays on which court.
    Start {
        /// Who starts it.
        by: Uuid,
        /// Whether `by` runs the game's club (the caller asks the club).
        manager: bool,
        /// The courts' lineups.
        courts: Vec<CourtLineup>,
    },
    /// A manager records a set's score, or corrects one naming the version it corrects.
    Score {
        /// Who records it.
        by: Uuid,
        /// Whether `by` runs the game's club.
        manager: bool,
        /// The court.
        court: u32,
        /// The set.
        set_no: u32,
        /// `team_a`'s points.
        team_a: u32,
        /// `team_b`'s points.
        team_b: u32,
        /// The version this corrects; none for a set's first score.
        corrects: Option<u32>,
    },
    /// A manager closes the game.
    Complete {
        /// Who closes it.
        by: Uuid,
        /// Whether `by` runs the game's club.
        manager: bool,
        /// Each court's winner.
        results: Vec<CourtResult>,
        /// The most valuable player.
        mvp_user_id: Option<Uuid>,
    },
    /// A manager calls the game off before it starts.
    Cancel {
        /// Who.
        by: Uuid,
        /// Whether `by` runs the game's club.
        manager: bool,
        /// Why.
        reason: String,
    },
    /// The scheduler reminds the participants of a start an hour ahead.
    Remind {
        /// The start it was scheduled for (a moved or past game is not reminded).
        starts_at: DateTime<Utc>,
    },
}
