//! Clubs: members with roles, a join policy, and the club's own chat room that follows its
//! membership.

mod aggregate;
mod commands;
mod events;

pub use aggregate::{Club, ClubError, ClubRole, JoinPolicy};
pub use commands::{ClubCommand, ClubPatch};
pub use events::{
    ClubCreated, ClubEvent, ClubMemberJoined, ClubMemberLeft, ClubRoleChanged, ClubUpdated,
    JoinRejected, JoinRequested,
};
