//! Photo uploads and their bytes: `POST /media` (multipart, one file), `GET /media/{id}` and
//! `/media/{id}/thumbnail` (a bearer token of someone who may see it, or a signed address's
//! `?token=`), `GET /media/{id}/urls` (fresh signed addresses). Bounds and types:
//! `crate::media` and `crate::config::MediaSettings`.

use axum::body::Body;
use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::{Multipart, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use commands::rates::Counted;
use domain::media::MediaUploaded;
use projections::frames::Problem;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::Written;
use crate::error::ApiError;
use crate::extract::{Actor, AuthUser, Path, Query};
use crate::media::may_see;
use crate::security::ClientIp;
use crate::state::AppState;

/// An upload as its owner sees it, with signed addresses an `<img src>` can use.
#[derive(Debug, Serialize, ToSchema)]
pub struct MediaOut {
    /// The upload (the same bytes uploaded again by the same user are the same upload).
    media_id: Uuid,
    /// What it is, from its bytes: `image/jpeg`, `image/png`, `image/webp`, `image/gif` or
    /// `image/heic`.
    content_type: String,
    /// Its size as served.
    bytes: u64,
    /// Its width upright (none for HEIC, which is kept as uploaded).
    width: Option<u32>,
    /// Its height upright (none for HEIC).
    height: Option<u32>,
    /// A signed address of the original.
    url: String,
    /// A signed address of its JPEG thumbnail, when it has one.
    thumbnail_url: Option<String>,
    /// When both addresses stop working (`GET /media/{media_id}/urls` gives fresh ones).
    urls_expire_at: DateTime<Utc>,
}

/// Signed addresses of an upload.
#[derive(Debug, Serialize, ToSchema)]
pub struct MediaLinks {
    /// The original's.
    pub url: String,
    /// The thumbnail's, when it has one.
    pub thumbnail_url: Option<String>,
    /// When both stop working.
    pub expires_at: DateTime<Utc>,
}

fn too_large(max: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "file_too_large",
        format!("a file may be at most {max} bytes"),
    )
}

/// Signed addresses for `media`, valid for the configured time.
pub fn links(state: &AppState, media: &MediaUploaded) -> Result<MediaLinks, ApiError> {
    let ttl = state.media.settings.url_ttl;
    let id = media.media_id;
    let (token, expires_at) = state.keys.media_link(id, "original", ttl)?;
    let thumbnail_url = match media.thumbnail {
        Some(_) => {
            let (token, _) = state.keys.media_link(id, "thumbnail", ttl)?;
            Some(format!("/api/v1/media/{id}/thumbnail?token={token}"))
        }
        None => None,
    };
    Ok(MediaLinks {
        url: format!("/api/v1/media/{id}?token={token}"),
        thumbnail_url,
        expires_at,
    })
}

/// A photo upload: one file field (the first field with a file name, or the one named `file`).
#[derive(ToSchema)]
#[expect(
    dead_code,
    reason = "the document's picture of the form, which the handler streams"
)]
pub struct UploadForm {
    /// The photo: JPEG, PNG, WebP, GIF or HEIC, decided from its bytes.
    #[schema(value_type = String, format = Binary, content_media_type = "application/octet-stream")]
    file: Vec<u8>,
}

/// `POST /media`, multipart with one file field. `201` for new bytes, `200` with the earlier
/// upload for bytes this user uploaded before.
#[utoipa::path(
    post,
    path = "/media",
    operation_id = "upload_media",
    tag = "media",
    summary = "Upload a photo",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "These bytes were uploaded by the caller before: that upload", body = Written<MediaOut>),
        (status = 201, description = "Uploaded", body = Written<MediaOut>),
        (status = 400, description = "`bad_multipart`: not a readable `multipart/form-data` body", body = Problem),
        (status = 408, description = "`request_timeout`: the upload did not arrive in time", body = Problem),
        (status = 413, description = "`file_too_large`", body = Problem),
        (status = 415, description = "`unsupported_media_type`: not a JPEG, PNG, WebP, GIF or HEIC image", body = Problem),
        (status = 422, description = "`no_file`: the form holds no file field; `empty_file`; `image_too_large`: too many pixels; `corrupt_image`", body = Problem),
        (status = 429, description = "`rate_limited`: the caller's uploads per hour, or commands per minute, used up", body = Problem),
        (status = 503, description = "`overloaded`: too many uploads at once", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn upload(
    State(state): State<AppState>,
    actor: Actor,
    ip: ClientIp,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Written<MediaOut>, ApiError> {
    let max = state.media.settings.max_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max + crate::limits::UPLOAD_ENVELOPE_BYTES) {
        return Err(too_large(max));
    }
    let _slot = state.media.slot(ip)?;
    state
        .limit(
            Counted::Upload(actor.user_id),
            ip,
            Some(actor.user_id),
            "uploads",
        )
        .await?;
    let mut multipart =
        multipart.map_err(|e| ApiError::bad_request("bad_multipart", e.body_text()))?;
    let timeout = state.media.settings.upload_timeout;
    let bytes = tokio::time::timeout(timeout, read_file(&mut multipart, max))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!("the upload did not arrive within {} s", timeout.as_secs()),
            )
        })??;
    let recorded = state
        .media
        .accept(&actor.commands, actor.user_id, bytes)
        .await?;
    let media = recorded.media;
    let links = links(&state, &media)?;
    let out = MediaOut {
        media_id: media.media_id,
        content_type: media.content_type,
        bytes: media.bytes,
        width: media.width,
        height: media.height,
        url: links.url,
        thumbnail_url: links.thumbnail_url,
        urls_expire_at: links.expires_at,
    };
    Ok(if recorded.created {
        Written::created(out, recorded.position)
    } else {
        Written::ok(out, recorded.position)
    })
}

/// The first file field's bytes, at most `max` of them: reading stops at the first byte over.
async fn read_file(multipart: &mut Multipart, max: usize) -> Result<Vec<u8>, ApiError> {
    // The body's own limit (`limits::bound`) surfaces as a multipart error: the same 413.
    let bad = |e: MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large(max)
        } else {
            ApiError::bad_request("bad_multipart", e.body_text())
        }
    };
    while let Some(mut field) = multipart.next_field().await.map_err(bad)? {
        if field.file_name().is_none() && field.name() != Some("file") {
            continue;
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(bad)? {
            if bytes.len() + chunk.len() > max {
                return Err(too_large(max));
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok(bytes);
    }
    Err(ApiError::invalid("no_file", "the form holds no file field"))
}

/// A signed address's token.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LinkQuery {
    /// The `token` of a signed address (`url`, `thumbnail_url`); without it, send a bearer
    /// token of someone who may see the media.
    token: Option<String>,
}

/// `GET /media/{media_id}`: the original, `Range` honoured.
#[utoipa::path(
    get,
    path = "/media/{media_id}",
    operation_id = "get_media",
    tag = "media",
    summary = "An upload's bytes (a signed address, or a bearer token of someone who may see it)",
    params(
        ("media_id" = Uuid, Path, description = "The upload"),
        LinkQuery,
        ("Range" = Option<String>, Header, description = "One byte range, e.g. `bytes=0-1023` (of several, the first is served)"),
        ("If-None-Match" = Option<String>, Header, description = "An `ETag` the client holds"),
    ),
    responses(
        (status = 200, description = "The bytes",
            headers(
                ("ETag" = String, description = "The object's digest"),
                ("Cache-Control" = String, description = "`private, max-age=86400, immutable`"),
            ),
            content(("image/jpeg"), ("image/png"), ("image/webp"), ("image/gif"), ("image/heic"))),
        (status = 206, description = "The range asked for",
            headers(("Content-Range" = String, description = "`bytes <start>-<end>/<size>`")),
            content(("image/jpeg"), ("image/png"), ("image/webp"), ("image/gif"), ("image/heic"))),
        (status = 304, description = "Not modified: the client's `ETag` is the object's"),
        (status = 403, description = "`bad_link`: the signed address is not valid for this upload; `link_expired`", body = Problem),
        (status = 404, description = "`media_not_found`: no such upload, removed, or not one the caller may see", body = Problem),
        (status = 416, description = "`range_not_satisfiable`", body = Problem),
    ),
    security((), ("bearer" = [])),
)]
pub async fn original(
    State(state): State<AppState>,
    Path(media_id): Path<Uuid>,
    Query(query): Query<LinkQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    serve(&state, media_id, "original", query, &headers).await
}

/// `GET /media/{media_id}/thumbnail`.
#[utoipa::path(
    get,
    path = "/media/{media_id}/thumbnail",
    operation_id = "get_media_thumbnail",
    tag = "media",
    summary = "An upload's JPEG thumbnail (a signed address, or a bearer token of someone who may see it)",
    params(
        ("media_id" = Uuid, Path, description = "The upload"),
        LinkQuery,
        ("If-None-Match" = Option<String>, Header, description = "An `ETag` the client holds"),
    ),
    responses(
        (status = 200, description = "The thumbnail",
            headers(
                ("ETag" = String, description = "The object's digest"),
                ("Cache-Control" = String, description = "`private, max-age=86400, immutable`"),
            ),
            content(("image/jpeg"))),
        (status = 304, description = "Not modified: the client's `ETag` is the object's"),
        (status = 403, description = "`bad_link`: the signed address is not valid for this thumbnail; `link_expired`", body = Problem),
        (status = 404, description = "`media_not_found`: no such upload, removed, without a thumbnail, or not one the caller may see", body = Problem),
    ),
    security((), ("bearer" = [])),
)]
pub async fn thumbnail(
    State(state): State<AppState>,
    Path(media_id): Path<Uuid>,
    Query(query): Query<LinkQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    serve(&state, media_id, "thumbnail", query, &headers).await
}

/// `GET /media/{media_id}/urls`: fresh signed addresses, for someone who may see it.
#[utoipa::path(
    get,
    path = "/media/{media_id}/urls",
    operation_id = "get_media_urls",
    tag = "media",
    summary = "Fresh signed addresses of an upload",
    params(("media_id" = Uuid, Path, description = "The upload")),
    responses(
        (status = 200, description = "The addresses", body = MediaLinks),
        (status = 404, description = "`media_not_found`: no such upload, removed, or not one the caller may see", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn urls(
    State(state): State<AppState>,
    AuthUser(user_id): AuthUser,
    Path(media_id): Path<Uuid>,
) -> Result<axum::Json<MediaLinks>, ApiError> {
    let media = state.commands.media(media_id).await?;
    match media.current() {
        Some(upload) if may_see(&state.commands, user_id, &media).await? => {
            Ok(axum::Json(links(&state, upload)?))
        }
        _ => Err(not_found()),
    }
}

fn not_found() -> ApiError {
    ApiError::not_found("media_not_found", "no such media")
}

/// Who asks: a signed address, or a bearer token of someone who may see it; anything else is
/// told the media does not exist (or, with no credentials at all, to sign in).
async fn serve(
    state: &AppState,
    media_id: Uuid,
    variant: &str,
    query: LinkQuery,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let media = match query.token {
        Some(token) => {
            state.keys.verify_media_link(&token, media_id, variant)?;
            state.commands.media(media_id).await?
        }
        None => {
            let token = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(crate::auth::bearer)
                .ok_or_else(|| {
                    ApiError::unauthorized("missing_token", "sign in, or use a signed address")
                })?;
            let user_id = state.authenticate(token)?.user_id;
            let media = state.commands.media(media_id).await?;
            if !may_see(&state.commands, user_id, &media).await? {
                return Err(not_found());
            }
            media
        }
    };
    let upload = media.current().ok_or_else(not_found)?;
    let (object, content_type) = match (variant, &upload.thumbnail) {
        ("thumbnail", Some(thumb)) => (thumb.object.as_str(), thumb.content_type.as_str()),
        ("thumbnail", None) => return Err(not_found()),
        _ => (upload.object.as_str(), upload.content_type.as_str()),
    };
    let mut object = state
        .media
        .store
        .get(object)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(not_found)?;
    let size = object.info.size as u64;
    let etag = format!("\"{}\"", object.info.digest.clone().unwrap_or_default());
    let mut response = Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(header::ETAG, &etag)
        .header(header::CACHE_CONTROL, "private, max-age=86400, immutable")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        })
    {
        return response
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .map_err(ApiError::internal);
    }
    let range = match (variant, headers.get(header::RANGE)) {
        ("original", Some(value)) => Some(byte_range(value, size)?),
        _ => None,
    };
    response = response.header(header::ACCEPT_RANGES, "bytes");
    let Some((start, end)) = range else {
        return response
            .header(header::CONTENT_LENGTH, size)
            .body(Body::from_stream(ReaderStream::new(object)))
            .map_err(ApiError::internal);
    };
    // The object store reads from the start: skip to the range, then send just it.
    tokio::io::copy(&mut (&mut object).take(start), &mut tokio::io::sink())
        .await
        .map_err(ApiError::internal)?;
    let length = end - start + 1;
    response
        .status(StatusCode::PARTIAL_CONTENT)
        .header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{size}"))
        .header(header::CONTENT_LENGTH, length)
        .body(Body::from_stream(ReaderStream::new(object.take(length))))
        .map_err(ApiError::internal)
}

/// The one range of a `Range` header, inclusive; several ranges are not offered (answered as
/// the first), and one outside the object is `416`.
fn byte_range(value: &HeaderValue, size: u64) -> Result<(u64, u64), ApiError> {
    let unsatisfiable = || {
        ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "range_not_satisfiable",
            format!("the object has {size} bytes"),
        )
    };
    let text = value.to_str().map_err(|_| unsatisfiable())?;
    let ranges = http_range_header::parse_range_header(text)
        .and_then(|parsed| parsed.validate(size))
        .map_err(|_| unsatisfiable())?;
    ranges
        .first()
        .map(|r| (*r.start(), *r.end()))
        .ok_or_else(unsatisfiable)
}
