//! Read model of users' public profiles (`users_view`).

use chrono::{DateTime, Utc};
use domain::user::{User, UserEvent};
use domain::Aggregate;
use futures::future::BoxFuture;
use moim_nats::EventEnvelope;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::decode::decode;
use crate::{ProjectionError, Push, ReadModel, View};

/// The users view.
pub const VIEW: View = View::of(&Users);

struct Users;

impl ReadModel for Users {
    fn name(&self) -> &'static str {
        "users"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["users_view"]
    }

    fn apply_one<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a EventEnvelope,
        _: Option<&'a mut Vec<Push>>,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(apply(tx, event))
    }
}

/// A user as others see them.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Profile {
    /// The user.
    pub user_id: Uuid,
    /// How others see them.
    pub display_name: String,
    /// When they signed up.
    pub registered_at: DateTime<Utc>,
}

async fn apply(tx: &mut PgConnection, event: &EventEnvelope) -> Result<(), ProjectionError> {
    if event.aggregate_type != User::TYPE {
        return Ok(());
    }
    if let UserEvent::UserRegistered(e) = decode(event)? {
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
    Ok(())
}

/// A user's profile.
pub async fn profile(pool: &PgPool, user_id: Uuid) -> Result<Option<Profile>, ProjectionError> {
    Ok(sqlx::query_as(
        "SELECT user_id, display_name, registered_at FROM users_view WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await?)
}
