//! What a resuming socket missed in a room, read from the event store rather than a view: the
//! store is ahead of every view, holds every change with its `rev`, and gives the frames the
//! notifier built live (through [`RoomFrame`]), so a replay and the live stream agree frame for
//! frame and the seam between them is a plain comparison of `rev`s.

use std::collections::HashSet;

use domain::chat::{ChatEvent, ChatRoom};
use domain::Aggregate;
use moim_nats::EventEnvelope;
use sqlx::PgPool;
use uuid::Uuid;

use crate::decode::decode;
use crate::frames::RoomFrame;
use crate::ProjectionError;

/// A room's changes after some `rev`.
#[derive(Debug)]
pub struct Missed {
    /// The message seq the room stood at before the first of `frames`.
    pub current: u64,
    /// The changes, in `rev` order.
    pub frames: Vec<RoomFrame>,
}

/// The room's latest `rev` (0 for a room with no events).
pub async fn latest_rev(pool: &PgPool, room_id: Uuid) -> Result<i64, ProjectionError> {
    let latest: Option<(i64,)> = sqlx::query_as(
        "SELECT sequence FROM events WHERE aggregate_type = $1 AND aggregate_id = $2
         ORDER BY sequence DESC LIMIT 1",
    )
    .bind(ChatRoom::TYPE)
    .bind(room_id.to_string())
    .fetch_optional(pool)
    .await?;
    Ok(latest.map_or(0, |(rev,)| rev))
}

/// The room's changes after `after`, at most `limit` of them.
pub async fn missed(
    pool: &PgPool,
    room_id: Uuid,
    after: i64,
    limit: i64,
) -> Result<Missed, ProjectionError> {
    let id = room_id.to_string();
    // Where the room stood: the last change at or before `after` that is a message.
    let before: Option<EventEnvelope> = sqlx::query_as(&EventEnvelope::select(
        "WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence <= $3
           AND event_type IN ('MessageSent', 'MembersJoined', 'MemberLeft', 'RoomRenamed')
         ORDER BY sequence DESC LIMIT 1",
    ))
    .bind(ChatRoom::TYPE)
    .bind(&id)
    .bind(after)
    .fetch_optional(pool)
    .await?;
    let current = match before {
        Some(event) => decode::<ChatEvent>(&event)?.seq().unwrap_or(0),
        None => 0,
    };
    let events: Vec<EventEnvelope> = sqlx::query_as(&EventEnvelope::select(
        "WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence > $3
         ORDER BY sequence LIMIT $4",
    ))
    .bind(ChatRoom::TYPE)
    .bind(&id)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let frames = events
        .iter()
        .map(RoomFrame::of_envelope)
        .collect::<Result<_, ProjectionError>>()?;
    Ok(Missed { current, frames })
}

/// Whom `user_id` blocks: their messages are not replayed to them, as they are not pushed.
pub async fn blocked_by(pool: &PgPool, user_id: Uuid) -> Result<HashSet<Uuid>, ProjectionError> {
    let rows: Vec<(Uuid,)> =
        sqlx::query_as("SELECT blocked_id FROM notifier_blocks WHERE user_id = $1")
            .bind(user_id)
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// The rooms `user_id` is in, with the message seq they joined at, as the notifier (who
/// publishes their frames) knows them.
pub async fn rooms_of(pool: &PgPool, user_id: Uuid) -> Result<Vec<(Uuid, u64)>, ProjectionError> {
    let rows: Vec<(Uuid, i64)> =
        sqlx::query_as("SELECT room_id, joined_seq FROM notifier_room_members WHERE user_id = $1")
            .bind(user_id)
            .fetch_all(pool)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(id, joined)| (id, u64::try_from(joined).unwrap_or(0)))
        .collect())
}

/// The rooms `user_id` is in that have at most `members` members: where their coming and going
/// is worth telling everyone (in a large room it would be a storm; members look it up there).
pub async fn small_rooms_of(
    pool: &PgPool,
    user_id: Uuid,
    members: i64,
) -> Result<Vec<Uuid>, ProjectionError> {
    let rows: Vec<(Uuid,)> = sqlx::query_as(
        "SELECT m.room_id FROM notifier_room_members m WHERE m.user_id = $1
           AND (SELECT count(*) FROM notifier_room_members o WHERE o.room_id = m.room_id) <= $2",
    )
    .bind(user_id)
    .bind(members)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}
