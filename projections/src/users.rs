//! Read model of users' public profiles (`users_view`).

use chrono::{DateTime, NaiveDate, Utc};
use domain::user::{User, UserEvent};
use domain::Aggregate;
use moim_nats::EventEnvelope;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::decode::decode;
use crate::{ProjectionError, Simple, View};

/// The users view.
pub const VIEW: View = View::of(&Simple {
    name: "users",
    tables: &["users_view", "user_blocks"],
    apply_one: |tx, event| Box::pin(apply(tx, event)),
});

/// A user as others see them.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Profile {
    /// The user.
    pub user_id: Uuid,
    /// How others see them.
    pub display_name: String,
    /// When they signed up.
    pub registered_at: DateTime<Utc>,
    /// Their birthday, if they told it.
    pub birthday: Option<NaiveDate>,
}

async fn apply(tx: &mut PgConnection, event: &EventEnvelope) -> Result<(), ProjectionError> {
    if event.aggregate_type != User::TYPE {
        return Ok(());
    }
    match decode(event)? {
        UserEvent::UserRegistered(e) => {
            sqlx::query(
                "INSERT INTO users_view (user_id, display_name, registered_at) VALUES ($1, $2, $3)
                 ON CONFLICT (user_id) DO NOTHING",
            )
            .bind(e.user_id)
            .bind(&e.display_name)
            .bind(e.registered_at)
            .execute(&mut *tx)
            .await?;
        }
        UserEvent::ProfileUpdated(e) => {
            sqlx::query(
                "UPDATE users_view SET display_name = $2, birthday = $3 WHERE user_id = $1",
            )
            .bind(e.user_id)
            .bind(&e.display_name)
            .bind(e.birthday)
            .execute(&mut *tx)
            .await?;
        }
        UserEvent::UserBlocked(e) => {
            sqlx::query(
                "INSERT INTO user_blocks (user_id, blocked_id, blocked_at) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
            )
            .bind(e.user_id)
            .bind(e.blocked_id)
            .bind(e.at)
            .execute(&mut *tx)
            .await?;
        }
        UserEvent::UserUnblocked(e) => {
            sqlx::query("DELETE FROM user_blocks WHERE user_id = $1 AND blocked_id = $2")
                .bind(e.user_id)
                .bind(e.blocked_id)
                .execute(&mut *tx)
                .await?;
        }
        UserEvent::UserCoupled(_)
        | UserEvent::UserUncoupled(_)
        | UserEvent::PlatformRoleChanged(_) => {}
    }
    Ok(())
}

/// Someone a user blocks.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Blocked {
    /// Whom.
    pub user_id: Uuid,
    /// Since when.
    pub blocked_at: DateTime<Utc>,
}

/// Up to `limit` of the users `user_id` blocks, most recent first.
pub async fn blocks_of(
    pool: &PgPool,
    user_id: Uuid,
    limit: i64,
) -> Result<Vec<Blocked>, ProjectionError> {
    Ok(sqlx::query_as(
        "SELECT blocked_id AS user_id, blocked_at FROM user_blocks WHERE user_id = $1
         ORDER BY blocked_at DESC LIMIT $2",
    )
    .bind(user_id)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// A user's profile.
pub async fn profile(pool: &PgPool, user_id: Uuid) -> Result<Option<Profile>, ProjectionError> {
    Ok(sqlx::query_as(
        "SELECT user_id, display_name, registered_at, birthday FROM users_view WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await?)
}
