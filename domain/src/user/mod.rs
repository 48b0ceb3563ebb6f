//! Users: who someone is in Moim, whom they are coupled with, and whom they block.

mod aggregate;
mod commands;
mod events;

pub use aggregate::{User, UserError};
pub use commands::UserCommand;
pub use events::{
    ProfileUpdated, UserBlocked, UserCoupled, UserEvent, UserRegistered, UserUnblocked,
    UserUncoupled,
};
