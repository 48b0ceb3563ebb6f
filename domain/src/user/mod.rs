//! Users: who someone is in Moim, and whom they are coupled with.

mod aggregate;
mod commands;
mod events;

pub use aggregate::{User, UserError};
pub use commands::UserCommand;
pub use events::{UserCoupled, UserEvent, UserRegistered};
