//! Gives rows written before the views computed search pairs the pairs the searches now look
//! for (migration `20261205000001`): once, at start-up, in batches that each commit with how far
//! they reached, so a crash or a second instance starting at once carries on where it stopped.

use sqlx::PgPool;
use uuid::Uuid;

use crate::{bigrams, ProjectionError};

/// Rows per transaction.
const BATCH: i64 = 1_000;

/// A table whose rows carry pairs: its key and the text the pairs are made from, as its view
/// makes them (a post's title and body as one text).
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
        while let Some(rows) = next_batch(pool, target).await? {
            rewritten += rows;
        }
    }
    Ok(rewritten)
}

/// One batch of `target`; `None` once the table is done.
async fn next_batch(pool: &PgPool, target: &Target) -> Result<Option<u64>, ProjectionError> {
    let Target { table, key, text } = target;
    let mut tx = pool.begin().await?;
    // Locked, so that instances starting together take turns rather than repeat each other.
    let after: Option<(Option<Uuid>,)> =
        sqlx::query_as("SELECT after FROM search_pairs_backfill WHERE target = $1 FOR UPDATE")
            .bind(table)
            .fetch_optional(&mut *tx)
            .await?;
    let Some((after,)) = after else {
        return Ok(None);
    };
    let rows: Vec<(Uuid, String)> = sqlx::query_as(&format!(
        "SELECT t.{key}, {text} FROM {table} t
         WHERE $1::uuid IS NULL OR t.{key} > $1 ORDER BY t.{key} LIMIT $2"
    ))
    .bind(after)
    .bind(BATCH)
    .fetch_all(&mut *tx)
    .await?;
    let Some((last, _)) = rows.last() else {
        sqlx::query("DELETE FROM search_pairs_backfill WHERE target = $1")
            .bind(table)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        return Ok(None);
    };
    let last = *last;
    let (ids, texts): (Vec<Uuid>, Vec<String>) = rows.into_iter().unzip();
    let pairs: Vec<String> = texts.iter().map(|t| bigrams::joined(t)).collect();
    // A row edited since it was read already has its new text's pairs.
    let done = sqlx::query(&format!(
        "UPDATE {table} t SET grams = string_to_array(u.pairs, ' ')
         FROM unnest($1::uuid[], $2::text[], $3::text[]) AS u(id, text, pairs)
         WHERE t.{key} = u.id AND {text} = u.text"
    ))
    .bind(&ids)
    .bind(&texts)
    .bind(&pairs)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE search_pairs_backfill SET after = $2 WHERE target = $1")
        .bind(table)
        .bind(last)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some(done.rows_affected()))
}
