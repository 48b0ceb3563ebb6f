//! Games: a limited number of places, a waitlist in order, promotion when someone leaves, and
//! the life of a club's game from its start on the courts to the final score.

mod aggregate;
mod commands;
mod events;

pub use aggregate::{Game, GameError, GameStatus, Participation};
pub use commands::GameCommand;
pub use events::{
    CourtLineup, CourtResult, GameCancelled, GameCompleted, GameCreated, GameEvent, GameReminded,
    GameStarted, PlayerJoined, PlayerLeft, PlayerPromoted, PlayerWaitlisted, SetScored, Winner,
};
