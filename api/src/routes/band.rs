//! A club's Naver Band: connecting it, starting an import, and following the import's
//! progress (`connectors::band_import` does the work). Only the club's owner and managers.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use connectors::band_import::{BandLink, ImportJob};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::ApiError;
use crate::extract::{Actor, Json, Path};
use crate::state::AppState;

/// The longest band key or access token accepted.
const MAX_KEY_BYTES: usize = 512;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectBody {
    band_key: String,
    access_token: Option<String>,
}

/// `POST /clubs/{club_id}/band` `{band_key, access_token?}`: connects the band (Band must show
/// it to the token: the manager's own, or the server's `MOIM_BAND_ACCESS_TOKEN`).
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
