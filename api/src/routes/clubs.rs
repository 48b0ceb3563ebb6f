//! Clubs: found one, find one, join or ask to, run its membership. A club's card is public to
//! every signed-in user; its members, games, board and room are its members' (404 otherwise).

use axum::extract::State;
use domain::club::{ClubPatch, ClubRole, JoinPolicy};
use domain::values::{ClubDescription, ClubName};
use projections::clubs::{ClubCard, ClubMember, MemberFilter, VIEW};
use projections::frames::Problem;
use projections::games::MemberStats;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{page_limit, Written, MAX_PAGE};
use crate::error::ApiError;
use crate::extract::{Actor, Consistency, Json, Path, Query};
use crate::state::AppState;

/// The caller's role in a club, from the write side; outsiders: 404 `club_not_found`.
pub async fn member_of(actor: &Actor, club_id: Uuid) -> Result<ClubRole, ApiError> {
    Ok(actor.commands.club_role(club_id, actor.user_id).await?)
}

/// A club to found.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClub {
    /// Its name (1 to 50 characters, trimmed; it also names the club's room).
    #[schema(min_length = 1, max_length = 50)]
    name: String,
    /// What it is about (1 to 2000 characters, trimmed; newlines allowed).
    #[schema(min_length = 1, max_length = 2000)]
    description: String,
    /// Who may join.
    join_policy: JoinPolicy,
}

/// The new club and its room.
#[derive(Serialize, ToSchema)]
pub struct CreatedClub {
    /// The club.
    club_id: Uuid,
    /// Its chat room.
    room_id: Uuid,
}

/// `POST /clubs`: the caller owns the new club and its room.
#[utoipa::path(
    post,
    path = "/clubs",
    operation_id = "create_club",
    tag = "clubs",
    summary = "Found a club (the caller owns it and its room)",
    request_body = NewClub,
    responses(
        (status = 201, description = "Founded", body = Written<CreatedClub>),
        (status = 422, description = "`invalid_value`: a name or description empty, too long or with control characters", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn create(
    actor: Actor,
    Json(body): Json<NewClub>,
) -> Result<Written<CreatedClub>, ApiError> {
    let name = ClubName::parse(&body.name)?;
    let description = ClubDescription::parse(&body.description)?;
    let (club_id, position) = actor
        .commands
        .create_club(actor.user_id, name, description, body.join_policy)
        .await?;
    let room_id = commands::clubs::club_room_id(club_id);
    Ok(Written::created(CreatedClub { club_id, room_id }, position))
}

/// A search of clubs by name.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ClubsQuery {
    /// Text the name contains (at most 100 characters once trimmed; empty: every club).
    #[serde(default)]
    #[param(max_length = 100)]
    query: String,
    /// The `next_cursor` of the page before.
    cursor: Option<Uuid>,
    /// Clubs per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// A page of clubs.
#[derive(Serialize, ToSchema)]
pub struct Clubs {
    /// The clubs found.
    clubs: Vec<ClubCard>,
    /// Pass as `cursor` for the next page; null on the last.
    next_cursor: Option<Uuid>,
}

/// `GET /clubs?query=&cursor=&limit=`: by name.
#[utoipa::path(
    get,
    path = "/clubs",
    operation_id = "search_clubs",
    tag = "clubs",
    summary = "Find clubs by name",
    params(ClubsQuery, Consistency),
    responses(
        (status = 200, description = "A page of clubs", body = Clubs),
        (status = 422, description = "`bad_query`: a query over 100 characters or with control characters; `bad_limit`", body = Problem),
    ),
    security(("bearer" = [])),
)]
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

/// A club's card, with the caller's standing.
#[derive(Serialize, ToSchema)]
pub struct ClubDetail {
    #[serde(flatten)]
    card: ClubCard,
    /// The caller's role, when a member.
    my_role: Option<ClubRole>,
    /// The club's room, for members.
    room_id: Option<Uuid>,
}

/// `GET /clubs/{id}`: the card; members also see their role and the room.
#[utoipa::path(
    get,
    path = "/clubs/{club_id}",
    operation_id = "get_club",
    tag = "clubs",
    summary = "A club's card; members also see their role and the room",
    params(("club_id" = Uuid, Path, description = "The club"), Consistency),
    responses(
        (status = 200, description = "The club", body = ClubDetail),
        (status = 404, description = "`club_not_found`", body = Problem),
    ),
    security(("bearer" = [])),
)]
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
        my_role: role,
        room_id: role.map(|_| commands::clubs::club_room_id(club_id)),
    }))
}

/// What to change on a club's card; what is absent (or null) stays.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClubChange {
    /// A new name (1 to 50 characters, trimmed).
    #[schema(min_length = 1, max_length = 50)]
    name: Option<String>,
    /// A new description (1 to 2000 characters, trimmed).
    #[schema(min_length = 1, max_length = 2000)]
    description: Option<String>,
    /// A new join policy.
    join_policy: Option<JoinPolicy>,
}

/// The club changed.
#[derive(Serialize, ToSchema)]
pub struct ClubChanged {
    /// The club.
    club_id: Uuid,
}

/// `PATCH /clubs/{id}` (owner or managers).
#[utoipa::path(
    patch,
    path = "/clubs/{club_id}",
    operation_id = "update_club",
    tag = "clubs",
    summary = "Change a club's card (owner or managers)",
    params(("club_id" = Uuid, Path, description = "The club")),
    request_body = ClubChange,
    responses(
        (status = 200, description = "Changed (or already so)", body = Written<ClubChanged>),
        (status = 403, description = "`not_allowed`: members who do not run the club", body = Problem),
        (status = 404, description = "`club_not_found`: also for non-members", body = Problem),
        (status = 422, description = "`invalid_value`", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn update(
    actor: Actor,
    Path(club_id): Path<Uuid>,
    Json(body): Json<ClubChange>,
) -> Result<Written<ClubChanged>, ApiError> {
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
    Ok(Written::ok(ClubChanged { club_id }, done.position))
}

/// Where someone stands in a club after a membership command.
#[derive(Serialize, ToSchema)]
pub struct ClubMembership {
    /// `member`, `pending` (asked; managers decide) or `rejected` (turned down).
    status: MembershipStatus,
    /// Their role, when a member.
    role: Option<ClubRole>,
}

/// Where someone stands in a club.
#[derive(Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MembershipStatus {
    /// A member.
    Member,
    /// Asked to join; the owner or managers decide.
    Pending,
    /// Turned down.
    Rejected,
}

/// `POST /clubs/{id}/join`: `member` in an open club, `pending` where managers approve.
#[utoipa::path(
    post,
    path = "/clubs/{club_id}/join",
    operation_id = "join_club",
    tag = "clubs",
    summary = "Join an open club, or ask to join one that approves",
    params(("club_id" = Uuid, Path, description = "The club")),
    responses(
        (status = 200, description = "`member`, or `pending` where the owner or managers approve (joining again answers where one stands)", body = Written<ClubMembership>),
        (status = 404, description = "`club_not_found`", body = Problem),
        (status = 409, description = "`club_full`", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn join(
    actor: Actor,
    Path(club_id): Path<Uuid>,
) -> Result<Written<ClubMembership>, ApiError> {
    let done = actor.commands.join_club(club_id, actor.user_id).await?;
    let role = done.club.role(actor.user_id);
    let out = ClubMembership {
        status: if role.is_some() {
            MembershipStatus::Member
        } else {
            MembershipStatus::Pending
        },
        role,
    };
    Ok(Written::ok(out, done.position))
}

/// `POST /clubs/{id}/requests/{user_id}/approve`.
#[utoipa::path(
    post,
    path = "/clubs/{club_id}/requests/{user_id}/approve",
    operation_id = "approve_club_request",
    tag = "clubs",
    summary = "Let a requester in (owner or managers)",
    params(
        ("club_id" = Uuid, Path, description = "The club"),
        ("user_id" = Uuid, Path, description = "The requester"),
    ),
    responses(
        (status = 200, description = "A member now", body = Written<ClubMembership>),
        (status = 403, description = "`not_allowed`: members who do not run the club", body = Problem),
        (status = 404, description = "`club_not_found` (also for non-members), `member_not_found`: no such request", body = Problem),
        (status = 409, description = "`club_full`", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn approve(
    actor: Actor,
    Path((club_id, user_id)): Path<(Uuid, Uuid)>,
) -> Result<Written<ClubMembership>, ApiError> {
    decide(actor, club_id, user_id, true).await
}

/// `POST /clubs/{id}/requests/{user_id}/reject`.
#[utoipa::path(
    post,
    path = "/clubs/{club_id}/requests/{user_id}/reject",
    operation_id = "reject_club_request",
    tag = "clubs",
    summary = "Turn a requester down (owner or managers)",
    params(
        ("club_id" = Uuid, Path, description = "The club"),
        ("user_id" = Uuid, Path, description = "The requester"),
    ),
    responses(
        (status = 200, description = "Turned down: `rejected`", body = Written<ClubMembership>),
        (status = 403, description = "`not_allowed`: members who do not run the club", body = Problem),
        (status = 404, description = "`club_not_found` (also for non-members), `member_not_found`: no such request", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn reject(
    actor: Actor,
    Path((club_id, user_id)): Path<(Uuid, Uuid)>,
) -> Result<Written<ClubMembership>, ApiError> {
    decide(actor, club_id, user_id, false).await
}

async fn decide(
    actor: Actor,
    club_id: Uuid,
    user_id: Uuid,
    approve: bool,
) -> Result<Written<ClubMembership>, ApiError> {
    let done = actor
        .commands
        .decide_join(club_id, actor.user_id, user_id, approve)
        .await?;
    let role = done.club.role(user_id);
    let out = ClubMembership {
        status: if role.is_some() {
            MembershipStatus::Member
        } else {
            MembershipStatus::Rejected
        },
        role,
    };
    Ok(Written::ok(out, done.position))
}

/// A request to join.
#[derive(Serialize, ToSchema)]
pub struct JoinRequest {
    /// Who asks.
    user_id: Uuid,
    /// Since when.
    requested_at: chrono::DateTime<chrono::Utc>,
}

/// Requests waiting for a decision, oldest first (at most 200).
#[derive(Serialize, ToSchema)]
pub struct JoinRequests {
    /// The requests.
    requests: Vec<JoinRequest>,
}

/// `GET /clubs/{id}/requests` (owner or managers): oldest first.
#[utoipa::path(
    get,
    path = "/clubs/{club_id}/requests",
    operation_id = "list_club_requests",
    tag = "clubs",
    summary = "Requests to join, oldest first (owner or managers)",
    params(("club_id" = Uuid, Path, description = "The club"), Consistency),
    responses(
        (status = 200, description = "The requests", body = JoinRequests),
        (status = 403, description = "`not_allowed`: members who do not run the club", body = Problem),
        (status = 404, description = "`club_not_found`: also for non-members", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn requests(
    State(state): State<AppState>,
    actor: Actor,
    Path(club_id): Path<Uuid>,
    consistency: Option<Consistency>,
) -> Result<Json<JoinRequests>, ApiError> {
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
        .map(|(user_id, requested_at)| JoinRequest {
            user_id,
            requested_at,
        })
        .collect();
    Ok(Json(JoinRequests { requests }))
}

/// A club's members: a filter, and either `cursor`/`limit` or `page`/`size`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MembersQuery {
    /// Text their name contains (at most 100 characters once trimmed).
    #[param(max_length = 100)]
    query: Option<String>,
    /// Only members of this role.
    role: Option<ClubRole>,
    /// The `next_cursor` of the page before (not with `page`).
    cursor: Option<Uuid>,
    /// Members per page with cursors, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
    /// The page, from 1 (not with `cursor`).
    #[param(minimum = 1)]
    page: Option<i64>,
    /// Members per page with pages, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    size: Option<i64>,
}

/// A page of a club's members, oldest member first.
#[derive(Serialize, ToSchema)]
pub struct ClubMembers {
    /// The members.
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
#[utoipa::path(
    get,
    path = "/clubs/{club_id}/members",
    operation_id = "list_club_members",
    tag = "clubs",
    summary = "A club's members, oldest first (members only)",
    params(("club_id" = Uuid, Path, description = "The club"), MembersQuery, Consistency),
    responses(
        (status = 200, description = "A page of members", body = ClubMembers),
        (status = 404, description = "`club_not_found`: also for non-members", body = Problem),
        (status = 422, description = "`bad_query`: a query over 100 characters or with control characters; `bad_limit`; `bad_page`: a page below 1, or both `page` and `cursor`", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn members(
    State(state): State<AppState>,
    actor: Actor,
    Path(club_id): Path<Uuid>,
    Query(q): Query<MembersQuery>,
    consistency: Option<Consistency>,
) -> Result<Json<ClubMembers>, ApiError> {
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
    // The list joins the users view for names: both must have reached the token, or a member
    // who registered just before joining is missing from it.
    state.caught_up(VIEW, consistency).await?;
    state
        .caught_up(projections::users::VIEW, consistency)
        .await?;
    let (members, total) =
        projections::clubs::members(&state.pool, club_id, &filter, window, limit).await?;
    let next_cursor =
        super::next_cursor(&members, limit, |m| m.user_id).filter(|_| q.page.is_none());
    Ok(Json(ClubMembers {
        members,
        total,
        next_cursor,
        page: q.page,
    }))
}

/// A member's new role.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClubRoleBody {
    /// The role; `owner` hands the club over (the owner becomes a manager).
    role: ClubRole,
}

/// `PATCH /clubs/{id}/members/{user_id}` `{role}` (the owner; `owner` hands the club over).
#[utoipa::path(
    patch,
    path = "/clubs/{club_id}/members/{user_id}",
    operation_id = "set_club_member_role",
    tag = "clubs",
    summary = "Give a member a role (the owner; `owner` hands the club over)",
    params(
        ("club_id" = Uuid, Path, description = "The club"),
        ("user_id" = Uuid, Path, description = "The member"),
    ),
    request_body = ClubRoleBody,
    responses(
        (status = 200, description = "Their role now", body = Written<ClubMembership>),
        (status = 403, description = "`not_allowed`: anyone but the owner", body = Problem),
        (status = 404, description = "`club_not_found` (also for non-members), `member_not_found`", body = Problem),
        (status = 422, description = "`bad_role_change`: the owner's own role", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn set_role(
    actor: Actor,
    Path((club_id, user_id)): Path<(Uuid, Uuid)>,
    Json(body): Json<ClubRoleBody>,
) -> Result<Written<ClubMembership>, ApiError> {
    let done = actor
        .commands
        .set_club_role(club_id, actor.user_id, user_id, body.role)
        .await?;
    let role = done.club.role(user_id);
    let out = ClubMembership {
        status: MembershipStatus::Member,
        role,
    };
    Ok(Written::ok(out, done.position))
}

/// A member left or was removed.
#[derive(Serialize, ToSchema)]
pub struct ClubMemberRemoved {
    /// Always true.
    removed: bool,
}

/// `DELETE /clubs/{id}/members/{user_id}`: leave (one's own id) or remove someone.
#[utoipa::path(
    delete,
    path = "/clubs/{club_id}/members/{user_id}",
    operation_id = "remove_club_member",
    tag = "clubs",
    summary = "Leave a club (one's own id) or remove a member",
    params(
        ("club_id" = Uuid, Path, description = "The club"),
        ("user_id" = Uuid, Path, description = "The member (the caller's own id: leave)"),
    ),
    responses(
        (status = 200, description = "Gone from the club and its room", body = Written<ClubMemberRemoved>),
        (status = 403, description = "`not_allowed`: a member removing someone, a manager removing a manager", body = Problem),
        (status = 404, description = "`club_not_found` (also for non-members), `member_not_found`", body = Problem),
        (status = 409, description = "`owner_must_hand_over`: the owner hands the club over before leaving", body = Problem),
    ),
    security(("bearer" = [])),
)]
pub async fn remove(
    actor: Actor,
    Path((club_id, user_id)): Path<(Uuid, Uuid)>,
) -> Result<Written<ClubMemberRemoved>, ApiError> {
    let done = actor
        .commands
        .remove_club_member(club_id, actor.user_id, user_id)
        .await?;
    Ok(Written::ok(
        ClubMemberRemoved { removed: true },
        done.position,
    ))
}

/// `GET /clubs/{id}/members/{user_id}/stats`: games played, won, MVPs (members only).
#[utoipa::path(
    get,
    path = "/clubs/{club_id}/members/{user_id}/stats",
    operation_id = "club_member_stats",
    tag = "clubs",
    summary = "A member's record in the club's games (members only)",
    params(
        ("club_id" = Uuid, Path, description = "The club"),
        ("user_id" = Uuid, Path, description = "Anyone (zeros for someone who never played)"),
        Consistency,
    ),
    responses(
        (status = 200, description = "Games played, won, MVPs", body = MemberStats),
        (status = 404, description = "`club_not_found`: also for non-members", body = Problem),
    ),
    security(("bearer" = [])),
)]
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
