//! Users: who someone is in Moim, whom they are coupled with, whom they block, and their
//! platform role, their sessions' generation and whether they are suspended.

mod aggregate;
mod commands;
mod events;

pub use aggregate::{Suspension, User, UserError};
pub use commands::UserCommand;
pub use events::{
    GameCharacterLinked, GameCharacterUnlinked, IdentityLinked, IdentityUnlinked, PlatformRole,
    PlatformRoleChanged, ProfileUpdated, SessionsEndReason, SessionsEnded, UserBlocked,
    UserCoupled, UserDeleted, UserEvent, UserRegistered, UserReinstated, UserSuspended,
    UserUnblocked, UserUncoupled,
};
