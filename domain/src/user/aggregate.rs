//! The user aggregate; it guards "a user is in at most one couple".

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use crate::aggregate::Aggregate;
use crate::error::{ErrorKind, Rejection};
use crate::services::Services;
use std::collections::BTreeSet;

use crate::user::{
    UserBlocked, UserCommand, UserCoupled, UserEvent, UserRegistered, UserUnblocked,
};

/// A user's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct User {
    user_id: Option<Uuid>,
    couple: Option<(Uuid, Uuid, DateTime<Utc>)>,
    #[serde(default)]
    blocked: BTreeSet<Uuid>,
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
            }
            UserEvent::UserCoupled(e) => self.couple = Some((e.couple_id, e.partner_id, e.since)),
            UserEvent::UserBlocked(e) => {
                self.blocked.insert(e.blocked_id);
            }
            UserEvent::UserUnblocked(e) => {
                self.blocked.remove(&e.blocked_id);
            }
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
}
