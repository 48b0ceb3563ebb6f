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
pub(crate) mod health;
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
use axum::Router;
use domain::Position;
use projections::Window;
use serde::Serialize;
use std::borrow::Cow;
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use utoipa::__dev::ComposeSchema;
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::ToSchema;
use uuid::Uuid;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::edge::Edge;
use crate::error::ApiError;
use crate::extract::CONSISTENCY_HEADER;
use crate::limits::{self, RequestLimits};
use crate::openapi;
use crate::request_id;
use crate::state::AppState;

/// The whole router.
pub fn router(state: AppState, limits: RequestLimits, edge: &Edge) -> Router {
    let api = OpenApiRouter::new()
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::logout_all))
        .routes(routes!(auth::sessions))
        .routes(routes!(auth::end_session))
        .routes(routes!(oauth::start))
        .routes(routes!(oauth::callback))
        .routes(routes!(oauth::token))
        .routes(routes!(oauth::link, oauth::unlink))
        .routes(routes!(users::me, users::update, users::delete))
        .routes(routes!(users::change_password))
        .routes(routes!(users::show))
        .routes(routes!(game_characters::list))
        .routes(routes!(game_characters::link, game_characters::unlink))
        .routes(routes!(game_characters::refresh))
        .routes(routes!(admin::accounts))
        .routes(routes!(admin::suspend))
        .routes(routes!(admin::reinstate))
        .routes(routes!(admin::audit))
        .routes(routes!(users::blocks))
        .routes(routes!(users::block, users::unblock))
        .routes(routes!(chat::create_room, chat::my_rooms))
        .routes(routes!(chat_members::public))
        .routes(routes!(chat::room, chat_members::rename))
        .routes(routes!(chat_members::add))
        .routes(routes!(chat_members::remove, chat_members::set_role))
        .routes(routes!(chat_members::join))
        .routes(routes!(chat::send_message, chat::history))
        .routes(routes!(chat::search_room))
        .routes(routes!(chat::edit_message, chat::delete_message))
        .routes(routes!(chat::mark_read))
        .routes(routes!(chat::search_all))
        .routes(routes!(couples::create_invite, couples::invites))
        .routes(routes!(couples::withdraw_invite))
        .routes(routes!(couples::match_couple))
        .routes(routes!(couples::mine, couples::update, couples::dissolve))
        .routes(routes!(couple_dates::list, couple_dates::add))
        .routes(routes!(couple_dates::change, couple_dates::remove))
        .routes(routes!(couple_dates::month))
        .routes(routes!(plans::list, plans::create))
        .routes(routes!(plans::show, plans::update, plans::delete))
        .routes(routes!(games::create))
        .routes(routes!(games::show))
        .routes(routes!(games::join, games::leave))
        .routes(routes!(games::start))
        .routes(routes!(games::score))
        .routes(routes!(games::complete))
        .routes(routes!(games::cancel))
        .routes(routes!(games::watch))
        .routes(routes!(clubs::create, clubs::search))
        .routes(routes!(clubs::show, clubs::update))
        .routes(routes!(clubs::join))
        .routes(routes!(clubs::requests))
        .routes(routes!(clubs::approve))
        .routes(routes!(clubs::reject))
        .routes(routes!(clubs::members))
        .routes(routes!(clubs::set_role, clubs::remove))
        .routes(routes!(clubs::stats))
        .routes(routes!(band::connect))
        .routes(routes!(band::start))
        .routes(routes!(band::job))
        .routes(routes!(games::create_in_club, games::club_games))
        .routes(routes!(board::create, board::list))
        .routes(routes!(board::show, board::update, board::delete))
        .routes(routes!(board::pin, board::unpin))
        .routes(routes!(board::like, board::unlike))
        .routes(routes!(board::comment, board::comments))
        .routes(routes!(board::edit_comment, board::delete_comment))
        .routes(routes!(notifications::feed))
        .routes(routes!(notifications::unread_count))
        .routes(routes!(notifications::read_all))
        .routes(routes!(notifications::read))
        .routes(routes!(media::upload))
        .routes(routes!(media::original))
        .routes(routes!(media::thumbnail))
        .routes(routes!(media::urls))
        .routes(routes!(ws::upgrade));
    let (router, mut document) = OpenApiRouter::with_openapi(openapi::base())
        .nest("/api/v1", api)
        .routes(routes!(health::live))
        .routes(routes!(health::ready))
        .routes(routes!(health::details))
        .routes(routes!(crate::metrics::render))
        .split_for_parts();
    openapi::finish(&mut document);
    let router: Router<AppState> = router
        .merge(openapi::documents(document))
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

/// A command's answer is its body with `consistency_token` beside its fields.
impl<T: ToSchema> ComposeSchema for Written<T> {
    fn compose(generics: Vec<RefOr<Schema>>) -> RefOr<Schema> {
        let body = generics
            .into_iter()
            .next()
            .unwrap_or_else(|| Ref::from_schema_name(T::name()).into());
        AllOfBuilder::new()
            .item(body)
            .item(
                ObjectBuilder::new()
                    .property(
                        "consistency_token",
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .pattern(Some(r"^[0-9]+\.[0-9]+$"))
                            .description(Some("Send it back as `X-Moim-Consistency` on a query.")),
                    )
                    .required("consistency_token"),
            )
            .into()
    }
}

impl<T: ToSchema> ToSchema for Written<T> {
    fn name() -> Cow<'static, str> {
        // utoipa names each use `Written_<T>`.
        Cow::Borrowed("Written")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((T::name().into_owned(), T::schema()));
        T::schemas(schemas);
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
