//! Replay: builds a store of chat events in a scratch database, then times `replay --all`
//! (the same code `moim replay --all` runs).

use std::time::Instant;

use projections::Registry;
use serde::Serialize;

use crate::target::Scratch;

/// One view's replay: the views of `--all` fill side by side from one reading of the store, so
/// `seconds` is from the start until this view was filled and indexed.
#[derive(Debug, Clone, Serialize)]
pub struct ViewReplay {
    pub view: &'static str,
    pub seconds: f64,
    pub events_per_sec: f64,
}

/// The replay figures.
#[derive(Debug, Clone, Serialize)]
pub struct Replay {
    pub events: u64,
    pub seconds: f64,
    /// Store events per second of the whole `--all` run (every view reads every event).
    pub events_per_sec: f64,
    pub views: Vec<ViewReplay>,
}

pub async fn run(scratch: &Scratch, events: u64) -> anyhow::Result<Replay> {
    let rooms = (events / 20).clamp(1, 1000) as i64;
    let messages = events as i64 - rooms;
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, event_id)
         SELECT 'chat_room', md5('room' || r)::uuid::text, 1, 'RoomCreated', '1',
                jsonb_build_object('RoomCreated', jsonb_build_object(
                    'room_id', md5('room' || r)::uuid, 'name', 'room ' || r, 'kind', 'group',
                    'created_by', md5('user' || r)::uuid,
                    'member_ids', jsonb_build_array(md5('user' || r)::uuid, md5('user' || (r + 1))::uuid,
                                                    md5('user' || (r + 2))::uuid),
                    'created_at', now())),
                gen_random_uuid()
         FROM generate_series(0, $1 - 1) r",
    )
    .bind(rooms)
    .execute(&scratch.pool)
    .await?;
    let chunk = 100_000i64;
    let mut from = 0;
    while from < messages {
        let to = (from + chunk).min(messages);
        sqlx::query(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, event_id)
             SELECT 'chat_room', md5('room' || (i % $1))::uuid::text, i / $1 + 2, 'MessageSent', '1',
                    jsonb_build_object('MessageSent', jsonb_build_object(
                        'message_id', md5('msg' || i)::uuid, 'room_id', md5('room' || (i % $1))::uuid,
                        'seq', i / $1 + 1, 'sender_id', md5('user' || (i % $1))::uuid,
                        'client_msg_id', md5('client' || i)::uuid,
                        'body', 'the quick brown fox jumps over the lazy dog, twice over',
                        'sent_at', now())),
                    md5('msg' || i)::uuid
             FROM generate_series($2, $3 - 1) i",
        )
        .bind(rooms)
        .bind(from)
        .bind(to)
        .execute(&scratch.pool)
        .await?;
        from = to;
    }
    sqlx::query("ANALYZE events").execute(&scratch.pool).await?;
    // The store as an operator's stands, its pages written out: not a replay timed while the
    // set-up's gigabyte is still being flushed behind it.
    sqlx::query("CHECKPOINT").execute(&scratch.pool).await?;

    let started = Instant::now();
    let registry = Registry::standard();
    let done = projections::replay::replay_all(&scratch.pool, registry.views(), false).await?;
    let mut views = Vec::new();
    for view in done {
        anyhow::ensure!(
            view.events == events,
            "{} replayed {} of {events} events",
            view.view.name(),
            view.events
        );
        let seconds = view.took.as_secs_f64();
        views.push(ViewReplay {
            view: view.view.name(),
            seconds,
            events_per_sec: events as f64 / seconds,
        });
    }
    let seconds = started.elapsed().as_secs_f64();
    let (messages_projected,): (i64,) = sqlx::query_as("SELECT count(*) FROM chat_messages")
        .fetch_one(&scratch.pool)
        .await?;
    anyhow::ensure!(
        messages_projected == messages,
        "chat view has {messages_projected} of {messages} messages"
    );
    Ok(Replay {
        events,
        seconds,
        events_per_sec: events as f64 / seconds,
        views,
    })
}
