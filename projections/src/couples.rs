//! Read model of couples: open invites, who is with whom, each couple's day 1, time zone, own
//! dates and plans, and the reminders due (`couple_jobs`, see [`crate::couple_schedule`]).

use chrono::{DateTime, NaiveDate, Utc};
use domain::couple::calendar::{birthday_title, Birthday, CustomDate, Repeats};
use domain::couple::{Couple as CoupleAggregate, CoupleEvent, Invite, InviteEvent};
use domain::plan::{Plan, PlanEvent};
use domain::user::{User, UserEvent};
use domain::Aggregate;
use moim_nats::EventEnvelope;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::couple_schedule::{self, JOBS};
use crate::decode::decode;
use crate::frames::PlanEntry;
use crate::{ProjectionError, Simple, View};

/// The couples view.
pub const VIEW: View = View::of(&Simple {
    name: "couples",
    tables: &[
        "couple_invites",
        "couple_members",
        "couples",
        "couple_anniversaries",
        "couple_plans",
        "couple_people",
        JOBS,
    ],
    apply_one: |tx, event| Box::pin(apply(tx, event)),
    reads: &[Invite::TYPE, User::TYPE, CoupleAggregate::TYPE, Plan::TYPE],
});

/// A user's couple as they see it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Couple {
    /// The couple.
    pub couple_id: Uuid,
    /// The other half.
    pub partner_id: Uuid,
    /// The other half's name (null until known).
    pub partner_name: Option<String>,
    /// When they matched.
    pub since: DateTime<Utc>,
    /// Their private room.
    pub room_id: Uuid,
    /// Day 1.
    pub started_on: NaiveDate,
    /// IANA zone their days are counted in.
    pub time_zone: String,
}

/// An invite not yet used.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct OpenInvite {
    /// The code.
    pub code: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// Everything a couple's anniversaries follow from, as the view has it.
#[derive(Debug, Clone)]
pub struct CoupleDates {
    /// Day 1.
    pub started_on: NaiveDate,
    /// IANA zone.
    pub time_zone: String,
    /// The partners' birthdays.
    pub birthdays: Vec<Birthday>,
    /// The couple's own dates.
    pub custom: Vec<CustomDate>,
}

async fn apply(tx: &mut PgConnection, event: &EventEnvelope) -> Result<(), ProjectionError> {
    match event.aggregate_type.as_str() {
        Invite::TYPE => on_invite(tx, decode(event)?).await,
        User::TYPE => on_user(tx, decode(event)?).await,
        CoupleAggregate::TYPE => on_couple(tx, decode(event)?).await,
        Plan::TYPE => on_plan(tx, decode(event)?).await,
        _ => Ok(()),
    }
}

async fn on_invite(tx: &mut PgConnection, event: InviteEvent) -> Result<(), ProjectionError> {
    match event {
        InviteEvent::InviteCreated(e) => {
            sqlx::query(
                "INSERT INTO couple_invites (code, inviter_id, created_at, expires_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (code) DO NOTHING",
            )
            .bind(&e.code)
            .bind(e.inviter_id)
            .bind(e.created_at)
            .bind(e.expires_at)
            .execute(&mut *tx)
            .await?;
        }
        InviteEvent::InviteRedeemed(e) => {
            sqlx::query("UPDATE couple_invites SET redeemed_at = $2 WHERE code = $1")
                .bind(&e.code)
                .bind(e.redeemed_at)
                .execute(&mut *tx)
                .await?;
        }
        InviteEvent::InviteWithdrawn(e) => {
            sqlx::query("UPDATE couple_invites SET withdrawn_at = $2 WHERE code = $1")
                .bind(&e.code)
                .bind(e.withdrawn_at)
                .execute(&mut *tx)
                .await?;
        }
    }
    Ok(())
}

/// Recomputes the dates of `user_id`'s couple, if any, after their name or birthday changed.
async fn birthdays_changed(tx: &mut PgConnection, user_id: Uuid) -> Result<(), ProjectionError> {
    let couple: Option<(Uuid,)> =
        sqlx::query_as("SELECT couple_id FROM couple_members WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some((couple_id,)) = couple {
        couple_schedule::anniversaries(tx, couple_id).await?;
    }
    Ok(())
}

async fn on_user(tx: &mut PgConnection, event: UserEvent) -> Result<(), ProjectionError> {
    match event {
        UserEvent::UserRegistered(e) => {
            sqlx::query(
                "INSERT INTO couple_people (user_id, display_name) VALUES ($1, $2)
                 ON CONFLICT (user_id) DO NOTHING",
            )
            .bind(e.user_id)
            .bind(&e.display_name)
            .execute(&mut *tx)
            .await?;
        }
        UserEvent::ProfileUpdated(e) => {
            sqlx::query(
                "INSERT INTO couple_people (user_id, display_name, birthday) VALUES ($1, $2, $3)
                 ON CONFLICT (user_id) DO UPDATE SET display_name = $2, birthday = $3",
            )
            .bind(e.user_id)
            .bind(&e.display_name)
            .bind(e.birthday)
            .execute(&mut *tx)
            .await?;
            birthdays_changed(tx, e.user_id).await?;
        }
        UserEvent::UserCoupled(e) => {
            sqlx::query(
                "INSERT INTO couple_members (user_id, couple_id, partner_id, since) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (user_id) DO UPDATE
                 SET couple_id = $2, partner_id = $3, since = $4",
            )
            .bind(e.user_id)
            .bind(e.couple_id)
            .bind(e.partner_id)
            .bind(e.since)
            .execute(&mut *tx)
            .await?;
        }
        UserEvent::UserUncoupled(e) => {
            sqlx::query("DELETE FROM couple_members WHERE user_id = $1 AND couple_id = $2")
                .bind(e.user_id)
                .bind(e.couple_id)
                .execute(&mut *tx)
                .await?;
        }
        UserEvent::UserDeleted(e) => {
            // Their name and birthday leave the couple's view (and the birthday its dates).
            sqlx::query(
                "UPDATE couple_people SET display_name = $2, birthday = NULL WHERE user_id = $1",
            )
            .bind(e.user_id)
            .bind(domain::personal::DELETED_NAME)
            .execute(&mut *tx)
            .await?;
            birthdays_changed(tx, e.user_id).await?;
        }
        UserEvent::UserBlocked(_)
        | UserEvent::UserUnblocked(_)
        | UserEvent::PlatformRoleChanged(_)
        | UserEvent::SessionsEnded(_)
        | UserEvent::UserSuspended(_)
        | UserEvent::UserReinstated(_)
        | UserEvent::IdentityLinked(_)
        | UserEvent::IdentityUnlinked(_)
        | UserEvent::GameCharacterLinked(_)
        | UserEvent::GameCharacterUnlinked(_) => {}
    }
    Ok(())
}

async fn on_couple(tx: &mut PgConnection, event: CoupleEvent) -> Result<(), ProjectionError> {
    let couple_id = match event {
        CoupleEvent::CoupleFormed(e) => {
            sqlx::query(
                "INSERT INTO couples (couple_id, partner_a, partner_b, room_id, started_on, time_zone,
                                      formed_at, reminded_through)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
                 ON CONFLICT (couple_id) DO NOTHING",
            )
            .bind(e.couple_id)
            .bind(e.partners[0])
            .bind(e.partners[1])
            .bind(e.room_id)
            .bind(e.started_on)
            .bind(&e.time_zone)
            .bind(e.formed_at)
            .execute(&mut *tx)
            .await?;
            e.couple_id
        }
        CoupleEvent::CoupleUpdated(e) => {
            sqlx::query("UPDATE couples SET started_on = $2, time_zone = $3 WHERE couple_id = $1")
                .bind(e.couple_id)
                .bind(e.started_on)
                .bind(&e.time_zone)
                .execute(&mut *tx)
                .await?;
            e.couple_id
        }
        CoupleEvent::AnniversaryAdded(e) | CoupleEvent::AnniversaryChanged(e) => {
            sqlx::query(
                "INSERT INTO couple_anniversaries (anniversary_id, couple_id, title, date, repeats)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (anniversary_id) DO UPDATE SET title = $3, date = $4, repeats = $5",
            )
            .bind(e.anniversary_id)
            .bind(e.couple_id)
            .bind(&e.title)
            .bind(e.date)
            .bind(repeats_name(e.repeats))
            .execute(&mut *tx)
            .await?;
            e.couple_id
        }
        CoupleEvent::AnniversaryRemoved(e) => {
            sqlx::query("DELETE FROM couple_anniversaries WHERE anniversary_id = $1")
                .bind(e.anniversary_id)
                .execute(&mut *tx)
                .await?;
            e.couple_id
        }
        CoupleEvent::AnniversaryReminded(e) => {
            sqlx::query(
                "UPDATE couples SET reminded_through = GREATEST(reminded_through, $2)
                 WHERE couple_id = $1",
            )
            .bind(e.couple_id)
            .bind(e.reminded_at)
            .execute(&mut *tx)
            .await?;
            e.couple_id
        }
        CoupleEvent::CoupleDissolved(e) => {
            sqlx::query("UPDATE couples SET dissolved_at = $2 WHERE couple_id = $1")
                .bind(e.couple_id)
                .bind(e.at)
                .execute(&mut *tx)
                .await?;
            couple_schedule::cancel_couple(tx, e.couple_id).await?;
            return Ok(());
        }
    };
    couple_schedule::anniversaries(tx, couple_id).await
}

async fn on_plan(tx: &mut PgConnection, event: PlanEvent) -> Result<(), ProjectionError> {
    match event {
        PlanEvent::PlanCreated(e) | PlanEvent::PlanUpdated(e) => {
            sqlx::query(
                "INSERT INTO couple_plans (plan_id, couple_id, title, starts_at, place, memo, created_by, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (plan_id) DO UPDATE
                 SET title = $3, starts_at = $4, place = $5, memo = $6, created_by = $7, updated_at = $8",
            )
            .bind(e.plan_id)
            .bind(e.couple_id)
            .bind(&e.title)
            .bind(e.starts_at)
            .bind(&e.place)
            .bind(&e.memo)
            .bind(e.by)
            .bind(e.at)
            .execute(&mut *tx)
            .await?;
            couple_schedule::plan(
                tx,
                e.plan_id,
                Plan::reminder_due(e.starts_at, e.at),
                e.starts_at,
            )
            .await?;
        }
        PlanEvent::PlanDeleted(e) => {
            sqlx::query("DELETE FROM couple_plans WHERE plan_id = $1")
                .bind(e.plan_id)
                .execute(&mut *tx)
                .await?;
            couple_schedule::cancel_plan(tx, e.plan_id, None).await?;
        }
        PlanEvent::PlanReminded(e) => {
            couple_schedule::cancel_plan(tx, e.plan_id, Some(e.starts_at)).await?;
        }
    }
    Ok(())
}

/// The stored name of a [`Repeats`].
pub(crate) fn repeats_name(repeats: Repeats) -> &'static str {
    match repeats {
        Repeats::None => "none",
        Repeats::Yearly => "yearly",
    }
}

/// The couple `user_id` is in now, if any.
pub async fn couple_of(pool: &PgPool, user_id: Uuid) -> Result<Option<Couple>, ProjectionError> {
    Ok(sqlx::query_as(
        "SELECT m.couple_id, m.partner_id, p.display_name AS partner_name, m.since, c.room_id,
                c.started_on, c.time_zone
         FROM couple_members m
         JOIN couples c ON c.couple_id = m.couple_id AND c.dissolved_at IS NULL
         LEFT JOIN couple_people p ON p.user_id = m.partner_id
         WHERE m.user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await?)
}

/// What `couple_id`'s anniversaries follow from.
pub async fn dates(
    conn: &mut PgConnection,
    couple_id: Uuid,
) -> Result<Option<CoupleDates>, ProjectionError> {
    let couple: Option<(NaiveDate, String, Uuid, Uuid)> = sqlx::query_as(
        "SELECT started_on, time_zone, partner_a, partner_b FROM couples WHERE couple_id = $1",
    )
    .bind(couple_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((started_on, time_zone, a, b)) = couple else {
        return Ok(None);
    };
    let people: Vec<(Uuid, String, NaiveDate)> = sqlx::query_as(
        "SELECT user_id, display_name, birthday FROM couple_people
         WHERE user_id IN ($1, $2) AND birthday IS NOT NULL ORDER BY user_id",
    )
    .bind(a)
    .bind(b)
    .fetch_all(&mut *conn)
    .await?;
    let custom: Vec<(Uuid, String, NaiveDate, String)> = sqlx::query_as(
        "SELECT anniversary_id, title, date, repeats FROM couple_anniversaries
         WHERE couple_id = $1 ORDER BY date, anniversary_id",
    )
    .bind(couple_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Some(CoupleDates {
        started_on,
        time_zone,
        birthdays: people
            .into_iter()
            .map(|(user_id, name, born)| Birthday {
                user_id,
                title: birthday_title(&name),
                born,
            })
            .collect(),
        custom: custom
            .into_iter()
            .map(|(id, title, date, repeats)| CustomDate {
                id,
                title,
                date,
                repeats: if repeats == "yearly" {
                    Repeats::Yearly
                } else {
                    Repeats::None
                },
            })
            .collect(),
    }))
}

const PLAN_COLUMNS: &str =
    "plan_id, title, starts_at, place, memo, created_by AS updated_by, updated_at";

/// `couple_id`'s plans starting in `from..to`, soonest first, at most `limit`.
pub async fn plans(
    pool: &PgPool,
    couple_id: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<PlanEntry>, ProjectionError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {PLAN_COLUMNS} FROM couple_plans
         WHERE couple_id = $1 AND starts_at >= $2 AND starts_at < $3
         ORDER BY starts_at, plan_id LIMIT $4"
    ))
    .bind(couple_id)
    .bind(from)
    .bind(to)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// One of `couple_id`'s plans.
pub async fn plan(
    pool: &PgPool,
    couple_id: Uuid,
    plan_id: Uuid,
) -> Result<Option<PlanEntry>, ProjectionError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {PLAN_COLUMNS} FROM couple_plans WHERE couple_id = $1 AND plan_id = $2"
    ))
    .bind(couple_id)
    .bind(plan_id)
    .fetch_optional(pool)
    .await?)
}

/// At most this many open invites are listed (the newest).
pub const OPEN_INVITES_LISTED: i64 = 20;

/// `user_id`'s newest invites that are neither used nor expired.
pub async fn open_invites(
    pool: &PgPool,
    user_id: Uuid,
) -> Result<Vec<OpenInvite>, ProjectionError> {
    Ok(sqlx::query_as(
        "SELECT code, expires_at FROM couple_invites
         WHERE inviter_id = $1 AND redeemed_at IS NULL AND withdrawn_at IS NULL
           AND expires_at > now()
         ORDER BY created_at DESC LIMIT $2",
    )
    .bind(user_id)
    .bind(OPEN_INVITES_LISTED)
    .fetch_all(pool)
    .await?)
}
