//! Users: who someone is in Moim, whom they are coupled with, whom they block, and their
//! platform role.

mod aggregate;
mod commands;
mod events;

pub use aggregate::{User, UserError};
pub use commands::UserCommand;
pub use events::{
    PlatformRole, PlatformRoleChanged, ProfileUpdated, UserBlocked, UserCoupled, UserEvent,
    UserRegistered, UserUnblocked, UserUncoupled,
};
