//! Gives rows written before the views computed search pairs the pairs the searches now look
//! for (migration `20261205000001`): once, at start-up, in batches that each commit with how far
//! they reached, so a crash or a second instance starting at once carries on where it stopped.
//! It reads every such row but rewrites only those whose pairs differ, and stops at the largest
//! key the migration found: rows written since carry the views' own pairs.

use sqlx::PgPool;
use uuid::Uuid;

use crate::{bigrams, ProjectionError};

/// Rows per transaction.
const BATCH: i64 = 1_000;

/// Times a batch chosen as a deadlock's victim (a live view writing the same rows) is tried.
const ATTEMPTS: u32 = 5;

/// A table whose rows carry pairs: its key and the text the pairs are made from, as its view
/// makes them (a post's title and body as one text). The text is NULL for a system message or
/// a tombstone, which have no pairs.
struct Target {
    table: &'static str,
    key: &'static str,
    text: &'static str,
}

const TARGETS: [Target; 2] = [
    Target {
        table: "chat_messages",
        key: "message_id",
        text: "t.body",
    },
    Target {
        table: "posts",
        key: "post_id",
        text: "t.title || ' ' || t.body",
    },
];

/// Computes again the pairs of every table the backfill still lists; answers how many rows it
/// rewrote. Once done it is one query that finds nothing to do.
pub async fn backfill(pool: &PgPool) -> Result<u64, ProjectionError> {
    let mut rewritten = 0;
    for target in &TARGETS {
        let mut attempts = 0;
        loop {
            match next_batch(pool, target).await {
                Ok(Some(rows)) => rewritten += rows,
                Ok(None) => break,
                Err(sqlx::Error::Database(e))
                    if e.code().as_deref() == Some("40P01") && attempts + 1 < ATTEMPTS =>
                {
                    attempts += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(rewritten)
}

/// One batch of `target`; `None` once the table is done.
async fn next_batch(pool: &PgPool, target: &Target) -> Result<Option<u64>, sqlx::Error> {
    let Target { table, key, text } = target;
    let mut tx = pool.begin().await?;
    // Locked, so that instances starting together take turns rather than repeat each other.
    let cursor: Option<(Option<Uuid>, Option<Uuid>)> = sqlx::query_as(
        "SELECT after, until FROM search_pairs_backfill WHERE target = $1 FOR UPDATE",
    )
    .bind(table)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((after, until)) = cursor else {
        return Ok(None);
    };
    // The rows are locked in key order, as any two batches would lock them.
    let rows: Vec<(Uuid, Option<String>)> = match until {
        None => Vec::new(),
        Some(until) => {
            sqlx::query_as(&format!(
                "SELECT t.{key}, {text} FROM {table} t
                 WHERE ($1::uuid IS NULL OR t.{key} > $1) AND t.{key} <= $2
                 ORDER BY t.{key} LIMIT $3 FOR UPDATE"
            ))
            .bind(after)
            .bind(until)
            .bind(BATCH)
            .fetch_all(&mut *tx)
            .await?
        }
    };
    let Some(&(last, _)) = rows.last() else {
        sqlx::query("DELETE FROM search_pairs_backfill WHERE target = $1")
            .bind(table)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        return Ok(None);
    };
    let (ids, texts): (Vec<Uuid>, Vec<Option<String>>) = rows.into_iter().unzip();
    let pairs: bigrams::Packed = texts.iter().map(Option::as_deref).collect();
    let rewritten = sqlx::query(&format!(
        "UPDATE {table} t SET grams = u.grams
         FROM (SELECT id, ($4::bigint[])[p.from_:p.to_] AS grams
               FROM unnest($1::uuid[], $2::int[], $3::int[]) AS p(id, from_, to_)) u
         WHERE t.{key} = u.id AND (t.grams IS NULL OR NOT (t.grams @> u.grams AND u.grams @> t.grams))"
    ))
    .bind(&ids)
    .bind(&pairs.from)
    .bind(&pairs.to)
    .bind(&pairs.pairs)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE search_pairs_backfill SET after = $2 WHERE target = $1")
        .bind(table)
        .bind(last)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some(rewritten.rows_affected()))
}
