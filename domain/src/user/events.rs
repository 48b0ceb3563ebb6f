//! What happens to a user.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::aggregate::DomainEvent;

/// Events of a [`User`](crate::user::User).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum UserEvent {
    /// The user signed up.
    UserRegistered(UserRegistered),
    /// The user became half of a couple.
    UserCoupled(UserCoupled),
    /// The user blocked someone.
    UserBlocked(UserBlocked),
    /// The user lifted a block.
    UserUnblocked(UserUnblocked),
    /// The user's couple was dissolved; they may match again.
    UserUncoupled(UserUncoupled),
    /// The user changed their profile.
    ProfileUpdated(ProfileUpdated),
    /// The user's platform role changed.
    PlatformRoleChanged(PlatformRoleChanged),
    /// Every session the user had began before this, but one, ended.
    SessionsEnded(SessionsEnded),
    /// An admin suspended the user: their sessions ended, and they cannot sign in.
    UserSuspended(UserSuspended),
    /// An admin lifted the user's suspension.
    UserReinstated(UserReinstated),
    /// The user linked a social login.
    IdentityLinked(IdentityLinked),
    /// The user unlinked a social login.
    IdentityUnlinked(IdentityUnlinked),
    /// The user linked a character of an outside game to their profile.
    GameCharacterLinked(GameCharacterLinked),
    /// The user unlinked a game's character.
    GameCharacterUnlinked(GameCharacterUnlinked),
    /// The user deleted their account: every session ended, and their personal data's key
    /// destroyed beside the stream.
    UserDeleted(UserDeleted),
}

/// Payload of [`UserEvent::UserDeleted`]; it ends every session of an older generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserDeleted {
    /// The user.
    pub user_id: Uuid,
    /// The user's session generation from now on.
    pub generation: u64,
    /// When.
    pub at: DateTime<Utc>,
}

/// Why all of a user's sessions ended at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionsEndReason {
    /// The user logged out everywhere.
    LogoutAll,
    /// The user changed their password (the session they changed it from stays).
    PasswordChanged,
}

/// Payload of [`UserEvent::SessionsEnded`]: sessions of an older generation than `generation`
/// have ended, `except` excepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionsEnded {
    /// The user.
    pub user_id: Uuid,
    /// The user's session generation from now on.
    pub generation: u64,
    /// The session that stays.
    pub except: Option<Uuid>,
    /// Why.
    pub reason: SessionsEndReason,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`UserEvent::UserSuspended`]; it ends every session of an older generation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserSuspended {
    /// The user.
    pub user_id: Uuid,
    /// The admin.
    pub by: Uuid,
    /// Why, in the admin's words.
    pub reason: String,
    /// When it ends by itself (none: when an admin reinstates them).
    pub until: Option<DateTime<Utc>>,
    /// The user's session generation from now on.
    pub generation: u64,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`UserEvent::UserReinstated`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserReinstated {
    /// The user.
    pub user_id: Uuid,
    /// The admin.
    pub by: Uuid,
    /// When.
    pub at: DateTime<Utc>,
}

/// What a user may do across Moim, beyond what their clubs and rooms give them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlatformRole {
    /// Everyone.
    #[default]
    User,
    /// Moderates what belongs to no club: the community board.
    Admin,
}

/// Payload of [`UserEvent::PlatformRoleChanged`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlatformRoleChanged {
    /// The user.
    pub user_id: Uuid,
    /// Their role from now on.
    pub role: PlatformRole,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`UserEvent::UserUncoupled`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserUncoupled {
    /// The user.
    pub user_id: Uuid,
    /// The couple that ended.
    pub couple_id: Uuid,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`UserEvent::ProfileUpdated`]: the profile as it now is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProfileUpdated {
    /// The user.
    pub user_id: Uuid,
    /// How others see them.
    pub display_name: String,
    /// Their birthday, if they told it.
    pub birthday: Option<NaiveDate>,
    /// What they say about themself (absent in events from before bios).
    #[serde(default)]
    pub bio: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`UserEvent::UserBlocked`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserBlocked {
    /// Who blocks.
    pub user_id: Uuid,
    /// Whom.
    pub blocked_id: Uuid,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`UserEvent::UserUnblocked`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserUnblocked {
    /// Who lifts the block.
    pub user_id: Uuid,
    /// Whom.
    pub blocked_id: Uuid,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`UserEvent::UserRegistered`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserRegistered {
    /// The user.
    pub user_id: Uuid,
    /// How others see them.
    pub display_name: String,
    /// Whether they signed up with a password (else with a social login, linked next).
    #[serde(default = "signed_up_with_password")]
    pub password: bool,
    /// When.
    pub registered_at: DateTime<Utc>,
}

/// Every user registered before social logins signed up with a password.
fn signed_up_with_password() -> bool {
    true
}

/// Payload of [`UserEvent::IdentityLinked`]: the user may sign in through `provider` as
/// `subject` (the provider's id for them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IdentityLinked {
    /// The user.
    pub user_id: Uuid,
    /// e.g. `kakao`, `naver`.
    pub provider: String,
    /// The provider's id for the user.
    pub subject: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`UserEvent::IdentityUnlinked`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IdentityUnlinked {
    /// The user.
    pub user_id: Uuid,
    /// The provider no longer linked.
    pub provider: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`UserEvent::GameCharacterLinked`]: what the game calls the character, found
/// by the connector before the command (never inside its transaction).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GameCharacterLinked {
    /// The user.
    pub user_id: Uuid,
    /// e.g. `maplestory`.
    pub game: String,
    /// The game's id for the character.
    pub character_id: String,
    /// Its name.
    pub character_name: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`UserEvent::GameCharacterUnlinked`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GameCharacterUnlinked {
    /// The user.
    pub user_id: Uuid,
    /// The game.
    pub game: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// Payload of [`UserEvent::UserCoupled`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserCoupled {
    /// The user.
    pub user_id: Uuid,
    /// The couple.
    pub couple_id: Uuid,
    /// The other half.
    pub partner_id: Uuid,
    /// When they matched.
    pub since: DateTime<Utc>,
}

impl DomainEvent for UserEvent {
    fn event_type(&self) -> &'static str {
        match self {
            Self::UserRegistered(_) => "UserRegistered",
            Self::UserCoupled(_) => "UserCoupled",
            Self::UserBlocked(_) => "UserBlocked",
            Self::UserUnblocked(_) => "UserUnblocked",
            Self::UserUncoupled(_) => "UserUncoupled",
            Self::ProfileUpdated(_) => "ProfileUpdated",
            Self::PlatformRoleChanged(_) => "PlatformRoleChanged",
            Self::SessionsEnded(_) => "SessionsEnded",
            Self::UserSuspended(_) => "UserSuspended",
            Self::UserReinstated(_) => "UserReinstated",
            Self::IdentityLinked(_) => "IdentityLinked",
            Self::IdentityUnlinked(_) => "IdentityUnlinked",
            Self::GameCharacterLinked(_) => "GameCharacterLinked",
            Self::GameCharacterUnlinked(_) => "GameCharacterUnlinked",
            Self::UserDeleted(_) => "UserDeleted",
        }
    }

    fn event_version(&self) -> &'static str {
        "1"
    }
}
