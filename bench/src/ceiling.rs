//! The machine's ceiling, measured in the same run: plain single-row inserts of an event-shaped
//! row into PostgreSQL, the same rows ten to a statement (what an append that shares its commit
//! could reach), and plain JetStream publishes of the same payload, closed loop.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::stats::{Latencies, Percentiles};
use crate::target::Scratch;

/// One ceiling level.
#[derive(Debug, Clone, Serialize)]
pub struct Ceiling {
    pub concurrency: usize,
    pub operations: u64,
    pub per_sec: f64,
    pub latency: Percentiles,
}

/// Rows per statement in the batched ceiling.
pub const BATCH_ROWS: usize = 10;

/// One level of the batched ceiling: statements timed as `statements`, rows counted apart.
#[derive(Debug, Clone, Serialize)]
pub struct BatchCeiling {
    pub rows_per_statement: usize,
    pub rows_per_sec: f64,
    #[serde(flatten)]
    pub statements: Ceiling,
}

/// A `MessageSent` payload of the size Moim stores.
fn payload() -> serde_json::Value {
    json!({ "MessageSent": {
        "message_id": Uuid::now_v7(), "room_id": Uuid::now_v7(), "seq": 12345,
        "sender_id": Uuid::now_v7(), "client_msg_id": Uuid::now_v7(),
        "body": "the quick brown fox jumps over the lazy dog, twice over",
        "sent_at": chrono::Utc::now(),
    }})
}

async fn closed_loop<F, Fut>(concurrency: usize, length: Duration, op: F) -> anyhow::Result<Ceiling>
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let started = Instant::now();
    let deadline = started + length;
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let op = op.clone();
        workers.push(tokio::spawn(async move {
            let (mut latencies, mut n) = (Latencies::new(), 0u64);
            while Instant::now() < deadline {
                let at = Instant::now();
                op(w as u64 * 1_000_000_000 + n).await?;
                latencies.record(at.elapsed());
                n += 1;
            }
            anyhow::Ok((latencies, n))
        }));
    }
    let (mut latencies, mut operations) = (Latencies::new(), 0);
    for worker in workers {
        let (l, n) = worker.await??;
        latencies.merge(&l);
        operations += n;
    }
    let per_sec = operations as f64 / started.elapsed().as_secs_f64();
    Ok(Ceiling {
        concurrency,
        operations,
        per_sec,
        latency: latencies.percentiles(),
    })
}

/// Autocommitted single-row inserts into a table shaped like `events`.
pub async fn pg_insert(
    scratch: &Scratch,
    concurrency: usize,
    length: Duration,
) -> anyhow::Result<Ceiling> {
    sqlx::query("CREATE TABLE IF NOT EXISTS ceiling_events (LIKE events INCLUDING ALL)")
        .execute(&scratch.pool)
        .await?;
    let pool = scratch.pool.clone();
    closed_loop(concurrency, length, move |n| {
        let pool = pool.clone();
        async move {
            sqlx::query(
                "INSERT INTO ceiling_events
                     (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, event_id)
                 VALUES ('chat_room', $1, $2, 'MessageSent', '1', $3, $4)",
            )
            .bind(format!("room-{n}-{}", Uuid::now_v7()))
            .bind(1i64)
            .bind(payload())
            .bind(Uuid::now_v7())
            .execute(&pool)
            .await?;
            Ok(())
        }
    })
    .await
}

/// Publishes of an envelope-sized message to a file-backed stream, each ack awaited.
pub async fn jetstream_publish(
    scratch: &Scratch,
    concurrency: usize,
    length: Duration,
) -> anyhow::Result<Ceiling> {
    let subject = format!("benchceiling{}.events", scratch.id);
    scratch
        .js
        .get_or_create_stream(async_nats::jetstream::stream::Config {
            name: format!("BENCH_CEILING_{}", scratch.id),
            subjects: vec![subject.clone()],
            storage: async_nats::jetstream::stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let body = serde_json::to_vec(
        &json!({ "event_id": Uuid::now_v7(), "payload": payload(), "metadata": {} }),
    )?;
    let js = scratch.js.clone();
    closed_loop(concurrency, length, move |_| {
        let (js, subject, body) = (js.clone(), subject.clone(), body.clone());
        async move {
            js.publish(subject, body.into())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(())
        }
    })
    .await
}

/// Autocommitted inserts of `BATCH_ROWS` event-shaped rows each, in the event store's own
/// `INSERT … SELECT * FROM UNNEST(…)` shape; into a table of their own, so the single-row
/// ceiling is measured on the table it always was.
pub async fn pg_insert_batch(
    scratch: &Scratch,
    concurrency: usize,
    length: Duration,
) -> anyhow::Result<BatchCeiling> {
    sqlx::query("CREATE TABLE IF NOT EXISTS ceiling_batch_events (LIKE events INCLUDING ALL)")
        .execute(&scratch.pool)
        .await?;
    let pool = scratch.pool.clone();
    let statements = closed_loop(concurrency, length, move |n| {
        let pool = pool.clone();
        async move {
            let ids: Vec<String> = (0..BATCH_ROWS)
                .map(|row| format!("room-{n}-{row}-{}", Uuid::now_v7()))
                .collect();
            let payloads: Vec<serde_json::Value> = (0..BATCH_ROWS).map(|_| payload()).collect();
            let event_ids: Vec<Uuid> = (0..BATCH_ROWS).map(|_| Uuid::now_v7()).collect();
            sqlx::query(
                "INSERT INTO ceiling_batch_events (aggregate_type, aggregate_id, sequence,
                                                   event_type, event_version, payload, metadata,
                                                   event_id)
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[],
                                      $5::text[], $6::jsonb[], $7::jsonb[], $8::uuid[])",
            )
            .bind(vec!["chat_room"; BATCH_ROWS])
            .bind(ids)
            .bind(vec![1i64; BATCH_ROWS])
            .bind(vec!["MessageSent"; BATCH_ROWS])
            .bind(vec!["1"; BATCH_ROWS])
            .bind(payloads)
            .bind(vec![json!({}); BATCH_ROWS])
            .bind(event_ids)
            .execute(&pool)
            .await?;
            Ok(())
        }
    })
    .await?;
    Ok(BatchCeiling {
        rows_per_statement: BATCH_ROWS,
        rows_per_sec: statements.per_sec * BATCH_ROWS as f64,
        statements,
    })
}
