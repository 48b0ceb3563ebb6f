//! The boards: `community` (every signed-in user) and `club-<id>` (the club's members, 404 for
//! anyone else). Posts, pins, likes and comments nested to any depth.

use axum::extract::State;
use commands::CommandError;
use domain::board::{BoardId, PostPatch};
use domain::values::{Category, CommentBody, PostBody, PostTitle};
use projections::board::{CommentView, PostFilter, PostView, VIEW};
use projections::frames::Problem;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Written, MAX_PAGE};
use crate::error::ApiError;
use crate::extract::{Actor, Consistency, Json, Path, Query};
use crate::state::AppState;

/// The `board` path parameter.
const BOARD: &str = "`community`, or `club-<club id>` (the club's members only)";

fn board(raw: &str) -> Result<BoardId, ApiError> {
    BoardId::parse(raw).map_err(|_| ApiError::not_found("board_not_found", "no such board"))
}

/// A post to write.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPost {
    /// Its category (1 to 30 characters, trimmed).
    #[schema(min_length = 1, max_length = 30)]
    category: String,
    /// Its title (1 to 200 characters, trimmed).
    #[schema(min_length = 1, max_length = 200)]
    title: String,
    /// Its text (1 to 20000 characters, trimmed; newlines allowed).
    #[schema(min_length = 1, max_length = 20000)]
    body: String,
    /// The caller's own uploads to show with it (at most 10).
    #[serde(default)]
    #[schema(max_items = 10)]
    media_ids: Vec<Uuid>,
}

/// The new post.
#[derive(Serialize, ToSchema)]
pub struct CreatedPost {
    /// The post.
    post_id: Uuid,
}

/// `POST /boards/{board}/posts` `{category, title, body, media_ids?}`.
#[utoipa::path(
    post,
    path = "/boards/{board}/posts",
    operation_id = "create_post",
    tag = "board",
    summary = "Write a post on a board",
    params(("board" = String, Path, description = BOARD, pattern = "^(community|club-[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")),
    request_body = NewPost,
    responses(
        (status = 201, description = "Written", body = Written<CreatedPost>),
        (status = 404, description = "`board_not_found`: not a board's name; `post_not_found`: a club's board for non-members", body = Problem),
        (status = 422, description = "`invalid_value`: a category, title or body empty, too long or with control characters; `too_many_media`; `media_not_found`: not the caller's upload", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn create(
    actor: Actor,
    Path(raw): Path<String>,
    Json(body): Json<NewPost>,
) -> Result<Written<CreatedPost>, ApiError> {
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
    Ok(Written::created(CreatedPost { post_id }, position))
}

/// A board's posts: filters, and either `cursor`/`limit` or `page`/`size`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PostsQuery {
    /// Only posts of this category (1 to 30 characters, trimmed).
    #[param(min_length = 1, max_length = 30)]
    category: Option<String>,
    /// Words the title or text contains: at least one of two characters or more, at most 100
    /// characters in all (blank: no search).
    #[param(max_length = 100)]
    q: Option<String>,
    /// The `next_cursor` of the page before (not with `page`).
    cursor: Option<Uuid>,
    /// Posts per page with cursors, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// The page, from 1 (not with `cursor`).
    #[param(minimum = 1)]
    page: Option<i64>,
    /// Posts per page with pages, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    size: Option<i64>,
}

/// A page of a board's posts: pinned first, then newest.
#[derive(Serialize, ToSchema)]
pub struct Posts {
    /// The posts.
    posts: Vec<PostView>,
    /// How many match in all.
    total: i64,
    /// With cursors: the `cursor` of the next page, if there is one.
    next_cursor: Option<Uuid>,
    /// With pages: the page answered (from 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    page: Option<i64>,
}

/// `GET /boards/{board}/posts?category=&q=` with `page=&size=` or `cursor=&limit=`: pinned
/// first, then newest.
#[utoipa::path(
    get,
    path = "/boards/{board}/posts",
    operation_id = "list_posts",
    tag = "board",
    summary = "A board's posts: pinned first, then newest",
    params(("board" = String, Path, description = BOARD, pattern = "^(community|club-[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$"), PostsQuery, Consistency),
    responses(
        (status = 200, description = "A page of posts", body = Posts),
        (status = 404, description = "`board_not_found`: not a board's name, or a club's board for non-members", body = Problem),
        (status = 422, description = "`bad_query`: no word of two characters or more, over 100 characters or with control characters; `bad_limit`; `bad_page`: a page below 1, or both `page` and `cursor`; `invalid_value`: a bad category", body = Problem),
    ),
    security(("bearer" = [])),
)]
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
        .map_err(|error| match error {
            CommandError::Rejected { .. } => {
                ApiError::not_found("board_not_found", "no such board")
            }
            other => other.into(),
        })?;
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
        .map_err(|error| match error {
            CommandError::Rejected { .. } => not_found(),
            other => other.into(),
        })?;
    Ok(post)
}

/// `GET /posts/{id}` with `like_count`, `liked_by_me`, `comment_count`.
#[utoipa::path(
    get,
    path = "/posts/{post_id}",
    operation_id = "get_post",
    tag = "board",
    summary = "A post, with its likes and comment count",
    params(("post_id" = Uuid, Path, description = "The post"), Consistency),
    responses(
        (status = 200, description = "The post", body = PostView),
        (status = 404, description = "`post_not_found`: also on a club's board for non-members", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn show(
    State(state): State<AppState>,
    actor: Actor,
    Path(post_id): Path<Uuid>,
    consistency: Option<Consistency>,
) -> Result<Json<PostView>, ApiError> {
    Ok(Json(visible(&state, &actor, post_id, consistency).await?))
}

/// What to change on a post; what is absent (or null) stays.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostChange {
    /// A new category (1 to 30 characters, trimmed).
    #[schema(min_length = 1, max_length = 30)]
    category: Option<String>,
    /// A new title (1 to 200 characters, trimmed).
    #[schema(min_length = 1, max_length = 200)]
    title: Option<String>,
    /// A new text (1 to 20000 characters, trimmed).
    #[schema(min_length = 1, max_length = 20000)]
    body: Option<String>,
}

/// The post a command acted on.
#[derive(Serialize, ToSchema)]
pub struct PostDone {
    /// The post.
    post_id: Uuid,
}

/// The path parameter of a post.
const POST_ID: &str = "The post";

/// `PATCH /posts/{id}` (the author).
#[utoipa::path(
    patch,
    path = "/posts/{post_id}",
    operation_id = "update_post",
    tag = "board",
    summary = "Edit a post (the author)",
    params(("post_id" = Uuid, Path, description = POST_ID)),
    request_body = PostChange,
    responses(
        (status = 200, description = "Edited", body = Written<PostDone>),
        (status = 403, description = "`not_author`", body = Problem),
        (status = 404, description = "`post_not_found`: also on a club's board for non-members", body = Problem),
        (status = 422, description = "`invalid_value`", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn update(
    actor: Actor,
    Path(post_id): Path<Uuid>,
    Json(body): Json<PostChange>,
) -> Result<Written<PostDone>, ApiError> {
    let patch = PostPatch {
        category: body.category.as_deref().map(Category::parse).transpose()?,
        title: body.title.as_deref().map(PostTitle::parse).transpose()?,
        body: body.body.as_deref().map(PostBody::parse).transpose()?,
    };
    let position = actor
        .commands
        .edit_post(post_id, actor.user_id, patch)
        .await?;
    Ok(Written::ok(PostDone { post_id }, position))
}

/// `DELETE /posts/{id}` (the author, or a manager of the post's club).
#[utoipa::path(
    delete,
    path = "/posts/{post_id}",
    operation_id = "delete_post",
    tag = "board",
    summary = "Delete a post (the author, or a moderator of its board)",
    params(("post_id" = Uuid, Path, description = POST_ID)),
    responses(
        (status = 200, description = "Deleted", body = Written<PostDone>),
        (status = 403, description = "`not_author`", body = Problem),
        (status = 404, description = "`post_not_found`: also on a club's board for non-members", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn delete(
    actor: Actor,
    Path(post_id): Path<Uuid>,
) -> Result<Written<PostDone>, ApiError> {
    let position = actor.commands.delete_post(post_id, actor.user_id).await?;
    Ok(Written::ok(PostDone { post_id }, position))
}

/// Whether a post is pinned now.
#[derive(Serialize, ToSchema)]
pub struct PinState {
    /// The post.
    post_id: Uuid,
    /// Pinned.
    pinned: bool,
}

/// `POST /posts/{id}/pin` (the club's managers).
#[utoipa::path(
    post,
    path = "/posts/{post_id}/pin",
    operation_id = "pin_post",
    tag = "board",
    summary = "Pin a post (a moderator of its board: the club's owner or managers, platform admins on `community`)",
    params(("post_id" = Uuid, Path, description = POST_ID)),
    responses(
        (status = 200, description = "Pinned (or already so)", body = Written<PinState>),
        (status = 403, description = "`not_allowed`: not a moderator", body = Problem),
        (status = 404, description = "`post_not_found`: also on a club's board for non-members", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn pin(actor: Actor, Path(post_id): Path<Uuid>) -> Result<Written<PinState>, ApiError> {
    let position = actor
        .commands
        .pin_post(post_id, actor.user_id, true)
        .await?;
    Ok(Written::ok(
        PinState {
            post_id,
            pinned: true,
        },
        position,
    ))
}

/// `DELETE /posts/{id}/pin`.
#[utoipa::path(
    delete,
    path = "/posts/{post_id}/pin",
    operation_id = "unpin_post",
    tag = "board",
    summary = "Unpin a post (a moderator of its board)",
    params(("post_id" = Uuid, Path, description = POST_ID)),
    responses(
        (status = 200, description = "Unpinned (or already so)", body = Written<PinState>),
        (status = 403, description = "`not_allowed`: not a moderator", body = Problem),
        (status = 404, description = "`post_not_found`: also on a club's board for non-members", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn unpin(actor: Actor, Path(post_id): Path<Uuid>) -> Result<Written<PinState>, ApiError> {
    let position = actor
        .commands
        .pin_post(post_id, actor.user_id, false)
        .await?;
    Ok(Written::ok(
        PinState {
            post_id,
            pinned: false,
        },
        position,
    ))
}

/// Whether the caller likes a post now.
#[derive(Serialize, ToSchema)]
pub struct LikeState {
    /// The post.
    post_id: Uuid,
    /// Liked by the caller.
    liked: bool,
}

/// `PUT /posts/{id}/like`: liking twice counts once.
#[utoipa::path(
    put,
    path = "/posts/{post_id}/like",
    operation_id = "like_post",
    tag = "board",
    summary = "Like a post (liking twice counts once)",
    params(("post_id" = Uuid, Path, description = POST_ID)),
    responses(
        (status = 200, description = "Liked", body = Written<LikeState>),
        (status = 404, description = "`post_not_found`: also on a club's board for non-members", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn like(actor: Actor, Path(post_id): Path<Uuid>) -> Result<Written<LikeState>, ApiError> {
    let position = actor
        .commands
        .like_post(post_id, actor.user_id, true)
        .await?;
    Ok(Written::ok(
        LikeState {
            post_id,
            liked: true,
        },
        position,
    ))
}

/// `DELETE /posts/{id}/like`.
#[utoipa::path(
    delete,
    path = "/posts/{post_id}/like",
    operation_id = "unlike_post",
    tag = "board",
    summary = "Take a like back",
    params(("post_id" = Uuid, Path, description = POST_ID)),
    responses(
        (status = 200, description = "Not liked", body = Written<LikeState>),
        (status = 404, description = "`post_not_found`: also on a club's board for non-members", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn unlike(
    actor: Actor,
    Path(post_id): Path<Uuid>,
) -> Result<Written<LikeState>, ApiError> {
    let position = actor
        .commands
        .like_post(post_id, actor.user_id, false)
        .await?;
    Ok(Written::ok(
        LikeState {
            post_id,
            liked: false,
        },
        position,
    ))
}

/// A comment to write.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    /// Its text (1 to 2000 characters, trimmed; newlines allowed).
    #[schema(min_length = 1, max_length = 2000)]
    body: String,
    /// The comment it answers, on the same post.
    parent_id: Option<Uuid>,
    /// People it names (at most 10, who can read the board): each gets `comment.mentioned`.
    #[serde(default)]
    #[schema(max_items = 10)]
    mentions: Vec<Uuid>,
}

/// The new comment.
#[derive(Serialize, ToSchema)]
pub struct CreatedComment {
    /// The comment.
    comment_id: Uuid,
}

/// `POST /posts/{id}/comments` `{body, parent_id?, mentions?}`.
#[utoipa::path(
    post,
    path = "/posts/{post_id}/comments",
    operation_id = "create_comment",
    tag = "board",
    summary = "Comment on a post, or reply to one of its comments",
    params(("post_id" = Uuid, Path, description = POST_ID)),
    request_body = NewComment,
    responses(
        (status = 201, description = "Written", body = Written<CreatedComment>),
        (status = 404, description = "`post_not_found` (also on a club's board for non-members), `comment_not_found`: no such parent on this post", body = Problem),
        (status = 422, description = "`invalid_value`: a body empty, too long or with control characters; `too_many_mentions`; `bad_mention`: someone named cannot read the board", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn comment(
    actor: Actor,
    Path(post_id): Path<Uuid>,
    Json(body): Json<NewComment>,
) -> Result<Written<CreatedComment>, ApiError> {
    let text = CommentBody::parse(&body.body)?;
    let (comment_id, position) = actor
        .commands
        .create_comment(post_id, actor.user_id, body.parent_id, text, body.mentions)
        .await?;
    Ok(Written::created(CreatedComment { comment_id }, position))
}

/// A post's comments in display order.
#[derive(Serialize, ToSchema)]
pub struct PostComments {
    /// Each reply right under its parent's thread, oldest first; at most 200.
    comments: Vec<CommentView>,
}

/// `GET /posts/{id}/comments`: a flat list in display order (each reply right under its
/// parent's thread, oldest first), with `parent_id` and `depth`; at most 200.
#[utoipa::path(
    get,
    path = "/posts/{post_id}/comments",
    operation_id = "list_post_comments",
    tag = "board",
    summary = "A post's comments: a flat list in display order, with `parent_id` and `depth`",
    params(("post_id" = Uuid, Path, description = POST_ID), Consistency),
    responses(
        (status = 200, description = "The comments (at most 200)", body = PostComments),
        (status = 404, description = "`post_not_found`: also on a club's board for non-members", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn comments(
    State(state): State<AppState>,
    actor: Actor,
    Path(post_id): Path<Uuid>,
    consistency: Option<Consistency>,
) -> Result<Json<PostComments>, ApiError> {
    visible(&state, &actor, post_id, consistency).await?;
    Ok(Json(PostComments {
        comments: projections::board::comments(&state.pool, post_id, MAX_PAGE).await?,
    }))
}

/// A comment's new text.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentChange {
    /// The text (1 to 2000 characters, trimmed).
    #[schema(min_length = 1, max_length = 2000)]
    body: String,
}

/// The comment a command acted on.
#[derive(Serialize, ToSchema)]
pub struct CommentDone {
    /// The comment.
    comment_id: Uuid,
}

/// `PATCH /comments/{id}` (the author).
#[utoipa::path(
    patch,
    path = "/comments/{comment_id}",
    operation_id = "edit_comment",
    tag = "board",
    summary = "Edit a comment (the author)",
    params(("comment_id" = Uuid, Path, description = "The comment")),
    request_body = CommentChange,
    responses(
        (status = 200, description = "Edited", body = Written<CommentDone>),
        (status = 403, description = "`not_author`", body = Problem),
        (status = 404, description = "`comment_not_found`: also on a club's board for non-members", body = Problem),
        (status = 422, description = "`invalid_value`", body = Problem),
    ),
    security(("bearer" = [])),
)]
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
#[utoipa::path(
    delete,
    path = "/comments/{comment_id}",
    operation_id = "delete_comment",
    tag = "board",
    summary = "Delete a comment (the author, or a moderator of its board); one with replies stays as a tombstone",
    params(("comment_id" = Uuid, Path, description = "The comment")),
    responses(
        (status = 200, description = "Deleted", body = Written<CommentDone>),
        (status = 403, description = "`not_author`", body = Problem),
        (status = 404, description = "`comment_not_found`: also on a club's board for non-members", body = Problem),
    ),
    security(("bearer" = [])),
)]
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
