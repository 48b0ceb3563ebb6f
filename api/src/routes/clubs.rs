//! Clubs: found one, find one, join or ask to, run its membership. A club's card is public to
//! every signed-in user; its members, games, board and room are its members' (404 otherwise).

use axum::extract::State;
use domain::club::{ClubPatch, ClubRole, JoinPolicy};
use domain::values::{ClubDescription, ClubName};
use projections::clubs::{ClubCard, ClubMember, MemberFilter, VIEW};
use projections::games::MemberStats;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{page_limit, Written, MAX_PAGE};
use crate::error::ApiError;
use crate::extract::{Actor, Consistency, Json, Path, Query};
use crate::state::AppState;

/// The caller's role in a club, from the write side; outsiders: 404 `club_not_found`.
pub async fn member_of(actor: &Actor, club_id: Uuid) -> Result<ClubRole, ApiError> {
    Ok(actor.commands.club_role(club_id, actor.user_id).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewClub {
    name: String,
    description: String,
    join_policy: JoinPolicy,
}

#[derive(Serialize)]
pub struct ClubCreated {
    club_id: Uuid,
    room_id: Uuid,
}

/// `POST /clubs`: the caller owns the new club and its room.
pub async fn create(
    actor: Actor,
    Json(body): Json<NewClub>,
) -> Result<Written<ClubCreated>, ApiError> {
    let name = ClubName::parse(&body.name)?;
    let description = ClubDescription::parse(&body.description)?;
    let (club_id, position) = actor
        .commands
        .create_club(actor.user_id, name, description, body.join_policy)
        .await?;
    let room_id = commands::clubs::club_room_id(club_id);
    Ok(Written::created(ClubCreated { club_id, room_id }, position))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClubsQuery {
    #[serde(default)]
    query: String,
    cursor: Option<Uuid>,
    limit: Option<i64>,
}

#[derive(Serialize)]
pub struct Clubs {
    clubs: Vec<ClubCard>,
    next_cursor: Option<Uuid>,
}

/// `GET /clubs?query=&cursor=&limit=`: by name.
pub async fn search(
    State(state): State<AppState>,
    _actor: Actor,
    Query(q): Query<ClubsQuery>,
    consistency: Option<Consistency>,
) -> Result<Json<Clubs>, ApiError> {
    let limit = page_limit(q.limit)?;
    let query = projections::chat_search::check_text(&q.query)
        .map_err(|_| ApiError::invalid("bad_query", "a query is at most 100 plain characters"))?;
    state.caught_up(VIEW, consistency).await?;
    let clubs = projections::clubs::search(&state.pool, query, q.cursor, limit).await?;
    let next_cursor = super::next_cursor(&clubs, limit, |c| c.club_id);
    Ok(Json(Clubs { clubs, next_cursor }))
}

#[derive(Serialize)]
pub struct ClubDetail {
    #[serde(flatten)]
    card: ClubCard,
    /// The caller's role, when a member.
    my_role: Option<&'static str>,
    /// The club's room, for members.
    room_id: Option<Uuid>,
}

/// `GET /clubs/{id}`: the card; members also see their role and the room.
pub async fn show(
    State(state): State<AppState>,
    actor: Actor,
    Path(club_id): Path<Uuid>,
    consistency: Option<Consistency>,
) -> Result<Json<ClubDetail>, ApiError> {
    state.caught_up(VIEW, consistency).await?;
    let card = projections::clubs::card(&state.pool, club_id)
        .await?
        .ok_or_else(|| ApiError::not_found("club_not_found", "club not found"))?;
    let role = actor.commands.club(club_id).await?.role(actor.user_id);
    Ok(Json(ClubDetail {
        card,
        my_role: role.map(ClubRole::as_str),
        room_id: role.map(|_| commands::clubs::club_room_id(club_id)),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClubChange {
    name: Option<String>,
    description: Option<String>,
    join_policy: Option<JoinPolicy>,
}

#[derive(Serialize)]
pub struct Changed {
    club_id: Uuid,
}

/// `PATCH /clubs/{id}` (owner or managers).
pub async fn update(
    actor: Actor,
    Path(club_id): Path<Uuid>,
    Json(body): Json<ClubChange>,
) -> Result<Written<Changed>, ApiError> {
    let patch = ClubPatch {
        name: body.name.as_deref().map(ClubName::parse).transpose()?,
        description: body
            .description
            .as_deref()
            .map(ClubDescription::parse)
            .transpose()?,
        join_policy: body.join_policy,
    };
    let done = actor
        .commands
        .update_club(club_id, actor.user_id, patch)
        .await?;
    Ok(Written::ok(Changed { club_id }, done.position))
}

#[derive(Serialize)]
pub struct Membership {
    status: &'static str,
    role: Option<&'static str>,
}

/// `POST /clubs/{id}/join`: `member` in an open club, `pending` where managers approve.
pub async fn join(
    actor: Actor,
    Path(club_id): Path<Uuid>,
) -> Result<Written<Membership>, ApiError> {
    let done = actor.commands.join_club(club_id, actor.user_id).await?;
    let role = done.club.role(actor.user_id);
    let out = Membership {
        status: if role.is_some() { "member" } else { "pending" },
        role: role.map(ClubRole::as_str),
    };
    Ok(Written::ok(out, done.position))
}

/// `POST /clubs/{id}/requests/{user_id}/approve`.
pub async fn approve(
    actor: Actor,
    Path((club_id, user_id)): Path<(Uuid, Uuid)>,
) -> Result<Written<Membership>, ApiError> {
    decide(actor, club_id, user_id, true).await
}

/// `POST /clubs/{id}/requests/{user_id}/reject`.
pub async fn reject(
    actor: Actor,
    Path((club_id, user_id)): Path<(Uuid, Uuid)>,
) -> Result<Written<Membership>, ApiError> {
    decide(actor, club_id, user_id, false).await
}

async fn decide(
    actor: Actor,
    club_id: Uuid,
    user_id: Uuid,
    approve: bool,
) -> Result<Written<Membership>, ApiError> {
    let done = actor
        .commands
        .decide_join(club_id, actor.user_id, user_id, approve)
        .await?;
    let role = done.club.role(user_id);
    let out = Membership {
        status: if role.is_some() { "member" } else { "rejected" },
        role: role.map(ClubRole::as_str),
    };
    Ok(Written::ok(out, done.position))
}

#[derive(Serialize)]
pub struct Request {
    user_id: Uuid,
    requested_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Serialize)]
pub struct Requests {
    requests: Vec<Request>,
}

/// `GET /clubs/{id}/requests` (owner or managers): oldest first.
pub async fn requests(
    State(state): State<AppState>,
    actor: Actor,
    Path(club_id): Path<Uuid>,
    consistency: Option<Consistency>,
) -> Result<Json<Requests>, ApiError> {
    if !member_of(&actor, club_id).await?.runs_the_club() {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "not_allowed",
            "only the owner or managers see requests",
        ));
    }
    state.caught_up(VIEW, consistency).await?;
    let requests = projections::clubs::requests(&state.pool, club_id, MAX_PAGE)
        .await?
        .into_iter()
        .map(|(user_id, requested_at)| Request {
            user_id,
            requested_at,
        })
        .collect();
    Ok(Json(Requests { requests }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembersQuery {
    query: Option<String>,
    role: Option<ClubRole>,
    cursor: Option<Uuid>,
    limit: Option<i64>,
    page: Option<i64>,
    size: Option<i64>,
}

#[derive(Serialize)]
pub struct Members {
    members: Vec<ClubMember>,
    /// How many match in all.
    total: i64,
    /// With cursors: the `cursor` of the next page, if there is one.
    next_cursor: Option<Uuid>,
    /// With pages: the page answered (from 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    page: Option<i64>,
}

/// `GET /clubs/{id}/members?query=&role=` with `cursor=&limit=` or `page=&size=`: oldest
/// member first.
pub async fn members(
    State(state): State<AppState>,
    actor: Actor,
    Path(club_id): Path<Uuid>,
    Query(q): Query<MembersQuery>,
    consistency: Option<Consistency>,
) -> Result<Json<Members>, ApiError> {
    member_of(&actor, club_id).await?;
    let (window, limit) = super::window(q.cursor, q.limit, q.page, q.size)?;
    let query = q
        .query
        .as_deref()
        .map(projections::chat_search::check_text)
        .transpose()
        .map_err(|_| ApiError::invalid("bad_query", "a query is at most 100 plain characters"))?
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let filter = MemberFilter {
        query,
        role: q.role.map(|r| r.as_str().to_owned()),
    };
    state.caught_up(VIEW, consistency).await?;
    let (members, total) =
        projections::clubs::members(&state.pool, club_id, &filter, window, limit).await?;
    let next_cursor =
        super::next_cursor(&members, limit, |m| m.user_id).filter(|_| q.page.is_none());
    Ok(Json(Members {
        members,
        total,
        next_cursor,
        page: q.page,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    role: ClubRole,
}

/// `PATCH /clubs/{id}/members/{user_id}` `{role}` (the owner; `owner` hands the club over).
pub async fn set_role(
    actor: Actor,
    Path((club_id, user_id)): Path<(Uuid, Uuid)>,
    Json(body): Json<RoleBody>,
) -> Result<Written<Membership>, ApiError> {
    let done = actor
        .commands
        .set_club_role(club_id, actor.user_id, user_id, body.role)
        .await?;
    let role = done.club.role(user_id);
    let out = Membership {
        status: "member",
        role: role.map(ClubRole::as_str),
    };
    Ok(Written::ok(out, done.position))
}

#[derive(Serialize)]
pub struct Removed {
    removed: bool,
}

/// `DELETE /clubs/{id}/members/{user_id}`: leave (one's own id) or remove someone.
pub async fn remove(
    actor: Actor,
    Path((club_id, user_id)): Path<(Uuid, Uuid)>,
) -> Result<Written<Removed>, ApiError> {
    let done = actor
        .commands
        .remove_club_member(club_id, actor.user_id, user_id)
        .await?;
    Ok(Written::ok(Removed { removed: true }, done.position))
}

/// `GET /clubs/{id}/members/{user_id}/stats`: games played, won, MVPs (members only).
pub async fn stats(
    State(state): State<AppState>,
    actor: Actor,
    Path((club_id, user_id)): Path<(Uuid, Uuid)>,
    consistency: Option<Consistency>,
) -> Result<Json<MemberStats>, ApiError> {
    member_of(&actor, club_id).await?;
    state
        .caught_up(projections::games::VIEW, consistency)
        .await?;
    Ok(Json(
        projections::games::stats(&state.pool, club_id, user_id).await?,
    ))
}
