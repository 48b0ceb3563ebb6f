//! The read side: one JetStream consumer feeding every read model, the read models and their
//! queries, the notifier that pushes live frames, replay from the event store, and the wait
//! behind read-your-writes.
//!
//! Each read model is one module that describes itself ([`ReadModel`]) and one line in
//! [`Registry::standard`]. It writes its rows and its checkpoint in one PostgreSQL transaction
//! and acks the messages only after that commits, so a redelivered message changes nothing.

pub mod bigrams;
mod binary_copy;
pub mod board;
pub mod chat;
mod chat_bulk;
pub mod chat_search;
pub mod checkpoint;
pub mod clubs;
pub mod consumer;
pub mod couple_schedule;
pub mod couples;
mod dead_letters;
mod decode;
mod error;
pub mod fingerprint;
pub mod frames;
pub mod games;
mod jobs;
mod kept;
pub mod media;
pub mod notifications;
pub mod outbox;
mod personal;
pub mod progress;
mod registry;
pub mod replay;
pub mod room_feed;
mod runner;
pub mod search_pairs;
pub mod users;
mod window;

pub use error::ProjectionError;
pub use frames::Push;
pub use registry::{ApplyOne, PushFrom, PushRead, ReadModel, Registry, Simple, View};
pub use window::Window;
