//! What can be asked of a couple.

use chrono::NaiveDate;
use uuid::Uuid;

use crate::couple::calendar::{Birthday, Repeats};
use crate::values::{TimeZoneName, Title};

/// Commands on a [`Couple`](crate::couple::Couple).
#[derive(Debug, Clone)]
pub enum CoupleCommand {
    /// Records the match (decided together with the invite and both users).
    Form {
        /// The couple.
        couple_id: Uuid,
        /// Inviter, then redeemer.
        partners: [Uuid; 2],
        /// Their private room, opened in the same command flow.
        room_id: Uuid,
    },
    /// A partner changes day 1 or the time zone.
    Update {
        /// Who asks.
        by: Uuid,
        /// The new day 1.
        started_on: Option<NaiveDate>,
        /// The new zone.
        time_zone: Option<TimeZoneName>,
    },
    /// A partner adds a date of their own.
    AddAnniversary {
        /// Who asks.
        by: Uuid,
        /// Its new id.
        anniversary_id: Uuid,
        /// Its title.
        title: Title,
        /// Its day.
        date: NaiveDate,
        /// Whether it comes back.
        repeats: Repeats,
    },
    /// A partner changes one of their dates.
    ChangeAnniversary {
        /// Who asks.
        by: Uuid,
        /// Which.
        anniversary_id: Uuid,
        /// A new title.
        title: Option<Title>,
        /// A new day.
        date: Option<NaiveDate>,
        /// A new rhythm.
        repeats: Option<Repeats>,
    },
    /// A partner removes one of their dates.
    RemoveAnniversary {
        /// Who asks.
        by: Uuid,
        /// Which.
        anniversary_id: Uuid,
    },
    /// The scheduler: tell both partners of every anniversary whose reminder is due now.
    RemindAnniversaries {
        /// The partners' birthdays (they live on the users).
        birthdays: Vec<Birthday>,
    },
    /// A partner unmatches.
    Dissolve {
        /// Who asks.
        by: Uuid,
    },
}
