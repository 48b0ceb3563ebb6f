//! Read model of users: public profiles and standing (`users_view`), blocks, each user's
//! sessions (`user_sessions`) and the admins' actions (`admin_audit`).

use chrono::{DateTime, NaiveDate, Utc};
use domain::session::{Session, SessionEvent};
use domain::user::{PlatformRole, User, UserEvent};
use domain::Aggregate;
use moim_nats::EventEnvelope;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::decode::decode;
use crate::{ProjectionError, Simple, View};

/// The users view.
pub const VIEW: View = View::of(&Simple {
    name: "users",
    tables: &[
        "users_view",
        "user_blocks",
        "user_sessions",
        "admin_audit",
        "user_game_characters",
    ],
    apply_one: |tx, event| Box::pin(apply(tx, event)),
    reads: &[User::TYPE, Session::TYPE],
});

/// A user as others see them.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Profile {
    /// The user.
    pub user_id: Uuid,
    /// How others see them.
    pub display_name: String,
    /// When they signed up.
    pub registered_at: DateTime<Utc>,
    /// Their birthday, if they told it.
    pub birthday: Option<NaiveDate>,
    /// What they say about themself.
    pub bio: Option<String>,
}

async fn apply(tx: &mut PgConnection, event: &EventEnvelope) -> Result<(), ProjectionError> {
    if event.aggregate_type == Session::TYPE {
        return apply_session(tx, decode(event)?).await;
    }
    if event.aggregate_type != User::TYPE {
        return Ok(());
    }
    match decode(event)? {
        UserEvent::UserRegistered(e) => {
            sqlx::query(
                "INSERT INTO users_view (user_id, display_name, registered_at) VALUES ($1, $2, $3)
                 ON CONFLICT (user_id) DO NOTHING",
            )
            .bind(e.user_id)
            .bind(&e.display_name)
            .bind(e.registered_at)
            .execute(&mut *tx)
            .await?;
        }
        UserEvent::ProfileUpdated(e) => {
            sqlx::query(
                "UPDATE users_view SET display_name = $2, birthday = $3, bio = $4
                 WHERE user_id = $1",
            )
            .bind(e.user_id)
            .bind(&e.display_name)
            .bind(e.birthday)
            .bind(&e.bio)
            .execute(&mut *tx)
            .await?;
        }
        UserEvent::SessionsEnded(e) => {
            end_sessions(tx, e.user_id, e.generation, e.except, e.at).await?;
        }
        UserEvent::UserSuspended(e) => {
            end_sessions(tx, e.user_id, e.generation, None, e.at).await?;
            sqlx::query(
                "UPDATE users_view SET suspended = true, suspended_until = $2 WHERE user_id = $1",
            )
            .bind(e.user_id)
            .bind(e.until)
            .execute(&mut *tx)
            .await?;
            let audit = Audit {
                admin_id: Some(e.by),
                action: "suspend",
                user_id: e.user_id,
                reason: Some(&e.reason),
                until: e.until,
                at: e.at,
            };
            audit.record(tx, event).await?;
        }
        UserEvent::UserReinstated(e) => {
            sqlx::query(
                "UPDATE users_view SET suspended = false, suspended_until = NULL
                 WHERE user_id = $1",
            )
            .bind(e.user_id)
            .execute(&mut *tx)
            .await?;
            let audit = Audit {
                admin_id: Some(e.by),
                action: "reinstate",
                user_id: e.user_id,
                reason: None,
                until: None,
                at: e.at,
            };
            audit.record(tx, event).await?;
        }
        UserEvent::PlatformRoleChanged(e) => {
            let role = match e.role {
                PlatformRole::User => "user",
                PlatformRole::Admin => "admin",
            };
            sqlx::query("UPDATE users_view SET role = $2 WHERE user_id = $1")
                .bind(e.user_id)
                .bind(role)
                .execute(&mut *tx)
                .await?;
            // Granted by the operator's CLI: no admin acted, and the audit says so.
            let audit = Audit {
                admin_id: event
                    .metadata
                    .get("actor")
                    .and_then(|a| a.as_str())
                    .and_then(|a| a.parse().ok()),
                action: if e.role == PlatformRole::Admin {
                    "grant_admin"
                } else {
                    "revoke_admin"
                },
                user_id: e.user_id,
                reason: None,
                until: None,
                at: e.at,
            };
            audit.record(tx, event).await?;
        }
        UserEvent::UserBlocked(e) => {
            sqlx::query(
                "INSERT INTO user_blocks (user_id, blocked_id, blocked_at) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
            )
            .bind(e.user_id)
            .bind(e.blocked_id)
            .bind(e.at)
            .execute(&mut *tx)
            .await?;
        }
        UserEvent::UserUnblocked(e) => {
            sqlx::query("DELETE FROM user_blocks WHERE user_id = $1 AND blocked_id = $2")
                .bind(e.user_id)
                .bind(e.blocked_id)
                .execute(&mut *tx)
                .await?;
        }
        UserEvent::UserDeleted(e) => {
            sqlx::query(
                "UPDATE users_view SET display_name = $2, bio = NULL, birthday = NULL,
                        deleted = true
                 WHERE user_id = $1",
            )
            .bind(e.user_id)
            .bind(domain::personal::DELETED_NAME)
            .execute(&mut *tx)
            .await?;
            // Where and on what they signed in, and what they play, is theirs too.
            for table in ["user_sessions", "user_game_characters"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
                    .bind(e.user_id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        UserEvent::GameCharacterLinked(e) => {
            sqlx::query(
                "INSERT INTO user_game_characters
                     (user_id, game, character_id, character_name, linked_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (user_id, game) DO UPDATE
                 SET character_id = $3, character_name = $4, linked_at = $5",
            )
            .bind(e.user_id)
            .bind(&e.game)
            .bind(&e.character_id)
            .bind(&e.character_name)
            .bind(e.at)
            .execute(&mut *tx)
            .await?;
        }
        UserEvent::GameCharacterUnlinked(e) => {
            sqlx::query("DELETE FROM user_game_characters WHERE user_id = $1 AND game = $2")
                .bind(e.user_id)
                .bind(&e.game)
                .execute(&mut *tx)
                .await?;
        }
        UserEvent::UserCoupled(_)
        | UserEvent::UserUncoupled(_)
        | UserEvent::IdentityLinked(_)
        | UserEvent::IdentityUnlinked(_) => {}
    }
    Ok(())
}

async fn apply_session(tx: &mut PgConnection, event: SessionEvent) -> Result<(), ProjectionError> {
    match event {
        SessionEvent::SessionStarted(e) => {
            sqlx::query(
                "INSERT INTO user_sessions
                     (session_id, user_id, generation, created_at, last_used_at, user_agent, ip)
                 VALUES ($1, $2, $3, $4, $4, $5, $6) ON CONFLICT (session_id) DO NOTHING",
            )
            .bind(e.session_id)
            .bind(e.user_id)
            .bind(i64::try_from(e.generation).unwrap_or(i64::MAX))
            .bind(e.at)
            .bind(&e.user_agent)
            .bind(&e.ip)
            .execute(&mut *tx)
            .await?;
        }
        SessionEvent::SessionRefreshed(e) => {
            sqlx::query("UPDATE user_sessions SET last_used_at = $2 WHERE session_id = $1")
                .bind(e.session_id)
                .bind(e.at)
                .execute(&mut *tx)
                .await?;
        }
        SessionEvent::SessionEnded(e) => {
            sqlx::query(
                "UPDATE user_sessions SET ended_at = $2 WHERE session_id = $1 AND ended_at IS NULL",
            )
            .bind(e.session_id)
            .bind(e.at)
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}

/// Marks every session of `user_id` older than `generation` ended, `except` excepted.
async fn end_sessions(
    tx: &mut PgConnection,
    user_id: Uuid,
    generation: u64,
    except: Option<Uuid>,
    at: DateTime<Utc>,
) -> Result<(), ProjectionError> {
    sqlx::query(
        "UPDATE user_sessions SET ended_at = $4
         WHERE user_id = $1 AND generation < $2 AND session_id IS DISTINCT FROM $3
           AND ended_at IS NULL",
    )
    .bind(user_id)
    .bind(i64::try_from(generation).unwrap_or(i64::MAX))
    .bind(except)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// One admin action, as the audit lists it.
struct Audit<'a> {
    admin_id: Option<Uuid>,
    action: &'static str,
    user_id: Uuid,
    reason: Option<&'a str>,
    until: Option<DateTime<Utc>>,
    at: DateTime<Utc>,
}

impl Audit<'_> {
    async fn record(
        self,
        tx: &mut PgConnection,
        event: &EventEnvelope,
    ) -> Result<(), ProjectionError> {
        sqlx::query(
            "INSERT INTO admin_audit (event_id, at, admin_id, action, user_id, reason, until)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(event.event_id)
        .bind(self.at)
        .bind(self.admin_id)
        .bind(self.action)
        .bind(self.user_id)
        .bind(self.reason)
        .bind(self.until)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}

/// A live session of a user's.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    /// The session.
    pub session_id: Uuid,
    /// When it began.
    pub created_at: DateTime<Utc>,
    /// When its refresh token was last used.
    pub last_used_at: DateTime<Utc>,
    /// The client's `User-Agent` at sign-in.
    pub user_agent: Option<String>,
    /// The client's address at sign-in.
    pub ip: Option<String>,
}

/// Up to `limit` of `user_id`'s live sessions after `cursor` (a session id), newest first.
pub async fn live_sessions(
    pool: &PgPool,
    user_id: Uuid,
    cursor: Option<Uuid>,
    limit: i64,
) -> Result<Vec<SessionRow>, ProjectionError> {
    Ok(sqlx::query_as(
        "SELECT session_id, created_at, last_used_at, user_agent, ip FROM user_sessions
         WHERE user_id = $1 AND ended_at IS NULL AND ($2::uuid IS NULL OR session_id < $2)
         ORDER BY session_id DESC LIMIT $3",
    )
    .bind(user_id)
    .bind(cursor)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// A user as an admin sees them.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Account {
    /// The user.
    pub user_id: Uuid,
    /// Their e-mail (none for an account made through a social login, or deleted).
    pub email: Option<String>,
    /// How others see them.
    pub display_name: String,
    /// `user` or `admin`.
    #[schema(value_type = PlatformRole)]
    pub role: String,
    /// `active`, `suspended` or `deleted`.
    #[schema(value_type = AccountStatus)]
    pub status: String,
    /// When a suspension ends by itself.
    pub suspended_until: Option<DateTime<Utc>>,
    /// When they signed up.
    pub registered_at: DateTime<Utc>,
}

/// Where an account stands, as an admin sees it (the `status` of an [`Account`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// May sign in.
    Active,
    /// Suspended, until an admin reinstates them or the suspension ends by itself.
    Suspended,
    /// Deleted by its user.
    Deleted,
}

/// What an admin did (the `action` of an [`AuditEntry`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdminAction {
    /// Suspended a user.
    Suspend,
    /// Lifted a suspension.
    Reinstate,
    /// Made a user a platform admin.
    GrantAdmin,
    /// Made an admin a plain user again.
    RevokeAdmin,
}

/// Which accounts an admin lists.
#[derive(Debug, Clone, Default)]
pub struct AccountFilter {
    /// Part of an e-mail or a name (any script), case-insensitive.
    pub query: Option<String>,
    /// Only suspended (`Some(true)`) or only active ones.
    pub suspended: Option<bool>,
}

/// Up to `limit` accounts matching `filter` after `cursor` (a user id), newest first.
pub async fn accounts(
    pool: &PgPool,
    filter: &AccountFilter,
    cursor: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Account>, ProjectionError> {
    // The query is matched as text: its own `%`, `_` and `\` mean themselves.
    let pattern = filter.query.as_ref().map(|q| {
        let escaped = q
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    });
    Ok(sqlx::query_as(
        "SELECT u.user_id, c.email, u.display_name, u.role,
                CASE WHEN u.deleted THEN 'deleted' WHEN u.suspended THEN 'suspended'
                     ELSE 'active' END AS status,
                u.suspended_until, u.registered_at
         FROM users_view u LEFT JOIN credentials c ON c.user_id = u.user_id
         WHERE ($1::text IS NULL OR u.display_name ILIKE $1 OR c.email ILIKE $1)
           AND ($2::boolean IS NULL OR u.suspended = $2)
           AND ($3::uuid IS NULL OR u.user_id < $3)
         ORDER BY u.user_id DESC LIMIT $4",
    )
    .bind(pattern)
    .bind(filter.suspended)
    .bind(cursor)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// One admin action.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AuditEntry {
    /// The event that recorded it (also the list's cursor).
    pub event_id: Uuid,
    /// When.
    pub at: DateTime<Utc>,
    /// The admin (none: the operator's `moim admin` command).
    pub admin_id: Option<Uuid>,
    /// `suspend`, `reinstate`, `grant_admin`, `revoke_admin`.
    #[schema(value_type = AdminAction)]
    pub action: String,
    /// Whom it was done to.
    pub user_id: Uuid,
    /// Why, when the admin said.
    pub reason: Option<String>,
    /// Until when (a suspension's end).
    pub until: Option<DateTime<Utc>>,
}

/// Up to `limit` admin actions after `cursor` (an event id), newest first.
pub async fn audit(
    pool: &PgPool,
    cursor: Option<Uuid>,
    limit: i64,
) -> Result<Vec<AuditEntry>, ProjectionError> {
    Ok(sqlx::query_as(
        "SELECT event_id, at, admin_id, action, user_id, reason, until FROM admin_audit
         WHERE $1::uuid IS NULL
            OR (at, event_id) < (SELECT at, event_id FROM admin_audit WHERE event_id = $1)
         ORDER BY at DESC, event_id DESC LIMIT $2",
    )
    .bind(cursor)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// Someone a user blocks.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Blocked {
    /// Whom.
    pub user_id: Uuid,
    /// Since when.
    pub blocked_at: DateTime<Utc>,
}

/// Up to `limit` of the users `user_id` blocks, most recent first.
pub async fn blocks_of(
    pool: &PgPool,
    user_id: Uuid,
    limit: i64,
) -> Result<Vec<Blocked>, ProjectionError> {
    Ok(sqlx::query_as(
        "SELECT blocked_id AS user_id, blocked_at FROM user_blocks WHERE user_id = $1
         ORDER BY blocked_at DESC LIMIT $2",
    )
    .bind(user_id)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// A user's profile.
pub async fn profile(pool: &PgPool, user_id: Uuid) -> Result<Option<Profile>, ProjectionError> {
    Ok(sqlx::query_as(
        "SELECT user_id, display_name, registered_at, birthday, bio FROM users_view
         WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await?)
}

/// A character a user linked.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct LinkedCharacter {
    /// e.g. `maplestory`.
    pub game: String,
    /// The game's id for it.
    pub character_id: String,
    /// Its name when linked.
    pub character_name: String,
    /// When.
    pub linked_at: DateTime<Utc>,
}

/// The game characters `user_id` linked, by game.
pub async fn game_characters(
    pool: &PgPool,
    user_id: Uuid,
) -> Result<Vec<LinkedCharacter>, ProjectionError> {
    Ok(sqlx::query_as(
        "SELECT game, character_id, character_name, linked_at FROM user_game_characters
         WHERE user_id = $1 ORDER BY game",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?)
}
