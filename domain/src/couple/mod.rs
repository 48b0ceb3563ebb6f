//! Couples: one user shares an invite code, another redeems it, and the two become a couple
//! (the [`Couple`] aggregate: their day 1, their dates, the anniversary reminders, unmatching).
//!
//! A match changes five aggregates at once — the invite, both users, the couple and its room — and
//! the `commands` crate commits their events in one transaction, so the code is used once, each
//! user ends up in at most one couple and the couple has exactly one room, even under races.

mod aggregate;
pub mod calendar;
mod commands;
mod couple_aggregate;
mod couple_commands;
mod couple_events;
mod events;

pub use aggregate::{Invite, InviteError};
pub use commands::InviteCommand;
pub use couple_aggregate::{Couple, CoupleError};
pub use couple_commands::CoupleCommand;
pub use couple_events::{
    AnniversaryChanged, AnniversaryReminded, AnniversaryRemoved, CoupleDissolved, CoupleEvent,
    CoupleFormed, CoupleUpdated,
};
pub use events::{InviteCreated, InviteEvent, InviteRedeemed, InviteWithdrawn};
