//! The invite aggregate: a code works once, for 24 hours, and not for its own issuer.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use crate::aggregate::Aggregate;
use crate::couple::{InviteCommand, InviteCreated, InviteEvent, InviteRedeemed, InviteWithdrawn};
use crate::error::{ErrorKind, Rejection};
use crate::services::Services;

/// An invite's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Invite {
    code: Option<String>,
    inviter_id: Option<Uuid>,
    expires_at: Option<DateTime<Utc>>,
    redeemed: bool,
    #[serde(default)]
    withdrawn: bool,
}

/// Why an invite command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InviteError {
    /// No such code.
    #[error("invite code not found")]
    NotFound,
    /// The code exists already (a collision of random codes; the caller draws another).
    #[error("invite code already exists")]
    CodeTaken,
    /// The code was used.
    #[error("invite code already used")]
    AlreadyRedeemed,
    /// The code is older than 24 hours.
    #[error("invite code expired")]
    Expired,
    /// The issuer tried to redeem their own code.
    #[error("cannot redeem your own invite")]
    SelfMatch,
}

impl Rejection for InviteError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::NotFound => ErrorKind::NotFound,
            Self::CodeTaken | Self::AlreadyRedeemed => ErrorKind::Conflict,
            Self::Expired => ErrorKind::Gone,
            Self::SelfMatch => ErrorKind::Invalid,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "invite_not_found",
            Self::CodeTaken => "invite_code_taken",
            Self::AlreadyRedeemed => "invite_used",
            Self::Expired => "invite_expired",
            Self::SelfMatch => "self_match",
        }
    }
}

impl Invite {
    /// How long a code works.
    pub const LIFETIME_HOURS: i64 = 24;

    /// Who issued the code, if it exists.
    pub fn inviter_id(&self) -> Option<Uuid> {
        self.inviter_id
    }

    /// When the code stops working, if it exists.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.expires_at
    }
}

impl Aggregate for Invite {
    const TYPE: &'static str = "couple_invite";
    type Command = InviteCommand;
    type Event = InviteEvent;
    type Error = InviteError;

    fn handle(
        &self,
        command: InviteCommand,
        services: &dyn Services,
    ) -> Result<Vec<InviteEvent>, InviteError> {
        let now = services.now();
        match command {
            InviteCommand::Create { code, inviter_id } => {
                if self.code.is_some() {
                    return Err(InviteError::CodeTaken);
                }
                Ok(vec![InviteEvent::InviteCreated(InviteCreated {
                    code: code.as_str().to_owned(),
                    inviter_id,
                    created_at: now,
                    expires_at: now + Duration::hours(Self::LIFETIME_HOURS),
                })])
            }
            InviteCommand::Withdraw { by } => {
                // Someone else's code is none of their business: it does not exist for them.
                let (Some(code), Some(inviter_id)) = (&self.code, self.inviter_id) else {
                    return Err(InviteError::NotFound);
                };
                if by != inviter_id {
                    return Err(InviteError::NotFound);
                }
                if self.redeemed {
                    return Err(InviteError::AlreadyRedeemed);
                }
                if self.withdrawn {
                    return Ok(vec![]);
                }
                Ok(vec![InviteEvent::InviteWithdrawn(InviteWithdrawn {
                    code: code.clone(),
                    inviter_id,
                    withdrawn_at: now,
                })])
            }
            InviteCommand::Redeem {
                redeemer_id,
                couple_id,
            } => {
                let (Some(code), Some(inviter_id), Some(expires_at)) =
                    (&self.code, self.inviter_id, self.expires_at)
                else {
                    return Err(InviteError::NotFound);
                };
                if self.withdrawn {
                    return Err(InviteError::NotFound);
                }
                if self.redeemed {
                    return Err(InviteError::AlreadyRedeemed);
                }
                if now >= expires_at {
                    return Err(InviteError::Expired);
                }
                if redeemer_id == inviter_id {
                    return Err(InviteError::SelfMatch);
                }
                Ok(vec![InviteEvent::InviteRedeemed(InviteRedeemed {
                    code: code.clone(),
                    couple_id,
                    inviter_id,
                    redeemer_id,
                    redeemed_at: now,
                })])
            }
        }
    }

    fn apply(&mut self, event: InviteEvent) {
        match event {
            InviteEvent::InviteCreated(e) => {
                self.code = Some(e.code);
                self.inviter_id = Some(e.inviter_id);
                self.expires_at = Some(e.expires_at);
            }
            InviteEvent::InviteRedeemed(_) => self.redeemed = true,
            InviteEvent::InviteWithdrawn(_) => self.withdrawn = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{given, FixedServices};
    use crate::values::InviteCode;

    const KIM: Uuid = Uuid::from_u128(1);
    const LEE: Uuid = Uuid::from_u128(2);
    const COUPLE: Uuid = Uuid::from_u128(50);

    fn created() -> InviteEvent {
        let now = FixedServices::new().now;
        InviteEvent::InviteCreated(InviteCreated {
            code: "AB12CD34".into(),
            inviter_id: KIM,
            created_at: now,
            expires_at: now + Duration::hours(24),
        })
    }

    fn redeem(by: Uuid) -> InviteCommand {
        InviteCommand::Redeem {
            redeemer_id: by,
            couple_id: COUPLE,
        }
    }

    fn redeemed(at: DateTime<Utc>) -> InviteEvent {
        InviteEvent::InviteRedeemed(InviteRedeemed {
            code: "AB12CD34".into(),
            couple_id: COUPLE,
            inviter_id: KIM,
            redeemer_id: LEE,
            redeemed_at: at,
        })
    }

    #[test]
    fn a_code_expires_after_a_day() {
        let code = InviteCode::parse("AB12CD34").unwrap();
        given::<Invite>([])
            .when(InviteCommand::Create {
                code,
                inviter_id: KIM,
            })
            .then_expect_events(vec![created()]);
        let almost = FixedServices::new().now + Duration::hours(24) - Duration::seconds(1);
        given::<Invite>([created()])
            .at(almost)
            .when(redeem(LEE))
            .then_expect_events(vec![redeemed(almost)]);
        let late = FixedServices::new().now + Duration::hours(24);
        given::<Invite>([created()])
            .at(late)
            .when(redeem(LEE))
            .then_expect_error("invite_expired");
    }

    #[test]
    fn a_code_works_once() {
        let now = FixedServices::new().now;
        given::<Invite>([created(), redeemed(now)])
            .when(redeem(LEE))
            .then_expect_error("invite_used");
    }

    #[test]
    fn nobody_redeems_their_own_code() {
        given::<Invite>([created()])
            .when(redeem(KIM))
            .then_expect_error("self_match");
    }

    #[test]
    fn unknown_and_taken_codes_are_refused() {
        given::<Invite>([])
            .when(redeem(LEE))
            .then_expect_error("invite_not_found");
        let code = InviteCode::parse("AB12CD34").unwrap();
        given::<Invite>([created()])
            .when(InviteCommand::Create {
                code,
                inviter_id: LEE,
            })
            .then_expect_error("invite_code_taken");
    }

    #[test]
    fn only_the_inviter_withdraws_an_unused_code_which_then_works_no_more() {
        let withdrawn = InviteEvent::InviteWithdrawn(InviteWithdrawn {
            code: "AB12CD34".into(),
            inviter_id: KIM,
            withdrawn_at: FixedServices::new().now,
        });
        given::<Invite>([created()])
            .when(InviteCommand::Withdraw { by: KIM })
            .then_expect_events(vec![withdrawn.clone()]);
        given::<Invite>([created()])
            .when(InviteCommand::Withdraw { by: LEE })
            .then_expect_error("invite_not_found");
        given::<Invite>([created(), withdrawn.clone()])
            .when(InviteCommand::Withdraw { by: KIM })
            .then_expect_events(vec![]);
        given::<Invite>([created(), withdrawn])
            .when(redeem(LEE))
            .then_expect_error("invite_not_found");
        given::<Invite>([created(), redeemed(FixedServices::new().now)])
            .when(InviteCommand::Withdraw { by: KIM })
            .then_expect_error("invite_used");
    }
}
