//! Read model of the boards: posts (pinned first, then newest), exact like counts, and comment
//! threads listed depth-first.
//!
//! A like is a row keyed by (post, user), and the post's count is recounted from those rows in
//! the same transaction, so a count is exact after any interleaving of likes and unlikes, and
//! an event applied twice changes nothing. A comment's `path` is its ancestors' ids and its own
//! (v7 ids, so in time order) joined by `/`: ordering a post's comments by it lists each thread
//! under its parent, oldest first, to any depth.

use chrono::{DateTime, Utc};
use domain::board::{Comment, CommentEvent, Post, PostEvent};
use domain::Aggregate;
use moim_nats::EventEnvelope;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::bigrams;
use crate::decode::decode;
use crate::{ProjectionError, Simple, View, Window};

/// The board view.
pub const VIEW: View = View::of(&Simple {
    name: "board",
    tables: &["posts", "post_likes", "comments"],
    apply_one: |tx, event| Box::pin(apply(tx, event)),
    reads: &[Post::TYPE, Comment::TYPE],
});

/// A post as listed and shown.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct PostView {
    /// The post.
    pub post_id: Uuid,
    /// Its board.
    pub board: String,
    /// Its category.
    pub category: String,
    /// Its title.
    pub title: String,
    /// Its text.
    pub body: String,
    /// Photos.
    pub media_ids: Vec<Uuid>,
    /// Who wrote it.
    pub author_id: Uuid,
    /// Pinned by a moderator.
    pub pinned: bool,
    /// How many like it.
    pub like_count: i32,
    /// Whether the caller does.
    pub liked_by_me: bool,
    /// Comments that are not deleted.
    pub comment_count: i32,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// When it was last edited.
    pub edited_at: Option<DateTime<Utc>>,
}

/// A comment in a post's thread list.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct CommentView {
    /// The comment.
    pub comment_id: Uuid,
    /// The comment it answers.
    pub parent_id: Option<Uuid>,
    /// 0 for a comment on the post, one more per reply level.
    pub depth: i32,
    /// Who wrote it.
    pub author_id: Uuid,
    /// Its text; none on a deleted comment kept because it has replies.
    pub body: Option<String>,
    /// Whether it was deleted.
    pub deleted: bool,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// When it was last edited.
    pub edited_at: Option<DateTime<Utc>>,
}

async fn apply(tx: &mut PgConnection, event: &EventEnvelope) -> Result<(), ProjectionError> {
    if event.aggregate_type == Post::TYPE {
        on_post(tx, decode(event)?).await
    } else if event.aggregate_type == Comment::TYPE {
        on_comment(tx, decode(event)?).await
    } else {
        Ok(())
    }
}

/// A post is found by its title and body alike.
fn post_grams(title: &str, body: &str) -> Vec<bigrams::Pair> {
    bigrams::of(&format!("{title} {body}"))
}

async fn on_post(tx: &mut PgConnection, event: PostEvent) -> Result<(), ProjectionError> {
    match event {
        PostEvent::PostCreated(e) => {
            sqlx::query(
                "INSERT INTO posts (post_id, board, category, title, body, media_ids, author_id,
                                    created_at, grams)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (post_id) DO NOTHING",
            )
            .bind(e.post_id)
            .bind(e.board.to_string())
            .bind(&e.category)
            .bind(&e.title)
            .bind(&e.body)
            .bind(&e.media_ids)
            .bind(e.author_id)
            .bind(e.at)
            .bind(post_grams(&e.title, &e.body))
            .execute(&mut *tx)
            .await?;
        }
        PostEvent::PostEdited(e) => {
            sqlx::query(
                "UPDATE posts SET category = $2, title = $3, body = $4, edited_at = $5, grams = $6
                 WHERE post_id = $1",
            )
            .bind(e.post_id)
            .bind(&e.category)
            .bind(&e.title)
            .bind(&e.body)
            .bind(e.at)
            .bind(post_grams(&e.title, &e.body))
            .execute(&mut *tx)
            .await?;
        }
        PostEvent::PostDeleted(e) => {
            for table in ["post_likes", "comments", "posts"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE post_id = $1"))
                    .bind(e.post_id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        PostEvent::PostPinned(e) => {
            sqlx::query("UPDATE posts SET pinned = $2 WHERE post_id = $1")
                .bind(e.post_id)
                .bind(e.pinned)
                .execute(&mut *tx)
                .await?;
        }
        PostEvent::PostLiked(e) => {
            sqlx::query(
                "INSERT INTO post_likes (post_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(e.post_id)
            .bind(e.user_id)
            .execute(&mut *tx)
            .await?;
            recount_likes(tx, e.post_id).await?;
        }
        PostEvent::PostUnliked(e) => {
            sqlx::query("DELETE FROM post_likes WHERE post_id = $1 AND user_id = $2")
                .bind(e.post_id)
                .bind(e.user_id)
                .execute(&mut *tx)
                .await?;
            recount_likes(tx, e.post_id).await?;
        }
    }
    Ok(())
}

async fn recount_likes(tx: &mut PgConnection, post_id: Uuid) -> Result<(), ProjectionError> {
    sqlx::query(
        "UPDATE posts SET like_count = (SELECT count(*) FROM post_likes WHERE post_id = $1)
         WHERE post_id = $1",
    )
    .bind(post_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn recount_comments(tx: &mut PgConnection, post_id: Uuid) -> Result<(), ProjectionError> {
    sqlx::query(
        "UPDATE posts SET comment_count =
           (SELECT count(*) FROM comments WHERE post_id = $1 AND NOT deleted)
         WHERE post_id = $1",
    )
    .bind(post_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn on_comment(tx: &mut PgConnection, event: CommentEvent) -> Result<(), ProjectionError> {
    match event {
        CommentEvent::CommentCreated(e) => {
            let parent: Option<(String, i32)> = match e.parent_id {
                Some(parent_id) => {
                    sqlx::query_as("SELECT path, depth FROM comments WHERE comment_id = $1")
                        .bind(parent_id)
                        .fetch_optional(&mut *tx)
                        .await?
                }
                None => None,
            };
            let (path, depth) = match parent {
                Some((path, depth)) => (format!("{path}/{}", e.comment_id), depth + 1),
                None => (e.comment_id.to_string(), 0),
            };
            sqlx::query(
                "INSERT INTO comments (comment_id, post_id, parent_id, author_id, body, path, depth,
                                       created_at)
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS (SELECT 1 FROM posts WHERE post_id = $2)
                 ON CONFLICT (comment_id) DO NOTHING",
            )
            .bind(e.comment_id)
            .bind(e.post_id)
            .bind(e.parent_id)
            .bind(e.author_id)
            .bind(&e.body)
            .bind(&path)
            .bind(depth)
            .bind(e.at)
            .execute(&mut *tx)
            .await?;
            recount_comments(tx, e.post_id).await?;
        }
        CommentEvent::CommentEdited(e) => {
            sqlx::query("UPDATE comments SET body = $2, edited_at = $3 WHERE comment_id = $1")
                .bind(e.comment_id)
                .bind(&e.body)
                .bind(e.at)
                .execute(&mut *tx)
                .await?;
        }
        CommentEvent::CommentDeleted(e) => {
            sqlx::query("UPDATE comments SET body = NULL, deleted = true WHERE comment_id = $1")
                .bind(e.comment_id)
                .execute(&mut *tx)
                .await?;
            recount_comments(tx, e.post_id).await?;
        }
    }
    Ok(())
}

const POST_COLUMNS: &str = "p.post_id, p.board, p.category, p.title, p.body, p.media_ids,
    p.author_id, p.pinned, p.like_count,
    EXISTS (SELECT 1 FROM post_likes l WHERE l.post_id = p.post_id AND l.user_id = $1) AS liked_by_me,
    p.comment_count, p.created_at, p.edited_at";

/// A post as `viewer` sees it.
pub async fn post(
    pool: &PgPool,
    viewer: Uuid,
    post_id: Uuid,
) -> Result<Option<PostView>, ProjectionError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {POST_COLUMNS} FROM posts p WHERE p.post_id = $2"
    ))
    .bind(viewer)
    .bind(post_id)
    .fetch_optional(pool)
    .await?)
}

/// Which posts a list shows.
#[derive(Debug, Clone, Default)]
pub struct PostFilter {
    /// One category.
    pub category: Option<String>,
    /// Text the title or body holds (checked like chat search: pairs of characters, then the
    /// text itself).
    pub q: Option<String>,
}

/// A board's posts, pinned first then newest, and how many match in all.
pub async fn posts(
    pool: &PgPool,
    viewer: Uuid,
    board: &str,
    filter: &PostFilter,
    window: Window,
    limit: i64,
) -> Result<(Vec<PostView>, i64), ProjectionError> {
    const WHERE: &str = "p.board = $2
        AND ($3::text IS NULL OR p.category = $3)
        AND ($4::text IS NULL OR (p.grams @> $5::bigint[]
             AND strpos(lower(p.title || ' ' || p.body), lower($4)) > 0))";
    let grams = filter.q.as_deref().map(bigrams::of);
    let (after, offset) = window.bounds();
    let rows = sqlx::query_as(&format!(
        "SELECT {POST_COLUMNS} FROM posts p WHERE {WHERE}
           AND ($6::uuid IS NULL OR (p.pinned::int, p.created_at, p.post_id) <
                (SELECT pinned::int, created_at, post_id FROM posts WHERE post_id = $6))
         ORDER BY p.pinned DESC, p.created_at DESC, p.post_id DESC OFFSET $7 LIMIT $8"
    ))
    .bind(viewer)
    .bind(board)
    .bind(&filter.category)
    .bind(&filter.q)
    .bind(&grams)
    .bind(after)
    .bind(offset)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let (total,): (i64,) = sqlx::query_as(&format!(
        "SELECT count(*) FROM posts p WHERE $1::uuid IS NOT NULL AND {WHERE}"
    ))
    .bind(viewer)
    .bind(board)
    .bind(&filter.category)
    .bind(&filter.q)
    .bind(&grams)
    .fetch_one(pool)
    .await?;
    Ok((rows, total))
}

/// A post's comments for display: each thread under its parent, oldest first, at most
/// `limit`. A deleted comment is listed (without its text) only while it has replies.
pub async fn comments(
    pool: &PgPool,
    post_id: Uuid,
    limit: i64,
) -> Result<Vec<CommentView>, ProjectionError> {
    Ok(sqlx::query_as(
        "SELECT c.comment_id, c.parent_id, c.depth, c.author_id, c.body, c.deleted, c.created_at,
                c.edited_at
         FROM comments c
         WHERE c.post_id = $1 AND (NOT c.deleted OR EXISTS
           (SELECT 1 FROM comments r WHERE r.post_id = c.post_id
              AND r.path LIKE c.path || '/%' AND NOT r.deleted))
         ORDER BY c.path LIMIT $2",
    )
    .bind(post_id)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}
