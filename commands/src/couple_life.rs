//! What a couple does together once matched: day 1 and time zone, their own dates, plans, the
//! reminders the scheduler fires, and unmatching.
//!
//! Every route acts through the caller's couple as the write side knows it (the user's and the
//! couple's aggregates), so nobody outside the couple reaches it, and nobody after it dissolved.

use chrono::{DateTime, NaiveDate, Utc};
use domain::chat::{ChatCommand, ChatRoom};
use domain::couple::calendar::{birthday_title, Birthday, Repeats};
use domain::couple::{Couple, CoupleCommand, CoupleError};
use domain::plan::{Plan, PlanChange, PlanCommand, PlanError, PlanWritten};
use domain::user::{User, UserCommand};
use domain::values::{TimeZoneName, Title};
use domain::{Aggregate, Position};
use uuid::Uuid;

use crate::store::retry_conflicts;
use crate::{CommandError, Commands};

/// A couple as its partners act on it.
#[derive(Debug, Clone)]
pub struct OurCouple {
    /// The couple.
    pub couple_id: Uuid,
    /// Its state.
    pub couple: Couple,
}

impl Commands {
    /// The couple `user_id` is in now, from the write side; anyone else: not found.
    pub async fn couple_of(&self, user_id: Uuid) -> Result<OurCouple, CommandError> {
        let user = self.store.load::<User>(&user_id.to_string()).await?;
        let couple_id = user
            .aggregate
            .couple()
            .map(|c| c.0)
            .ok_or_else(|| CommandError::rejected(CoupleError::NotFound))?;
        let couple = self
            .store
            .load::<Couple>(&couple_id.to_string())
            .await?
            .aggregate;
        if !couple.has(user_id) {
            return Err(CommandError::rejected(CoupleError::NotFound));
        }
        Ok(OurCouple { couple_id, couple })
    }

    async fn on_couple(
        &self,
        by: Uuid,
        command: CoupleCommand,
    ) -> Result<(Couple, Position), CommandError> {
        let ours = self.couple_of(by).await?;
        let done = self
            .execute::<Couple>(&ours.couple_id.to_string(), command)
            .await?;
        Ok((done.state, done.position))
    }

    /// A partner changes day 1 or the time zone.
    #[tracing::instrument(skip(self))]
    pub async fn update_couple(
        &self,
        by: Uuid,
        started_on: Option<NaiveDate>,
        time_zone: Option<TimeZoneName>,
    ) -> Result<(Couple, Position), CommandError> {
        let command = CoupleCommand::Update {
            by,
            started_on,
            time_zone,
        };
        self.on_couple(by, command).await
    }

    /// A partner adds a date of their own; answers its id.
    #[tracing::instrument(skip(self))]
    pub async fn add_anniversary(
        &self,
        by: Uuid,
        title: Title,
        date: NaiveDate,
        repeats: Repeats,
    ) -> Result<(Uuid, Couple, Position), CommandError> {
        let anniversary_id = self.services.new_id();
        let command = CoupleCommand::AddAnniversary {
            by,
            anniversary_id,
            title,
            date,
            repeats,
        };
        let (couple, position) = self.on_couple(by, command).await?;
        Ok((anniversary_id, couple, position))
    }

    /// A partner changes one of their dates.
    #[tracing::instrument(skip(self))]
    pub async fn change_anniversary(
        &self,
        by: Uuid,
        anniversary_id: Uuid,
        title: Option<Title>,
        date: Option<NaiveDate>,
        repeats: Option<Repeats>,
    ) -> Result<(Couple, Position), CommandError> {
        let command = CoupleCommand::ChangeAnniversary {
            by,
            anniversary_id,
            title,
            date,
            repeats,
        };
        self.on_couple(by, command).await
    }

    /// A partner removes one of their dates.
    #[tracing::instrument(skip(self))]
    pub async fn remove_anniversary(
        &self,
        by: Uuid,
        anniversary_id: Uuid,
    ) -> Result<Position, CommandError> {
        let command = CoupleCommand::RemoveAnniversary { by, anniversary_id };
        Ok(self.on_couple(by, command).await?.1)
    }

    /// A partner puts a plan in the calendar; answers its id.
    #[tracing::instrument(skip(self))]
    pub async fn create_plan(
        &self,
        by: Uuid,
        plan: PlanChange,
    ) -> Result<(PlanWritten, Position), CommandError> {
        let ours = self.couple_of(by).await?;
        let partners = ours
            .couple
            .partners()
            .ok_or_else(|| CommandError::rejected(CoupleError::NotFound))?;
        let plan_id = self.services.new_id();
        let command = PlanCommand::Create {
            plan_id,
            couple_id: ours.couple_id,
            partners,
            by,
            plan,
        };
        let done = self.execute::<Plan>(&plan_id.to_string(), command).await?;
        Ok((written(&done.state)?, done.position))
    }

    /// A plan of `by`'s couple, which must still be together.
    async fn our_plan(&self, by: Uuid, plan_id: Uuid) -> Result<(), CommandError> {
        let ours = self.couple_of(by).await?;
        let plan = self.store.load::<Plan>(&plan_id.to_string()).await?;
        match plan.aggregate.current() {
            Some(p) if p.couple_id == ours.couple_id => Ok(()),
            _ => Err(CommandError::rejected(PlanError::NotFound)),
        }
    }

    /// A partner moves, renames or annotates a plan.
    #[tracing::instrument(skip(self))]
    pub async fn update_plan(
        &self,
        by: Uuid,
        plan_id: Uuid,
        change: PlanChange,
    ) -> Result<(PlanWritten, Position), CommandError> {
        self.our_plan(by, plan_id).await?;
        let done = self
            .execute::<Plan>(&plan_id.to_string(), PlanCommand::Update { by, change })
            .await?;
        Ok((written(&done.state)?, done.position))
    }

    /// A partner deletes a plan (its reminder with it).
    #[tracing::instrument(skip(self))]
    pub async fn delete_plan(&self, by: Uuid, plan_id: Uuid) -> Result<Position, CommandError> {
        self.our_plan(by, plan_id).await?;
        let done = self
            .execute::<Plan>(&plan_id.to_string(), PlanCommand::Delete { by })
            .await?;
        Ok(done.position)
    }

    /// A partner unmatches: the couple, both users and the room change together, so both may
    /// match again at once and nobody writes in the room any more.
    #[tracing::instrument(skip(self))]
    pub async fn dissolve_couple(&self, by: Uuid) -> Result<Position, CommandError> {
        let ours = self.couple_of(by).await?;
        let partners = ours
            .couple
            .partners()
            .ok_or_else(|| CommandError::rejected(CoupleError::NotFound))?;
        let room_id = ours
            .couple
            .room_id()
            .ok_or_else(|| CommandError::rejected(CoupleError::NotFound))?;
        let keys = vec![
            (Couple::TYPE, ours.couple_id.to_string()),
            (User::TYPE, partners[0].to_string()),
            (User::TYPE, partners[1].to_string()),
            (ChatRoom::TYPE, room_id.to_string()),
        ];
        let _held = self.locks.lock(keys.clone()).await;
        let position = retry_conflicts("couple dissolve", || async {
            let services = self.services.as_ref();
            let couple = self
                .store
                .load::<Couple>(&ours.couple_id.to_string())
                .await?
                .decide(CoupleCommand::Dissolve { by }, services)?;
            let mut rows = vec![couple.rows(&self.meta)?];
            for partner in partners {
                let user = self.store.load::<User>(&partner.to_string()).await?;
                let uncouple = UserCommand::Uncouple {
                    couple_id: ours.couple_id,
                };
                rows.push(user.decide(uncouple, services)?.rows(&self.meta)?);
            }
            let room = self.store.load::<ChatRoom>(&room_id.to_string()).await?;
            rows.push(
                room.decide(ChatCommand::Archive { by }, services)?
                    .rows(&self.meta)?,
            );
            Ok(self.store.append_all(rows).await?)
        })
        .await?;
        for key in keys {
            self.cache.remove(&key);
        }
        Ok(position)
    }

    /// The scheduler: reminds both partners of a plan starting at `starts_at`. Nothing happens
    /// for a deleted or moved plan, a dissolved couple, or a reminder sent already.
    #[tracing::instrument(skip(self))]
    pub async fn remind_plan(
        &self,
        plan_id: Uuid,
        starts_at: DateTime<Utc>,
    ) -> Result<bool, CommandError> {
        let plan = self.store.load::<Plan>(&plan_id.to_string()).await?;
        let Some(couple_id) = plan.aggregate.current().map(|p| p.couple_id) else {
            return Ok(false);
        };
        let couple = self.store.load::<Couple>(&couple_id.to_string()).await?;
        if couple.aggregate.partners().is_none() {
            return Ok(false);
        }
        match self
            .execute::<Plan>(&plan_id.to_string(), PlanCommand::Remind { starts_at })
            .await
        {
            Ok(done) => Ok(!done.events.is_empty()),
            Err(CommandError::Duplicate) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// The scheduler: tells both partners of every anniversary whose reminder is due, and
    /// answers when the next one is.
    #[tracing::instrument(skip(self))]
    pub async fn remind_anniversaries(
        &self,
        couple_id: Uuid,
    ) -> Result<Option<DateTime<Utc>>, CommandError> {
        let couple = self.store.load::<Couple>(&couple_id.to_string()).await?;
        let Some(partners) = couple.aggregate.partners() else {
            return Ok(None);
        };
        let birthdays = self.birthdays(partners).await?;
        let command = CoupleCommand::RemindAnniversaries {
            birthdays: birthdays.clone(),
        };
        let state = match self
            .execute::<Couple>(&couple_id.to_string(), command)
            .await
        {
            Ok(done) => done.state,
            Err(CommandError::Duplicate) => {
                self.store
                    .load::<Couple>(&couple_id.to_string())
                    .await?
                    .aggregate
            }
            Err(error) => return Err(error),
        };
        Ok(state.next_reminder(&birthdays, self.services.now()))
    }

    /// The partners' birthdays, titled with their names.
    async fn birthdays(&self, partners: [Uuid; 2]) -> Result<Vec<Birthday>, CommandError> {
        let mut birthdays = Vec::new();
        for user_id in partners {
            let user = self
                .store
                .load::<User>(&user_id.to_string())
                .await?
                .aggregate;
            if let Some(born) = user.birthday() {
                birthdays.push(Birthday {
                    user_id,
                    title: birthday_title(user.display_name()),
                    born,
                });
            }
        }
        Ok(birthdays)
    }
}

/// A plan as it stands after a command that keeps it.
fn written(plan: &Plan) -> Result<PlanWritten, CommandError> {
    plan.current()
        .cloned()
        .ok_or_else(|| CommandError::rejected(PlanError::NotFound))
}
