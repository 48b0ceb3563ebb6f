//! The user aggregate; it guards "a user is in at most one couple".

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use crate::aggregate::Aggregate;
use crate::error::{ErrorKind, Rejection};
use crate::services::Services;
use std::collections::BTreeSet;

use crate::user::{
    GameCharacterLinked, GameCharacterUnlinked, IdentityLinked, IdentityUnlinked, PlatformRole,
    PlatformRoleChanged, ProfileUpdated, SessionsEnded, UserBlocked, UserCommand, UserCoupled,
    UserDeleted, UserEvent, UserRegistered, UserReinstated, UserSuspended, UserUnblocked,
    UserUncoupled,
};

/// A user's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct User {
    user_id: Option<Uuid>,
    couple: Option<(Uuid, Uuid, DateTime<Utc>)>,
    #[serde(default)]
    blocked: BTreeSet<Uuid>,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    birthday: Option<NaiveDate>,
    #[serde(default)]
    role: PlatformRole,
    #[serde(default)]
    bio: Option<String>,
    /// Sessions begun in an older generation have ended (all but `spared`).
    #[serde(default)]
    session_generation: u64,
    #[serde(default)]
    spared: Option<Uuid>,
    #[serde(default)]
    suspension: Option<Suspension>,
    /// Linked social logins: provider → the provider's id for the user.
    #[serde(default)]
    identities: std::collections::BTreeMap<String, String>,
    /// Whether the user can sign in with a password (absent in snapshots from before social
    /// logins, when everyone could).
    #[serde(default = "has_password")]
    password: bool,
    #[serde(default)]
    deleted: bool,
    /// Linked game characters: game → (the game's id, name).
    #[serde(default)]
    game_characters: std::collections::BTreeMap<String, (String, String)>,
}

fn has_password() -> bool {
    true
}

/// A suspension in force (or that ends by itself at `until`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suspension {
    /// When it ends by itself (none: when an admin reinstates the user).
    pub until: Option<DateTime<Utc>>,
    /// Why.
    pub reason: String,
}

/// Why a user command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UserError {
    /// No such user.
    #[error("user not found")]
    NotFound,
    /// The id is taken.
    #[error("user already registered")]
    AlreadyRegistered,
    /// A user is in at most one couple.
    #[error("already in a couple")]
    AlreadyCoupled,
    /// Nobody couples with themself.
    #[error("cannot couple with yourself")]
    SelfCouple,
    /// Nobody blocks themself.
    #[error("cannot block yourself")]
    SelfBlock,
    /// An admin cannot suspend themself (nor lock out the last way to undo it).
    #[error("cannot suspend yourself")]
    SelfSuspend,
    /// A provider is linked once.
    #[error("a login with this provider is linked already")]
    IdentityLinked,
    /// Nothing to unlink.
    #[error("no login with this provider is linked")]
    NoSuchIdentity,
    /// No character of that game is linked.
    #[error("no character of this game is linked")]
    NoSuchCharacter,
    /// Unlinking would leave no way to sign in.
    #[error("this is your last way to sign in")]
    LastSignIn,
}

impl Rejection for UserError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::NotFound => ErrorKind::NotFound,
            Self::AlreadyRegistered
            | Self::AlreadyCoupled
            | Self::IdentityLinked
            | Self::LastSignIn => ErrorKind::Conflict,
            Self::NoSuchIdentity | Self::NoSuchCharacter => ErrorKind::NotFound,
            Self::SelfCouple | Self::SelfBlock | Self::SelfSuspend => ErrorKind::Invalid,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "user_not_found",
            Self::AlreadyRegistered => "user_exists",
            Self::AlreadyCoupled => "already_coupled",
            Self::SelfCouple => "self_match",
            Self::SelfBlock => "self_block",
            Self::SelfSuspend => "self_suspend",
            Self::IdentityLinked => "identity_linked",
            Self::NoSuchIdentity => "identity_not_found",
            Self::NoSuchCharacter => "character_not_linked",
            Self::LastSignIn => "last_sign_in_method",
        }
    }
}

impl User {
    /// Whether the user exists (a deleted account does not).
    pub fn exists(&self) -> bool {
        self.user_id.is_some() && !self.deleted
    }

    /// The user's couple as `(couple_id, partner_id, since)`, if any.
    pub fn couple(&self) -> Option<(Uuid, Uuid, DateTime<Utc>)> {
        self.couple
    }

    /// How others see them.
    pub fn display_name(&self) -> &str {
        &self.display_name
    }

    /// Their birthday, if they told it.
    pub fn birthday(&self) -> Option<NaiveDate> {
        self.birthday
    }

    /// Whether the user is a platform admin.
    pub fn is_admin(&self) -> bool {
        self.role == PlatformRole::Admin
    }

    /// The user's id, unless there is no such user or the account was deleted.
    fn live_id(&self) -> Result<Uuid, UserError> {
        self.user_id
            .filter(|_| !self.deleted)
            .ok_or(UserError::NotFound)
    }

    /// The game's id of the character they linked in `game`.
    pub fn game_character(&self, game: &str) -> Option<&str> {
        self.game_characters.get(game).map(|(id, _)| id.as_str())
    }

    /// The providers they may sign in through.
    pub fn identities(&self) -> impl Iterator<Item = &str> {
        self.identities.keys().map(String::as_str)
    }

    /// What they say about themself.
    pub fn bio(&self) -> Option<&str> {
        self.bio.as_deref()
    }

    /// The suspension in force at `now`, if any.
    pub fn suspended_at(&self, now: DateTime<Utc>) -> Option<&Suspension> {
        self.suspension
            .as_ref()
            .filter(|s| s.until.is_none_or(|until| until > now))
    }

    /// The generation a session begun now belongs to.
    pub fn session_generation(&self) -> u64 {
        self.session_generation
    }

    /// Whether a session of `generation` has been ended by an end-all (a suspension, a logout
    /// everywhere, a new password).
    pub fn ended_session(&self, session_id: Uuid, generation: u64) -> bool {
        generation < self.session_generation && self.spared != Some(session_id)
    }

    /// Whether the user blocks `other`.
    pub fn blocks(&self, other: Uuid) -> bool {
        self.blocked.contains(&other)
    }
}

impl Aggregate for User {
    const TYPE: &'static str = "user";
    // Blocks make a user's stream as long as its owner likes; loading must not grow with it.
    const SNAPSHOT_EVERY: Option<u64> = Some(50);
    type Command = UserCommand;
    type Event = UserEvent;
    type Error = UserError;

    fn handle(
        &self,
        command: UserCommand,
        services: &dyn Services,
    ) -> Result<Vec<UserEvent>, UserError> {
        match command {
            UserCommand::Register {
                user_id,
                display_name,
            } => {
                if self.user_id.is_some() {
                    return Err(UserError::AlreadyRegistered);
                }
                Ok(vec![UserEvent::UserRegistered(UserRegistered {
                    user_id,
                    display_name: display_name.as_str().to_owned(),
                    password: true,
                    registered_at: services.now(),
                })])
            }
            UserCommand::RegisterWithIdentity {
                user_id,
                display_name,
                provider,
                subject,
            } => {
                if self.user_id.is_some() {
                    return Err(UserError::AlreadyRegistered);
                }
                let at = services.now();
                Ok(vec![
                    UserEvent::UserRegistered(UserRegistered {
                        user_id,
                        display_name: display_name.as_str().to_owned(),
                        password: false,
                        registered_at: at,
                    }),
                    UserEvent::IdentityLinked(IdentityLinked {
                        user_id,
                        provider,
                        subject,
                        at,
                    }),
                ])
            }
            UserCommand::LinkIdentity { provider, subject } => {
                let user_id = self.live_id()?;
                match self.identities.get(&provider) {
                    Some(linked) if *linked == subject => Ok(vec![]),
                    Some(_) => Err(UserError::IdentityLinked),
                    None => Ok(vec![UserEvent::IdentityLinked(IdentityLinked {
                        user_id,
                        provider,
                        subject,
                        at: services.now(),
                    })]),
                }
            }
            UserCommand::Delete => {
                let user_id = self.live_id()?;
                Ok(vec![UserEvent::UserDeleted(UserDeleted {
                    user_id,
                    generation: self.session_generation + 1,
                    at: services.now(),
                })])
            }
            UserCommand::LinkGameCharacter {
                game,
                character_id,
                character_name,
            } => {
                let user_id = self.live_id()?;
                let same = (character_id.clone(), character_name.clone());
                if self.game_characters.get(&game) == Some(&same) {
                    return Ok(vec![]);
                }
                Ok(vec![UserEvent::GameCharacterLinked(GameCharacterLinked {
                    user_id,
                    game,
                    character_id,
                    character_name,
                    at: services.now(),
                })])
            }
            UserCommand::UnlinkGameCharacter { game } => {
                let user_id = self.live_id()?;
                if !self.game_characters.contains_key(&game) {
                    return Err(UserError::NoSuchCharacter);
                }
                Ok(vec![UserEvent::GameCharacterUnlinked(
                    GameCharacterUnlinked {
                        user_id,
                        game,
                        at: services.now(),
                    },
                )])
            }
            UserCommand::UnlinkIdentity { provider } => {
                let user_id = self.live_id()?;
                if !self.identities.contains_key(&provider) {
                    return Err(UserError::NoSuchIdentity);
                }
                if !self.password && self.identities.len() == 1 {
                    return Err(UserError::LastSignIn);
                }
                Ok(vec![UserEvent::IdentityUnlinked(IdentityUnlinked {
                    user_id,
                    provider,
                    at: services.now(),
                })])
            }
            UserCommand::CoupleWith {
                couple_id,
                partner_id,
                since,
            } => {
                let user_id = self.live_id()?;
                if partner_id == user_id {
                    return Err(UserError::SelfCouple);
                }
                if self.couple.is_some() {
                    return Err(UserError::AlreadyCoupled);
                }
                Ok(vec![UserEvent::UserCoupled(UserCoupled {
                    user_id,
                    couple_id,
                    partner_id,
                    since,
                })])
            }
            UserCommand::Uncouple { couple_id } => {
                // A deleted account may still be let out of its couple by the partner.
                let user_id = self.user_id.ok_or(UserError::NotFound)?;
                if self.couple.map(|c| c.0) != Some(couple_id) {
                    return Ok(vec![]);
                }
                Ok(vec![UserEvent::UserUncoupled(UserUncoupled {
                    user_id,
                    couple_id,
                    at: services.now(),
                })])
            }
            UserCommand::UpdateProfile {
                display_name,
                birthday,
                bio,
            } => {
                let user_id = self.live_id()?;
                let display_name = display_name
                    .map_or_else(|| self.display_name.clone(), |n| n.as_str().to_owned());
                let birthday = birthday.unwrap_or(self.birthday);
                let bio =
                    bio.map_or_else(|| self.bio.clone(), |b| b.map(|b| b.as_str().to_owned()));
                if display_name == self.display_name && birthday == self.birthday && bio == self.bio
                {
                    return Ok(vec![]);
                }
                Ok(vec![UserEvent::ProfileUpdated(ProfileUpdated {
                    user_id,
                    display_name,
                    birthday,
                    bio,
                    at: services.now(),
                })])
            }
            UserCommand::EndSessions { except, reason } => {
                let user_id = self.live_id()?;
                Ok(vec![UserEvent::SessionsEnded(SessionsEnded {
                    user_id,
                    generation: self.session_generation + 1,
                    except,
                    reason,
                    at: services.now(),
                })])
            }
            UserCommand::Suspend { by, reason, until } => {
                let user_id = self.live_id()?;
                if by == user_id {
                    return Err(UserError::SelfSuspend);
                }
                Ok(vec![UserEvent::UserSuspended(UserSuspended {
                    user_id,
                    by,
                    reason: reason.as_str().to_owned(),
                    until,
                    generation: self.session_generation + 1,
                    at: services.now(),
                })])
            }
            UserCommand::Reinstate { by } => {
                let user_id = self.live_id()?;
                if self.suspension.is_none() {
                    return Ok(vec![]);
                }
                Ok(vec![UserEvent::UserReinstated(UserReinstated {
                    user_id,
                    by,
                    at: services.now(),
                })])
            }
            UserCommand::Block { blocked_id } => {
                let user_id = self.live_id()?;
                if blocked_id == user_id {
                    return Err(UserError::SelfBlock);
                }
                if self.blocks(blocked_id) {
                    return Ok(vec![]);
                }
                Ok(vec![UserEvent::UserBlocked(UserBlocked {
                    user_id,
                    blocked_id,
                    at: services.now(),
                })])
            }
            UserCommand::SetPlatformRole { role } => {
                let user_id = self.live_id()?;
                if self.role == role {
                    return Ok(vec![]);
                }
                Ok(vec![UserEvent::PlatformRoleChanged(PlatformRoleChanged {
                    user_id,
                    role,
                    at: services.now(),
                })])
            }
            UserCommand::Unblock { blocked_id } => {
                let user_id = self.live_id()?;
                if !self.blocks(blocked_id) {
                    return Ok(vec![]);
                }
                Ok(vec![UserEvent::UserUnblocked(UserUnblocked {
                    user_id,
                    blocked_id,
                    at: services.now(),
                })])
            }
        }
    }

    fn apply(&mut self, event: UserEvent) {
        match event {
            UserEvent::UserRegistered(e) => {
                self.user_id = Some(e.user_id);
                self.display_name = e.display_name;
                self.password = e.password;
            }
            UserEvent::IdentityLinked(e) => {
                self.identities.insert(e.provider, e.subject);
            }
            UserEvent::IdentityUnlinked(e) => {
                self.identities.remove(&e.provider);
            }
            UserEvent::GameCharacterLinked(e) => {
                self.game_characters
                    .insert(e.game, (e.character_id, e.character_name));
            }
            UserEvent::GameCharacterUnlinked(e) => {
                self.game_characters.remove(&e.game);
            }
            UserEvent::UserDeleted(e) => {
                self.deleted = true;
                self.session_generation = e.generation;
                self.spared = None;
                self.display_name = crate::personal::DELETED_NAME.into();
                self.bio = None;
                self.birthday = None;
                self.identities.clear();
                self.game_characters.clear();
            }
            UserEvent::UserUncoupled(_) => self.couple = None,
            UserEvent::ProfileUpdated(e) => {
                self.display_name = e.display_name;
                self.birthday = e.birthday;
                self.bio = e.bio;
            }
            UserEvent::SessionsEnded(e) => {
                self.session_generation = e.generation;
                self.spared = e.except;
            }
            UserEvent::UserSuspended(e) => {
                self.session_generation = e.generation;
                self.spared = None;
                self.suspension = Some(Suspension {
                    until: e.until,
                    reason: e.reason,
                });
            }
            UserEvent::UserReinstated(_) => self.suspension = None,
            UserEvent::UserCoupled(e) => self.couple = Some((e.couple_id, e.partner_id, e.since)),
            UserEvent::UserBlocked(e) => {
                self.blocked.insert(e.blocked_id);
            }
            UserEvent::UserUnblocked(e) => {
                self.blocked.remove(&e.blocked_id);
            }
            UserEvent::PlatformRoleChanged(e) => self.role = e.role,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{given, FixedServices};
    use crate::values::DisplayName;

    const KIM: Uuid = Uuid::from_u128(1);
    const LEE: Uuid = Uuid::from_u128(2);
    const PARK: Uuid = Uuid::from_u128(3);
    const COUPLE: Uuid = Uuid::from_u128(50);

    fn registered(id: Uuid) -> UserEvent {
        UserEvent::UserRegistered(UserRegistered {
            user_id: id,
            display_name: "Kim".into(),
            password: true,
            registered_at: FixedServices::new().now,
        })
    }

    fn couple_with(partner: Uuid) -> UserCommand {
        UserCommand::CoupleWith {
            couple_id: COUPLE,
            partner_id: partner,
            since: FixedServices::new().now,
        }
    }

    #[test]
    fn registers_once() {
        let register = || UserCommand::Register {
            user_id: KIM,
            display_name: DisplayName::parse("Kim").unwrap(),
        };
        given::<User>([])
            .when(register())
            .then_expect_events(vec![registered(KIM)]);
        given::<User>([registered(KIM)])
            .when(register())
            .then_expect_error("user_exists");
    }

    #[test]
    fn a_user_couples_once() {
        let coupled = UserEvent::UserCoupled(UserCoupled {
            user_id: KIM,
            couple_id: COUPLE,
            partner_id: LEE,
            since: FixedServices::new().now,
        });
        let user = given::<User>([registered(KIM)])
            .when(couple_with(LEE))
            .then_expect_events(vec![coupled.clone()]);
        assert_eq!(user.couple().map(|c| c.1), Some(LEE));
        given::<User>([registered(KIM), coupled])
            .when(couple_with(PARK))
            .then_expect_error("already_coupled");
    }

    #[test]
    fn nobody_couples_with_themself_or_before_registering() {
        given::<User>([registered(KIM)])
            .when(couple_with(KIM))
            .then_expect_error("self_match");
        given::<User>([])
            .when(couple_with(LEE))
            .then_expect_error("user_not_found");
    }

    fn blocked(blocked_id: Uuid) -> UserEvent {
        UserEvent::UserBlocked(UserBlocked {
            user_id: KIM,
            blocked_id,
            at: FixedServices::new().now,
        })
    }

    #[test]
    fn a_block_holds_until_lifted_and_repeating_either_changes_nothing() {
        let kim = given::<User>([registered(KIM)])
            .when(UserCommand::Block { blocked_id: LEE })
            .then_expect_events(vec![blocked(LEE)]);
        assert!(kim.blocks(LEE));
        assert!(!kim.blocks(PARK));
        given::<User>([registered(KIM), blocked(LEE)])
            .when(UserCommand::Block { blocked_id: LEE })
            .then_expect_events(vec![]);
        let kim = given::<User>([registered(KIM), blocked(LEE)])
            .when(UserCommand::Unblock { blocked_id: LEE })
            .then_expect_events(vec![UserEvent::UserUnblocked(UserUnblocked {
                user_id: KIM,
                blocked_id: LEE,
                at: FixedServices::new().now,
            })]);
        assert!(!kim.blocks(LEE));
        given::<User>([registered(KIM)])
            .when(UserCommand::Unblock { blocked_id: LEE })
            .then_expect_events(vec![]);
    }

    #[test]
    fn nobody_blocks_themself_or_before_registering() {
        given::<User>([registered(KIM)])
            .when(UserCommand::Block { blocked_id: KIM })
            .then_expect_error("self_block");
        given::<User>([])
            .when(UserCommand::Block { blocked_id: LEE })
            .then_expect_error("user_not_found");
    }

    #[test]
    fn an_uncoupled_user_may_couple_again_and_a_stale_uncouple_changes_nothing() {
        let now = FixedServices::new().now;
        let coupled = UserEvent::UserCoupled(UserCoupled {
            user_id: KIM,
            couple_id: COUPLE,
            partner_id: LEE,
            since: now,
        });
        let uncoupled = UserEvent::UserUncoupled(UserUncoupled {
            user_id: KIM,
            couple_id: COUPLE,
            at: now,
        });
        given::<User>([registered(KIM), coupled.clone()])
            .when(UserCommand::Uncouple { couple_id: COUPLE })
            .then_expect_events(vec![uncoupled.clone()]);
        given::<User>([registered(KIM), coupled.clone(), uncoupled.clone()])
            .when(UserCommand::Uncouple { couple_id: COUPLE })
            .then_expect_events(vec![]);
        let kim = given::<User>([registered(KIM), coupled, uncoupled])
            .when(UserCommand::CoupleWith {
                couple_id: Uuid::from_u128(51),
                partner_id: PARK,
                since: now,
            })
            .then_expect_events(vec![UserEvent::UserCoupled(UserCoupled {
                user_id: KIM,
                couple_id: Uuid::from_u128(51),
                partner_id: PARK,
                since: now,
            })]);
        assert_eq!(kim.couple().map(|c| c.1), Some(PARK));
    }

    #[test]
    fn a_profile_keeps_what_is_not_changed() {
        let birthday = chrono::NaiveDate::from_ymd_opt(2000, 2, 29);
        let kim = given::<User>([registered(KIM)])
            .when(UserCommand::UpdateProfile {
                display_name: None,
                birthday: Some(birthday),
                bio: None,
            })
            .then_expect_events(vec![UserEvent::ProfileUpdated(ProfileUpdated {
                user_id: KIM,
                display_name: "Kim".into(),
                birthday,
                bio: None,
                at: FixedServices::new().now,
            })]);
        assert_eq!(kim.birthday(), birthday);
        given::<User>([registered(KIM)])
            .when(UserCommand::UpdateProfile {
                display_name: Some(DisplayName::parse("Kim").unwrap()),
                birthday: None,
                bio: None,
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn an_admin_is_made_once_and_only_of_a_registered_user() {
        let admin = UserCommand::SetPlatformRole {
            role: PlatformRole::Admin,
        };
        let made = UserEvent::PlatformRoleChanged(PlatformRoleChanged {
            user_id: KIM,
            role: PlatformRole::Admin,
            at: FixedServices::new().now,
        });
        let kim = given::<User>([registered(KIM)])
            .when(admin.clone())
            .then_expect_events(vec![made.clone()]);
        assert!(kim.is_admin());
        given::<User>([registered(KIM), made])
            .when(admin.clone())
            .then_expect_events(vec![]);
        given::<User>([])
            .when(admin)
            .then_expect_error("user_not_found");
    }

    fn suspended(until: Option<DateTime<Utc>>) -> UserEvent {
        UserEvent::UserSuspended(UserSuspended {
            user_id: KIM,
            by: LEE,
            reason: "spam".into(),
            until,
            generation: 1,
            at: FixedServices::new().now,
        })
    }

    #[test]
    fn a_suspension_ends_every_session_and_holds_until_it_ends_or_is_lifted() {
        let now = FixedServices::new().now;
        let reason = crate::values::Reason::parse("spam").unwrap();
        let kim = given::<User>([registered(KIM)])
            .when(UserCommand::Suspend {
                by: LEE,
                reason: reason.clone(),
                until: None,
            })
            .then_expect_events(vec![suspended(None)]);
        assert!(kim.suspended_at(now).is_some());
        assert!(kim.ended_session(Uuid::from_u128(9), 0));
        assert!(!kim.ended_session(Uuid::from_u128(9), 1));
        let until = now + chrono::Duration::hours(1);
        let kim = given::<User>([registered(KIM), suspended(Some(until))])
            .when(UserCommand::Reinstate { by: LEE })
            .then_expect_events(vec![UserEvent::UserReinstated(UserReinstated {
                user_id: KIM,
                by: LEE,
                at: now,
            })]);
        assert!(kim.suspended_at(now).is_none());
        let lapsed = given::<User>([registered(KIM), suspended(Some(until))])
            .when(UserCommand::Reinstate { by: LEE })
            .then_expect_events(vec![UserEvent::UserReinstated(UserReinstated {
                user_id: KIM,
                by: LEE,
                at: now,
            })]);
        assert!(lapsed.suspended_at(until).is_none());
        given::<User>([registered(KIM)])
            .when(UserCommand::Reinstate { by: LEE })
            .then_expect_events(vec![]);
        given::<User>([registered(KIM)])
            .when(UserCommand::Suspend {
                by: KIM,
                reason,
                until: None,
            })
            .then_expect_error("self_suspend");
    }

    #[test]
    fn ending_sessions_spares_only_the_one_named_and_only_until_the_next_end() {
        let spared = Uuid::from_u128(7);
        let ended = |generation, except| {
            UserEvent::SessionsEnded(SessionsEnded {
                user_id: KIM,
                generation,
                except,
                reason: crate::user::SessionsEndReason::PasswordChanged,
                at: FixedServices::new().now,
            })
        };
        let kim = given::<User>([registered(KIM)])
            .when(UserCommand::EndSessions {
                except: Some(spared),
                reason: crate::user::SessionsEndReason::PasswordChanged,
            })
            .then_expect_events(vec![ended(1, Some(spared))]);
        assert!(!kim.ended_session(spared, 0));
        assert!(kim.ended_session(Uuid::from_u128(8), 0));
        assert_eq!(kim.session_generation(), 1);
        let kim = given::<User>([registered(KIM), ended(1, Some(spared)), ended(2, None)])
            .when(UserCommand::Unblock { blocked_id: LEE })
            .then_expect_events(vec![]);
        assert!(kim.ended_session(spared, 0));
    }

    #[test]
    fn a_social_login_is_linked_once_and_never_the_last_way_in_unlinked() {
        let now = FixedServices::new().now;
        let linked = |provider: &str| {
            UserEvent::IdentityLinked(IdentityLinked {
                user_id: KIM,
                provider: provider.into(),
                subject: "42".into(),
                at: now,
            })
        };
        let signed_up = UserEvent::UserRegistered(UserRegistered {
            user_id: KIM,
            display_name: "Kim".into(),
            password: false,
            registered_at: now,
        });
        let kim = given::<User>([])
            .when(UserCommand::RegisterWithIdentity {
                user_id: KIM,
                display_name: DisplayName::parse("Kim").unwrap(),
                provider: "kakao".into(),
                subject: "42".into(),
            })
            .then_expect_events(vec![signed_up.clone(), linked("kakao")]);
        assert_eq!(kim.identities().collect::<Vec<_>>(), ["kakao"]);
        given::<User>([signed_up.clone(), linked("kakao")])
            .when(UserCommand::UnlinkIdentity {
                provider: "kakao".into(),
            })
            .then_expect_error("last_sign_in_method");
        given::<User>([signed_up.clone(), linked("kakao")])
            .when(UserCommand::LinkIdentity {
                provider: "kakao".into(),
                subject: "43".into(),
            })
            .then_expect_error("identity_linked");
        given::<User>([signed_up.clone(), linked("kakao"), linked("naver")])
            .when(UserCommand::UnlinkIdentity {
                provider: "kakao".into(),
            })
            .then_expect_events(vec![UserEvent::IdentityUnlinked(IdentityUnlinked {
                user_id: KIM,
                provider: "kakao".into(),
                at: now,
            })]);
        // Someone with a password may unlink their only social login.
        given::<User>([registered(KIM), linked("naver")])
            .when(UserCommand::UnlinkIdentity {
                provider: "naver".into(),
            })
            .then_expect_events(vec![UserEvent::IdentityUnlinked(IdentityUnlinked {
                user_id: KIM,
                provider: "naver".into(),
                at: now,
            })]);
        given::<User>([registered(KIM)])
            .when(UserCommand::UnlinkIdentity {
                provider: "naver".into(),
            })
            .then_expect_error("identity_not_found");
    }

    #[test]
    fn a_deleted_account_ends_its_sessions_and_takes_no_more_commands() {
        let now = FixedServices::new().now;
        let deleted = UserEvent::UserDeleted(UserDeleted {
            user_id: KIM,
            generation: 1,
            at: now,
        });
        let kim = given::<User>([registered(KIM)])
            .when(UserCommand::Delete)
            .then_expect_events(vec![deleted.clone()]);
        assert!(!kim.exists());
        assert!(kim.ended_session(Uuid::from_u128(9), 0));
        assert_eq!(kim.display_name(), crate::personal::DELETED_NAME);
        given::<User>([registered(KIM), deleted.clone()])
            .when(UserCommand::Block { blocked_id: LEE })
            .then_expect_error("user_not_found");
        given::<User>([registered(KIM), deleted])
            .when(UserCommand::Delete)
            .then_expect_error("user_not_found");
    }

    #[test]
    fn a_game_character_is_linked_replaced_and_unlinked() {
        let now = FixedServices::new().now;
        let link = |id: &str, name: &str| UserCommand::LinkGameCharacter {
            game: "maplestory".into(),
            character_id: id.into(),
            character_name: name.into(),
        };
        let linked = |id: &str, name: &str| {
            UserEvent::GameCharacterLinked(GameCharacterLinked {
                user_id: KIM,
                game: "maplestory".into(),
                character_id: id.into(),
                character_name: name.into(),
                at: now,
            })
        };
        given::<User>([registered(KIM)])
            .when(link("ocid-1", "단풍"))
            .then_expect_events(vec![linked("ocid-1", "단풍")]);
        given::<User>([registered(KIM), linked("ocid-1", "단풍")])
            .when(link("ocid-1", "단풍"))
            .then_expect_events(vec![]);
        given::<User>([registered(KIM), linked("ocid-1", "단풍")])
            .when(link("ocid-2", "버섯"))
            .then_expect_events(vec![linked("ocid-2", "버섯")]);
        given::<User>([registered(KIM), linked("ocid-1", "단풍")])
            .when(UserCommand::UnlinkGameCharacter {
                game: "maplestory".into(),
            })
            .then_expect_events(vec![UserEvent::GameCharacterUnlinked(
                GameCharacterUnlinked {
                    user_id: KIM,
                    game: "maplestory".into(),
                    at: now,
                },
            )]);
        given::<User>([registered(KIM)])
            .when(UserCommand::UnlinkGameCharacter {
                game: "maplestory".into(),
            })
            .then_expect_error("character_not_linked");
    }
}
