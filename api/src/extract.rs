//! Extractors whose rejections speak problem+json, the caller's identity (and the commands that
//! act on their behalf), and the consistency header.

use std::ops::RangeInclusive;

use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use commands::rates::Counted;
use commands::Commands;
use domain::{Metadata, Position};
use uuid::Uuid;

use crate::auth::{bearer, Access};
use crate::error::ApiError;
use crate::request_id::RequestId;
use crate::security::ClientIp;
use crate::state::AppState;

/// The request header carrying a consistency token.
pub const CONSISTENCY_HEADER: &str = "x-moim-consistency";

/// JSON body; malformed or mistyped bodies get our error format.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Path parameters; a bad UUID is a 400.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// Query parameters; bad ones are a 400.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// The authenticated caller, from `Authorization: Bearer <access token>`.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser(pub Uuid);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Caller(access) = Caller::from_request_parts(parts, state).await?;
        Ok(Self(access.user_id))
    }
}

/// The authenticated caller with their session, for the routes about sessions.
#[derive(Debug, Clone, Copy)]
pub struct Caller(pub Access);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::unauthorized("missing_token", "send Authorization: Bearer <token>")
            })?;
        let token = header.to_str().ok().and_then(bearer).ok_or_else(|| {
            ApiError::unauthorized("bad_token", "Authorization must be Bearer <token>")
        })?;
        state.authenticate(token).map(Self)
    }
}

/// The authenticated caller, and the commands that act on their behalf: every event those
/// commands write records the caller as its actor and the request id as its correlation id.
#[derive(Clone)]
pub struct Actor {
    /// The caller.
    pub user_id: Uuid,
    /// Commands acting for them.
    pub commands: Commands,
}

impl FromRequestParts<AppState> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let AuthUser(user_id) = AuthUser::from_request_parts(parts, state).await?;
        let RequestId(id) = RequestId::from_request_parts(parts, state)
            .await
            .unwrap_or_else(|never| match never {});
        // Every write counts against the caller's command rate; reads do not.
        if !parts.method.is_safe() {
            let ip = ClientIp::of(&parts.extensions);
            state
                .limit(Counted::Command(user_id), ip, Some(user_id), "commands")
                .await?;
        }
        Ok(Self {
            user_id,
            commands: state.commands.on_behalf(
                Metadata::request(Some(user_id), id)
                    .traced(moim_nats::trace::traceparent_of(&tracing::Span::current())),
            ),
        })
    }
}

/// The consistency token a query must reflect, from `X-Moim-Consistency`.
#[derive(Debug, Clone, Copy)]
pub struct Consistency(pub Position);

impl<S: Send + Sync> OptionalFromRequestParts<S> for Consistency {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, ApiError> {
        let Some(value) = parts.headers.get(CONSISTENCY_HEADER) else {
            return Ok(None);
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| {
                ApiError::bad_request(
                    "bad_consistency_token",
                    "X-Moim-Consistency must look like 1234.5678",
                )
            })?;
        Ok(Some(Self(token)))
    }
}

/// For a body field that may be set, cleared with `null`, or left out (`Option<Option<T>>` with
/// `#[serde(default, deserialize_with = "crate::extract::nullable")]`).
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(deserializer).map(Some)
}

/// The years a date or time a client sends may name. PostgreSQL keeps dates from 4713 BC and
/// chrono reads years up to ±262,143, so a date between the two would pass a command and then
/// break the read model that stores it (or the query that compares with it); no app of Moim's
/// needs a date outside years 1 to 9999.
pub const YEARS: RangeInclusive<i32> = 1..=9999;

/// A date or time from a client, or its absence.
pub trait Dated {
    /// Absent, or in [`YEARS`].
    fn in_calendar(&self) -> bool;
}

impl Dated for NaiveDate {
    fn in_calendar(&self) -> bool {
        YEARS.contains(&self.year())
    }
}

impl Dated for DateTime<Utc> {
    fn in_calendar(&self) -> bool {
        YEARS.contains(&self.year())
    }
}

impl<T: Dated> Dated for Option<T> {
    fn in_calendar(&self) -> bool {
        self.as_ref().is_none_or(Dated::in_calendar)
    }
}

/// For a date or time field of a body or query (`#[serde(deserialize_with =
/// "crate::extract::in_calendar")]`, with `default` on an `Option`): a year outside [`YEARS`]
/// is refused as a mistyped field is.
pub fn in_calendar<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de> + Dated,
{
    let value = T::deserialize(deserializer)?;
    if value.in_calendar() {
        Ok(value)
    } else {
        Err(serde::de::Error::custom(format!(
            "dates must lie in the years {} to {}",
            YEARS.start(),
            YEARS.end()
        )))
    }
}

/// [`nullable`] for a date.
pub fn nullable_in_calendar<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de> + Dated,
{
    in_calendar::<D, Option<T>>(deserializer).map(Some)
}
