//! The API's one error type and the one place that turns errors into HTTP: RFC 9457
//! `application/problem+json` with a stable machine-readable `code` and the request id.
//!
//! A 500 keeps its cause: the whole chain is logged once, with the request id, when the answer
//! is made; the body says only that something went wrong, and which request it was. A wait for
//! a database connection given up is no fault but the database being busy: a 503.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use commands::CommandError;
use connectors::ConnectorError;
use domain::ErrorKind;
use projections::frames::Problem;
use projections::ProjectionError;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    retry_after: Option<u64>,
    until: Option<chrono::DateTime<chrono::Utc>>,
    cause: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ApiError {
    /// An error with a status, a stable code and a human-readable detail.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            retry_after: None,
            until: None,
            cause: None,
        }
    }

    /// 400.
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 422: well-formed, but a value breaks its rules.
    pub fn invalid(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    /// 401.
    pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail)
    }

    /// 404.
    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, detail)
    }

    /// 503 with `Retry-After`.
    pub fn unavailable(code: &'static str, detail: impl Into<String>, retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, code, detail)
        }
    }

    /// 429 with `Retry-After`.
    pub fn too_many(code: &'static str, detail: impl Into<String>, retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, code, detail)
        }
    }

    /// 403 `account_suspended`, saying until when (none: until an admin reinstates them).
    pub fn suspended(until: Option<chrono::DateTime<chrono::Utc>>) -> Self {
        Self {
            until,
            ..Self::new(
                StatusCode::FORBIDDEN,
                "account_suspended",
                "this account is suspended",
            )
        }
    }

    /// 500; the cause (with its whole chain) goes to the log, never to the client. A cause
    /// that is a wait for a pooled connection given up (`MOIM_DB_ACQUIRE_TIMEOUT_MS`), wherever
    /// in the chain, is the database being busy, not a fault: `503 database_busy`.
    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        let cause = cause.into();
        if waited_for_a_connection(cause.as_ref()) {
            let request_id = crate::request_id::current();
            tracing::warn!(
                request_id = request_id.as_ref().map(|id| id.as_str()),
                error = domain::error::chain(cause.as_ref()),
                "no database connection came in time"
            );
            return Self::unavailable(
                "database_busy",
                "the database is busy; try again shortly",
                1,
            );
        }
        Self {
            cause: Some(cause),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "something went wrong on our side; quote the request id when you report it",
            )
        }
    }
}

/// Whether `error`, or any error it was caused by, is sqlx's wait for a pooled connection
/// given up.
fn waited_for_a_connection(error: &(dyn std::error::Error + 'static)) -> bool {
    // The group writer shares one failure among its appends, as an `Arc`.
    std::iter::successors(Some(error), |e| e.source()).any(|e| {
        let sqlx = e
            .downcast_ref::<sqlx::Error>()
            .or_else(|| e.downcast_ref::<Arc<sqlx::Error>>().map(AsRef::as_ref));
        matches!(sqlx, Some(sqlx::Error::PoolTimedOut))
    })
}

impl ApiError {
    /// The problem+json body (also the data of a WebSocket `error` frame).
    pub fn problem(&self) -> Problem {
        Problem {
            request_id: crate::request_id::current().map(|id| id.as_str().to_owned()),
            until: self.until,
            ..Problem::new(
                self.status.as_u16(),
                self.status.canonical_reason().unwrap_or("Error"),
                self.code,
                self.detail.clone(),
            )
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.cause {
            let request_id = crate::request_id::current();
            let request_id = request_id.as_ref().map(|id| id.as_str());
            let cause: &(dyn std::error::Error + 'static) = cause.as_ref();
            tracing::error!(
                request_id,
                error = domain::error::chain(cause),
                "internal error"
            );
        }
        let mut response = (self.status, axum::Json(self.problem())).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<CommandError> for ApiError {
    fn from(error: CommandError) -> Self {
        match error {
            CommandError::Rejected {
                kind,
                code,
                message,
            } => Self::new(status_of(kind), code, message),
            CommandError::BadCredentials { .. } => {
                Self::unauthorized("bad_credentials", error.to_string())
            }
            CommandError::Contention(_) | CommandError::Conflict => {
                Self::unavailable("contention", error.to_string(), 1)
            }
            CommandError::RateLimited { retry_after_secs } => Self {
                retry_after: Some(retry_after_secs),
                ..Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    error.to_string(),
                )
            },
            CommandError::Suspended { until } => Self::suspended(until),
            CommandError::Overloaded { retry_after_secs } => {
                Self::unavailable("overloaded", error.to_string(), retry_after_secs)
            }
            other => Self::internal(other),
        }
    }
}

/// The status of a refusal of `kind`.
fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Gone => StatusCode::GONE,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
    }
}

impl From<ConnectorError> for ApiError {
    fn from(error: ConnectorError) -> Self {
        match error {
            ConnectorError::NotConfigured(_) => {
                Self::unavailable("connector_not_configured", error.to_string(), 3600)
            }
            ConnectorError::Unavailable { retry_after, .. } => Self::unavailable(
                "upstream_unavailable",
                error.to_string(),
                retry_after.as_secs_f64().ceil().max(1.0) as u64,
            ),
            ConnectorError::Rejected {
                kind,
                code,
                message,
            } => Self::new(status_of(kind), code, message),
            ConnectorError::Malformed { .. } => {
                tracing::warn!(
                    error = domain::error::chain(&error),
                    "outside service's answer unreadable"
                );
                Self::new(
                    StatusCode::BAD_GATEWAY,
                    "upstream_malformed",
                    error.to_string(),
                )
            }
            ConnectorError::Command(error) => error.into(),
            ConnectorError::Projection(error) => error.into(),
            ConnectorError::Database(error) => error.into(),
        }
    }
}

impl From<ProjectionError> for ApiError {
    fn from(error: ProjectionError) -> Self {
        match error {
            ProjectionError::TimedOut(_) => {
                Self::unavailable("query_timeout", error.to_string(), 1)
            }
            other => Self::internal(other),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        Self::internal(error)
    }
}

impl From<domain::values::InvalidValue> for ApiError {
    fn from(error: domain::values::InvalidValue) -> Self {
        Self::invalid("invalid_value", error.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => Self::invalid("invalid_body", e.body_text()),
            JsonRejection::JsonSyntaxError(e) => Self::bad_request("malformed_json", e.body_text()),
            JsonRejection::MissingJsonContentType(e) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "json_expected",
                e.body_text(),
            ),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    e.body_text(),
                )
            }
            other => Self::bad_request("bad_body", other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::bad_request("bad_path", rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::bad_request("bad_query", rejection.body_text())
    }
}
