//! The plan aggregate: what, when and where, and which start time was reminded.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use crate::aggregate::Aggregate;
use crate::error::{ErrorKind, Rejection};
use crate::plan::{PlanChange, PlanCommand, PlanDeleted, PlanEvent, PlanReminded, PlanWritten};
use crate::services::Services;

/// A plan's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Plan {
    written: Option<PlanWritten>,
    deleted: bool,
    reminded_for: Option<DateTime<Utc>>,
}

/// Why a plan command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlanError {
    /// No such plan, it was deleted, or the caller is not one of its couple.
    #[error("plan not found")]
    NotFound,
    /// The id is taken.
    #[error("plan exists already")]
    Exists,
    /// A new plan needs a title and a start.
    #[error("a plan needs a title and starts_at")]
    Incomplete,
}

impl Rejection for PlanError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::NotFound => ErrorKind::NotFound,
            Self::Exists => ErrorKind::Conflict,
            Self::Incomplete => ErrorKind::Invalid,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "plan_not_found",
            Self::Exists => "plan_exists",
            Self::Incomplete => "plan_incomplete",
        }
    }
}

impl Plan {
    /// How long before its start both partners are reminded of a plan.
    pub const REMIND_BEFORE: Duration = Duration::hours(2);

    /// When the reminder for a plan starting at `starts_at`, written at `written_at`, is due: two
    /// hours ahead; at once when that moment has passed but the plan has not started; never
    /// for a plan that has started.
    pub fn reminder_due(
        starts_at: DateTime<Utc>,
        written_at: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        (starts_at > written_at).then(|| (starts_at - Self::REMIND_BEFORE).max(written_at))
    }

    /// The plan as it is, unless deleted.
    pub fn current(&self) -> Option<&PlanWritten> {
        self.written.as_ref().filter(|_| !self.deleted)
    }

    /// The plan, if `by` may see it.
    fn visible_to(&self, by: Uuid) -> Result<&PlanWritten, PlanError> {
        self.current()
            .filter(|p| p.partners.contains(&by))
            .ok_or(PlanError::NotFound)
    }
}

impl Aggregate for Plan {
    const TYPE: &'static str = "couple_plan";
    type Command = PlanCommand;
    type Event = PlanEvent;
    type Error = PlanError;

    fn handle(
        &self,
        command: PlanCommand,
        services: &dyn Services,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        let now = services.now();
        match command {
            PlanCommand::Create {
                plan_id,
                couple_id,
                partners,
                by,
                plan,
            } => {
                if self.written.is_some() {
                    return Err(PlanError::Exists);
                }
                let (Some(title), Some(starts_at)) = (plan.title, plan.starts_at) else {
                    return Err(PlanError::Incomplete);
                };
                Ok(vec![PlanEvent::PlanCreated(PlanWritten {
                    plan_id,
                    couple_id,
                    partners,
                    by,
                    title: title.as_str().to_owned(),
                    starts_at,
                    place: plan.place.flatten().map(|p| p.as_str().to_owned()),
                    memo: plan.memo.flatten().map(|m| m.as_str().to_owned()),
                    at: now,
                })])
            }
            PlanCommand::Update { by, change } => {
                let old = self.visible_to(by)?;
                let PlanChange {
                    title,
                    starts_at,
                    place,
                    memo,
                } = change;
                let new = PlanWritten {
                    by,
                    title: title.map_or_else(|| old.title.clone(), |t| t.as_str().to_owned()),
                    starts_at: starts_at.unwrap_or(old.starts_at),
                    place: place
                        .map_or_else(|| old.place.clone(), |p| p.map(|p| p.as_str().to_owned())),
                    memo: memo
                        .map_or_else(|| old.memo.clone(), |m| m.map(|m| m.as_str().to_owned())),
                    at: now,
                    ..old.clone()
                };
                let unchanged = new.title == old.title
                    && new.starts_at == old.starts_at
                    && new.place == old.place
                    && new.memo == old.memo;
                if unchanged {
                    return Ok(Vec::new());
                }
                Ok(vec![PlanEvent::PlanUpdated(new)])
            }
            PlanCommand::Delete { by } => {
                let plan = self.visible_to(by)?;
                Ok(vec![PlanEvent::PlanDeleted(PlanDeleted {
                    plan_id: plan.plan_id,
                    couple_id: plan.couple_id,
                    partners: plan.partners,
                    by,
                    at: now,
                })])
            }
            PlanCommand::Remind { starts_at } => {
                // A reminder for a deleted plan, for a start it was moved away from, or one sent
                // already: nothing to do.
                let Some(plan) = self.current() else {
                    return Ok(Vec::new());
                };
                if plan.starts_at != starts_at || self.reminded_for == Some(starts_at) {
                    return Ok(Vec::new());
                }
                Ok(vec![PlanEvent::PlanReminded(PlanReminded {
                    plan_id: plan.plan_id,
                    couple_id: plan.couple_id,
                    partners: plan.partners,
                    title: plan.title.clone(),
                    starts_at,
                    place: plan.place.clone(),
                    due_at: Self::reminder_due(starts_at, plan.at).unwrap_or(starts_at),
                    reminded_at: now,
                })])
            }
        }
    }

    fn apply(&mut self, event: PlanEvent) {
        match event {
            PlanEvent::PlanCreated(e) | PlanEvent::PlanUpdated(e) => self.written = Some(e),
            PlanEvent::PlanDeleted(_) => self.deleted = true,
            PlanEvent::PlanReminded(e) => self.reminded_for = Some(e.starts_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{given, FixedServices};
    use crate::values::{Place, Title};

    const PLAN: Uuid = Uuid::from_u128(80);
    const COUPLE: Uuid = Uuid::from_u128(50);
    const KIM: Uuid = Uuid::from_u128(1);
    const LEE: Uuid = Uuid::from_u128(2);
    const PARK: Uuid = Uuid::from_u128(3);

    fn now() -> DateTime<Utc> {
        FixedServices::new().now
    }

    fn created(starts_at: DateTime<Utc>) -> PlanEvent {
        PlanEvent::PlanCreated(PlanWritten {
            plan_id: PLAN,
            couple_id: COUPLE,
            partners: [KIM, LEE],
            by: KIM,
            title: "전시회".into(),
            starts_at,
            place: Some("성수".into()),
            memo: None,
            at: now(),
        })
    }

    fn moved(starts_at: DateTime<Utc>) -> PlanEvent {
        let PlanEvent::PlanCreated(e) = created(starts_at) else {
            unreachable!()
        };
        PlanEvent::PlanUpdated(PlanWritten { by: LEE, ..e })
    }

    fn reminded(starts_at: DateTime<Utc>, due_at: DateTime<Utc>, at: DateTime<Utc>) -> PlanEvent {
        PlanEvent::PlanReminded(PlanReminded {
            plan_id: PLAN,
            couple_id: COUPLE,
            partners: [KIM, LEE],
            title: "전시회".into(),
            starts_at,
            place: Some("성수".into()),
            due_at,
            reminded_at: at,
        })
    }

    #[test]
    fn a_plan_needs_a_title_and_a_start() {
        let start = now() + Duration::days(3);
        let create = |title: Option<&str>, starts_at| PlanCommand::Create {
            plan_id: PLAN,
            couple_id: COUPLE,
            partners: [KIM, LEE],
            by: KIM,
            plan: PlanChange {
                title: title.map(|t| Title::parse(t).unwrap()),
                starts_at,
                place: Some(Some(Place::parse("성수").unwrap())),
                memo: None,
            },
        };
        given::<Plan>([])
            .when(create(Some("전시회"), Some(start)))
            .then_expect_events(vec![created(start)]);
        given::<Plan>([])
            .when(create(None, Some(start)))
            .then_expect_error("plan_incomplete");
        given::<Plan>([created(start)])
            .when(create(Some("전시회"), Some(start)))
            .then_expect_error("plan_exists");
    }

    #[test]
    fn only_the_partners_move_or_delete_it() {
        let start = now() + Duration::days(3);
        let later = start + Duration::hours(1);
        given::<Plan>([created(start)])
            .when(PlanCommand::Update {
                by: LEE,
                change: PlanChange {
                    starts_at: Some(later),
                    ..PlanChange::default()
                },
            })
            .then_expect_events(vec![moved(later)]);
        given::<Plan>([created(start)])
            .when(PlanCommand::Update {
                by: PARK,
                change: PlanChange::default(),
            })
            .then_expect_error("plan_not_found");
        given::<Plan>([created(start)])
            .when(PlanCommand::Delete { by: PARK })
            .then_expect_error("plan_not_found");
        let deleted = PlanEvent::PlanDeleted(PlanDeleted {
            plan_id: PLAN,
            couple_id: COUPLE,
            partners: [KIM, LEE],
            by: KIM,
            at: now(),
        });
        given::<Plan>([created(start)])
            .when(PlanCommand::Delete { by: KIM })
            .then_expect_events(vec![deleted.clone()]);
        given::<Plan>([created(start), deleted])
            .when(PlanCommand::Delete { by: KIM })
            .then_expect_error("plan_not_found");
    }

    #[test]
    fn the_reminder_is_due_two_hours_ahead_at_once_inside_them_and_never_after_the_start() {
        let t = now();
        assert_eq!(
            Plan::reminder_due(t + Duration::hours(5), t),
            Some(t + Duration::hours(3))
        );
        assert_eq!(Plan::reminder_due(t + Duration::minutes(30), t), Some(t));
        assert_eq!(Plan::reminder_due(t - Duration::minutes(1), t), None);
    }

    #[test]
    fn a_reminder_fires_once_per_start_and_not_for_a_moved_or_deleted_plan() {
        let start = now() + Duration::hours(2);
        let due = now();
        given::<Plan>([created(start)])
            .when(PlanCommand::Remind { starts_at: start })
            .then_expect_events(vec![reminded(start, due, now())]);
        given::<Plan>([created(start), reminded(start, due, now())])
            .when(PlanCommand::Remind { starts_at: start })
            .then_expect_events(vec![]);
        let later = start + Duration::days(1);
        // Moved: the old start's reminder is stale, the new start is reminded anew.
        given::<Plan>([created(start), moved(later)])
            .when(PlanCommand::Remind { starts_at: start })
            .then_expect_events(vec![]);
        given::<Plan>([created(start), reminded(start, due, now()), moved(later)])
            .when(PlanCommand::Remind { starts_at: later })
            .then_expect_events(vec![reminded(later, later - Plan::REMIND_BEFORE, now())]);
        let deleted = PlanEvent::PlanDeleted(PlanDeleted {
            plan_id: PLAN,
            couple_id: COUPLE,
            partners: [KIM, LEE],
            by: KIM,
            at: now(),
        });
        given::<Plan>([created(start), deleted])
            .when(PlanCommand::Remind { starts_at: start })
            .then_expect_events(vec![]);
    }
}
