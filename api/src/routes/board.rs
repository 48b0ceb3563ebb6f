//! The boards: `community` (every signed-in user) and `club-<id>` (the club's members, 404 for
//! anyone else). Posts, pins, likes and comments nested to any depth.

use axum::extract::State;
use domain::board::{BoardId, PostPatch};
use domain::values::{Category, CommentBody, PostBody, PostTitle};
use projections::board::{CommentView, PostFilter, PostView, VIEW};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Written, MAX_PAGE};
use crate::error::ApiError;
use crate::extract::{Actor, Consistency, Json, Path, Query};
use crate::state::AppState;

fn board(raw: &str) -> Result<BoardId, ApiError> {
    BoardId::parse(raw).map_err(|_| ApiError::not_found("board_not_found", "no such board"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPost {
    category: String,
    title: String,
    body: String,
    #[serde(default)]
    media_ids: Vec<Uuid>,
}

#[derive(Serialize)]
pub struct PostCreated {
    post_id: Uuid,
}

/// `POST /boards/{board}/posts` `{category, title, body, media_ids?}`.
pub async fn create(
    actor: Actor,
    Path(raw): Path<String>,
    Json(body): Json<NewPost>,
) -> Result<Written<PostCreated>, ApiError> {
    let board = board(&raw)?;
    let post = commands::board::NewPost {
        category: Category::parse(&body.category)?,
        title: PostTitle::parse(&body.title)?,
        body: PostBody::parse(&body.body)?,
        media_ids: body.media_ids,
    };
    let (post_id, position) = actor
        .commands
        .create_post(board, actor.user_id, post)
        .await?;
    Ok(Written::created(PostCreated { post_id }, position))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostsQuery {
    category: Option<String>,
    q: Option<String>,
    cursor: Option<Uuid>,
    limit: Option<i64>,
    page: Option<i64>,
    size: Option<i64>,
}

#[derive(Serialize)]
pub struct Posts {
    posts: Vec<PostView>,
    total: i64,
    next_cursor: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    page: Option<i64>,
}

/// `GET /boards/{board}/posts?category=&q=` with `page=&size=` or `cursor=&limit=`: pinned
/// first, then newest.
pub async fn list(
    State(state): State<AppState>,
    actor: Actor,
    Path(raw): Path<String>,
    Query(q): Query<PostsQuery>,
    consistency: Option<Consistency>,
) -> Result<Json<Posts>, ApiError> {
    let board = board(&raw)?;
    actor
        .commands
        .board_access(board, actor.user_id)
        .await
        .map_err(|_| ApiError::not_found("board_not_found", "no such board"))?;
    let (window, limit) = super::window(q.cursor, q.limit, q.page, q.size)?;
    let search = match q.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(text) => Some(
            projections::chat_search::check_query(text)
                .map_err(|_| {
                    ApiError::invalid(
                        "bad_query",
                        "a query needs a word of two characters or more, at most 100 in all",
                    )
                })?
                .to_owned(),
        ),
        None => None,
    };
    let category = q
        .category
        .as_deref()
        .map(Category::parse)
        .transpose()?
        .map(|c| c.as_str().to_owned());
    let filter = PostFilter {
        category,
        q: search,
    };
    state.caught_up(VIEW, consistency).await?;
    let (posts, total) = projections::board::posts(
        &state.pool,
        actor.user_id,
        &board.to_string(),
        &filter,
        window,
        limit,
    )
    .await?;
    let next_cursor = super::next_cursor(&posts, limit, |p| p.post_id).filter(|_| q.page.is_none());
    Ok(Json(Posts {
        posts,
        total,
        next_cursor,
        page: q.page,
    }))
}

/// A post the caller may see, or 404.
async fn visible(
    state: &AppState,
    actor: &Actor,
    post_id: Uuid,
    consistency: Option<Consistency>,
) -> Result<PostView, ApiError> {
    state.caught_up(VIEW, consistency).await?;
    let not_found = || ApiError::not_found("post_not_found", "post not found");
    let post = projections::board::post(&state.pool, actor.user_id, post_id)
        .await?
        .ok_or_else(not_found)?;
    let board = BoardId::parse(&post.board).map_err(|_| not_found())?;
    actor
        .commands
        .board_access(board, actor.user_id)
        .await
        .map_err(|_| not_found())?;
    Ok(post)
}

/// `GET /posts/{id}` with `like_count`, `liked_by_me`, `comment_count`.
pub async fn show(
    State(state): State<AppState>,
    actor: Actor,
    Path(post_id): Path<Uuid>,
    consistency: Option<Consistency>,
) -> Result<Json<PostView>, ApiError> {
    Ok(Json(visible(&state, &actor, post_id, consistency).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostChange {
    category: Option<String>,
    title: Option<String>,
    body: Option<String>,
}

#[derive(Serialize)]
pub struct Done {
    post_id: Uuid,
}

/// `PATCH /posts/{id}` (the author).
pub async fn update(
    actor: Actor,
    Path(post_id): Path<Uuid>,
    Json(body): Json<PostChange>,
) -> Result<Written<Done>, ApiError> {
    let patch = PostPatch {
        category: body.category.as_deref().map(Category::parse).transpose()?,
        title: body.title.as_deref().map(PostTitle::parse).transpose()?,
        body: body.body.as_deref().map(PostBody::parse).transpose()?,
    };
    let position = actor
        .commands
        .edit_post(post_id, actor.user_id, patch)
        .await?;
    Ok(Written::ok(Done { post_id }, position))
}

/// `DELETE /posts/{id}` (the author, or a manager of the post's club).
pub async fn delete(actor: Actor, Path(post_id): Path<Uuid>) -> Result<Written<Done>, ApiError> {
    let position = actor.commands.delete_post(post_id, actor.user_id).await?;
    Ok(Written::ok(Done { post_id }, position))
}

#[derive(Serialize)]
pub struct Pin {
    post_id: Uuid,
    pinned: bool,
}

/// `POST /posts/{id}/pin` (the club's managers).
pub async fn pin(actor: Actor, Path(post_id): Path<Uuid>) -> Result<Written<Pin>, ApiError> {
    let position = actor
        .commands
        .pin_post(post_id, actor.user_id, true)
        .await?;
    Ok(Written::ok(
        Pin {
            post_id,
            pinned: true,
        },
        position,
    ))
}

/// `DELETE /posts/{id}/pin`.
pub async fn unpin(actor: Actor, Path(post_id): Path<Uuid>) -> Result<Written<Pin>, ApiError> {
    let position = actor
        .commands
        .pin_post(post_id, actor.user_id, false)
        .await?;
    Ok(Written::ok(
        Pin {
            post_id,
            pinned: false,
        },
        position,
    ))
}

#[derive(Serialize)]
pub struct Like {
    post_id: Uuid,
    liked: bool,
}

/// `PUT /posts/{id}/like`: liking twice counts once.
pub async fn like(actor: Actor, Path(post_id): Path<Uuid>) -> Result<Written<Like>, ApiError> {
    let position = actor
        .commands
        .like_post(post_id, actor.user_id, true)
        .await?;
    Ok(Written::ok(
        Like {
            post_id,
            liked: true,
        },
        position,
    ))
}

/// `DELETE /posts/{id}/like`.
pub async fn unlike(actor: Actor, Path(post_id): Path<Uuid>) -> Result<Written<Like>, ApiError> {
    let position = actor
        .commands
        .like_post(post_id, actor.user_id, false)
        .await?;
    Ok(Written::ok(
        Like {
            post_id,
            liked: false,
        },
        position,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    body: String,
    parent_id: Option<Uuid>,
    /// People it names: each gets `comment.mentioned`.
    #[serde(default)]
    mentions: Vec<Uuid>,
}

#[derive(Serialize)]
pub struct CommentCreated {
    comment_id: Uuid,
}

/// `POST /posts/{id}/comments` `{body, parent_id?, mentions?}`.
pub async fn comment(
    actor: Actor,
    Path(post_id): Path<Uuid>,
    Json(body): Json<NewComment>,
) -> Result<Written<CommentCreated>, ApiError> {
    let text = CommentBody::parse(&body.body)?;
    let (comment_id, position) = actor
        .commands
        .create_comment(post_id, actor.user_id, body.parent_id, text, body.mentions)
        .await?;
    Ok(Written::created(CommentCreated { comment_id }, position))
}

#[derive(Serialize)]
pub struct Comments {
    comments: Vec<CommentView>,
}

/// `GET /posts/{id}/comments`: a flat list in display order (each reply right under its
/// parent's thread, oldest first), with `parent_id` and `depth`; at most 200.
pub async fn comments(
    State(state): State<AppState>,
    actor: Actor,
    Path(post_id): Path<Uuid>,
    consistency: Option<Consistency>,
) -> Result<Json<Comments>, ApiError> {
    visible(&state, &actor, post_id, consistency).await?;
    Ok(Json(Comments {
        comments: projections::board::comments(&state.pool, post_id, MAX_PAGE).await?,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommentChange {
    body: String,
}

#[derive(Serialize)]
pub struct CommentDone {
    comment_id: Uuid,
}

/// `PATCH /comments/{id}` (the author).
pub async fn edit_comment(
    actor: Actor,
    Path(comment_id): Path<Uuid>,
    Json(body): Json<CommentChange>,
) -> Result<Written<CommentDone>, ApiError> {
    let text = CommentBody::parse(&body.body)?;
    let position = actor
        .commands
        .edit_comment(comment_id, actor.user_id, text)
        .await?;
    Ok(Written::ok(CommentDone { comment_id }, position))
}

/// `DELETE /comments/{id}` (the author, or a manager of the post's club): a comment with
/// replies stays as a tombstone.
pub async fn delete_comment(
    actor: Actor,
    Path(comment_id): Path<Uuid>,
) -> Result<Written<CommentDone>, ApiError> {
    let position = actor
        .commands
        .delete_comment(comment_id, actor.user_id)
        .await?;
    Ok(Written::ok(CommentDone { comment_id }, position))
}
