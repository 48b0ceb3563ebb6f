//! A club's Naver Band: connecting it, starting an import, and following the import's
//! progress (`connectors::band_import` does the work). Only the club's owner and managers.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use connectors::band_import::{BandLink, ImportJob};
use projections::frames::Problem;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;
use crate::extract::{Actor, Json, Path};
use crate::state::AppState;

/// The longest band key or access token accepted.
const MAX_KEY_BYTES: usize = 512;

/// The band to connect.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectBody {
    /// Band's id for the band (1 to 512 bytes).
    #[schema(min_length = 1, max_length = 512)]
    band_key: String,
    /// The caller's Band access token (1 to 512 bytes); without it, the server's own, for
    /// platform admins only.
    #[schema(min_length = 1, max_length = 512)]
    access_token: Option<String>,
}

/// `POST /clubs/{club_id}/band` `{band_key, access_token?}`: connects the band (Band must show
/// it to the token: the manager's own, or the server's `MOIM_BAND_ACCESS_TOKEN`).
#[utoipa::path(
    post,
    path = "/clubs/{club_id}/band",
    operation_id = "connect_club_band",
    tag = "clubs",
    summary = "Connect a Naver Band to the club (owner or managers)",
    params(("club_id" = Uuid, Path, description = "The club")),
    request_body = ConnectBody,
    responses(
        (status = 200, description = "Connected (replacing a band connected before)", body = BandLink),
        (status = 403, description = "`not_allowed`: members who do not run the club", body = Problem),
        (status = 404, description = "`club_not_found` (also for non-members), `band_not_found`: Band does not show this band to the token", body = Problem),
        (status = 422, description = "`invalid_band_key`, `band_token_missing`, `band_token_rejected`", body = Problem),
        (status = 502, description = "`upstream_malformed`: Band answered nonsense", body = Problem),
        (status = 503, description = "`upstream_unavailable`: Band is down or rate-limiting", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn connect(
    State(state): State<AppState>,
    actor: Actor,
    Path(club_id): Path<Uuid>,
    Json(body): Json<ConnectBody>,
) -> Result<Json<BandLink>, ApiError> {
    let too_long = |s: &str| s.is_empty() || s.len() > MAX_KEY_BYTES;
    if too_long(&body.band_key) || body.access_token.as_deref().is_some_and(too_long) {
        return Err(ApiError::invalid(
            "invalid_band_key",
            format!("band_key and access_token are 1 to {MAX_KEY_BYTES} bytes"),
        ));
    }
    let link = state
        .connectors
        .band
        .connect(
            club_id,
            actor.user_id,
            &body.band_key,
            body.access_token.map(Into::into),
        )
        .await?;
    Ok(Json(link))
}

/// `POST /clubs/{club_id}/band/import`: `202` with a new job, or `200` with the one running.
#[utoipa::path(
    post,
    path = "/clubs/{club_id}/band/import",
    operation_id = "start_band_import",
    tag = "clubs",
    summary = "Import the club's band: its members and posts (owner or managers)",
    params(("club_id" = Uuid, Path, description = "The club")),
    responses(
        (status = 200, description = "An import is running already: that one", body = ImportJob),
        (status = 202, description = "A new import, queued", body = ImportJob),
        (status = 403, description = "`not_allowed`: members who do not run the club", body = Problem),
        (status = 404, description = "`club_not_found`: also for non-members", body = Problem),
        (status = 409, description = "`band_not_connected`", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn start(
    State(state): State<AppState>,
    actor: Actor,
    Path(club_id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let (job, started) = state.connectors.band.start(club_id, actor.user_id).await?;
    let status = if started {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(job)).into_response())
}

/// `GET /clubs/{club_id}/band/import/{job_id}`: progress and counts.
#[utoipa::path(
    get,
    path = "/clubs/{club_id}/band/import/{job_id}",
    operation_id = "get_band_import",
    tag = "clubs",
    summary = "An import's progress and counts (owner or managers)",
    params(
        ("club_id" = Uuid, Path, description = "The club"),
        ("job_id" = Uuid, Path, description = "The import"),
    ),
    responses(
        (status = 200, description = "The import", body = ImportJob),
        (status = 403, description = "`not_allowed`: members who do not run the club", body = Problem),
        (status = 404, description = "`club_not_found` (also for non-members), `import_not_found`", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn job(
    State(state): State<AppState>,
    actor: Actor,
    Path((club_id, job_id)): Path<(Uuid, Uuid)>,
) -> Result<Json<ImportJob>, ApiError> {
    let job = state
        .connectors
        .band
        .job(club_id, actor.user_id, job_id)
        .await?;
    Ok(Json(job))
}
