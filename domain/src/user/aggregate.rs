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
    PlatformRole, PlatformRoleChanged, ProfileUpdated, UserBlocked, UserCommand, UserCoupled,
    UserEvent, UserRegistered, UserUnblocked, UserUncoupled,
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
}

impl Rejection for UserError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::NotFound => ErrorKind::NotFound,
            Self::AlreadyRegistered | Self::AlreadyCoupled => ErrorKind::Conflict,
            Self::SelfCouple | Self::SelfBlock => ErrorKind::Invalid,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "user_not_found",
            Self::AlreadyRegistered => "user_exists",
            Self::AlreadyCoupled => "already_coupled",
            Self::SelfCouple => "self_match",
            Self::SelfBlock => "self_block",
        }
    }
}

impl User {
    /// Whether the user exists.
    pub fn exists(&self) -> bool {
        self.user_id.is_some()
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
                if self.exists() {
                    return Err(UserError::AlreadyRegistered);
                }
                Ok(vec![UserEvent::UserRegistered(UserRegistered {
                    user_id,
                    display_name: display_name.as_str().to_owned(),
                    registered_at: services.now(),
                })])
            }
            UserCommand::CoupleWith {
                couple_id,
                partner_id,
                since,
            } => {
                let user_id = self.user_id.ok_or(UserError::NotFound)?;
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
            } => {
                let user_id = self.user_id.ok_or(UserError::NotFound)?;
                let display_name = display_name
                    .map_or_else(|| self.display_name.clone(), |n| n.as_str().to_owned());
                let birthday = birthday.unwrap_or(self.birthday);
                if display_name == self.display_name && birthday == self.birthday {
                    return Ok(vec![]);
                }
                Ok(vec![UserEvent::ProfileUpdated(ProfileUpdated {
                    user_id,
                    display_name,
                    birthday,
                    at: services.now(),
                })])
            }
            UserCommand::Block { blocked_id } => {
                let user_id = self.user_id.ok_or(UserError::NotFound)?;
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
                let user_id = self.user_id.ok_or(UserError::NotFound)?;
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
                let user_id = self.user_id.ok_or(UserError::NotFound)?;
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
            }
            UserEvent::UserUncoupled(_) => self.couple = None,
            UserEvent::ProfileUpdated(e) => {
                self.display_name = e.display_name;
                self.birthday = e.birthday;
            }
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
            })
            .then_expect_events(vec![UserEvent::ProfileUpdated(ProfileUpdated {
                user_id: KIM,
                display_name: "Kim".into(),
                birthday,
                at: FixedServices::new().now,
            })]);
        assert_eq!(kim.birthday(), birthday);
        given::<User>([registered(KIM)])
            .when(UserCommand::UpdateProfile {
                display_name: Some(DisplayName::parse("Kim").unwrap()),
                birthday: None,
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
}
