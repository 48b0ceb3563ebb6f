//! The push outbox: a view's live pushes are written in the same transaction as its rows, sent
//! on core NATS after that commits, and forgotten by the next batch's transaction. A crash
//! between the commit and the send leaves them in the outbox, and the next run sends them again
//! (receivers drop the repeat by its push id). Only views whose [`makes_pushes`] hook says so
//! keep one.
//!
//! [`makes_pushes`]: crate::ReadModel::makes_pushes

use std::sync::atomic::{AtomicI64, Ordering};

use moim_nats::subjects::push_headers;
use moim_nats::Subjects;
use sqlx::{PgConnection, PgPool};

use uuid::Uuid;

use crate::frames::Audience;
use crate::{ProjectionError, Push};

/// One view's outbox bookkeeping.
#[derive(Default)]
pub(crate) struct Outbox {
    /// The last outbox row whose pushes are on NATS and that no transaction has deleted yet.
    sent: AtomicI64,
}

impl Outbox {
    /// Inside a batch's transaction: deletes the rows already sent; answers up to which row,
    /// for [`Outbox::committed`].
    pub(crate) async fn forget_sent(&self, tx: &mut PgConnection) -> Result<i64, sqlx::Error> {
        let sent = self.sent.load(Ordering::Relaxed);
        if sent > 0 {
            sqlx::query("DELETE FROM push_outbox WHERE id <= $1")
                .bind(sent)
                .execute(&mut *tx)
                .await?;
        }
        Ok(sent)
    }

    /// Inside a batch's transaction: keeps this batch's pushes; answers their row.
    pub(crate) async fn keep(
        tx: &mut PgConnection,
        pushes: &[Push],
    ) -> Result<Option<i64>, sqlx::Error> {
        if pushes.is_empty() {
            return Ok(None);
        }
        let (id,): (i64,) =
            sqlx::query_as("INSERT INTO push_outbox (pushes) VALUES ($1) RETURNING id")
                .bind(sqlx::types::Json(pushes))
                .fetch_one(&mut *tx)
                .await?;
        Ok(Some(id))
    }

    /// After the commit that deleted rows up to `forgotten`: nothing is left to delete.
    pub(crate) fn committed(&self, forgotten: i64) {
        if forgotten > 0 {
            let _ = self
                .sent
                .compare_exchange(forgotten, 0, Ordering::Relaxed, Ordering::Relaxed);
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
        publish(nats, subjects, pushes).await?;
        nats.flush()
            .await
            .map_err(ProjectionError::nats("flushing pushes"))?;
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
        Ok(())
    }
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
