//! The push outbox: a view's live pushes are written in the same transaction as its rows (by the
//! statement that saves its checkpoint, [`crate::checkpoint::save_keeping`] or
//! [`crate::checkpoint::save_keeping_after`]), sent on core NATS
//! after that commits, and forgotten by the next batch's transaction, or by the next statement
//! that moves the checkpoint past a batch that needs none ([`crate::checkpoint::advance`],
//! [`crate::checkpoint::stands_free_at`]). A crash between the commit and the send leaves them
//! in the outbox, and the next run sends them again (receivers drop the repeat by its push id).
//! Only views whose [`makes_pushes`] hook says so keep one.
//!
//! [`makes_pushes`]: crate::ReadModel::makes_pushes

use std::sync::atomic::{AtomicI64, Ordering};

use moim_nats::subjects::push_headers;
use moim_nats::Subjects;
use sqlx::PgPool;

use uuid::Uuid;

use crate::frames::Audience;
use crate::{ProjectionError, Push};

/// One view's outbox bookkeeping.
#[derive(Default)]
pub(crate) struct Outbox {
    /// The last outbox row whose pushes are on NATS and that no transaction has deleted yet.
    sent: AtomicI64,
    /// Every row up to this one is deleted. Deletes start above it: a range from the table's
    /// start walked every dead entry left since the last vacuum, 0.9 ms a batch at 200 sends/s
    /// (docs/performance.md).
    deleted: AtomicI64,
}

/// The outbox rows a batch's transaction (or a statement that moves the checkpoint past a batch
/// with none) deletes: those in `(after, up_to]`, sent already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Forget {
    pub after: i64,
    pub up_to: i64,
}

impl Outbox {
    /// What the next batch's transaction (or checkpoint's move) deletes, for
    /// [`Outbox::committed`] after it commits.
    pub(crate) fn to_forget(&self) -> Forget {
        Forget {
            after: self.deleted.load(Ordering::Relaxed),
            up_to: self.sent.load(Ordering::Relaxed),
        }
    }

    /// After the commit that deleted `forgotten`: nothing is left to delete below its end.
    pub(crate) fn committed(&self, forgotten: Forget) {
        if forgotten.up_to > forgotten.after {
            self.deleted.fetch_max(forgotten.up_to, Ordering::Relaxed);
            let _ = self.sent.compare_exchange(
                forgotten.up_to,
                0,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    /// Publishes one row's pushes and waits until NATS has them.
    pub(crate) async fn send(
        &self,
        nats: &async_nats::Client,
        subjects: &Subjects,
        row: i64,
        pushes: &[Push],
    ) -> Result<(), ProjectionError> {
        send(nats, subjects, pushes).await?;
        self.sent.fetch_max(row, Ordering::Relaxed);
        Ok(())
    }

    /// Sends what a crashed run left behind, then deletes it.
    pub(crate) async fn flush(
        &self,
        pool: &PgPool,
        nats: &async_nats::Client,
        subjects: &Subjects,
    ) -> Result<(), ProjectionError> {
        let left: Vec<(i64, sqlx::types::Json<Vec<Push>>)> =
            sqlx::query_as("SELECT id, pushes FROM push_outbox ORDER BY id")
                .fetch_all(pool)
                .await?;
        for (row, pushes) in left {
            self.send(nats, subjects, row, &pushes.0).await?;
        }
        let sent = self.sent.swap(0, Ordering::Relaxed);
        sqlx::query("DELETE FROM push_outbox WHERE id <= $1")
            .bind(sent)
            .execute(pool)
            .await?;
        // The table is empty now. Stored, not raised: after a PostgreSQL crash forgot the last
        // asynchronous commits, new rows can take ids at or below the old mark again.
        self.deleted.store(sent, Ordering::Relaxed);
        Ok(())
    }
}

/// Publishes `pushes` ([`publish`]) and waits until NATS has them.
pub(crate) async fn send(
    nats: &async_nats::Client,
    subjects: &Subjects,
    pushes: &[Push],
) -> Result<(), ProjectionError> {
    if pushes.is_empty() {
        return Ok(());
    }
    publish(nats, subjects, pushes).await?;
    nats.flush()
        .await
        .map_err(ProjectionError::nats("flushing pushes"))
}

/// Publishes pushes on core NATS as frames, a user's on their subject and a room's on the
/// room's, with what receivers route by (the push id, the room and its change number, who is
/// left out, who leaves or enters) also in headers, so they need not parse the frame.
pub async fn publish(
    nats: &async_nats::Client,
    subjects: &Subjects,
    pushes: &[Push],
) -> Result<(), ProjectionError> {
    for push in pushes {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(push_headers::ID, push.id.to_string().as_str());
        if let Some(correlation_id) = &push.correlation_id {
            headers.insert(push_headers::CORRELATION_ID, correlation_id.as_str());
        }
        let subject = match &push.to {
            Audience::User {
                user_id,
                enters,
                cursor,
                watch,
            } => {
                if let Some(cursor) = cursor {
                    headers.insert(push_headers::CURSOR, cursor.to_string().as_str());
                }
                if let Some(game_id) = watch {
                    headers.insert(push_headers::WATCH, game_id.to_string().as_str());
                }
                if let Some((room_id, rev)) = enters {
                    headers.insert(push_headers::ROOM, room_id.to_string().as_str());
                    headers.insert(push_headers::REV, rev.to_string().as_str());
                    headers.insert(push_headers::ENTERS, room_id.to_string().as_str());
                }
                subjects.push_user(*user_id)
            }
            Audience::Room {
                room_id,
                rev,
                except,
                seq,
                leaver,
            } => {
                headers.insert(push_headers::ROOM, room_id.to_string().as_str());
                headers.insert(push_headers::REV, rev.to_string().as_str());
                if let Some(seq) = seq {
                    headers.insert(push_headers::SEQ, seq.to_string().as_str());
                }
                if !except.is_empty() {
                    let ids: Vec<String> = except.iter().map(Uuid::to_string).collect();
                    headers.insert(push_headers::EXCEPT, ids.join(",").as_str());
                }
                if let Some(leaver) = leaver {
                    headers.insert(push_headers::LEAVER, leaver.to_string().as_str());
                }
                subjects.push_room(*room_id)
            }
            Audience::Game { game_id } => subjects.push_game(*game_id),
        };
        let wire = push.to_wire().map_err(ProjectionError::Encode)?;
        nats.publish_with_headers(subject, headers, wire.into())
            .await
            .map_err(ProjectionError::nats("publishing a push"))?;
    }
    Ok(())
}
