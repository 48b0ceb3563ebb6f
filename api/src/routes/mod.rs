//! The HTTP routes under `/api/v1`, plus health checks.
//!
//! Command responses carry a consistency token, both as `consistency_token` in the body and as
//! the `X-Moim-Consistency` header; sending it back on a query makes that query wait until the
//! read model it reads reflects the command (see docs/architecture.md).

mod admin;
mod auth;
mod band;
mod board;
pub(crate) mod chat;
mod chat_members;
mod clubs;
mod couple_dates;
mod couples;
mod game_characters;
mod games;
mod health;
mod media;
mod notifications;
mod oauth;
mod plans;
mod socketio;
mod users;
pub(crate) mod ws;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, put};
use axum::Router;
use domain::Position;
use projections::Window;
use serde::Serialize;
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use uuid::Uuid;

use crate::edge::Edge;
use crate::error::ApiError;
use crate::extract::CONSISTENCY_HEADER;
use crate::limits::{self, RequestLimits};
use crate::request_id;
use crate::state::AppState;

/// The whole router.
pub fn router(state: AppState, limits: RequestLimits, edge: &Edge) -> Router {
    let api = Router::new()
        .route("/auth/register", post(auth::register))
        .route("/auth/login", post(auth::login))
        .route("/auth/refresh", post(auth::refresh))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/logout-all", post(auth::logout_all))
        .route("/auth/sessions", get(auth::sessions))
        .route("/auth/sessions/{session_id}", delete(auth::end_session))
        .route("/auth/oauth/{provider}/start", get(oauth::start))
        .route("/auth/oauth/{provider}/callback", get(oauth::callback))
        .route("/auth/oauth/{provider}/token", post(oauth::token))
        .route(
            "/users/me/identities/{provider}",
            post(oauth::link).delete(oauth::unlink),
        )
        .route(
            "/users/me",
            get(users::me).patch(users::update).delete(users::delete),
        )
        .route("/users/me/password", post(users::change_password))
        .route("/users/{user_id}", get(users::show))
        .route(
            "/users/{user_id}/game-characters",
            get(game_characters::list),
        )
        .route(
            "/users/me/game-characters/{game}",
            put(game_characters::link).delete(game_characters::unlink),
        )
        .route(
            "/users/me/game-characters/{game}/refresh",
            post(game_characters::refresh),
        )
        .route("/admin/users", get(admin::accounts))
        .route("/admin/users/{user_id}/suspend", post(admin::suspend))
        .route("/admin/users/{user_id}/reinstate", post(admin::reinstate))
        .route("/admin/audit", get(admin::audit))
        .route("/users/me/blocks", get(users::blocks))
        .route(
            "/users/me/blocks/{user_id}",
            post(users::block).delete(users::unblock),
        )
        .route("/chat/rooms", post(chat::create_room).get(chat::my_rooms))
        .route("/chat/rooms/public", get(chat_members::public))
        .route(
            "/chat/rooms/{room_id}",
            get(chat::room).patch(chat_members::rename),
        )
        .route("/chat/rooms/{room_id}/members", post(chat_members::add))
        .route(
            "/chat/rooms/{room_id}/members/{user_id}",
            delete(chat_members::remove).patch(chat_members::set_role),
        )
        .route("/chat/rooms/{room_id}/join", post(chat_members::join))
        .route(
            "/chat/rooms/{room_id}/messages",
            post(chat::send_message).get(chat::history),
        )
        .route(
            "/chat/rooms/{room_id}/messages/search",
            get(chat::search_room),
        )
        .route(
            "/chat/rooms/{room_id}/messages/{seq}",
            patch(chat::edit_message).delete(chat::delete_message),
        )
        .route("/chat/rooms/{room_id}/read", post(chat::mark_read))
        .route("/chat/search", get(chat::search_all))
        .route(
            "/couples/invites",
            post(couples::create_invite).get(couples::invites),
        )
        .route("/couples/invites/{code}", delete(couples::withdraw_invite))
        .route("/couples/match", post(couples::match_couple))
        .route(
            "/couples/me",
            get(couples::mine)
                .patch(couples::update)
                .delete(couples::dissolve),
        )
        .route(
            "/couples/me/anniversaries",
            get(couple_dates::list).post(couple_dates::add),
        )
        .route(
            "/couples/me/anniversaries/{anniversary_id}",
            patch(couple_dates::change).delete(couple_dates::remove),
        )
        .route("/couples/me/calendar", get(couple_dates::month))
        .route("/couples/me/plans", get(plans::list).post(plans::create))
        .route(
            "/couples/me/plans/{plan_id}",
            get(plans::show).patch(plans::update).delete(plans::delete),
        )
        .route("/games", post(games::create))
        .route("/games/{game_id}", get(games::show))
        .route(
            "/games/{game_id}/join",
            post(games::join).delete(games::leave),
        )
        .route("/games/{game_id}/start", post(games::start))
        .route("/games/{game_id}/courts/{court}/sets", post(games::score))
        .route("/games/{game_id}/complete", post(games::complete))
        .route("/games/{game_id}/cancel", post(games::cancel))
        .route("/games/{game_id}/watch", post(games::watch))
        .route("/clubs", post(clubs::create).get(clubs::search))
        .route("/clubs/{club_id}", get(clubs::show).patch(clubs::update))
        .route("/clubs/{club_id}/join", post(clubs::join))
        .route("/clubs/{club_id}/requests", get(clubs::requests))
        .route(
            "/clubs/{club_id}/requests/{user_id}/approve",
            post(clubs::approve),
        )
        .route(
            "/clubs/{club_id}/requests/{user_id}/reject",
            post(clubs::reject),
        )
        .route("/clubs/{club_id}/members", get(clubs::members))
        .route(
            "/clubs/{club_id}/members/{user_id}",
            patch(clubs::set_role).delete(clubs::remove),
        )
        .route(
            "/clubs/{club_id}/members/{user_id}/stats",
            get(clubs::stats),
        )
        .route("/clubs/{club_id}/band", post(band::connect))
        .route("/clubs/{club_id}/band/import", post(band::start))
        .route("/clubs/{club_id}/band/import/{job_id}", get(band::job))
        .route(
            "/clubs/{club_id}/games",
            post(games::create_in_club).get(games::club_games),
        )
        .route(
            "/boards/{board}/posts",
            post(board::create).get(board::list),
        )
        .route(
            "/posts/{post_id}",
            get(board::show).patch(board::update).delete(board::delete),
        )
        .route(
            "/posts/{post_id}/pin",
            post(board::pin).delete(board::unpin),
        )
        .route(
            "/posts/{post_id}/like",
            put(board::like).delete(board::unlike),
        )
        .route(
            "/posts/{post_id}/comments",
            post(board::comment).get(board::comments),
        )
        .route(
            "/comments/{comment_id}",
            patch(board::edit_comment).delete(board::delete_comment),
        )
        .route("/notifications", get(notifications::feed))
        .route(
            "/notifications/unread-count",
            get(notifications::unread_count),
        )
        .route("/notifications/read-all", post(notifications::read_all))
        .route(
            "/notifications/{notification_id}/read",
            post(notifications::read),
        )
        .route("/media", post(media::upload))
        .route("/media/{media_id}", get(media::original))
        .route("/media/{media_id}/thumbnail", get(media::thumbnail))
        .route("/media/{media_id}/urls", get(media::urls))
        .route("/ws", get(ws::upgrade));
    let router: Router<AppState> = Router::new()
        .nest("/api/v1", api)
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/health/details", get(health::details))
        .route("/metrics", get(crate::metrics::render))
        .fallback(|| async { ApiError::not_found("no_route", "no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed here",
            )
        })
        // After routing, so the route template is known; what is refused before a route is
        // reached (overload, body size, rate limits) has counters of its own.
        .route_layer(axum::middleware::from_fn(crate::metrics::track))
        // Bodies are read, and their size bounded, once: in `limits::bound`, before any extractor.
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(limits, limits::bound))
        // Socket.IO bounds its own requests (payload size; a long poll is held by design).
        .layer(socketio::layer(state.clone()))
        .layer(
            TraceLayer::new_for_http()
                // A 5xx is logged here at WARN: an unexpected one is already logged at ERROR
                // with its cause (error.rs), and a 503 that sheds load is no error of ours.
                .on_failure(DefaultOnFailure::new().level(tracing::Level::WARN))
                .make_span_with(|request: &Request| {
                    let id = request
                        .headers()
                        .get(request_id::HEADER)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        uri = %request.uri(),
                        request_id = id,
                    )
                }),
        )
        .layer(axum::middleware::from_fn_with_state(
            edge.clone(),
            crate::edge::client_ip,
        ));
    // Outermost, so the id exists before the span above is made and is on every answer.
    crate::edge::layer(router, edge)
        .layer(axum::middleware::from_fn(request_id::assign))
        .with_state(state)
}

/// Rows a list answers with when the client names no `limit`.
pub const DEFAULT_PAGE: i64 = 50;
/// The most rows one list answer holds; a larger `limit` is refused with 422 `bad_limit`.
pub const MAX_PAGE: i64 = 200;

/// A list's `limit`: [`DEFAULT_PAGE`] when absent, 1 to [`MAX_PAGE`] when given.
pub fn page_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::invalid(
            "bad_limit",
            format!("limit must be 1 to {MAX_PAGE}"),
        ))
    }
}

/// The `next_cursor` of a list answer: its last row's cursor when the answer is full (there
/// may be more), none when it is not.
pub fn next_cursor<T, C>(rows: &[T], limit: i64, cursor: impl FnOnce(&T) -> C) -> Option<C> {
    if rows.len() as i64 == limit {
        rows.last().map(cursor)
    } else {
        None
    }
}

/// A list read both ways: `cursor=&limit=`, or `page=&size=` (from 1) — not both.
pub fn window(
    cursor: Option<Uuid>,
    limit: Option<i64>,
    page: Option<i64>,
    size: Option<i64>,
) -> Result<(Window, i64), ApiError> {
    match page {
        Some(_) if cursor.is_some() => Err(ApiError::invalid(
            "bad_page",
            "use either cursor/limit or page/size",
        )),
        Some(page) if page >= 1 => {
            let size = page_limit(size)?;
            Ok((Window::Offset((page - 1).saturating_mul(size)), size))
        }
        Some(_) => Err(ApiError::invalid("bad_page", "pages start at 1")),
        None => Ok((Window::After(cursor), page_limit(limit.or(size))?)),
    }
}

/// A command's answer: its body plus the consistency token.
pub struct Written<T> {
    status: StatusCode,
    body: T,
    token: Position,
}

#[derive(Serialize)]
struct WithToken<'a, T> {
    #[serde(flatten)]
    body: &'a T,
    consistency_token: String,
}

impl<T> Written<T> {
    /// 201 Created.
    pub fn created(body: T, token: Position) -> Self {
        Self {
            status: StatusCode::CREATED,
            body,
            token,
        }
    }

    /// 200 OK.
    pub fn ok(body: T, token: Position) -> Self {
        Self {
            status: StatusCode::OK,
            body,
            token,
        }
    }
}

impl<T: Serialize> IntoResponse for Written<T> {
    fn into_response(self) -> Response {
        let token = self.token.to_string();
        let body = WithToken {
            body: &self.body,
            consistency_token: token.clone(),
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Ok(value) = HeaderValue::from_str(&token) {
            response.headers_mut().insert(CONSISTENCY_HEADER, value);
        }
        response
    }
}
