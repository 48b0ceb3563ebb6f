//! What happens to a comment.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::aggregate::DomainEvent;
use crate::board::BoardId;

/// Events of a [`Comment`](crate::board::Comment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum CommentEvent {
    /// Someone commented on a post, or replied to a comment.
    CommentCreated(CommentCreated),
    /// The author changed it.
    CommentEdited(CommentEdited),
    /// The author or a moderator deleted it (it stays as a tombstone while it has replies).
    CommentDeleted(CommentDeleted),
}

/// Payload of [`CommentEvent::CommentCreated`]. It names the post's and the parent's authors,
/// as the write side knew them, so whoever is told need not look them up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CommentCreated {
    /// The comment.
    pub comment_id: Uuid,
    /// On which post.
    pub post_id: Uuid,
    /// The post's board.
    pub board: BoardId,
    /// The comment it answers, if any.
    pub parent_id: Option<Uuid>,
    /// Who wrote it.
    pub author_id: Uuid,
    /// Its text.
    pub body: String,
    /// Who wrote the post.
    pub post_author_id: Uuid,
    /// Who wrote the parent comment.
    pub parent_author_id: Option<Uuid>,
    /// Who it names, each once, never its author (absent from comments before mentions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<Uuid>,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`CommentEvent::CommentEdited`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CommentEdited {
    /// The comment.
    pub comment_id: Uuid,
    /// Its post.
    pub post_id: Uuid,
    /// The new text.
    pub body: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`CommentEvent::CommentDeleted`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CommentDeleted {
    /// The comment.
    pub comment_id: Uuid,
    /// Its post.
    pub post_id: Uuid,
    /// Who deleted it.
    pub by: Uuid,
    /// When.
    pub at: DateTime<Utc>,
}

impl DomainEvent for CommentEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::CommentCreated(_) => "CommentCreated",
            Self::CommentEdited(_) => "CommentEdited",
            Self::CommentDeleted(_) => "CommentDeleted",
        }
    }

    fn event_version(&self) -> &'static str {
        "1"
    }
}
