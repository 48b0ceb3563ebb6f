//! How a replay writes a run of sent messages into the chat view's shadow tables: the rows with
//! one binary `COPY`, then the rooms' latest seq and counts and the senders' read pointers with
//! one statement. Most of a replay's time is these rows (docs/performance.md), and `COPY` writes
//! them a page at a time where the live statement inserts them one by one.
//!
//! It keeps what the live statement (`chat::FLUSH`) keeps. It may assume what only a replay
//! gives, that every message is new, and, like the live statement, that a run holds each room's
//! messages in order without gaps (a system message ends a run), so each message's running count
//! is the count before the run plus its place in it; it checks the latter. The replay tests
//! compare the two.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::binary_copy::BinaryCopy;
use crate::chat::Pending;
use crate::ProjectionError;

/// The columns the rows give, in the order each row gives its fields.
const COLUMNS: &[&str] = &[
    "room_id",
    "seq",
    "message_id",
    "sender_id",
    "client_msg_id",
    "body",
    "sent_at",
    "recipients",
    "n",
    "media_id",
    "kind",
    "grams",
];

/// Each room's count before the run: the running count of the message before its first. The
/// `LIMIT` keeps it one lookup by key per room: flattened into a join, it could be planned from
/// the empty shadow table's statistics, as `chat::FLUSH` says.
const COUNTS_BEFORE: &str = "SELECT f.room_id, p.n
     FROM UNNEST($1::uuid[], $2::bigint[]) AS f(room_id, first_seq)
     JOIN LATERAL (SELECT n FROM chat_messages
                   WHERE room_id = f.room_id AND seq = f.first_seq - 1 LIMIT 1) p ON true";

/// What the rows move, from values worked out here: each sender's read pointer, and each room's
/// latest seq, its time and the room's count. `GREATEST`, as live, so a run never moves one back.
const AFTER: &str = "WITH readers AS (
         UPDATE chat_room_members m SET last_read_seq = GREATEST(m.last_read_seq, s.seq)
         FROM UNNEST($1::uuid[], $2::uuid[], $3::bigint[]) AS s(room_id, user_id, seq)
         WHERE m.room_id = s.room_id AND m.user_id = s.user_id
     )
     UPDATE chat_rooms r SET last_seq = GREATEST(r.last_seq, l.seq), last_message_at = l.sent_at,
                             text_count = GREATEST(r.text_count, l.n)
     FROM UNNEST($4::uuid[], $5::bigint[], $6::timestamptz[], $7::bigint[])
          AS l(room_id, seq, sent_at, n)
     WHERE r.room_id = l.room_id";

/// A room's part of a run.
struct Room {
    first_seq: i64,
    /// Its count before the run.
    before: i64,
    /// Its last message's place in the run.
    last: usize,
}

/// Writes `run`, which must not be empty.
pub(crate) async fn write(tx: &mut PgConnection, run: &Pending) -> Result<(), ProjectionError> {
    let mut rooms: HashMap<Uuid, Room> = HashMap::new();
    let mut readers: HashMap<(Uuid, Uuid), i64> = HashMap::new();
    for (i, (&room_id, &seq)) in run.room_ids.iter().zip(&run.seqs).enumerate() {
        match rooms.entry(room_id) {
            Entry::Occupied(mut room) => {
                // The counts below take each message's place from its seq: a run that skipped
                // or repeated one would count wrong rather than fail.
                let due = run.seqs[room.get().last] + 1;
                if seq != due {
                    return Err(ProjectionError::OutOfOrder { room_id, seq, due });
                }
                room.get_mut().last = i;
            }
            Entry::Vacant(room) => {
                room.insert(Room {
                    first_seq: seq,
                    before: 0,
                    last: i,
                });
            }
        }
        let read = readers.entry((room_id, run.sender_ids[i])).or_insert(seq);
        *read = (*read).max(seq);
    }

    let (ids, firsts): (Vec<Uuid>, Vec<i64>) = rooms
        .iter()
        .map(|(&room_id, room)| (room_id, room.first_seq))
        .unzip();
    let before: Vec<(Uuid, i64)> = sqlx::query_as(COUNTS_BEFORE)
        .bind(&ids)
        .bind(&firsts)
        .fetch_all(&mut *tx)
        .await?;
    for (room_id, n) in before {
        if let Some(room) = rooms.get_mut(&room_id) {
            room.before = n;
        }
    }
    let count = |i: usize| {
        let room = &rooms[&run.room_ids[i]];
        room.before + run.seqs[i] - room.first_seq + 1
    };

    let mut rows = BinaryCopy::new(COLUMNS);
    for i in 0..run.seqs.len() {
        let grams = &run.grams.pairs[slice(run.grams.from[i], run.grams.to[i])];
        let kind = if run.media_ids[i].is_none() {
            "text"
        } else {
            "image"
        };
        rows.row();
        rows.field(&run.room_ids[i])?;
        rows.field(&run.seqs[i])?;
        rows.field(&run.message_ids[i])?;
        rows.field(&run.sender_ids[i])?;
        rows.field(&run.client_msg_ids[i])?;
        rows.field(&run.bodies[i])?;
        rows.field(&run.sent_ats[i])?;
        rows.field(&run.recipients[i])?;
        rows.field(&count(i))?;
        rows.field(&run.media_ids[i])?;
        rows.field(&kind)?;
        rows.field(&grams)?;
    }
    let copy = format!(
        "COPY chat_messages ({}) FROM STDIN (FORMAT binary)",
        COLUMNS.join(", ")
    );
    rows.send(&mut *tx, &copy).await?;

    let (mut reader_rooms, mut reader_ids, mut read_seqs) = (Vec::new(), Vec::new(), Vec::new());
    for ((room_id, user_id), seq) in readers {
        reader_rooms.push(room_id);
        reader_ids.push(user_id);
        read_seqs.push(seq);
    }
    let mut latest: (Vec<Uuid>, Vec<i64>, Vec<DateTime<Utc>>, Vec<i64>) = Default::default();
    for (&room_id, room) in &rooms {
        latest.0.push(room_id);
        latest.1.push(run.seqs[room.last]);
        latest.2.push(run.sent_ats[room.last]);
        latest.3.push(count(room.last));
    }
    sqlx::query(AFTER)
        .bind(&reader_rooms)
        .bind(&reader_ids)
        .bind(&read_seqs)
        .bind(&latest.0)
        .bind(&latest.1)
        .bind(&latest.2)
        .bind(&latest.3)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// [`bigrams::Packed`](crate::bigrams::Packed)'s 1-based inclusive `from..=to` (empty where
/// `from` is past `to`) as a slice range. Packed makes both from lengths, so neither is below 0.
fn slice(from: i32, to: i32) -> std::ops::Range<usize> {
    let (from, to) = (from.unsigned_abs() as usize, to.unsigned_abs() as usize);
    from - 1..to
}
