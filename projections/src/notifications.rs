//! The notifier: turns events into user-facing notifications, keeps them in a per-user feed, and
//! hands live pushes to the consumer to publish on `moim.push.user.<id>` once the feed commits.
//!
//! Chat messages are pushed to every member of the room but not kept in the feed: the room's
//! history already holds them.

use chrono::{DateTime, Utc};
use domain::chat::{ChatEvent, ChatRoom};
use domain::game::{Game, GameEvent};
use domain::user::{User, UserEvent};
use domain::Aggregate;
use moim_nats::EventEnvelope;
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::view::decode;
use crate::{ProjectionError, Push};

/// One entry of a user's feed.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Notification {
    /// Stable id (derived from the event and the user, so a redelivery cannot double it).
    pub notification_id: Uuid,
    /// e.g. `couple.matched`.
    pub kind: String,
    /// Details, as in the live frame.
    pub data: Value,
    /// When the event happened.
    pub created_at: DateTime<Utc>,
}

pub(crate) async fn apply(
    tx: &mut PgConnection,
    event: &EventEnvelope,
    out: Option<&mut Vec<Push>>,
) -> Result<(), ProjectionError> {
    let at = event.recorded_at;
    if event.aggregate_type == ChatRoom::TYPE {
        match decode(event)? {
            ChatEvent::RoomCreated(e) => {
                sqlx::query(
                    "INSERT INTO notifier_room_members (room_id, user_id) SELECT $1, unnest($2::uuid[])
                     ON CONFLICT DO NOTHING",
                )
                .bind(e.room_id)
                .bind(&e.member_ids)
                .execute(&mut *tx)
                .await?;
            }
            ChatEvent::MessageSent(e) => {
                // Messages only make pushes; a replay has no one to push to.
                let Some(out) = out else { return Ok(()) };
                let members: Vec<(Uuid,)> =
                    sqlx::query_as("SELECT user_id FROM notifier_room_members WHERE room_id = $1")
                        .bind(e.room_id)
                        .fetch_all(&mut *tx)
                        .await?;
                let data = json!({
                    "message_id": e.message_id, "room_id": e.room_id, "seq": e.seq,
                    "sender_id": e.sender_id, "client_msg_id": e.client_msg_id,
                    "body": e.body, "sent_at": e.sent_at,
                });
                out.extend(members.into_iter().map(|(user_id,)| Push {
                    id: per_user_id(event, user_id),
                    user_id,
                    kind: "message.sent".into(),
                    data: data.clone(),
                }));
            }
        }
    } else if event.aggregate_type == User::TYPE {
        if let UserEvent::UserCoupled(e) = decode(event)? {
            let data =
                json!({ "couple_id": e.couple_id, "partner_id": e.partner_id, "since": e.since });
            notify(tx, event, e.user_id, "couple.matched", data, at, out).await?;
        }
    } else if event.aggregate_type == Game::TYPE {
        let (user_id, kind, data) = match decode(event)? {
            GameEvent::PlayerJoined { game_id, user_id } => {
                (user_id, "game.joined", json!({ "game_id": game_id }))
            }
            GameEvent::PlayerWaitlisted {
                game_id,
                user_id,
                position,
            } => (
                user_id,
                "game.waitlisted",
                json!({ "game_id": game_id, "position": position }),
            ),
            GameEvent::PlayerPromoted { game_id, user_id } => {
                (user_id, "game.promoted", json!({ "game_id": game_id }))
            }
            GameEvent::GameCreated(_) | GameEvent::PlayerLeft { .. } => return Ok(()),
        };
        notify(tx, event, user_id, kind, data, at, out).await?;
    }
    Ok(())
}

async fn notify(
    tx: &mut PgConnection,
    event: &EventEnvelope,
    user_id: Uuid,
    kind: &'static str,
    mut data: Value,
    at: DateTime<Utc>,
    out: Option<&mut Vec<Push>>,
) -> Result<(), ProjectionError> {
    let id = per_user_id(event, user_id);
    sqlx::query(
        "INSERT INTO notifications (notification_id, user_id, kind, data, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (notification_id) DO NOTHING",
    )
    .bind(id)
    .bind(user_id)
    .bind(kind)
    .bind(&data)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    if let Some(object) = data.as_object_mut() {
        object.insert("notification_id".into(), json!(id));
    }
    if let Some(out) = out {
        out.push(Push {
            id,
            user_id,
            kind: kind.into(),
            data,
        });
    }
    Ok(())
}

/// The id of what `event` means for `user_id`: the same on every redelivery and replay.
fn per_user_id(event: &EventEnvelope, user_id: Uuid) -> Uuid {
    let mut name = [0u8; 32];
    name[..16].copy_from_slice(event.event_id.as_bytes());
    name[16..].copy_from_slice(user_id.as_bytes());
    Uuid::new_v5(&Uuid::NAMESPACE_OID, &name)
}

/// A user's latest notifications, newest first.
pub async fn feed(
    pool: &PgPool,
    user_id: Uuid,
    limit: i64,
) -> Result<Vec<Notification>, ProjectionError> {
    Ok(sqlx::query_as(
        "SELECT notification_id, kind, data, created_at FROM notifications WHERE user_id = $1
         ORDER BY created_at DESC, notification_id DESC LIMIT $2",
    )
    .bind(user_id)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}
