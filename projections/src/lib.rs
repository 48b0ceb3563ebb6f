//! The read side: one JetStream consumer per read model, the read models and their queries, the
//! notifier that pushes live notifications, replay from the event store, and the wait behind
//! read-your-writes.
//!
//! Each read model writes its rows and its checkpoint in one PostgreSQL transaction and acks the
//! messages only after that commits, so a redelivered message changes nothing.

pub mod chat;
pub mod checkpoint;
pub mod consumer;
pub mod couples;
mod error;
pub mod games;
pub mod notifications;
pub mod replay;
pub mod users;
mod view;

pub use error::ProjectionError;
pub use view::{Push, View};
