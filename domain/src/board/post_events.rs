//! What happens to a post.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::aggregate::DomainEvent;
use crate::board::BoardId;

/// Events of a [`Post`](crate::board::Post).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum PostEvent {
    /// Someone posted.
    PostCreated(PostCreated),
    /// The author changed it.
    PostEdited(PostEdited),
    /// The author or a moderator deleted it.
    PostDeleted(PostDeleted),
    /// A moderator pinned or unpinned it.
    PostPinned(PostPinned),
    /// Someone liked it.
    PostLiked(PostLike),
    /// Someone took their like back.
    PostUnliked(PostLike),
}

/// Payload of [`PostEvent::PostCreated`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PostCreated {
    /// The post.
    pub post_id: Uuid,
    /// Where.
    pub board: BoardId,
    /// Its category.
    pub category: String,
    /// Its title.
    pub title: String,
    /// Its text.
    pub body: String,
    /// Photos with it.
    pub media_ids: Vec<Uuid>,
    /// Who wrote it.
    pub author_id: Uuid,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`PostEvent::PostEdited`]: the post's text as it now is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PostEdited {
    /// The post.
    pub post_id: Uuid,
    /// Its category.
    pub category: String,
    /// Its title.
    pub title: String,
    /// Its text.
    pub body: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`PostEvent::PostDeleted`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PostDeleted {
    /// The post.
    pub post_id: Uuid,
    /// Who deleted it.
    pub by: Uuid,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`PostEvent::PostPinned`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PostPinned {
    /// The post.
    pub post_id: Uuid,
    /// Pinned, or unpinned.
    pub pinned: bool,
    /// By whom.
    pub by: Uuid,
}

/// Payload of [`PostEvent::PostLiked`] and [`PostEvent::PostUnliked`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PostLike {
    /// The post.
    pub post_id: Uuid,
    /// Who.
    pub user_id: Uuid,
}

impl DomainEvent for PostEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::PostCreated(_) => "PostCreated",
            Self::PostEdited(_) => "PostEdited",
            Self::PostDeleted(_) => "PostDeleted",
            Self::PostPinned(_) => "PostPinned",
            Self::PostLiked(_) => "PostLiked",
            Self::PostUnliked(_) => "PostUnliked",
        }
    }

    fn event_version(&self) -> &'static str {
        "1"
    }
}
