//! Moim's domain: the aggregates, their commands and events, and the value types they are made of.
//!
//! Everything here is pure — no database, no network, no runtime — so every business rule can be
//! tested given/when/then in microseconds. The `commands` crate runs these aggregates over the
//! PostgreSQL event store; the `projections` crate reads their events back into read models.

pub mod aggregate;
pub mod board;
pub mod chat;
pub mod club;
pub mod couple;
pub mod error;
pub mod game;
pub mod inbox;
pub mod media;
pub mod metadata;
pub mod personal;
pub mod plan;
pub mod position;
pub mod services;
pub mod session;
pub mod testing;
pub mod upcast;
pub mod user;
pub mod values;

pub use aggregate::{Aggregate, DomainEvent};
pub use error::{ErrorKind, Rejection};
pub use metadata::Metadata;
pub use position::Position;
pub use services::Services;
