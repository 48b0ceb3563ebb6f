//! The relay moves every committed event into JetStream exactly once, in global order — when a
//! restarted relay starts from a stale position, when a transaction commits late, and when the
//! relay process is killed with SIGKILL over and over while events are being written.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use commands::Commands;
use domain::chat::MessageContent;
use domain::values::{DisplayName, Email, MessageBody, Password, RoomName};
use domain::Position;
use moim_api::startup;
use moim_nats::{EventEnvelope, Relay, Subjects};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{eventually, nats_url, Sandbox};

async fn user(commands: &Commands, name: &str) -> Uuid {
    let email = Email::parse(&format!("{name}-{}@example.com", Uuid::new_v4().simple())).unwrap();
    let password = Password::parse("correct horse").unwrap();
    commands
        .register(email, password, DisplayName::parse(name).unwrap())
        .await
        .unwrap()
        .0
}

async fn room(commands: &Commands, a: Uuid, b: Uuid) -> Uuid {
    let name = RoomName::parse("r").unwrap();
    commands
        .create_room(a, name, domain::chat::RoomKind::Direct, vec![b])
        .await
        .unwrap()
        .room_id
}

async fn say(commands: &Commands, room: Uuid, sender: Uuid, text: &str) {
    let body = MessageBody::parse(text).unwrap();
    commands
        .send_message(room, sender, Uuid::now_v7(), MessageContent::Text(body))
        .await
        .unwrap();
}

/// The events table in global order: (event id, position, aggregate id, aggregate sequence).
async fn store_order(pool: &PgPool) -> Vec<(Uuid, Position, String, i64)> {
    let rows: Vec<(Uuid, i64, i64, String, i64)> = sqlx::query_as(
        "SELECT event_id, tx_id::text::bigint, position, aggregate_id, sequence FROM events ORDER BY tx_id, position",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(id, tx_id, position, agg, seq)| (id, Position { tx_id, position }, agg, seq))
        .collect()
}

/// The stream's messages in stream order, with their stream sequence checked to be 1..=n.
async fn stream_order(
    js: &jetstream::Context,
    subjects: &Subjects,
) -> Vec<(Uuid, Position, String, i64)> {
    let mut stream = js.get_stream(subjects.stream_name()).await.unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    let mut out = Vec::new();
    for seq in 1..=last {
        let message = stream.get_raw_message(seq).await.unwrap();
        let envelope: EventEnvelope = serde_json::from_slice(&message.payload).unwrap();
        assert_eq!(
            EventEnvelope::position_in(Some(&message.headers)),
            Some(envelope.position)
        );
        out.push((
            envelope.event_id,
            envelope.position,
            envelope.aggregate_id,
            envelope.sequence,
        ));
    }
    out
}

fn assert_exactly_once_in_order(
    store: &[(Uuid, Position, String, i64)],
    stream: &[(Uuid, Position, String, i64)],
) {
    let unique: HashSet<_> = stream.iter().map(|e| e.0).collect();
    assert_eq!(unique.len(), stream.len(), "an event was published twice");
    assert_eq!(
        stream.len(),
        store.len(),
        "an event is missing from the stream"
    );
    assert_eq!(stream, store, "the stream is the store's global order");
}

/// Publishes until the stream holds `total` messages, and returns how many this call published.
/// The relay's horizon is cluster-wide: a write transaction of another test running at this
/// moment holds it back for a while, so one batch may carry fewer events than have committed. The
/// relay keeps looking, as the real one does.
async fn publish_until(relay: &Relay, at: &mut moim_nats::relay::Cursor, total: u64) -> u64 {
    let before = at.stream_seq;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while at.stream_seq < total && tokio::time::Instant::now() < deadline {
        if relay.publish_batch(at).await.unwrap() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    at.stream_seq - before
}

async fn setup() -> (Sandbox, PgPool, Commands, jetstream::Context) {
    let sandbox = Sandbox::new().await;
    let pool = startup::database(&sandbox.settings()).await.unwrap();
    let commands = Commands::new(pool.clone());
    let js = jetstream::new(async_nats::connect(nats_url()).await.unwrap());
    (sandbox, pool, commands, js)
}

#[tokio::test]
async fn a_relay_restarted_from_a_stale_position_publishes_nothing_twice() {
    let (sandbox, pool, commands, js) = setup().await;
    let (kim, lee) = (user(&commands, "kim").await, user(&commands, "lee").await);
    let chat = room(&commands, kim, lee).await;
    for i in 0..20 {
        say(&commands, chat, kim, &format!("m{i}")).await;
    }
    let relay = Relay::new(pool.clone(), js.clone(), sandbox.subjects());
    let start = relay.recover().await.unwrap();
    let mut at = start;
    assert_eq!(publish_until(&relay, &mut at, 23).await, 23);

    // The process "died" after publishing but before it could remember doing so: a relay that
    // trusted that stale position would publish the batch again. JetStream refuses it.
    let mut stale = start;
    assert!(relay.publish_batch(&mut stale).await.is_err());

    for i in 0..5 {
        say(&commands, chat, lee, &format!("late {i}")).await;
    }
    // A restarted relay resumes from the last message in the stream itself.
    let mut resumed = relay.recover().await.unwrap();
    assert_eq!(resumed, at);
    assert_eq!(publish_until(&relay, &mut resumed, 28).await, 5);
    assert_exactly_once_in_order(
        &store_order(&pool).await,
        &stream_order(&js, &sandbox.subjects()).await,
    );
}

#[tokio::test]
async fn a_transaction_that_commits_late_is_not_skipped() {
    let (sandbox, pool, commands, js) = setup().await;
    let relay = Relay::new(pool.clone(), js.clone(), sandbox.subjects());
    let mut at = relay.recover().await.unwrap();
    let first = user(&commands, "first").await;
    assert_eq!(publish_until(&relay, &mut at, 1).await, 1);

    // A writer takes its transaction id, writes an event, and is slow to commit…
    let mut slow = pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload)
         VALUES ('test', 'slow', 1, 'Slow', '1', '{}')",
    )
    .execute(&mut *slow)
    .await
    .unwrap();
    // …while later writers commit, and the relay runs.
    for name in ["a", "b", "c"] {
        user(&commands, name).await;
    }
    assert_eq!(
        relay.publish_batch(&mut at).await.unwrap(),
        0,
        "nothing passes the open transaction"
    );
    slow.commit().await.unwrap();
    assert_eq!(publish_until(&relay, &mut at, 5).await, 4);
    let stream = stream_order(&js, &sandbox.subjects()).await;
    assert_eq!(
        stream[1].2, "slow",
        "the late commit comes in its transaction's place"
    );
    assert_exactly_once_in_order(&store_order(&pool).await, &stream);
    let _ = first;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_relay_with_sigkill_loses_and_doubles_nothing() {
    let (sandbox, pool, commands, js) = setup().await;
    let mut people = Vec::new();
    for i in 0..8 {
        people.push(user(&commands, &format!("p{i}")).await);
    }
    let mut rooms = Vec::new();
    for pair in people.chunks(2) {
        rooms.push((room(&commands, pair[0], pair[1]).await, pair[0]));
    }

    let writing = Arc::new(AtomicBool::new(true));
    let mut writers = Vec::new();
    for (chat, sender) in rooms {
        let (commands, writing) = (commands.clone(), writing.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while writing.load(Ordering::Relaxed) {
                say(&commands, chat, sender, &format!("m{n}")).await;
                n += 1;
            }
        }));
    }

    let spawn_relay = || crate::helpers::spawn_moim(sandbox.env(), "relay");
    let mut kills = 0;
    for round in 0..8u64 {
        let mut relay = spawn_relay();
        // Kill at varying moments: during start-up, mid-batch, between batches.
        tokio::time::sleep(Duration::from_millis(150 + (round * 137) % 500)).await;
        relay.start_kill().unwrap(); // SIGKILL
        relay.wait().await.unwrap();
        kills += 1;
    }
    writing.store(false, Ordering::Relaxed);
    for writer in writers {
        writer.await.unwrap();
    }
    let store = store_order(&pool).await;
    assert!(store.len() > 100, "enough traffic: {}", store.len());

    let mut relay = spawn_relay();
    let caught_up = eventually(Duration::from_secs(60), || async {
        let mut stream = js
            .get_stream(sandbox.subjects().stream_name())
            .await
            .unwrap();
        stream.info().await.unwrap().state.last_sequence as usize >= store.len()
    })
    .await;
    relay.start_kill().unwrap();
    assert!(caught_up, "the relay caught up after {kills} kills");
    let stream = stream_order(&js, &sandbox.subjects()).await;
    assert_exactly_once_in_order(&store, &stream);
    // Per-aggregate order: each aggregate's sequences appear as 1, 2, 3, … in the stream.
    let mut next: std::collections::HashMap<&str, i64> = Default::default();
    for (_, _, aggregate, seq) in &stream {
        let expected = next.entry(aggregate.as_str()).or_insert(1);
        assert_eq!(seq, expected, "aggregate {aggregate} out of order");
        *expected += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn late_commits_among_many_writers_are_published_exactly_once() {
    use rand::Rng;

    let (sandbox, pool, _commands, js) = setup().await;
    let relay = Relay::new(pool.clone(), js.clone(), sandbox.subjects());
    let writing = Arc::new(AtomicBool::new(true));

    // Relay rounds interleaved with the writers: each round reads the global order afresh.
    let reader = {
        let (relay, writing) = (relay.clone(), writing.clone());
        tokio::spawn(async move {
            let mut at = relay.recover().await.unwrap();
            let mut rounds = 0u64;
            while writing.load(Ordering::Relaxed) {
                relay.publish_batch(&mut at).await.unwrap();
                rounds += 1;
                let pause = rand::rng().random_range(0..4);
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            (at, rounds)
        })
    };

    let mut writers = Vec::new();
    for writer in 0..16 {
        let pool = pool.clone();
        writers.push(tokio::spawn(async move {
            let (mut sequence, mut committed, mut aborted) = (0i64, 0usize, 0usize);
            for _ in 0..15 {
                let (events, hold, abort) = {
                    let mut rng = rand::rng();
                    let hold = rng.random_bool(0.3).then(|| rng.random_range(1..150));
                    (rng.random_range(1..=3), hold, rng.random_bool(0.1))
                };
                let mut tx = pool.begin().await.unwrap();
                for i in 1..=events {
                    sqlx::query(
                        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload)
                         VALUES ('gap', $1, $2, 'Wrote', '1', '{}')",
                    )
                    .bind(format!("w{writer}"))
                    .bind(sequence + i)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                }
                if let Some(millis) = hold {
                    // Holding the transaction open lets later ones commit first.
                    tokio::time::sleep(Duration::from_millis(millis)).await;
                }
                if abort {
                    tx.rollback().await.unwrap();
                    aborted += 1;
                } else {
                    tx.commit().await.unwrap();
                    sequence += events;
                    committed += events as usize;
                }
            }
            (committed, aborted)
        }));
    }
    let (mut committed, mut aborted) = (0, 0);
    for writer in writers {
        let (c, a) = writer.await.unwrap();
        committed += c;
        aborted += a;
    }
    writing.store(false, Ordering::Relaxed);
    let (mut at, rounds) = reader.await.unwrap();
    let store = store_order(&pool).await;
    assert_eq!(store.len(), committed);
    publish_until(&relay, &mut at, store.len() as u64).await;
    assert!(
        rounds > 20,
        "the relay read the global order {rounds} times while writers ran"
    );
    assert!(aborted > 0 || committed > 0);
    assert_exactly_once_in_order(&store, &stream_order(&js, &sandbox.subjects()).await);
}
