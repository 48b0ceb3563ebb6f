//! Couple commands: issue an invite code, redeem one.
//!
//! Redeeming writes to five aggregates — the invite, both users, the couple and the couple's room —
//! in one transaction, so the code is used once, each user is in at most one couple and the couple
//! has exactly one room, whatever races.

use chrono::{DateTime, Utc};
use domain::chat::{ChatCommand, ChatRoom, RoomKind};
use domain::couple::{Couple, CoupleCommand, Invite, InviteCommand, InviteError};
use domain::user::{User, UserCommand, UserError};
use domain::values::InviteCode;
use domain::values::RoomName;
use domain::{Aggregate, Position};
use rand::Rng;
use uuid::Uuid;

use crate::attempts;
use crate::store::retry_conflicts;
use crate::{CommandError, Commands};

/// A freshly issued invite.
#[derive(Debug, Clone)]
pub struct Invitation {
    /// The code to share.
    pub code: InviteCode,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// Where its event stands in the global order.
    pub position: Position,
}

/// A couple just formed, from the redeemer's side.
#[derive(Debug, Clone)]
pub struct Matched {
    /// The couple.
    pub couple_id: Uuid,
    /// The other half (the inviter).
    pub partner_id: Uuid,
    /// Their private room.
    pub room_id: Uuid,
    /// When.
    pub since: DateTime<Utc>,
    /// Where its events stand in the global order.
    pub position: Position,
}

/// A couple's room has an id derived from the couple's, so it is opened at most once.
pub fn couple_room_id(couple_id: Uuid) -> Uuid {
    Uuid::new_v5(&couple_id, b"couple room")
}

fn couple_room_name() -> RoomName {
    RoomName::parse("우리 둘").unwrap_or_else(|_| unreachable!("a constant valid name"))
}

fn random_code() -> InviteCode {
    let mut rng = rand::rng();
    let code: String = (0..InviteCode::LEN)
        .map(|_| char::from(InviteCode::ALPHABET[rng.random_range(0..InviteCode::ALPHABET.len())]))
        .collect();
    // Drawn from the alphabet at the right length, so it always parses.
    InviteCode::parse(&code).unwrap_or_else(|_| unreachable!("generated code is valid"))
}

impl Commands {
    /// Issues an invite code for a user who is not in a couple yet.
    #[tracing::instrument(skip(self))]
    pub async fn create_invite(&self, inviter_id: Uuid) -> Result<Invitation, CommandError> {
        let inviter = self.store.load::<User>(&inviter_id.to_string()).await?;
        if !inviter.aggregate.exists() {
            return Err(CommandError::rejected(UserError::NotFound));
        }
        if inviter.aggregate.couple().is_some() {
            return Err(CommandError::rejected(UserError::AlreadyCoupled));
        }
        // 32^8 codes: a collision is rare, and drawing again fixes it.
        for _ in 0..5 {
            let code = random_code();
            let command = InviteCommand::Create {
                code: code.clone(),
                inviter_id,
            };
            match self.execute::<Invite>(code.as_str(), command).await {
                Ok(done) => {
                    let expires_at = done.state.expires_at().unwrap_or_default();
                    return Ok(Invitation {
                        code,
                        expires_at,
                        position: done.position,
                    });
                }
                Err(CommandError::Rejected {
                    code: "invite_code_taken",
                    ..
                }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(CommandError::Contention("invite codes"))
    }

    /// Redeems a code: the redeemer and the inviter become a couple. A user who has tried too
    /// many wrong codes lately is refused before the code is looked at, so codes cannot be
    /// guessed at speed.
    #[tracing::instrument(skip(self))]
    pub async fn match_couple(
        &self,
        redeemer_id: Uuid,
        code: InviteCode,
    ) -> Result<Matched, CommandError> {
        let key = format!("invite:{redeemer_id}");
        let pool = self.store.pool();
        let reservation = match attempts::reserve(pool, &key, self.invite_failures).await? {
            Ok(reservation) => reservation,
            Err(wait) => {
                return Err(CommandError::RateLimited {
                    retry_after_secs: wait.as_secs().max(1),
                })
            }
        };
        let matched = self.redeem(redeemer_id, code).await;
        let guessed_wrong = matches!(
            &matched,
            Err(CommandError::Rejected {
                code: "invite_not_found" | "invite_expired" | "invite_used",
                ..
            })
        );
        if !guessed_wrong {
            reservation.give_back(pool).await?;
        }
        matched
    }

    /// Withdraws an unused code of `by`'s; anyone else's code is not found.
    #[tracing::instrument(skip(self))]
    pub async fn withdraw_invite(
        &self,
        by: Uuid,
        code: InviteCode,
    ) -> Result<Position, CommandError> {
        let done = self
            .execute::<Invite>(code.as_str(), InviteCommand::Withdraw { by })
            .await?;
        Ok(done.position)
    }

    async fn redeem(&self, redeemer_id: Uuid, code: InviteCode) -> Result<Matched, CommandError> {
        let invite = self.store.load::<Invite>(code.as_str()).await?;
        let inviter_id = invite
            .aggregate
            .inviter_id()
            .ok_or_else(|| CommandError::rejected(InviteError::NotFound))?;
        let _held = self
            .locks
            .lock(vec![
                (Invite::TYPE, code.as_str().to_owned()),
                (User::TYPE, inviter_id.to_string()),
                (User::TYPE, redeemer_id.to_string()),
            ])
            .await;
        retry_conflicts("couple match", || async {
            let invite = self.store.load::<Invite>(code.as_str()).await?;
            let redeemer = self.store.load::<User>(&redeemer_id.to_string()).await?;
            let inviter = self.store.load::<User>(&inviter_id.to_string()).await?;
            let couple_id = self.services.new_id();
            let since = self.services.now();
            let services = self.services.as_ref();
            let invite = invite.decide(
                InviteCommand::Redeem {
                    redeemer_id,
                    couple_id,
                },
                services,
            )?;
            let redeemer = redeemer.decide(
                UserCommand::CoupleWith {
                    couple_id,
                    partner_id: inviter_id,
                    since,
                },
                services,
            )?;
            let inviter = inviter.decide(
                UserCommand::CoupleWith {
                    couple_id,
                    partner_id: redeemer_id,
                    since,
                },
                services,
            )?;
            let room_id = couple_room_id(couple_id);
            let couple = self.store.load::<Couple>(&couple_id.to_string()).await?;
            let couple = couple.decide(
                CoupleCommand::Form {
                    couple_id,
                    partners: [inviter_id, redeemer_id],
                    room_id,
                },
                services,
            )?;
            let room = self.store.load::<ChatRoom>(&room_id.to_string()).await?;
            let room = room.decide(
                ChatCommand::CreateRoom {
                    room_id,
                    name: couple_room_name(),
                    kind: RoomKind::Couple,
                    creator_id: inviter_id,
                    member_ids: vec![redeemer_id],
                },
                services,
            )?;
            let rows = [
                invite.rows(&self.meta)?,
                redeemer.rows(&self.meta)?,
                inviter.rows(&self.meta)?,
                couple.rows(&self.meta)?,
                room.rows(&self.meta)?,
            ];
            let position = self.store.append_all(rows.into()).await?;
            for key in [
                (Invite::TYPE, code.as_str().to_owned()),
                (User::TYPE, inviter_id.to_string()),
                (User::TYPE, redeemer_id.to_string()),
            ] {
                self.cache.remove(&key);
            }
            Ok(Matched {
                couple_id,
                partner_id: inviter_id,
                room_id,
                since,
                position,
            })
        })
        .await
    }
}
