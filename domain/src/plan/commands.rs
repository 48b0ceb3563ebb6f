//! What can be asked of a plan.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::values::{Memo, Place, Title};

/// Commands on a [`Plan`](crate::plan::Plan).
#[derive(Debug, Clone)]
pub enum PlanCommand {
    /// A partner puts a plan in the calendar (the couple is checked by the caller).
    Create {
        /// The new plan's id.
        plan_id: Uuid,
        /// Whose calendar.
        couple_id: Uuid,
        /// The two partners.
        partners: [Uuid; 2],
        /// Who asks.
        by: Uuid,
        /// What, when, where, and a note.
        plan: PlanChange,
    },
    /// A partner moves or renames it.
    Update {
        /// Who asks.
        by: Uuid,
        /// What changes (absent fields stay).
        change: PlanChange,
    },
    /// A partner deletes it.
    Delete {
        /// Who asks.
        by: Uuid,
    },
    /// The scheduler: the reminder for the start time `starts_at` is due.
    Remind {
        /// The start time the reminder was scheduled for.
        starts_at: DateTime<Utc>,
    },
}

/// A plan's fields, each optional on an update. `place` and `memo` are `Some(None)` to clear.
#[derive(Debug, Clone, Default)]
pub struct PlanChange {
    /// Its title.
    pub title: Option<Title>,
    /// When it starts.
    pub starts_at: Option<DateTime<Utc>>,
    /// Where.
    pub place: Option<Option<Place>>,
    /// A note.
    pub memo: Option<Option<Memo>>,
}
