//! The user aggregate; it guards "a user is in at most one couple".

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use crate::aggregate::Aggregate;
use crate::error::{ErrorKind, Rejection};
use crate::services::Services;
use crate::user::{UserCommand, UserCoupled, UserEvent, UserRegistered};

/// A user's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct User {
    user_id: Option<Uuid>,
    couple: Option<(Uuid, Uuid, DateTime<Utc>)>,
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
}

impl Rejection for UserError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::NotFound => ErrorKind::NotFound,
            Self::AlreadyRegistered | Self::AlreadyCoupled => ErrorKind::Conflict,
            Self::SelfCouple => ErrorKind::Invalid,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "user_not_found",
            Self::AlreadyRegistered => "user_exists",
            Self::AlreadyCoupled => "already_coupled",
            Self::SelfCouple => "self_match",
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
}

impl Aggregate for User {
    const TYPE: &'static str = "user";
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
        }
    }

    fn apply(&mut self, event: UserEvent) {
        match event {
            UserEvent::UserRegistered(e) => {
                self.user_id = Some(e.user_id);
            }
            UserEvent::UserCoupled(e) => self.couple = Some((e.couple_id, e.partner_id, e.since)),
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
}
