//! What happens to a user.

use chrono::{DateTime, Utc};
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
        }
    }

    fn event_version(&self) -> &'static str {
        "1"
    }
}
