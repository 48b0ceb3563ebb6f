//! What happens to a couple once matched.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::aggregate::DomainEvent;
use crate::couple::calendar::{AnniversaryKind, Repeats};

/// Events of a [`Couple`](crate::couple::Couple).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum CoupleEvent {
    /// Two people matched; their room was opened with it.
    CoupleFormed(CoupleFormed),
    /// The day they count from or their time zone changed.
    CoupleUpdated(CoupleUpdated),
    /// A partner added a date of their own.
    AnniversaryAdded(AnniversaryChanged),
    /// A partner changed one.
    AnniversaryChanged(AnniversaryChanged),
    /// A partner removed one.
    AnniversaryRemoved(AnniversaryRemoved),
    /// Both partners were told an anniversary is coming.
    AnniversaryReminded(AnniversaryReminded),
    /// They unmatched.
    CoupleDissolved(CoupleDissolved),
}

/// Payload of [`CoupleEvent::CoupleFormed`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CoupleFormed {
    /// The couple.
    pub couple_id: Uuid,
    /// The two partners, inviter first.
    pub partners: [Uuid; 2],
    /// Their private room.
    pub room_id: Uuid,
    /// Day 1: the match day in their time zone, until they say otherwise.
    pub started_on: NaiveDate,
    /// IANA name of the zone their days are counted in.
    pub time_zone: String,
    /// When.
    pub formed_at: DateTime<Utc>,
}

/// Payload of [`CoupleEvent::CoupleUpdated`]: the settings as they now are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CoupleUpdated {
    /// The couple.
    pub couple_id: Uuid,
    /// The partners.
    pub partners: [Uuid; 2],
    /// Who changed them.
    pub by: Uuid,
    /// Day 1.
    pub started_on: NaiveDate,
    /// IANA zone name.
    pub time_zone: String,
    /// When.
    pub updated_at: DateTime<Utc>,
}

/// Payload of [`CoupleEvent::AnniversaryAdded`] and [`CoupleEvent::AnniversaryChanged`]: the
/// date as it now is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AnniversaryChanged {
    /// The couple.
    pub couple_id: Uuid,
    /// The partners.
    pub partners: [Uuid; 2],
    /// The date's id.
    pub anniversary_id: Uuid,
    /// Who added or changed it.
    pub by: Uuid,
    /// Its title.
    pub title: String,
    /// Its (first) day.
    pub date: NaiveDate,
    /// Whether it comes back every year.
    pub repeats: Repeats,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`CoupleEvent::AnniversaryRemoved`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AnniversaryRemoved {
    /// The couple.
    pub couple_id: Uuid,
    /// The partners.
    pub partners: [Uuid; 2],
    /// The date's id.
    pub anniversary_id: Uuid,
    /// Who removed it.
    pub by: Uuid,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`CoupleEvent::AnniversaryReminded`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AnniversaryReminded {
    /// The couple.
    pub couple_id: Uuid,
    /// Who is told.
    pub partners: [Uuid; 2],
    /// What is coming.
    pub title: String,
    /// Where it comes from.
    pub kind: AnniversaryKind,
    /// The day it falls on.
    pub date: NaiveDate,
    /// How many days ahead this reminder is.
    pub days_before: i64,
    /// When it was due.
    pub due_at: DateTime<Utc>,
    /// When it was sent.
    pub reminded_at: DateTime<Utc>,
}

/// Payload of [`CoupleEvent::CoupleDissolved`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CoupleDissolved {
    /// The couple.
    pub couple_id: Uuid,
    /// The partners.
    pub partners: [Uuid; 2],
    /// Their room, now read-only.
    pub room_id: Uuid,
    /// Who unmatched.
    pub by: Uuid,
    /// When.
    pub at: DateTime<Utc>,
}

impl DomainEvent for CoupleEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::CoupleFormed(_) => "CoupleFormed",
            Self::CoupleUpdated(_) => "CoupleUpdated",
            Self::AnniversaryAdded(_) => "AnniversaryAdded",
            Self::AnniversaryChanged(_) => "AnniversaryChanged",
            Self::AnniversaryRemoved(_) => "AnniversaryRemoved",
            Self::AnniversaryReminded(_) => "AnniversaryReminded",
            Self::CoupleDissolved(_) => "CoupleDissolved",
        }
    }

    fn event_version(&self) -> &'static str {
        "1"
    }

    /// One reminder per couple, day, title and lead time: a second firing stores nothing.
    fn idempotency_id(&self) -> Option<Uuid> {
        match self {
            Self::AnniversaryReminded(e) => Some(Uuid::new_v5(
                &e.couple_id,
                format!("anniversary:{}:{}:{}", e.date, e.days_before, e.title).as_bytes(),
            )),
            _ => None,
        }
    }
}
