//! What happens to a user.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::aggregate::DomainEvent;

/// Events of a [`User`](crate::user::User).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum UserEvent {
    /// The user signed up.
    UserRegistered(UserRegistered),
    /// The user became half of a couple.
    UserCoupled(UserCoupled),
    /// The user blocked someone.
    UserBlocked(UserBlocked),
    /// The user lifted a block.
    UserUnblocked(UserUnblocked),
    /// The user's couple was dissolved; they may match again.
    UserUncoupled(UserUncoupled),
    /// The user changed their profile.
    ProfileUpdated(ProfileUpdated),
    /// The user's platform role changed.
    PlatformRoleChanged(PlatformRoleChanged),
}

/// What a user may do across Moim, beyond what their clubs and rooms give them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlatformRole {
    /// Everyone.
    #[default]
    User,
    /// Moderates what belongs to no club: the community board.
    Admin,
}

/// Payload of [`UserEvent::PlatformRoleChanged`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformRoleChanged {
    /// The user.
    pub user_id: Uuid,
    /// Their role from now on.
    pub role: PlatformRole,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`UserEvent::UserUncoupled`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserUncoupled {
    /// The user.
    pub user_id: Uuid,
    /// The couple that ended.
    pub couple_id: Uuid,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`UserEvent::ProfileUpdated`]: the profile as it now is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileUpdated {
    /// The user.
    pub user_id: Uuid,
    /// How others see them.
    pub display_name: String,
    /// Their birthday, if they told it.
    pub birthday: Option<NaiveDate>,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`UserEvent::UserBlocked`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserBlocked {
    /// Who blocks.
    pub user_id: Uuid,
    /// Whom.
    pub blocked_id: Uuid,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`UserEvent::UserUnblocked`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserUnblocked {
    /// Who lifts the block.
    pub user_id: Uuid,
    /// Whom.
    pub blocked_id: Uuid,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`UserEvent::UserRegistered`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRegistered {
    /// The user.
    pub user_id: Uuid,
    /// How others see them.
    pub display_name: String,
    /// When.
    pub registered_at: DateTime<Utc>,
}

/// Payload of [`UserEvent::UserCoupled`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserCoupled {
    /// The user.
    pub user_id: Uuid,
    /// The couple.
    pub couple_id: Uuid,
    /// The other half.
    pub partner_id: Uuid,
    /// When they matched.
    pub since: DateTime<Utc>,
}

impl DomainEvent for UserEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::UserRegistered(_) => "UserRegistered",
            Self::UserCoupled(_) => "UserCoupled",
            Self::UserBlocked(_) => "UserBlocked",
            Self::UserUnblocked(_) => "UserUnblocked",
            Self::UserUncoupled(_) => "UserUncoupled",
            Self::ProfileUpdated(_) => "ProfileUpdated",
            Self::PlatformRoleChanged(_) => "PlatformRoleChanged",
        }
    }

    fn event_version(&self) -> &'static str {
        "1"
    }
}
