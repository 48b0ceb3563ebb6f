//! Uploaded photos: who owns one, what it is, where it is used (which decides who may see it)
//! and when it is removed. The bytes live in the JetStream object store; this aggregate is the
//! fact of them, so the store and the events never disagree about what exists.

mod aggregate;
mod commands;
mod events;

pub use aggregate::{media_id_for, Media, MediaError};
pub use commands::MediaCommand;
pub use events::{
    MediaAttached, MediaDetached, MediaEvent, MediaRemoved, MediaUploaded, MediaUse, Removal,
    Thumbnail,
};
