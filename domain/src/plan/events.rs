//! What happens to a plan.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::aggregate::DomainEvent;

/// Events of a [`Plan`](crate::plan::Plan).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum PlanEvent {
    /// A partner made a plan.
    PlanCreated(PlanWritten),
    /// A partner moved or renamed it.
    PlanUpdated(PlanWritten),
    /// A partner deleted it.
    PlanDeleted(PlanDeleted),
    /// Both partners were reminded of it.
    PlanReminded(PlanReminded),
}

/// Payload of [`PlanEvent::PlanCreated`] and [`PlanEvent::PlanUpdated`]: the plan as it now is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlanWritten {
    /// The plan.
    pub plan_id: Uuid,
    /// Whose.
    pub couple_id: Uuid,
    /// The partners.
    pub partners: [Uuid; 2],
    /// Who made the change.
    pub by: Uuid,
    /// Its title.
    pub title: String,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// Where.
    pub place: Option<String>,
    /// A note.
    pub memo: Option<String>,
    /// When the change was made.
    pub at: DateTime<Utc>,
}

/// Payload of [`PlanEvent::PlanDeleted`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlanDeleted {
    /// The plan.
    pub plan_id: Uuid,
    /// Whose.
    pub couple_id: Uuid,
    /// The partners.
    pub partners: [Uuid; 2],
    /// Who deleted it.
    pub by: Uuid,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`PlanEvent::PlanReminded`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlanReminded {
    /// The plan.
    pub plan_id: Uuid,
    /// Whose.
    pub couple_id: Uuid,
    /// Who is told.
    pub partners: [Uuid; 2],
    /// Its title.
    pub title: String,
    /// The start time reminded of.
    pub starts_at: DateTime<Utc>,
    /// Where.
    pub place: Option<String>,
    /// When it was due.
    pub due_at: DateTime<Utc>,
    /// When it was sent.
    pub reminded_at: DateTime<Utc>,
}

impl DomainEvent for PlanEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::PlanCreated(_) => "PlanCreated",
            Self::PlanUpdated(_) => "PlanUpdated",
            Self::PlanDeleted(_) => "PlanDeleted",
            Self::PlanReminded(_) => "PlanReminded",
        }
    }

    fn event_version(&self) -> &'static str {
        "1"
    }

    /// One reminder per plan and start time: a second firing stores nothing new.
    fn idempotency_id(&self) -> Option<Uuid> {
        match self {
            Self::PlanReminded(e) => Some(Uuid::new_v5(
                &e.plan_id,
                format!("reminder:{}", e.starts_at.timestamp_micros()).as_bytes(),
            )),
            _ => None,
        }
    }
}
