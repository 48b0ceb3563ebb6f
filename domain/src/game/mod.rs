//! Games: a limited number of places, a waitlist in order, promotion when someone leaves.

mod aggregate;
mod commands;
mod events;

pub use aggregate::{Game, GameError, Participation};
pub use commands::GameCommand;
pub use events::{
    GameCreated, GameEvent, PlayerJoined, PlayerLeft, PlayerPromoted, PlayerWaitlisted,
};
