//! What happens to an invite.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::aggregate::DomainEvent;

/// Events of an [`Invite`](crate::couple::Invite).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum InviteEvent {
    /// A code was issued.
    InviteCreated(InviteCreated),
    /// The code was used and a couple formed.
    InviteRedeemed(InviteRedeemed),
    /// The inviter took the code back before anyone used it.
    InviteWithdrawn(InviteWithdrawn),
}

/// Payload of [`InviteEvent::InviteWithdrawn`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InviteWithdrawn {
    /// The code.
    pub code: String,
    /// Who withdrew it (the inviter).
    pub inviter_id: Uuid,
    /// When.
    pub withdrawn_at: DateTime<Utc>,
}

/// Payload of [`InviteEvent::InviteCreated`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InviteCreated {
    /// The code.
    pub code: String,
    /// Who invites.
    pub inviter_id: Uuid,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// Payload of [`InviteEvent::InviteRedeemed`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InviteRedeemed {
    /// The code.
    pub code: String,
    /// The couple formed.
    pub couple_id: Uuid,
    /// Who invited.
    pub inviter_id: Uuid,
    /// Who redeemed.
    pub redeemer_id: Uuid,
    /// When.
    pub redeemed_at: DateTime<Utc>,
}

impl DomainEvent for InviteEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::InviteCreated(_) => "InviteCreated",
            Self::InviteRedeemed(_) => "InviteRedeemed",
            Self::InviteWithdrawn(_) => "InviteWithdrawn",
        }
    }

    fn event_version(&self) -> &'static str {
        "1"
    }
}
