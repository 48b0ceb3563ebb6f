//! Couple matching: one user shares an invite code, another redeems it, and the two become a couple.
//!
//! A match changes three aggregates at once — the invite and both users — and the `commands`
//! crate commits their events in one transaction, so the code is used once and each user ends up
//! in at most one couple even under races.

mod aggregate;
mod commands;
mod events;

pub use aggregate::{Invite, InviteError};
pub use commands::InviteCommand;
pub use events::{InviteCreated, InviteEvent, InviteRedeemed, InviteWithdrawn};
