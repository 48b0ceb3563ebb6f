//! Read model of couples and open invites.

use chrono::{DateTime, Utc};
use domain::couple::{Invite, InviteEvent};
use domain::user::{User, UserEvent};
use domain::Aggregate;
use moim_nats::EventEnvelope;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::decode::decode;
use crate::{ProjectionError, Simple, View};

/// The couples view.
pub const VIEW: View = View::of(&Simple {
    name: "couples",
    tables: &["couple_invites", "couple_members"],
    apply_one: |tx, event| Box::pin(apply(tx, event)),
});

/// A user's couple.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Couple {
    /// The couple.
    pub couple_id: Uuid,
    /// The other half.
    pub partner_id: Uuid,
    /// When they matched.
    pub since: DateTime<Utc>,
}

/// An invite not yet used.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct OpenInvite {
    /// The code.
    pub code: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

async fn apply(tx: &mut PgConnection, event: &EventEnvelope) -> Result<(), ProjectionError> {
    if event.aggregate_type == Invite::TYPE {
        match decode(event)? {
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
    } else if event.aggregate_type == User::TYPE {
        if let UserEvent::UserCoupled(e) = decode(event)? {
            sqlx::query(
                "INSERT INTO couple_members (user_id, couple_id, partner_id, since) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (user_id) DO NOTHING",
            )
            .bind(e.user_id)
            .bind(e.couple_id)
            .bind(e.partner_id)
            .bind(e.since)
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}

/// The couple `user_id` is in, if any.
pub async fn couple_of(pool: &PgPool, user_id: Uuid) -> Result<Option<Couple>, ProjectionError> {
    Ok(
        sqlx::query_as(
            "SELECT couple_id, partner_id, since FROM couple_members WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(pool)
        .await?,
    )
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
