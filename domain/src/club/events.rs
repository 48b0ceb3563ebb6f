//! What happens to a club.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::aggregate::DomainEvent;
use crate::club::{ClubRole, JoinPolicy};

/// Events of a [`Club`](crate::club::Club).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum ClubEvent {
    /// The club was founded.
    ClubCreated(ClubCreated),
    /// Its card changed.
    ClubUpdated(ClubUpdated),
    /// Someone asked to join.
    JoinRequested(JoinRequested),
    /// A request was turned down.
    JoinRejected(JoinRejected),
    /// Someone became a member.
    ClubMemberJoined(ClubMemberJoined),
    /// A member's role changed.
    ClubRoleChanged(ClubRoleChanged),
    /// A member left or was removed.
    ClubMemberLeft(ClubMemberLeft),
}

/// Payload of [`ClubEvent::ClubCreated`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClubCreated {
    /// The club.
    pub club_id: Uuid,
    /// Its name.
    pub name: String,
    /// What it is about.
    pub description: String,
    /// Whether joining needs approval.
    pub join_policy: JoinPolicy,
    /// Its founder and owner.
    pub owner_id: Uuid,
    /// Its chat room.
    pub room_id: Uuid,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// Payload of [`ClubEvent::ClubUpdated`]: the card as it now is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClubUpdated {
    /// The club.
    pub club_id: Uuid,
    /// Its name.
    pub name: String,
    /// What it is about.
    pub description: String,
    /// Whether joining needs approval.
    pub join_policy: JoinPolicy,
    /// Who changed it.
    pub by: Uuid,
}

/// Payload of [`ClubEvent::JoinRequested`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JoinRequested {
    /// The club.
    pub club_id: Uuid,
    /// Who asks.
    pub user_id: Uuid,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`ClubEvent::JoinRejected`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JoinRejected {
    /// The club.
    pub club_id: Uuid,
    /// Whose request.
    pub user_id: Uuid,
    /// Who turned it down.
    pub by: Uuid,
}

/// Payload of [`ClubEvent::ClubMemberJoined`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClubMemberJoined {
    /// The club.
    pub club_id: Uuid,
    /// The new member.
    pub user_id: Uuid,
    /// Their role.
    pub role: ClubRole,
    /// Who let them in (themselves in an open club).
    pub by: Uuid,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`ClubEvent::ClubRoleChanged`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClubRoleChanged {
    /// The club.
    pub club_id: Uuid,
    /// Whose role.
    pub user_id: Uuid,
    /// The new role.
    pub role: ClubRole,
    /// Who changed it.
    pub by: Uuid,
}

/// Payload of [`ClubEvent::ClubMemberLeft`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClubMemberLeft {
    /// The club.
    pub club_id: Uuid,
    /// Who went.
    pub user_id: Uuid,
    /// Who removed them (themselves when they left).
    pub by: Uuid,
    /// When.
    pub at: DateTime<Utc>,
}

impl DomainEvent for ClubEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::ClubCreated(_) => "ClubCreated",
            Self::ClubUpdated(_) => "ClubUpdated",
            Self::JoinRequested(_) => "JoinRequested",
            Self::JoinRejected(_) => "JoinRejected",
            Self::ClubMemberJoined(_) => "ClubMemberJoined",
            Self::ClubRoleChanged(_) => "ClubRoleChanged",
            Self::ClubMemberLeft(_) => "ClubMemberLeft",
        }
    }

    fn event_version(&self) -> &'static str {
        "1"
    }

    fn caused_by_previous(&self) -> bool {
        // Handing the club over demotes the old owner in the same command.
        matches!(self, Self::ClubRoleChanged(e) if e.role == ClubRole::Manager && e.by == e.user_id)
    }
}
