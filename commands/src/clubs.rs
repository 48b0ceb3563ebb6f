//! Club commands: found, change the card, join or ask to, answer requests, roles, leave and
//! remove. Whatever changes a club's membership changes its chat room in the same transaction,
//! so the room never holds someone the club does not (or misses someone it does).

use domain::chat::{ChatCommand, ChatRoom, RoomKind};
use domain::club::{Club, ClubCommand, ClubError, ClubEvent, ClubPatch, ClubRole, JoinPolicy};
use domain::values::{ClubDescription, ClubName, RoomName};
use domain::{Aggregate, Position};
use uuid::Uuid;

use crate::store::retry_conflicts;
use crate::{CommandError, Commands};

/// A club's chat room id, derived from the club's: one room per club.
pub fn club_room_id(club_id: Uuid) -> Uuid {
    Uuid::new_v5(&club_id, b"club room")
}

/// What a club command did.
#[derive(Debug, Clone)]
pub struct ClubDone {
    /// The club after it.
    pub club: Club,
    /// Its events.
    pub events: Vec<ClubEvent>,
    /// The consistency token.
    pub position: Position,
}

impl Commands {
    /// Founds a club owned by `owner_id`, with its chat room.
    #[tracing::instrument(skip(self))]
    pub async fn create_club(
        &self,
        owner_id: Uuid,
        name: ClubName,
        description: ClubDescription,
        join_policy: JoinPolicy,
    ) -> Result<(Uuid, Position), CommandError> {
        let club_id = self.services.new_id();
        let room_id = club_room_id(club_id);
        let room_name = RoomName::parse(name.as_str()).map_err(CommandError::rejected)?;
        let position = retry_conflicts("club create", || async {
            let services = self.services.as_ref();
            let club = self
                .store
                .load::<Club>(&club_id.to_string())
                .await?
                .decide(
                    ClubCommand::Create {
                        club_id,
                        name: name.clone(),
                        description: description.clone(),
                        join_policy,
                        owner_id,
                        room_id,
                    },
                    services,
                )?;
            let room = self
                .store
                .load::<ChatRoom>(&room_id.to_string())
                .await?
                .decide(
                    ChatCommand::CreateRoom {
                        room_id,
                        name: room_name.clone(),
                        kind: RoomKind::Club,
                        creator_id: owner_id,
                        member_ids: Vec::new(),
                    },
                    services,
                )?;
            Ok(self
                .store
                .append_all(vec![club.rows(&self.meta)?, room.rows(&self.meta)?])
                .await?)
        })
        .await?;
        Ok((club_id, position))
    }

    /// The club as the write side knows it, for commands on its games and board.
    pub async fn club(&self, club_id: Uuid) -> Result<Club, CommandError> {
        Ok(self
            .store
            .load::<Club>(&club_id.to_string())
            .await?
            .aggregate)
    }

    /// A member's role in a club; outsiders (and a missing club) are told it does not exist.
    pub async fn club_role(&self, club_id: Uuid, user_id: Uuid) -> Result<ClubRole, CommandError> {
        self.club(club_id)
            .await?
            .role(user_id)
            .ok_or_else(|| CommandError::rejected(ClubError::NotFound))
    }

    /// Changes a club's card (owner or manager).
    pub async fn update_club(
        &self,
        club_id: Uuid,
        by: Uuid,
        patch: ClubPatch,
    ) -> Result<ClubDone, CommandError> {
        self.on_club(club_id, ClubCommand::Update { by, patch })
            .await
    }

    /// Joins an open club or asks to join one that approves.
    pub async fn join_club(&self, club_id: Uuid, user_id: Uuid) -> Result<ClubDone, CommandError> {
        self.on_club(club_id, ClubCommand::Join { user_id }).await
    }

    /// An owner or manager brings `user_id` in directly (an import); a member stays as is.
    pub async fn add_club_member(
        &self,
        club_id: Uuid,
        by: Uuid,
        user_id: Uuid,
    ) -> Result<ClubDone, CommandError> {
        self.on_club(club_id, ClubCommand::Add { by, user_id })
            .await
    }

    /// Lets a requester in, or turns them down.
    pub async fn decide_join(
        &self,
        club_id: Uuid,
        by: Uuid,
        user_id: Uuid,
        approve: bool,
    ) -> Result<ClubDone, CommandError> {
        let command = ClubCommand::Decide {
            by,
            user_id,
            approve,
        };
        self.on_club(club_id, command).await
    }

    /// Gives a member a role (the owner does; `owner` hands the club over).
    pub async fn set_club_role(
        &self,
        club_id: Uuid,
        by: Uuid,
        user_id: Uuid,
        role: ClubRole,
    ) -> Result<ClubDone, CommandError> {
        let command = ClubCommand::SetRole { by, user_id, role };
        self.on_club(club_id, command).await
    }

    /// Leaves a club, or removes a member from it.
    pub async fn remove_club_member(
        &self,
        club_id: Uuid,
        by: Uuid,
        user_id: Uuid,
    ) -> Result<ClubDone, CommandError> {
        self.on_club(club_id, ClubCommand::Remove { by, user_id })
            .await
    }

    /// Runs a club command and brings its room along: a member in, a member out.
    async fn on_club(&self, club_id: Uuid, command: ClubCommand) -> Result<ClubDone, CommandError> {
        let room_id = club_room_id(club_id);
        let keys = vec![
            (Club::TYPE, club_id.to_string()),
            (ChatRoom::TYPE, room_id.to_string()),
        ];
        let _held = self.locks.lock(keys.clone()).await;
        let done = retry_conflicts("club", || async {
            let services = self.services.as_ref();
            let loaded = self.store.load::<Club>(&club_id.to_string()).await?;
            let change = loaded.decide(command.clone(), services)?;
            if change.events.is_empty() {
                let (_, position) = self.store.latest(Club::TYPE, &club_id.to_string()).await?;
                return Ok(ClubDone {
                    club: change.after,
                    events: Vec::new(),
                    position,
                });
            }
            let mut room = self.store.load::<ChatRoom>(&room_id.to_string()).await?;
            let mut rows = vec![change.rows(&self.meta)?];
            for event in &change.events {
                let follow = match event {
                    ClubEvent::ClubMemberJoined(e) => ChatCommand::Enrol { user_id: e.user_id },
                    ClubEvent::ClubMemberLeft(e) => ChatCommand::Unenrol {
                        by: e.by,
                        user_id: e.user_id,
                    },
                    _ => continue,
                };
                let moved = room.decide(follow, services)?;
                rows.push(moved.rows(&self.meta)?);
                room = moved.into_loaded();
            }
            let position = self.store.append_all(rows).await?;
            Ok(ClubDone {
                club: change.after.clone(),
                events: change.events,
                position,
            })
        })
        .await?;
        for key in keys {
            self.cache.remove(&key);
        }
        Ok(done)
    }
}
