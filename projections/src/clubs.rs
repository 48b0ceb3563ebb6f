//! Read model of clubs: their cards, members with roles, and requests waiting for approval.

use chrono::{DateTime, Utc};
use domain::club::{Club, ClubEvent, JoinPolicy};
use domain::Aggregate;
use moim_nats::EventEnvelope;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::decode::decode;
use crate::{ProjectionError, Simple, View, Window};

/// The clubs view.
pub const VIEW: View = View::of(&Simple {
    name: "clubs",
    tables: &["clubs", "club_members", "club_requests"],
    apply_one: |tx, event| Box::pin(apply(tx, event)),
    reads: &[Club::TYPE],
});

/// A club's card, which anyone signed in may read.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ClubCard {
    /// The club.
    pub club_id: Uuid,
    /// Its name.
    pub name: String,
    /// What it is about.
    pub description: String,
    /// `open` or `approval`.
    #[schema(value_type = domain::club::JoinPolicy)]
    pub join_policy: String,
    /// Its owner.
    pub owner_id: Uuid,
    /// How many members it has.
    pub member_count: i32,
    /// When it was founded.
    pub created_at: DateTime<Utc>,
}

/// A club member as listed.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ClubMember {
    /// The member.
    pub user_id: Uuid,
    /// Their name.
    pub display_name: String,
    /// `owner`, `manager` or `member`.
    #[schema(value_type = domain::club::ClubRole)]
    pub role: String,
    /// Since when.
    pub joined_at: DateTime<Utc>,
}

fn policy(p: JoinPolicy) -> &'static str {
    match p {
        JoinPolicy::Open => "open",
        JoinPolicy::Approval => "approval",
    }
}

async fn apply(tx: &mut PgConnection, event: &EventEnvelope) -> Result<(), ProjectionError> {
    if event.aggregate_type != Club::TYPE {
        return Ok(());
    }
    match decode(event)? {
        ClubEvent::ClubCreated(e) => {
            sqlx::query(
                "INSERT INTO clubs (club_id, name, description, join_policy, owner_id, room_id,
                                    member_count, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 1, $7) ON CONFLICT (club_id) DO NOTHING",
            )
            .bind(e.club_id)
            .bind(&e.name)
            .bind(&e.description)
            .bind(policy(e.join_policy))
            .bind(e.owner_id)
            .bind(e.room_id)
            .bind(e.created_at)
            .execute(&mut *tx)
            .await?;
            member(tx, e.club_id, e.owner_id, "owner", e.created_at).await?;
        }
        ClubEvent::ClubUpdated(e) => {
            sqlx::query(
                "UPDATE clubs SET name = $2, description = $3, join_policy = $4 WHERE club_id = $1",
            )
            .bind(e.club_id)
            .bind(&e.name)
            .bind(&e.description)
            .bind(policy(e.join_policy))
            .execute(&mut *tx)
            .await?;
        }
        ClubEvent::JoinRequested(e) => {
            sqlx::query(
                "INSERT INTO club_requests (club_id, user_id, requested_at) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
            )
            .bind(e.club_id)
            .bind(e.user_id)
            .bind(e.at)
            .execute(&mut *tx)
            .await?;
        }
        ClubEvent::JoinRejected(e) => {
            unrequest(tx, e.club_id, e.user_id).await?;
        }
        ClubEvent::ClubMemberJoined(e) => {
            unrequest(tx, e.club_id, e.user_id).await?;
            member(tx, e.club_id, e.user_id, e.role.as_str(), e.at).await?;
            count(tx, e.club_id).await?;
        }
        ClubEvent::ClubRoleChanged(e) => {
            sqlx::query("UPDATE club_members SET role = $3 WHERE club_id = $1 AND user_id = $2")
                .bind(e.club_id)
                .bind(e.user_id)
                .bind(e.role.as_str())
                .execute(&mut *tx)
                .await?;
            if e.role == domain::club::ClubRole::Owner {
                sqlx::query("UPDATE clubs SET owner_id = $2 WHERE club_id = $1")
                    .bind(e.club_id)
                    .bind(e.user_id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        ClubEvent::ClubMemberLeft(e) => {
            sqlx::query("DELETE FROM club_members WHERE club_id = $1 AND user_id = $2")
                .bind(e.club_id)
                .bind(e.user_id)
                .execute(&mut *tx)
                .await?;
            count(tx, e.club_id).await?;
        }
    }
    Ok(())
}

async fn member(
    tx: &mut PgConnection,
    club_id: Uuid,
    user_id: Uuid,
    role: &str,
    at: DateTime<Utc>,
) -> Result<(), ProjectionError> {
    sqlx::query(
        "INSERT INTO club_members (club_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (club_id, user_id) DO UPDATE SET role = $3",
    )
    .bind(club_id)
    .bind(user_id)
    .bind(role)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn unrequest(
    tx: &mut PgConnection,
    club_id: Uuid,
    user_id: Uuid,
) -> Result<(), ProjectionError> {
    sqlx::query("DELETE FROM club_requests WHERE club_id = $1 AND user_id = $2")
        .bind(club_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Recounts rather than adds, so applying an event twice cannot drift the count.
async fn count(tx: &mut PgConnection, club_id: Uuid) -> Result<(), ProjectionError> {
    sqlx::query(
        "UPDATE clubs SET member_count = (SELECT count(*) FROM club_members WHERE club_id = $1)
         WHERE club_id = $1",
    )
    .bind(club_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

const CARD: &str =
    "SELECT club_id, name, description, join_policy, owner_id, member_count, created_at FROM clubs";

/// A club's card.
pub async fn card(pool: &PgPool, club_id: Uuid) -> Result<Option<ClubCard>, ProjectionError> {
    Ok(sqlx::query_as(&format!("{CARD} WHERE club_id = $1"))
        .bind(club_id)
        .fetch_optional(pool)
        .await?)
}

/// Clubs whose name holds `query` (any case, Korean as typed), by name then id, after the
/// club `after` (the last of the previous page).
pub async fn search(
    pool: &PgPool,
    query: &str,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ClubCard>, ProjectionError> {
    Ok(sqlx::query_as(&format!(
        "{CARD} WHERE strpos(lower(name), lower($1)) > 0
           AND ($2::uuid IS NULL OR (lower(name), club_id) >
                (SELECT lower(name), club_id FROM clubs WHERE club_id = $2))
         ORDER BY lower(name), club_id LIMIT $3"
    ))
    .bind(query)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// A member's role in a club, as the view has it.
pub async fn role(
    pool: &PgPool,
    club_id: Uuid,
    user_id: Uuid,
) -> Result<Option<String>, ProjectionError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT role FROM club_members WHERE club_id = $1 AND user_id = $2")
            .bind(club_id)
            .bind(user_id)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(r,)| r))
}

/// Which members a list shows.
#[derive(Debug, Clone, Default)]
pub struct MemberFilter {
    /// Part of the name.
    pub query: Option<String>,
    /// One role.
    pub role: Option<String>,
}

/// A club's members matching `filter`, oldest first, and how many match in all.
pub async fn members(
    pool: &PgPool,
    club_id: Uuid,
    filter: &MemberFilter,
    window: Window,
    limit: i64,
) -> Result<(Vec<ClubMember>, i64), ProjectionError> {
    const WHERE: &str = "m.club_id = $1
           AND ($2::text IS NULL OR strpos(lower(u.display_name), lower($2)) > 0)
           AND ($3::text IS NULL OR m.role = $3)";
    let (after, offset) = window.bounds();
    let rows: Vec<ClubMember> = sqlx::query_as(&format!(
        "SELECT m.user_id, u.display_name, m.role, m.joined_at
         FROM club_members m JOIN users_view u ON u.user_id = m.user_id
         WHERE {WHERE} AND ($4::uuid IS NULL OR (m.joined_at, m.user_id) >
               (SELECT joined_at, user_id FROM club_members WHERE club_id = $1 AND user_id = $4))
         ORDER BY m.joined_at, m.user_id OFFSET $5 LIMIT $6"
    ))
    .bind(club_id)
    .bind(&filter.query)
    .bind(&filter.role)
    .bind(after)
    .bind(offset)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let (total,): (i64,) = sqlx::query_as(&format!(
        "SELECT count(*) FROM club_members m JOIN users_view u ON u.user_id = m.user_id
         WHERE {WHERE}"
    ))
    .bind(club_id)
    .bind(&filter.query)
    .bind(&filter.role)
    .fetch_one(pool)
    .await?;
    Ok((rows, total))
}

/// Requests waiting in a club, oldest first.
pub async fn requests(
    pool: &PgPool,
    club_id: Uuid,
    limit: i64,
) -> Result<Vec<(Uuid, DateTime<Utc>)>, ProjectionError> {
    Ok(sqlx::query_as(
        "SELECT user_id, requested_at FROM club_requests WHERE club_id = $1
         ORDER BY requested_at, user_id LIMIT $2",
    )
    .bind(club_id)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}
