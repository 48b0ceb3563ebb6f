//! The notifier: turns events into user-facing notifications, keeps them in a per-user feed, and
//! hands live pushes to its runner to publish on `moim.push.user.<id>` once the feed commits.
//!
//! What happens in a chat room (messages, edits, deletions, joins, leaves, renames, roles, read
//! pointers) is pushed to every member of the room but not kept in the feed: the room's history
//! and its read model already hold it.

use chrono::{DateTime, Utc};
use domain::chat::{ChatEvent, ChatRoom};
use domain::game::{Game, GameEvent};
use domain::user::{User, UserEvent};
use domain::{Aggregate, Metadata};
use futures::future::BoxFuture;
use moim_nats::EventEnvelope;
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::decode::decode;
use crate::frames::{
    seq_of, ChatMessage, CoupleMatched, DeletedMessage, EditedMessage, Frame, GamePlace,
    ReadPointer, RoleChange,
};
use crate::{ProjectionError, Push, ReadModel, View};

/// The notifications view.
pub const VIEW: View = View::of(&Notifications);

struct Notifications;

impl ReadModel for Notifications {
    fn name(&self) -> &'static str {
        "notifications"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["notifications", "notifier_room_members", "notifier_blocks"]
    }

    fn apply_one<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a EventEnvelope,
        out: Option<&'a mut Vec<Push>>,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(apply(tx, event, out))
    }

    fn makes_pushes(&self) -> bool {
        true
    }
}

/// One entry of a user's feed.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Notification {
    /// Stable id (derived from the event and the user, so a redelivery cannot double it).
    pub notification_id: Uuid,
    /// The frame type it was pushed as, e.g. `couple.matched`.
    pub kind: String,
    /// The frame's data.
    pub data: Value,
    /// When the event happened.
    pub created_at: DateTime<Utc>,
}

async fn apply(
    tx: &mut PgConnection,
    event: &EventEnvelope,
    out: Option<&mut Vec<Push>>,
) -> Result<(), ProjectionError> {
    if event.aggregate_type == ChatRoom::TYPE {
        on_chat(tx, event, out).await?;
    } else if event.aggregate_type == User::TYPE {
        match decode(event)? {
            UserEvent::UserCoupled(e) => {
                let frame = Frame::CoupleMatched(CoupleMatched {
                    notification_id: per_user_id(event, e.user_id),
                    couple_id: e.couple_id,
                    partner_id: e.partner_id,
                    since: e.since,
                });
                notify(tx, event, e.user_id, frame, out).await?;
            }
            UserEvent::UserBlocked(e) => {
                sqlx::query(
                    "INSERT INTO notifier_blocks (user_id, blocked_id) VALUES ($1, $2)
                     ON CONFLICT DO NOTHING",
                )
                .bind(e.user_id)
                .bind(e.blocked_id)
                .execute(&mut *tx)
                .await?;
            }
            UserEvent::UserUnblocked(e) => {
                sqlx::query("DELETE FROM notifier_blocks WHERE user_id = $1 AND blocked_id = $2")
                    .bind(e.user_id)
                    .bind(e.blocked_id)
                    .execute(&mut *tx)
                    .await?;
            }
            UserEvent::UserRegistered(_) => {}
        }
    } else if event.aggregate_type == Game::TYPE {
        let place = |game_id, user_id, position| GamePlace {
            notification_id: per_user_id(event, user_id),
            game_id,
            position,
        };
        let (user_id, frame) = match decode(event)? {
            GameEvent::PlayerJoined(e) => (
                e.user_id,
                Frame::GameJoined(place(e.game_id, e.user_id, None)),
            ),
            GameEvent::PlayerWaitlisted(e) => (
                e.user_id,
                Frame::GameWaitlisted(place(e.game_id, e.user_id, Some(e.position))),
            ),
            GameEvent::PlayerPromoted(e) => (
                e.user_id,
                Frame::GamePromoted(place(e.game_id, e.user_id, None)),
            ),
            GameEvent::GameCreated(_) | GameEvent::PlayerLeft(_) => return Ok(()),
        };
        notify(tx, event, user_id, frame, out).await?;
    }
    Ok(())
}

/// Keeps the notifier's copy of room membership, and, live, pushes what happens in a room to its
/// members (and a leave to the one who left too).
async fn on_chat(
    tx: &mut PgConnection,
    event: &EventEnvelope,
    out: Option<&mut Vec<Push>>,
) -> Result<(), ProjectionError> {
    let decoded: ChatEvent = decode(event)?;
    let system = ChatMessage::of_system_event(event.event_id, &decoded);
    let (room_id, frame, except) = match decoded {
        ChatEvent::RoomCreated(e) => {
            let ids: Vec<Uuid> = e.members.iter().map(|m| m.user_id).collect();
            add_members(tx, e.room_id, &ids).await?;
            return Ok(());
        }
        ChatEvent::MessageSent(e) => {
            // Messages only make pushes; a replay has no one to push to.
            let Some(out) = out else { return Ok(()) };
            // Members who block the sender are not pushed their messages.
            let members: Vec<(Uuid,)> = sqlx::query_as(
                "SELECT m.user_id FROM notifier_room_members m WHERE m.room_id = $1
                 AND NOT EXISTS (SELECT 1 FROM notifier_blocks b
                                 WHERE b.user_id = m.user_id AND b.blocked_id = $2)",
            )
            .bind(e.room_id)
            .bind(e.sender_id)
            .fetch_all(&mut *tx)
            .await?;
            let frame = Frame::MessageSent(ChatMessage::from(e));
            push_to(out, event, members.into_iter().map(|(id,)| id), &frame);
            return Ok(());
        }
        ChatEvent::MembersJoined(e) => {
            add_members(tx, e.room_id, &e.user_ids).await?;
            (e.room_id, system.map(Frame::MemberJoined), None)
        }
        ChatEvent::MemberLeft(e) => {
            // The one who left hears of it too: pushed before their membership goes.
            if let (Some(out), Some(message)) = (out, system) {
                let members = room_members(tx, e.room_id).await?;
                push_to(out, event, members, &Frame::MemberLeft(message));
            }
            sqlx::query("DELETE FROM notifier_room_members WHERE room_id = $1 AND user_id = $2")
                .bind(e.room_id)
                .bind(e.user_id)
                .execute(&mut *tx)
                .await?;
            return Ok(());
        }
        ChatEvent::RoomRenamed(e) => (e.room_id, system.map(Frame::RoomUpdated), None),
        ChatEvent::MemberRoleChanged(e) => (
            e.room_id,
            Some(Frame::RoleChanged(RoleChange {
                room_id: e.room_id,
                user_id: e.user_id,
                role: e.role,
            })),
            None,
        ),
        ChatEvent::MessageEdited(e) => (
            e.room_id,
            Some(Frame::MessageEdited(EditedMessage::from(e))),
            None,
        ),
        ChatEvent::MessageDeleted(e) => (
            e.room_id,
            Some(Frame::MessageDeleted(DeletedMessage {
                room_id: e.room_id,
                seq: seq_of(e.seq),
            })),
            None,
        ),
        ChatEvent::MessagesRead(e) => (
            e.room_id,
            Some(Frame::RoomRead(ReadPointer {
                room_id: e.room_id,
                user_id: e.user_id,
                seq: seq_of(e.seq),
            })),
            Some(e.user_id),
        ),
    };
    if let (Some(out), Some(frame)) = (out, frame) {
        let members = room_members(tx, room_id).await?;
        push_to(
            out,
            event,
            members.into_iter().filter(|&m| Some(m) != except),
            &frame,
        );
    }
    Ok(())
}

async fn add_members(
    tx: &mut PgConnection,
    room_id: Uuid,
    user_ids: &[Uuid],
) -> Result<(), ProjectionError> {
    sqlx::query(
        "INSERT INTO notifier_room_members (room_id, user_id) SELECT $1, unnest($2::uuid[])
         ON CONFLICT DO NOTHING",
    )
    .bind(room_id)
    .bind(user_ids)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn room_members(tx: &mut PgConnection, room_id: Uuid) -> Result<Vec<Uuid>, ProjectionError> {
    let rows: Vec<(Uuid,)> =
        sqlx::query_as("SELECT user_id FROM notifier_room_members WHERE room_id = $1")
            .bind(room_id)
            .fetch_all(&mut *tx)
            .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Pushes one frame to each of `users` (not kept in the feed: the room's history holds it).
fn push_to(
    out: &mut Vec<Push>,
    event: &EventEnvelope,
    users: impl IntoIterator<Item = Uuid>,
    frame: &Frame,
) {
    let correlation_id = correlation_id(event);
    out.extend(users.into_iter().map(|user_id| Push {
        id: per_user_id(event, user_id),
        user_id,
        frame: frame.clone(),
        correlation_id: correlation_id.clone(),
    }));
}

/// Keeps a feed entry and, live, pushes it.
async fn notify(
    tx: &mut PgConnection,
    event: &EventEnvelope,
    user_id: Uuid,
    frame: Frame,
    out: Option<&mut Vec<Push>>,
) -> Result<(), ProjectionError> {
    let id = per_user_id(event, user_id);
    let wire = serde_json::to_value(&frame).map_err(ProjectionError::Encode)?;
    sqlx::query(
        "INSERT INTO notifications (notification_id, user_id, kind, data, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (notification_id) DO NOTHING",
    )
    .bind(id)
    .bind(user_id)
    .bind(frame.kind())
    .bind(&wire["data"])
    .bind(event.recorded_at)
    .execute(&mut *tx)
    .await?;
    if let Some(out) = out {
        out.push(Push {
            id,
            user_id,
            frame,
            correlation_id: correlation_id(event),
        });
    }
    Ok(())
}

/// The request an event came from, as its metadata records it.
fn correlation_id(event: &EventEnvelope) -> Option<String> {
    serde_json::from_value::<Metadata>(event.metadata.clone())
        .ok()
        .and_then(|m| m.correlation_id)
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
