//! The shapes of what a couple sees: a plan (the HTTP answer and the data of its frames), the
//! news of each other's changes, reminders, and a partner's live position.

use chrono::{DateTime, NaiveDate, Utc};
use domain::couple::calendar::{AnniversaryKind, Repeats};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A plan: each entry of `GET /couples/me/plans`, the answer to a create or update, and the data
/// of `plan.created` and `plan.updated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct PlanEntry {
    /// The plan.
    pub plan_id: Uuid,
    /// Its title.
    pub title: String,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// Where.
    pub place: Option<String>,
    /// A note.
    pub memo: Option<String>,
    /// Who made the latest change.
    pub updated_by: Uuid,
    /// When.
    pub updated_at: DateTime<Utc>,
}

impl From<&domain::plan::PlanWritten> for PlanEntry {
    fn from(plan: &domain::plan::PlanWritten) -> Self {
        Self {
            plan_id: plan.plan_id,
            title: plan.title.clone(),
            starts_at: plan.starts_at,
            place: plan.place.clone(),
            memo: plan.memo.clone(),
            updated_by: plan.by,
            updated_at: plan.at,
        }
    }
}

/// Data of `plan.created` and `plan.updated`: the plan, as a feed entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlanNews {
    /// The feed entry.
    pub notification_id: Uuid,
    /// The plan as it now is.
    #[serde(flatten)]
    pub plan: PlanEntry,
}

/// Data of `plan.deleted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlanRemoved {
    /// The feed entry.
    pub notification_id: Uuid,
    /// The plan.
    pub plan_id: Uuid,
    /// Who deleted it.
    pub by: Uuid,
}

/// Data of `plan.reminder`: the plan starts in two hours (or sooner, when it was made late).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlanReminder {
    /// The feed entry.
    pub notification_id: Uuid,
    /// The plan.
    pub plan_id: Uuid,
    /// Its title.
    pub title: String,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// Where.
    pub place: Option<String>,
}

/// Data of `anniversary.changed`: the partner added, changed or removed one of their dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AnniversaryNews {
    /// The feed entry.
    pub notification_id: Uuid,
    /// The date.
    pub anniversary_id: Uuid,
    /// `added`, `changed` or `removed`.
    pub change: String,
    /// Its title, unless removed.
    pub title: Option<String>,
    /// Its day, unless removed.
    pub date: Option<NaiveDate>,
    /// Whether it comes back, unless removed.
    pub repeats: Option<Repeats>,
    /// Who.
    pub by: Uuid,
}

/// Data of `anniversary.upcoming`, at 09:00 the couple's time, 7 days and 1 day ahead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AnniversaryUpcoming {
    /// The feed entry.
    pub notification_id: Uuid,
    /// `100일`, `1주년`, a birthday or the couple's own title.
    pub title: String,
    /// Where it comes from.
    pub kind: AnniversaryKind,
    /// The day.
    pub date: NaiveDate,
    /// How many days ahead.
    pub days_before: i64,
}

/// Data of `couple.updated`: the partner moved day 1 or the time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CoupleSettings {
    /// The feed entry.
    pub notification_id: Uuid,
    /// The couple.
    pub couple_id: Uuid,
    /// Day 1.
    pub started_on: NaiveDate,
    /// IANA zone name.
    pub time_zone: String,
    /// Who.
    pub by: Uuid,
}

/// Data of `couple.dissolved`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CoupleEnded {
    /// The feed entry.
    pub notification_id: Uuid,
    /// The couple.
    pub couple_id: Uuid,
    /// Their room, read-only from now on.
    pub room_id: Uuid,
    /// Who unmatched.
    pub by: Uuid,
}

/// Data of the client's `location.update`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, utoipa::ToSchema)]
pub struct LocationIn {
    /// Latitude, -90..=90.
    pub lat: f64,
    /// Longitude, -180..=180.
    pub lng: f64,
    /// Accuracy in metres, 0..=100000.
    pub accuracy: f64,
}

/// Data of `location.updated` (never kept: a stream, not a fact).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Location {
    /// Whose position.
    pub user_id: Uuid,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lng: f64,
    /// Accuracy in metres.
    pub accuracy: f64,
    /// When the server passed it on.
    pub at: DateTime<Utc>,
}

/// Data of `location.stopped`: the partner stopped sharing or disconnected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LocationStopped {
    /// Whose sharing stopped.
    pub user_id: Uuid,
}

/// Data of `room.archived`: the room is read-only from now on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoomArchivedNote {
    /// The room.
    pub room_id: Uuid,
}
