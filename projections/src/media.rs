//! The media view: where each upload is used (`media_uses`), and the due work that keeps the
//! object store in step with what is used (`media_jobs`): an upload nobody used expires a day
//! after it arrived, and when a message or post is deleted, or another avatar chosen, the use
//! ends (the last use ending removes the media). The scheduler fires the jobs as commands on the
//! `Media` aggregate and deletes the bytes its removal names.

use chrono::{DateTime, Utc};
use domain::board::{Post, PostEvent};
use domain::chat::{ChatEvent, ChatRoom};
use domain::media::{Media, MediaEvent, MediaUse};
use domain::Aggregate;
use futures::future::BoxFuture;
use moim_nats::EventEnvelope;
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::decode::decode;
use crate::{ProjectionError, Push, ReadModel, View};

/// The media view.
pub const VIEW: View = View::of(&MediaView);

struct MediaView;

impl ReadModel for MediaView {
    fn name(&self) -> &'static str {
        "media"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["media_uses", "media_jobs"]
    }

    fn apply_one<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a EventEnvelope,
        _: Option<&'a mut Vec<Push>>,
    ) -> BoxFuture<'a, Result<(), ProjectionError>> {
        Box::pin(apply(tx, event))
    }

    fn reads(&self) -> Option<&'static [&'static str]> {
        Some(&[Media::TYPE, ChatRoom::TYPE, Post::TYPE])
    }

    fn reads_event(&self, aggregate_type: &str, event_type: &str) -> bool {
        matters(aggregate_type, event_type)
    }
}

/// Of a room's or a post's events only a deletion ends a use: the rest, most of all the chat
/// messages, are passed by unread, live and in a replay.
fn matters(aggregate_type: &str, event_type: &str) -> bool {
    match aggregate_type {
        ChatRoom::TYPE => event_type == "MessageDeleted",
        Post::TYPE => event_type == "PostDeleted",
        _ => true,
    }
}

/// The table of due work.
pub const JOBS: &str = "media_jobs";
/// An upload's expiry if still unused: `target` is the media.
pub const MEDIA_EXPIRY: &str = "media.expire";
/// A use that ended: `target` is the media, `payload.use` the [`MediaUse`].
pub const MEDIA_DETACH: &str = "media.detach";

/// How a use is named in `media_uses.item`.
fn item(to: &MediaUse) -> String {
    match to {
        MediaUse::Message { room_id, seq } => message_item(*room_id, *seq),
        MediaUse::Post { post_id, .. } => post_item(*post_id),
        MediaUse::Avatar { user_id } => avatar_item(*user_id),
    }
}

fn message_item(room_id: Uuid, seq: u64) -> String {
    format!("msg:{room_id}:{seq}")
}

fn post_item(post_id: Uuid) -> String {
    format!("post:{post_id}")
}

fn avatar_item(user_id: Uuid) -> String {
    format!("avatar:{user_id}")
}

fn expiry_key(media_id: Uuid) -> String {
    format!("expire:{media_id}")
}

fn detach_key(media_id: Uuid, item: &str) -> String {
    format!("detach:{media_id}:{item}")
}

async fn apply(tx: &mut PgConnection, event: &EventEnvelope) -> Result<(), ProjectionError> {
    if !matters(&event.aggregate_type, &event.event_type) {
        return Ok(());
    }
    match event.aggregate_type.as_str() {
        Media::TYPE => apply_media(tx, decode(event)?).await,
        ChatRoom::TYPE => match decode(event)? {
            ChatEvent::MessageDeleted(e) => ended(tx, &message_item(e.room_id, e.seq)).await,
            _ => Ok(()),
        },
        Post::TYPE => match decode(event)? {
            PostEvent::PostDeleted(e) => ended(tx, &post_item(e.post_id)).await,
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

async fn apply_media(tx: &mut PgConnection, event: MediaEvent) -> Result<(), ProjectionError> {
    match event {
        MediaEvent::MediaUploaded(e) => {
            let due = e.uploaded_at + Media::UNUSED_FOR;
            let key = expiry_key(e.media_id);
            crate::jobs::put(tx, JOBS, &key, MEDIA_EXPIRY, e.media_id, due, json!({})).await
        }
        MediaEvent::MediaAttached(e) => {
            let item = item(&e.to);
            sqlx::query(
                "INSERT INTO media_uses (media_id, item, what, attached_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
            )
            .bind(e.media_id)
            .bind(&item)
            .bind(serde_json::to_value(&e.to).map_err(ProjectionError::Encode)?)
            .bind(e.at)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM media_jobs WHERE job_key = $1")
                .bind(expiry_key(e.media_id))
                .execute(&mut *tx)
                .await?;
            if matches!(e.to, MediaUse::Avatar { .. }) {
                // A new profile picture ends the use of the one before.
                let before: Vec<(Uuid,)> = sqlx::query_as(
                    "SELECT media_id FROM media_uses WHERE item = $1 AND media_id <> $2",
                )
                .bind(&item)
                .bind(e.media_id)
                .fetch_all(&mut *tx)
                .await?;
                for (media_id,) in before {
                    detach_job(tx, media_id, &e.to, e.at).await?;
                }
            }
            Ok(())
        }
        MediaEvent::MediaDetached(e) => {
            let item = item(&e.from);
            sqlx::query("DELETE FROM media_uses WHERE media_id = $1 AND item = $2")
                .bind(e.media_id)
                .bind(&item)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM media_jobs WHERE job_key = $1")
                .bind(detach_key(e.media_id, &item))
                .execute(&mut *tx)
                .await?;
            Ok(())
        }
        MediaEvent::MediaRemoved(e) => {
            sqlx::query("DELETE FROM media_uses WHERE media_id = $1")
                .bind(e.media_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM media_jobs WHERE target = $1")
                .bind(e.media_id)
                .execute(&mut *tx)
                .await?;
            Ok(())
        }
    }
}

/// The message or post named `item` is gone: every media it used is detached from it.
async fn ended(tx: &mut PgConnection, item: &str) -> Result<(), ProjectionError> {
    // Due when the use began: at once, whenever the deletion is applied (a replay included).
    sqlx::query(
        "INSERT INTO media_jobs (job_key, kind, target, due_at, payload)
         SELECT 'detach:' || media_id || ':' || item, $2, media_id, attached_at,
                jsonb_build_object('use', what)
         FROM media_uses WHERE item = $1
         ON CONFLICT (job_key) DO NOTHING",
    )
    .bind(item)
    .bind(MEDIA_DETACH)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn detach_job(
    tx: &mut PgConnection,
    media_id: Uuid,
    from: &MediaUse,
    due_at: DateTime<Utc>,
) -> Result<(), ProjectionError> {
    let key = detach_key(media_id, &item(from));
    let payload = json!({ "use": from });
    crate::jobs::put(tx, JOBS, &key, MEDIA_DETACH, media_id, due_at, payload).await
}

/// The media a user's profile shows: the one most recently made their avatar.
pub async fn avatar_of(pool: &PgPool, user_id: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
    let row: Option<(Uuid,)> = sqlx::query_as(
        "SELECT media_id FROM media_uses WHERE item = $1 ORDER BY attached_at DESC LIMIT 1",
    )
    .bind(avatar_item(user_id))
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(id,)| id))
}
