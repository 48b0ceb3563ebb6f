//! Chat reads: search over a large history, and one user's room list.
//!
//! Search runs the API's own queries (`projections::chat_search`) on a scratch read model of
//! generated Korean and English messages in 1,000 rooms — a million in a full run; building that
//! many through the pipeline would time the pipeline, not search. The room list goes through
//! HTTP to the bench's Moim for a user in 200 rooms, each with unread messages.

use std::time::Instant;

use futures::stream::{self, StreamExt, TryStreamExt};
use projections::{bigrams, chat_search};
use serde::Serialize;
use uuid::Uuid;

use crate::client;
use crate::stats::{Latencies, Percentiles};
use crate::target::Scratch;

/// Search as the API runs it by default.
const BOUNDS: chat_search::Bounds = chat_search::Bounds {
    limit: 50,
    timeout: std::time::Duration::from_secs(5),
};

/// Rooms of the generated history; the searching user is in the first fifth of them.
const ROOMS: i64 = 1000;
const SEARCHER_ROOMS: i64 = 200;

/// One query's latencies.
#[derive(Debug, Clone, Serialize)]
pub struct Query {
    pub name: &'static str,
    pub q: &'static str,
    /// Hits on the first page (the page is 50).
    pub hits: usize,
    pub latency: Percentiles,
}

/// The search figures.
#[derive(Debug, Clone, Serialize)]
pub struct Search {
    pub messages: i64,
    pub seconds_to_load: f64,
    pub queries: Vec<Query>,
}

/// The room-list figures.
#[derive(Debug, Clone, Serialize)]
pub struct RoomList {
    pub rooms: usize,
    pub page_50: Percentiles,
    pub page_200: Percentiles,
}

const WORDS: &str = "ARRAY['안녕하세요','오늘','저녁','배드민턴','모임','같이','먹자','hello',
                            'World','game','내일','회의','coffee','주말','운동','코트','경기','점수']";

/// The search pairs of every body `body` (an SQL expression of `i`) makes for `i` below
/// `messages`, computed as the chat view computes a message's, into a table `search_pairs`. The
/// generated messages repeat a few thousand bodies, so each body's are computed once.
async fn search_pairs(scratch: &Scratch, body: &str, messages: i64) -> anyhow::Result<()> {
    let bodies: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT DISTINCT {body} FROM generate_series(0, $1 - 1) i"
    ))
    .bind(messages)
    .fetch_all(&scratch.pool)
    .await?;
    let pairs: bigrams::Packed = bodies.iter().map(|b| Some(b.as_str())).collect();
    sqlx::query("CREATE TABLE search_pairs (body text PRIMARY KEY, grams bigint[] NOT NULL)")
        .execute(&scratch.pool)
        .await?;
    sqlx::query(
        "INSERT INTO search_pairs
         SELECT body, ($4::bigint[])[from_:to_]
         FROM UNNEST($1::text[], $2::int[], $3::int[]) AS p(body, from_, to_)",
    )
    .bind(&bodies)
    .bind(&pairs.from)
    .bind(&pairs.to)
    .bind(&pairs.pairs)
    .execute(&scratch.pool)
    .await?;
    Ok(())
}

/// Loads `messages` generated messages into the scratch chat view, then times searches.
pub async fn search(scratch: &Scratch, messages: i64, samples: usize) -> anyhow::Result<Search> {
    let searcher = Uuid::from_u128(7);
    let started = Instant::now();
    sqlx::query(
        "INSERT INTO chat_room_members (room_id, user_id, role)
         SELECT md5('room' || r)::uuid, md5('user' || ((r + k) % 50))::uuid, 'member'
         FROM generate_series(0, $1 - 1) r, generate_series(0, 2) k
         UNION ALL
         SELECT md5('room' || r)::uuid, $2, 'member' FROM generate_series(0, $3 - 1) r",
    )
    .bind(ROOMS)
    .bind(searcher)
    .bind(SEARCHER_ROOMS)
    .execute(&scratch.pool)
    .await?;
    let chunk = 50_000i64;
    let chunks: Vec<(i64, i64)> = (0..messages)
        .step_by(chunk as usize)
        .map(|from| (from, (from + chunk).min(messages)))
        .collect();
    // Three words a message from eighteen (each in about one message of six: a worst case), and
    // words as frequent as real ones: in 1 of 100, 1 of 1,000 and 1 of 20,000 messages.
    let body = format!(
        "({WORDS})[1 + i * 7 % 18] || ' ' || ({WORDS})[1 + i * 13 % 17] || ' '
             || ({WORDS})[1 + i * 31 % 16]
             || CASE WHEN i % 101 = 7 THEN ' 체육관' ELSE '' END
             || CASE WHEN i % 997 = 3 THEN ' 셔틀콕' ELSE '' END
             || CASE WHEN i % 19997 = 5 THEN ' 희귀한단어' ELSE '' END"
    );
    search_pairs(scratch, &body, messages).await?;
    let insert = format!(
        "INSERT INTO chat_messages (room_id, seq, message_id, sender_id, client_msg_id, body,
                                    sent_at, recipients, n, grams)
         SELECT md5('room' || (i % {ROOMS}))::uuid, i / {ROOMS} + 1, md5('m' || i)::uuid,
                md5('user' || (i % 50))::uuid, md5('c' || i)::uuid, body,
                now() - ($3 - i) * interval '1 second', 2, i / {ROOMS} + 1, grams
         FROM (SELECT i, {body} AS body FROM generate_series($1, $2 - 1) i) m
         JOIN search_pairs USING (body)"
    );
    stream::iter(chunks)
        .map(|(from, to)| {
            sqlx::query(&insert)
                .bind(from)
                .bind(to)
                .bind(messages)
                .execute(&scratch.pool)
        })
        .buffer_unordered(2)
        .try_collect::<Vec<_>>()
        .await?;
    sqlx::query("VACUUM ANALYZE chat_messages")
        .execute(&scratch.pool)
        .await?;
    let seconds_to_load = started.elapsed().as_secs_f64();

    // The room of the first message with the 1-in-100 word, so one-room searches find some.
    let (room,): (Uuid,) = sqlx::query_as("SELECT md5('room7')::uuid")
        .fetch_one(&scratch.pool)
        .await?;
    let mut queries = Vec::new();
    for (name, q, in_room) in [
        ("all rooms, word in 1/100", "체육관", false),
        ("all rooms, word in 1/1,000", "셔틀콕", false),
        ("all rooms, word in 1/20,000", "희귀한", false),
        ("all rooms, part of a word", "민턴", false),
        ("all rooms, two words", "오늘 저녁", false),
        ("all rooms, word in 1/6 (worst)", "배드민턴", false),
        ("all rooms, English 1/6, any case", "HELLO", false),
        ("one room, word in 1/6", "배드민턴", true),
        ("one room, word in 1/100", "체육관", true),
    ] {
        let mut latencies = Latencies::new();
        let mut hits = 0;
        for _ in 0..samples {
            let at = Instant::now();
            let found = if in_room {
                chat_search::in_room(&scratch.pool, room, (0, None), q, None, BOUNDS).await?
            } else {
                chat_search::everywhere(&scratch.pool, searcher, q, None, BOUNDS).await?
            };
            latencies.record(at.elapsed());
            hits = found.messages.len();
        }
        queries.push(Query {
            name,
            q,
            hits,
            latency: latencies.percentiles(),
        });
    }
    Ok(Search {
        messages,
        seconds_to_load,
        queries,
    })
}

/// Times `GET /chat/rooms` for a user in `rooms` rooms, each with a message they have not read.
pub async fn room_list(url: &str, rooms: usize, samples: usize) -> anyhow::Result<RoomList> {
    let http = client::http();
    let users = client::register_many(&http, url, 3, 3).await?;
    let (reader, members) = (&users[0], [users[0].id, users[2].id]);
    let made: Vec<Uuid> = stream::iter(0..rooms)
        .map(|_| client::create_room(&http, url, &users[1], &members))
        .buffer_unordered(8)
        .try_collect()
        .await?;
    stream::iter(made.iter())
        .map(|&room| client::send(&http, url, &users[1], room))
        .buffer_unordered(8)
        .try_collect::<Vec<_>>()
        .await?;
    // The list is read from the chat view: wait until it holds every room.
    let listed = |page: &serde_json::Value| page["rooms"].as_array().map_or(0, Vec::len);
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    while listed(&list(&http, url, reader, 200).await?) < rooms {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the chat view never listed {rooms} rooms"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut pages = Vec::new();
    for limit in [50, 200] {
        let mut latencies = Latencies::new();
        for _ in 0..samples {
            let at = Instant::now();
            let page = list(&http, url, reader, limit).await?;
            latencies.record(at.elapsed());
            anyhow::ensure!(listed(&page) == limit, "a short page: {page}");
        }
        pages.push(latencies.percentiles());
    }
    Ok(RoomList {
        rooms,
        page_50: pages[0],
        page_200: pages[1],
    })
}

async fn list(
    http: &reqwest::Client,
    url: &str,
    user: &client::User,
    limit: usize,
) -> anyhow::Result<serde_json::Value> {
    Ok(http
        .get(format!("{url}/api/v1/chat/rooms?limit={limit}"))
        .bearer_auth(&user.token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}
