//! Searching chat messages, in one room or in all of a caller's rooms, over the chat view.
//!
//! Messages are looked up by their character pairs ([`bigrams`], a GIN index): `안녕` and `하세요`
//! both find `안녕하세요`, `HELLO` finds `hello`. A query's pairs must all be among a message's,
//! then the text itself is checked, so the index only narrows and never decides. Tombstones and
//! system messages have no body and no pairs.

use std::time::Duration;

use serde::Serialize;
use sqlx::postgres::PgArguments;
use sqlx::query::QueryAs;
use sqlx::{PgPool, Postgres};
use uuid::Uuid;

use crate::bigrams;
use crate::chat::{Cursor, MESSAGE_COLUMNS};
use crate::frames::{seq_of, ChatMessage};
use crate::ProjectionError;

/// The longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 100;

/// Why a query cannot be searched for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadQuery {
    /// No word of two characters or more: nothing the index can look up.
    TooShort,
    /// Longer than [`MAX_QUERY_CHARS`].
    TooLong,
    /// Holds a control character (PostgreSQL refuses a NUL in text).
    Control,
}

/// Text PostgreSQL may be asked to match: trimmed, at most [`MAX_QUERY_CHARS`] characters, no
/// control characters (it refuses a NUL). Room names are looked up by any such text.
pub fn check_text(q: &str) -> Result<&str, BadQuery> {
    let q = q.trim();
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(BadQuery::TooLong);
    }
    if q.chars().any(char::is_control) {
        return Err(BadQuery::Control);
    }
    Ok(q)
}

/// A query that can be searched for: [`check_text`], with at least one word of two or more.
pub fn check_query(q: &str) -> Result<&str, BadQuery> {
    let q = check_text(q)?;
    if bigrams::of(q).is_empty() {
        return Err(BadQuery::TooShort);
    }
    Ok(q)
}

/// A page of hits, newest first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = MessageHits)]
pub struct Hits {
    /// The messages found.
    pub messages: Vec<ChatMessage>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// `$2` is the query, `$3` its pairs, `$4` and `$5` the cursor.
const MATCHES: &str = "m.grams @> $3::bigint[] AND strpos(lower(m.body), lower($2)) > 0
     AND ($4::timestamptz IS NULL OR (m.sent_at, m.message_id) < ($4, $5))";

/// How a search runs: how many hits a page holds, and the longest it may take (a search for a
/// word in most messages of many large rooms reads them all; past this it is cancelled).
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Hits per page.
    pub limit: i64,
    /// The longest the query may run in PostgreSQL.
    pub timeout: Duration,
}

/// Messages of one room containing `q`, within the seqs `window` lets the caller read.
pub async fn in_room(
    pool: &PgPool,
    room_id: Uuid,
    window: (u64, Option<u64>),
    q: &str,
    cursor: Option<Cursor>,
    bounds: Bounds,
) -> Result<Hits, ProjectionError> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM chat_messages m
         WHERE m.room_id = $1 AND {MATCHES} AND m.seq >= $7 AND m.seq <= $8
         ORDER BY m.sent_at DESC, m.message_id DESC LIMIT $6"
    );
    let query = sqlx::query_as(&sql)
        .bind(room_id)
        .bind(q)
        .bind(bigrams::of(q))
        .bind(cursor.map(|c| c.at()))
        .bind(cursor.map(|c| c.id()))
        .bind(bounds.limit + 1)
        .bind(seq_of(window.0))
        .bind(window.1.map_or(i64::MAX, seq_of));
    run(pool, query, bounds).await
}

/// Messages containing `q` in every room `user_id` is in, or was in up to when they left.
pub async fn everywhere(
    pool: &PgPool,
    user_id: Uuid,
    q: &str,
    cursor: Option<Cursor>,
    bounds: Bounds,
) -> Result<Hits, ProjectionError> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM chat_messages m
         JOIN chat_room_members me ON me.room_id = m.room_id AND me.user_id = $1
         WHERE {MATCHES} AND m.seq >= me.joined_seq AND (me.left_seq IS NULL OR m.seq <= me.left_seq)
         ORDER BY m.sent_at DESC, m.message_id DESC LIMIT $6"
    );
    let query = sqlx::query_as(&sql)
        .bind(user_id)
        .bind(q)
        .bind(bigrams::of(q))
        .bind(cursor.map(|c| c.at()))
        .bind(cursor.map(|c| c.id()))
        .bind(bounds.limit + 1);
    run(pool, query, bounds).await
}

/// Runs a search under PostgreSQL's `statement_timeout`, which cancels it server-side: a
/// cancelled search holds no connection or CPU past its bound.
async fn run(
    pool: &PgPool,
    query: QueryAs<'_, Postgres, ChatMessage, PgArguments>,
    bounds: Bounds,
) -> Result<Hits, ProjectionError> {
    let mut tx = pool.begin().await?;
    let millis = u64::try_from(bounds.timeout.as_millis()).unwrap_or(u64::MAX);
    sqlx::query(&format!("SET LOCAL statement_timeout = {millis}"))
        .execute(&mut *tx)
        .await?;
    let messages = match query.fetch_all(&mut *tx).await {
        Ok(messages) => messages,
        // 57014: query_canceled, which is what the timeout raises.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("57014") => {
            return Err(ProjectionError::TimedOut(bounds.timeout));
        }
        Err(e) => return Err(e.into()),
    };
    tx.commit().await?;
    Ok(page(messages, bounds.limit))
}

fn page(mut messages: Vec<ChatMessage>, limit: i64) -> Hits {
    let next_cursor = Cursor::cut(&mut messages, limit, |m| (m.sent_at, m.message_id));
    Hits {
        messages,
        next_cursor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_needs_a_word_of_two_characters_and_no_more_than_a_hundred() {
        assert_eq!(check_query(" 안녕 "), Ok("안녕"));
        assert_eq!(check_query("a b 하세요"), Ok("a b 하세요"));
        assert_eq!(check_query("a b"), Err(BadQuery::TooShort));
        assert_eq!(check_query("   "), Err(BadQuery::TooShort));
        assert_eq!(check_query(&"가".repeat(101)), Err(BadQuery::TooLong));
    }
}
