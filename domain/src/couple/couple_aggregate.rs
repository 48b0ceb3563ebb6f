//! The couple aggregate: the two partners, the day they count from, their own dates, which
//! anniversary reminders were sent, and whether they are still together.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use crate::aggregate::Aggregate;
use crate::couple::calendar::{self, CustomDate, Dates};
use crate::couple::{
    AnniversaryChanged, AnniversaryReminded, AnniversaryRemoved, CoupleCommand, CoupleDissolved,
    CoupleEvent, CoupleFormed, CoupleUpdated,
};
use crate::error::{ErrorKind, Rejection};
use crate::services::Services;
use crate::values::TimeZoneName;

/// A couple's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Couple {
    couple_id: Option<Uuid>,
    partners: [Uuid; 2],
    room_id: Uuid,
    started_on: Option<NaiveDate>,
    time_zone: String,
    custom: BTreeMap<Uuid, CustomDate>,
    /// Reminders due up to here have been sent.
    reminded_through: Option<DateTime<Utc>>,
    dissolved: bool,
}

/// Why a couple command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CoupleError {
    /// No such couple, or the caller is not in it, or it is dissolved.
    #[error("couple not found")]
    NotFound,
    /// The couple exists already.
    #[error("couple already formed")]
    Exists,
    /// No such date of the couple's.
    #[error("anniversary not found")]
    AnniversaryNotFound,
    /// Day 1 cannot be in the future.
    #[error("started_on must not be after today")]
    StartInFuture,
    /// A couple keeps at most [`Couple::MAX_CUSTOM`] dates of their own.
    #[error("too many anniversaries")]
    TooManyAnniversaries,
}

impl Rejection for CoupleError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::NotFound | Self::AnniversaryNotFound => ErrorKind::NotFound,
            Self::Exists => ErrorKind::Conflict,
            Self::StartInFuture | Self::TooManyAnniversaries => ErrorKind::Invalid,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "couple_not_found",
            Self::Exists => "couple_exists",
            Self::AnniversaryNotFound => "anniversary_not_found",
            Self::StartInFuture => "started_on_in_future",
            Self::TooManyAnniversaries => "too_many_anniversaries",
        }
    }
}

impl Couple {
    /// How many dates of their own a couple keeps (the state holds them all).
    pub const MAX_CUSTOM: usize = 200;

    /// The partners, if the couple exists and is together.
    pub fn partners(&self) -> Option<[Uuid; 2]> {
        (self.couple_id.is_some() && !self.dissolved).then_some(self.partners)
    }

    /// Whether `user_id` is one of the partners of a couple that is together.
    pub fn has(&self, user_id: Uuid) -> bool {
        self.partners().is_some_and(|p| p.contains(&user_id))
    }

    /// Their room, once formed.
    pub fn room_id(&self) -> Option<Uuid> {
        self.couple_id.map(|_| self.room_id)
    }

    /// Day 1, once formed.
    pub fn started_on(&self) -> Option<NaiveDate> {
        self.started_on
    }

    /// One of their own dates.
    pub fn custom(&self, anniversary_id: Uuid) -> Option<&CustomDate> {
        self.custom.get(&anniversary_id)
    }

    /// The zone their days are counted in.
    pub fn time_zone(&self) -> TimeZoneName {
        TimeZoneName::parse(&self.time_zone).unwrap_or(TimeZoneName::SEOUL)
    }

    /// When the next anniversary reminder after `now` is due (the partners' birthdays passed in).
    pub fn next_reminder(
        &self,
        birthdays: &[calendar::Birthday],
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let started_on = self.started_on.filter(|_| !self.dissolved)?;
        let custom: Vec<CustomDate> = self.custom.values().cloned().collect();
        let dates = Dates {
            started_on,
            birthdays,
            custom: &custom,
        };
        let after = self.reminded_through.map_or(now, |t| t.max(now));
        calendar::next_reminder(dates, self.time_zone().tz(), after)
    }

    /// The couple, the partners and `by`'s partner, if `by` is in this couple and it is together.
    fn as_partner(&self, by: Uuid) -> Result<(Uuid, [Uuid; 2]), CoupleError> {
        match self.couple_id {
            Some(id) if self.has(by) => Ok((id, self.partners)),
            _ => Err(CoupleError::NotFound),
        }
    }

    fn anniversary(
        &self,
        couple_id: Uuid,
        partners: [Uuid; 2],
        by: Uuid,
        date: &CustomDate,
        services: &dyn Services,
    ) -> AnniversaryChanged {
        AnniversaryChanged {
            couple_id,
            partners,
            anniversary_id: date.id,
            by,
            title: date.title.clone(),
            date: date.date,
            repeats: date.repeats,
            at: services.now(),
        }
    }

    fn remind(
        &self,
        birthdays: &[calendar::Birthday],
        services: &dyn Services,
    ) -> Result<Vec<CoupleEvent>, CoupleError> {
        let (Some(couple_id), Some(started_on)) = (self.couple_id, self.started_on) else {
            return Err(CoupleError::NotFound);
        };
        if self.dissolved {
            return Ok(Vec::new());
        }
        let now = services.now();
        let custom: Vec<CustomDate> = self.custom.values().cloned().collect();
        let dates = Dates {
            started_on,
            birthdays,
            custom: &custom,
        };
        let after = self.reminded_through.unwrap_or(now);
        Ok(
            calendar::reminders_due(dates, self.time_zone().tz(), after, now)
                .into_iter()
                .map(|r| {
                    CoupleEvent::AnniversaryReminded(AnniversaryReminded {
                        couple_id,
                        partners: self.partners,
                        title: r.occurrence.title,
                        kind: r.occurrence.kind,
                        date: r.occurrence.date,
                        days_before: r.days_before,
                        due_at: r.due_at,
                        reminded_at: now,
                    })
                })
                .collect(),
        )
    }
}

impl Aggregate for Couple {
    const TYPE: &'static str = "couple";
    const SNAPSHOT_EVERY: Option<u64> = Some(50);
    type Command = CoupleCommand;
    type Event = CoupleEvent;
    type Error = CoupleError;

    fn handle(
        &self,
        command: CoupleCommand,
        services: &dyn Services,
    ) -> Result<Vec<CoupleEvent>, CoupleError> {
        let now = services.now();
        match command {
            CoupleCommand::Form {
                couple_id,
                partners,
                room_id,
            } => {
                if self.couple_id.is_some() {
                    return Err(CoupleError::Exists);
                }
                let zone = TimeZoneName::SEOUL;
                Ok(vec![CoupleEvent::CoupleFormed(CoupleFormed {
                    couple_id,
                    partners,
                    room_id,
                    started_on: calendar::local_date(zone.tz(), now),
                    time_zone: zone.as_str().to_owned(),
                    formed_at: now,
                })])
            }
            CoupleCommand::Update {
                by,
                started_on,
                time_zone,
            } => {
                let (couple_id, partners) = self.as_partner(by)?;
                let zone = time_zone.unwrap_or_else(|| self.time_zone());
                let started_on = started_on.or(self.started_on).unwrap_or_default();
                if started_on > calendar::local_date(zone.tz(), now) {
                    return Err(CoupleError::StartInFuture);
                }
                if Some(started_on) == self.started_on && zone.as_str() == self.time_zone {
                    return Ok(Vec::new());
                }
                Ok(vec![CoupleEvent::CoupleUpdated(CoupleUpdated {
                    couple_id,
                    partners,
                    by,
                    started_on,
                    time_zone: zone.as_str().to_owned(),
                    updated_at: now,
                })])
            }
            CoupleCommand::AddAnniversary {
                by,
                anniversary_id,
                title,
                date,
                repeats,
            } => {
                let (couple_id, partners) = self.as_partner(by)?;
                if self.custom.len() >= Self::MAX_CUSTOM {
                    return Err(CoupleError::TooManyAnniversaries);
                }
                let date = CustomDate {
                    id: anniversary_id,
                    title: title.as_str().to_owned(),
                    date,
                    repeats,
                };
                Ok(vec![CoupleEvent::AnniversaryAdded(
                    self.anniversary(couple_id, partners, by, &date, services),
                )])
            }
            CoupleCommand::ChangeAnniversary {
                by,
                anniversary_id,
                title,
                date,
                repeats,
            } => {
                let (couple_id, partners) = self.as_partner(by)?;
                let old = self
                    .custom
                    .get(&anniversary_id)
                    .ok_or(CoupleError::AnniversaryNotFound)?;
                let new = CustomDate {
                    id: anniversary_id,
                    title: title.map_or_else(|| old.title.clone(), |t| t.as_str().to_owned()),
                    date: date.unwrap_or(old.date),
                    repeats: repeats.unwrap_or(old.repeats),
                };
                if &new == old {
                    return Ok(Vec::new());
                }
                Ok(vec![CoupleEvent::AnniversaryChanged(
                    self.anniversary(couple_id, partners, by, &new, services),
                )])
            }
            CoupleCommand::RemoveAnniversary { by, anniversary_id } => {
                let (couple_id, partners) = self.as_partner(by)?;
                if !self.custom.contains_key(&anniversary_id) {
                    return Err(CoupleError::AnniversaryNotFound);
                }
                Ok(vec![CoupleEvent::AnniversaryRemoved(AnniversaryRemoved {
                    couple_id,
                    partners,
                    anniversary_id,
                    by,
                    at: now,
                })])
            }
            CoupleCommand::RemindAnniversaries { birthdays } => self.remind(&birthdays, services),
            CoupleCommand::Dissolve { by } => {
                let (couple_id, partners) = self.as_partner(by)?;
                Ok(vec![CoupleEvent::CoupleDissolved(CoupleDissolved {
                    couple_id,
                    partners,
                    room_id: self.room_id,
                    by,
                    at: now,
                })])
            }
        }
    }

    fn apply(&mut self, event: CoupleEvent) {
        match event {
            CoupleEvent::CoupleFormed(e) => {
                self.couple_id = Some(e.couple_id);
                self.partners = e.partners;
                self.room_id = e.room_id;
                self.started_on = Some(e.started_on);
                self.time_zone = e.time_zone;
                self.reminded_through = Some(e.formed_at);
            }
            CoupleEvent::CoupleUpdated(e) => {
                self.started_on = Some(e.started_on);
                self.time_zone = e.time_zone;
            }
            CoupleEvent::AnniversaryAdded(e) | CoupleEvent::AnniversaryChanged(e) => {
                self.custom.insert(
                    e.anniversary_id,
                    CustomDate {
                        id: e.anniversary_id,
                        title: e.title,
                        date: e.date,
                        repeats: e.repeats,
                    },
                );
            }
            CoupleEvent::AnniversaryRemoved(e) => {
                self.custom.remove(&e.anniversary_id);
            }
            CoupleEvent::AnniversaryReminded(e) => {
                self.reminded_through = Some(e.reminded_at);
            }
            CoupleEvent::CoupleDissolved(_) => self.dissolved = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::couple::calendar::Repeats;
    use crate::testing::{given, FixedServices};
    use crate::values::Title;
    use chrono::{Duration, TimeZone};

    const COUPLE: Uuid = Uuid::from_u128(50);
    const ROOM: Uuid = Uuid::from_u128(60);
    const KIM: Uuid = Uuid::from_u128(1);
    const LEE: Uuid = Uuid::from_u128(2);
    const PARK: Uuid = Uuid::from_u128(3);
    const DATE: Uuid = Uuid::from_u128(70);

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn formed(formed_at: DateTime<Utc>) -> CoupleEvent {
        CoupleEvent::CoupleFormed(CoupleFormed {
            couple_id: COUPLE,
            partners: [KIM, LEE],
            room_id: ROOM,
            started_on: calendar::local_date(chrono_tz::Asia::Seoul, formed_at),
            time_zone: "Asia/Seoul".into(),
            formed_at,
        })
    }

    fn added(title: &str, date: NaiveDate) -> CoupleEvent {
        CoupleEvent::AnniversaryAdded(AnniversaryChanged {
            couple_id: COUPLE,
            partners: [KIM, LEE],
            anniversary_id: DATE,
            by: KIM,
            title: title.into(),
            date,
            repeats: Repeats::Yearly,
            at: FixedServices::new().now,
        })
    }

    #[test]
    fn day_one_is_the_match_day_in_seoul() {
        // 20:00 UTC is 05:00 the next day in Seoul.
        let evening = at(2026, 3, 1, 20);
        given::<Couple>([])
            .at(evening)
            .when(CoupleCommand::Form {
                couple_id: COUPLE,
                partners: [KIM, LEE],
                room_id: ROOM,
            })
            .then_expect_events(vec![formed(evening)]);
        let CoupleEvent::CoupleFormed(e) = formed(evening) else {
            unreachable!()
        };
        assert_eq!(e.started_on, day(2026, 3, 2));
    }

    #[test]
    fn partners_move_day_one_but_not_into_the_future_and_outsiders_see_nothing() {
        let now = FixedServices::new().now;
        let update = |by, started_on| CoupleCommand::Update {
            by,
            started_on: Some(started_on),
            time_zone: Some(TimeZoneName::parse("Europe/Paris").unwrap()),
        };
        given::<Couple>([formed(now)])
            .when(update(LEE, day(2025, 12, 24)))
            .then_expect_events(vec![CoupleEvent::CoupleUpdated(CoupleUpdated {
                couple_id: COUPLE,
                partners: [KIM, LEE],
                by: LEE,
                started_on: day(2025, 12, 24),
                time_zone: "Europe/Paris".into(),
                updated_at: now,
            })]);
        let tomorrow = calendar::local_date(chrono_tz::Europe::Paris, now) + Duration::days(1);
        given::<Couple>([formed(now)])
            .when(update(KIM, tomorrow))
            .then_expect_error("started_on_in_future");
        given::<Couple>([formed(now)])
            .when(update(PARK, day(2025, 1, 1)))
            .then_expect_error("couple_not_found");
    }

    #[test]
    fn either_partner_edits_their_dates_and_nobody_else() {
        let now = FixedServices::new().now;
        given::<Couple>([formed(now)])
            .when(CoupleCommand::AddAnniversary {
                by: KIM,
                anniversary_id: DATE,
                title: Title::parse("첫 여행").unwrap(),
                date: day(2026, 5, 5),
                repeats: Repeats::Yearly,
            })
            .then_expect_events(vec![added("첫 여행", day(2026, 5, 5))]);
        given::<Couple>([formed(now), added("첫 여행", day(2026, 5, 5))])
            .when(CoupleCommand::ChangeAnniversary {
                by: LEE,
                anniversary_id: DATE,
                title: Some(Title::parse("여행").unwrap()),
                date: None,
                repeats: None,
            })
            .then_expect_events(vec![CoupleEvent::AnniversaryChanged(AnniversaryChanged {
                by: LEE,
                title: "여행".into(),
                ..match added("", day(2026, 5, 5)) {
                    CoupleEvent::AnniversaryAdded(e) => e,
                    _ => unreachable!(),
                }
            })]);
        given::<Couple>([formed(now), added("첫 여행", day(2026, 5, 5))])
            .when(CoupleCommand::RemoveAnniversary {
                by: PARK,
                anniversary_id: DATE,
            })
            .then_expect_error("couple_not_found");
        given::<Couple>([formed(now)])
            .when(CoupleCommand::RemoveAnniversary {
                by: KIM,
                anniversary_id: DATE,
            })
            .then_expect_error("anniversary_not_found");
    }

    #[test]
    fn a_reminder_is_sent_once_when_due_and_a_late_one_only_before_the_day() {
        // Formed 1 January 2026 (Seoul): 100일 is 10 April, reminded 3 April and 9 April, 09:00 KST.
        let formed_at = at(2026, 1, 1, 1);
        let seven = at(2026, 4, 3, 0);
        let reminded = |due_at, days_before, reminded_at| {
            CoupleEvent::AnniversaryReminded(AnniversaryReminded {
                couple_id: COUPLE,
                partners: [KIM, LEE],
                title: "100일".into(),
                kind: calendar::AnniversaryKind::Auto,
                date: day(2026, 4, 10),
                days_before,
                due_at,
                reminded_at,
            })
        };
        let remind = || CoupleCommand::RemindAnniversaries { birthdays: vec![] };
        given::<Couple>([formed(formed_at)])
            .at(seven - Duration::seconds(1))
            .when(remind())
            .then_expect_events(vec![]);
        given::<Couple>([formed(formed_at)])
            .at(seven)
            .when(remind())
            .then_expect_events(vec![reminded(seven, 7, seven)]);
        // Fired again: nothing new.
        given::<Couple>([formed(formed_at), reminded(seven, 7, seven)])
            .at(seven + Duration::minutes(5))
            .when(remind())
            .then_expect_events(vec![]);
        // Every process was down from 2 to 9 April, 12:00 KST: both are late; the nearer is sent.
        let back = at(2026, 4, 9, 3);
        given::<Couple>([formed(formed_at)])
            .at(back)
            .when(remind())
            .then_expect_events(vec![reminded(at(2026, 4, 9, 0), 1, back)]);
        // Back only after the day itself: nothing.
        given::<Couple>([formed(formed_at)])
            .at(at(2026, 4, 11, 0))
            .when(remind())
            .then_expect_events(vec![]);
    }

    #[test]
    fn unmatching_ends_it_for_both_and_reminds_nobody() {
        let now = FixedServices::new().now;
        let dissolved = CoupleEvent::CoupleDissolved(CoupleDissolved {
            couple_id: COUPLE,
            partners: [KIM, LEE],
            room_id: ROOM,
            by: LEE,
            at: now,
        });
        given::<Couple>([formed(now)])
            .when(CoupleCommand::Dissolve { by: LEE })
            .then_expect_events(vec![dissolved.clone()]);
        given::<Couple>([formed(now), dissolved.clone()])
            .when(CoupleCommand::Dissolve { by: KIM })
            .then_expect_error("couple_not_found");
        given::<Couple>([formed(now), dissolved.clone()])
            .at(now + Duration::days(100))
            .when(CoupleCommand::RemindAnniversaries { birthdays: vec![] })
            .then_expect_events(vec![]);
        given::<Couple>([formed(now), dissolved])
            .when(CoupleCommand::Update {
                by: KIM,
                started_on: None,
                time_zone: None,
            })
            .then_expect_error("couple_not_found");
    }
}
