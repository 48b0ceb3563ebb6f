//! The notification feed's shapes: an entry (a `GET /notifications` row and the data of
//! `notification.created`), and what `notification.read` tells a user's other devices.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// One entry of a user's feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct FeedEntry {
    /// Stable id (derived from the event and the user, so a redelivery cannot double it).
    pub notification_id: Uuid,
    /// The frame type the news also went out as, e.g. `comment.replied`.
    pub kind: String,
    /// That frame's data.
    pub data: Value,
    /// When the event happened.
    pub created_at: DateTime<Utc>,
    /// When the user read it; `null` while unread.
    pub read_at: Option<DateTime<Utc>>,
    /// Where it stands in the user's feed: a list's `cursor`, and a socket's `resume` `after`.
    pub cursor: String,
}

/// Entries were read, on one of the user's devices: one (`notification_id`), or every one up
/// to `through`; `unread` is how many are left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeedRead {
    /// The entry read, when one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_id: Option<Uuid>,
    /// The cursor up to which all were read, when all were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub through: Option<String>,
    /// Unread entries left.
    pub unread: i64,
}
