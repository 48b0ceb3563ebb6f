//! What happens to an upload.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::aggregate::DomainEvent;
use crate::board::BoardId;

/// Events of a [`Media`](crate::media::Media).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum MediaEvent {
    /// A user uploaded a photo.
    MediaUploaded(MediaUploaded),
    /// Its owner used it somewhere.
    MediaAttached(MediaAttached),
    /// A use ended.
    MediaDetached(MediaDetached),
    /// It was removed, and its bytes with it.
    MediaRemoved(MediaRemoved),
}

/// Where an upload is used; each use decides who else may see it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MediaUse {
    /// A chat message: the room's members see it.
    Message {
        /// The room.
        room_id: Uuid,
        /// The message's number in it.
        seq: u64,
    },
    /// A post: a club's members, or every signed-in user on the community board.
    Post {
        /// Where the post is.
        board: BoardId,
        /// The post.
        post_id: Uuid,
    },
    /// A profile picture: every signed-in user sees it.
    Avatar {
        /// Whose.
        user_id: Uuid,
    },
}

/// A smaller copy made for lists and previews.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Thumbnail {
    /// Its name in the object store.
    pub object: String,
    /// Its type.
    pub content_type: String,
    /// Its size.
    pub bytes: u64,
    /// Its width in pixels.
    pub width: u32,
    /// Its height in pixels.
    pub height: u32,
}

/// Payload of [`MediaEvent::MediaUploaded`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MediaUploaded {
    /// The media (derived from owner and content, see [`media_id_for`](crate::media::media_id_for)).
    pub media_id: Uuid,
    /// Who uploaded it.
    pub owner_id: Uuid,
    /// Its type, decided from its bytes.
    pub content_type: String,
    /// The size of what is served (EXIF removed).
    pub bytes: u64,
    /// Width in pixels, when it could be decoded.
    pub width: Option<u32>,
    /// Height in pixels, when it could be decoded.
    pub height: Option<u32>,
    /// SHA-256 of the bytes as uploaded, hex.
    pub sha256: String,
    /// Its name in the object store (new for every upload, so a removal never takes a later
    /// upload's bytes).
    pub object: String,
    /// Its thumbnail, when it could be made.
    pub thumbnail: Option<Thumbnail>,
    /// When.
    pub uploaded_at: DateTime<Utc>,
}

/// Payload of [`MediaEvent::MediaAttached`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MediaAttached {
    /// The media.
    pub media_id: Uuid,
    /// Whose.
    pub owner_id: Uuid,
    /// Where it is used now.
    pub to: MediaUse,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`MediaEvent::MediaDetached`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MediaDetached {
    /// The media.
    pub media_id: Uuid,
    /// The use that ended.
    pub from: MediaUse,
    /// When.
    pub at: DateTime<Utc>,
}

/// Why an upload was removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Removal {
    /// Never used within a day of its upload.
    Unused,
    /// Its last use ended.
    NoLongerUsed,
}

/// Payload of [`MediaEvent::MediaRemoved`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MediaRemoved {
    /// The media.
    pub media_id: Uuid,
    /// Whose it was.
    pub owner_id: Uuid,
    /// The objects to delete from the store.
    pub objects: Vec<String>,
    /// Why.
    pub reason: Removal,
    /// When.
    pub at: DateTime<Utc>,
}

impl DomainEvent for MediaEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::MediaUploaded(_) => "MediaUploaded",
            Self::MediaAttached(_) => "MediaAttached",
            Self::MediaDetached(_) => "MediaDetached",
            Self::MediaRemoved(_) => "MediaRemoved",
        }
    }

    fn event_version(&self) -> &'static str {
        "1"
    }

    fn caused_by_previous(&self) -> bool {
        matches!(self, Self::MediaRemoved(_))
    }
}
